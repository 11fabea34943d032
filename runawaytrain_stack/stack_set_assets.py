"""How a StackSet's template and Lambda code reach S3 with only `cdk deploy` of the payer.

A StackSet's stacks are created by CloudFormation in each member account, so every file the
template names must be readable from there: Lambda fetches a function's code from "an Amazon S3
bucket in the same AWS Region as your function. The bucket can be in a different AWS account"
(Lambda API Reference, FunctionCode S3Bucket). So the payer keeps one code bucket per member home
Region (members.py, CodeBucketStack: readable by principals of the organisation), and the CDK CLI
uploads the code there like any file asset, content-hashed.

Two synthesizers do it, after cdklabs/cdk-stacksets' StackSetStack (a stack synthesized only as a
template, registered as a file asset of its parent), without its BucketDeployment custom resource
(a Lambda in the payer copying the assets after deploy; moto's CloudFormation cannot run one):

- `TemplateSynthesizer` (the member templates): writes the template into the cloud assembly but
  no stack artifact (so `cdk deploy` never deploys it by itself), hands the template to the
  parent as a file asset, and every file asset (the Lambda code) to the parent as an upload to
  the code bucket of the template's Region.
- `MembersSynthesizer` (the payer's `runawaytrain-members`): DefaultStackSynthesizer's job
  (its template through the payer's bootstrap bucket, deployed with the bootstrap roles) plus
  those uploads, which land in other Regions' buckets. The CDK CLI publishes a stack's assets
  only after the stacks it depends on are deployed (aws-cdk WorkGraphBuilder.addAsset: "publish"
  depends on the parent stack's dependencies), so the code buckets (their own stacks, which
  `runawaytrain-members` depends on) exist before the first upload.
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import (
    AssetManifestBuilder,
    AssetManifestFileDestination,
    FileAssetLocation,
    FileAssetPackaging,
    FileAssetSource,
    IResolveContext,
    IStringProducer,
    ISynthesisSession,
    Lazy,
    RoleOptions,
    Stack,
    StackSynthesizer,
)
from aws_cdk import cloud_assembly_schema as schema

from runawaytrain_stack.names import BOOTSTRAP_QUALIFIER

# The CDK bootstrap's names (aws-cdk-lib DefaultStackSynthesizer defaults), with our qualifier.
_ACCOUNT_REGION = "${AWS::AccountId}-${AWS::Region}"
BOOTSTRAP_BUCKET = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{_ACCOUNT_REGION}"
_ROLE = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-{BOOTSTRAP_QUALIFIER}"
DEPLOY_ROLE = f"{_ROLE}-deploy-role-{_ACCOUNT_REGION}"
CFN_EXECUTION_ROLE = f"{_ROLE}-cfn-exec-role-{_ACCOUNT_REGION}"
FILE_PUBLISHING_ROLE = f"{_ROLE}-file-publishing-role-{_ACCOUNT_REGION}"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
# DefaultStackSynthesizer's minimum bootstrap version for assets and deployment.
MIN_BOOTSTRAP_VERSION = 6


@dataclass(frozen=True)
class CodeDestination:
    """Where the Lambda code of a member template in `region` is uploaded."""

    region: str
    bucket_name: str


class MembersSynthesizer(StackSynthesizer):
    """The payer stack that holds the StackSets: its own template as DefaultStackSynthesizer
    does, plus the member templates and their code (`add_code_asset`)."""

    def __init__(self, *, home_region: str, payer_id: str) -> None:
        super().__init__()
        self._assets = AssetManifestBuilder()
        self._home_region = home_region
        self._payer_id = payer_id

    def _specialize(self, value: str) -> str:
        return value.replace("${AWS::AccountId}", self._payer_id).replace(
            "${AWS::Region}", self._home_region
        )

    def add_file_asset(self, asset: FileAssetSource) -> FileAssetLocation:
        location = self._assets.default_add_file_asset(
            self._bound_stack,
            asset,
            AssetManifestFileDestination(
                bucket_name=self._specialize(BOOTSTRAP_BUCKET),
                bucket_prefix="",
                role=RoleOptions(assume_role_arn=self._specialize(FILE_PUBLISHING_ROLE)),
            ),
        )
        return self._cloud_formation_location_from_file_asset(
            bucket_name=location.bucket_name,
            object_key=location.object_key,
            region=location.region,
            assume_role_arn=location.assume_role_arn,
        )

    def add_docker_image_asset(self, asset):  # type: ignore[no-untyped-def]
        raise TypeError("runawaytrain-members has no container images")

    def add_code_asset(self, asset: FileAssetSource, destination: CodeDestination) -> str:
        """Uploads `asset` to the code bucket of `destination`; returns its object key."""
        key = f"{asset.source_hash}.zip"
        self._assets.add_file_asset(
            self._bound_stack,
            f"{asset.source_hash}-{destination.region}",
            schema.FileSource(
                path=asset.file_name,
                packaging=schema.FileAssetPackaging.ZIP_DIRECTORY
                if asset.packaging == FileAssetPackaging.ZIP_DIRECTORY
                else schema.FileAssetPackaging.FILE,
            ),
            schema.FileDestination(
                bucket_name=destination.bucket_name,
                object_key=key,
                region=destination.region,
                # The home Region's publishing role (IAM is global); the code bucket's policy
                # admits it (members.py).
                assume_role_arn=self._specialize(FILE_PUBLISHING_ROLE),
            ),
        )
        return key

    def synthesize(self, session: ISynthesisSession) -> None:
        template = self._synthesize_template(session)
        location = self.add_file_asset(template)
        manifest = self._assets.emit_manifest(
            self._bound_stack,
            session,
            {
                "requiresBootstrapStackVersion": MIN_BOOTSTRAP_VERSION,
                "bootstrapStackVersionSsmParameter": BOOTSTRAP_VERSION_PARAMETER,
            },
        )
        self._emit_artifact(
            session,
            assume_role_arn=self._specialize(DEPLOY_ROLE),
            cloud_formation_execution_role_arn=self._specialize(CFN_EXECUTION_ROLE),
            stack_template_asset_object_url=location.s3_object_url_with_placeholders,
            requires_bootstrap_stack_version=MIN_BOOTSTRAP_VERSION,
            bootstrap_stack_version_ssm_parameter=BOOTSTRAP_VERSION_PARAMETER,
            additional_dependencies=[manifest],
        )


class TemplateSynthesizer(StackSynthesizer):
    """A member template: no artifact of its own; its template and code go through `parent`."""

    def __init__(self, parent: MembersSynthesizer, code: CodeDestination) -> None:
        super().__init__()
        self._parent = parent
        self._code = code
        self._template_url: str | None = None
        # The StackSet's TemplateURL: known once this template is synthesized, which CDK does
        # before the parent stack's (children first).
        self.template_url = Lazy.uncached_string(_TemplateUrl(self))

    def produce_url(self) -> str | None:
        # None while CDK prepares the app (it resolves every token once before synthesis).
        return self._template_url

    def add_file_asset(self, asset: FileAssetSource) -> FileAssetLocation:
        key = self._parent.add_code_asset(asset, self._code)
        bucket = self._code.bucket_name
        return FileAssetLocation(
            bucket_name=bucket,
            object_key=key,
            http_url=f"https://{bucket}.s3.{self._code.region}.amazonaws.com/{key}",
            s3_object_url=f"s3://{bucket}/{key}",
        )

    def add_docker_image_asset(self, asset):  # type: ignore[no-untyped-def]
        raise TypeError("StackSet templates cannot use container image assets")

    def synthesize(self, session: ISynthesisSession) -> None:
        template = self._synthesize_template(session)
        self._template_url = self._parent.add_file_asset(template).http_url


@jsii.implements(IStringProducer)
class _TemplateUrl:
    def __init__(self, template: TemplateSynthesizer) -> None:
        self._template = template

    def produce(self, context: IResolveContext) -> str | None:
        return self._template.produce_url()


def parent_synthesizer(stack: Stack) -> MembersSynthesizer:
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, MembersSynthesizer):
        raise TypeError(f"{stack.stack_name}: member templates need MembersSynthesizer")
    return synthesizer
