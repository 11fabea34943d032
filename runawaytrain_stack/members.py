"""Organisation delivery: every member's guard and forwarders, from the payer, by StackSets.

With `organization:` in accounts.yaml no member gets a cdk stack. The payer's stack
`runawaytrain-members` (payer account, payer home Region) holds, per group of members sharing a
home Region and watched Regions, a guard StackSet (Regions [home]) and a fast-trip StackSet (the
watched Regions but home). The templates are synthesized once per group, with nothing per
account in them: the account id is AWS::AccountId, and per-account settings are read at run time
from the payer's settings bucket (env SETTINGS_BUCKET; the template's env carries `defaults`).

Service-managed StackSets with automatic deployment: "StackSets automatically deploys additional
stack instances to AWS Organizations accounts that are added to a target organization or
organizational unit (OU) in the specified Regions. If an account is removed from a target
organization or OU, StackSets deletes stack instances from the account" (CloudFormation
User Guide, AWS::CloudFormation::StackSet AutoDeployment). They never deploy to the management
account (API Reference, DeploymentTargets): the payer keeps its own cdk stacks. Why each
property is what it is: docs/deploy.md, "Organisation delivery".
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from aws_cdk import (
    Acknowledgment,
    Aws,
    BootstraplessSynthesizer,
    CfnStackSet,
    Environment,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from runawaytrain_stack.fast_trip_region import FastTripRegionStack
from runawaytrain_stack.fleet_model import (
    Account,
    Fleet,
    Organization,
    list_fast_trip_regions,
)
from runawaytrain_stack.guard_stack import GuardStack
from runawaytrain_stack.member_names import name_member_resources
from runawaytrain_stack.names import (
    MEMBERS_STACK_NAME,
    PREFIX,
    name_code_bucket,
    name_code_stack,
)
from runawaytrain_stack.stack_set_assets import (
    CFN_EXECUTION_ROLE,
    DEPLOY_ROLE,
    FILE_PUBLISHING_ROLE,
    CodeDestination,
    MembersSynthesizer,
    TemplateSynthesizer,
)

DEFAULT_GROUP = "default"
# StackSet operation options (CloudFormation API Reference, StackSetOperationPreferences):
# every Region at once; SOFT_FAILURE_TOLERANCE "decouples FailureToleranceCount from the actual
# concurrency ... regardless of the number of failures", so a few accounts that refuse (an SCP of
# their own, a quota) neither slow nor stop the others; the operation stops in a Region once
# more than this share failed (a broken template stops early, not after 1,000 accounts).
# "StackSetOperationPreferences don't apply to AutoDeployment": an account joining is deployed
# on its own.
OPERATION_PREFERENCES = CfnStackSet.OperationPreferencesProperty(
    region_concurrency_type="PARALLEL",
    concurrency_mode="SOFT_FAILURE_TOLERANCE",
    failure_tolerance_percentage=10,
    max_concurrent_percentage=100,
)
# Named IAM roles (the guard's, the forwarder's, the scheduler's) need CAPABILITY_NAMED_IAM.
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]


@dataclass(frozen=True)
class MemberGroup:
    """Members sharing a home Region and watched Regions: one guard template, one forwarder."""

    label: str  # stable: it names the StackSets (renaming one replaces every member's stacks)
    settings: Account  # the template's settings: `defaults` with this home and these Regions
    accounts: tuple[str, ...]  # listed members targeted explicitly; () for the default group

    @property
    def forwarder_regions(self) -> tuple[str, ...]:
        home = self.settings.home_region
        return tuple(r for r in list_fast_trip_regions(self.settings) if r != home)


def _key(account: Account) -> tuple[str, tuple[str, ...]]:
    return account.home_region, tuple(sorted(list_fast_trip_regions(account)))


def _label(key: tuple[str, tuple[str, ...]]) -> str:
    home, regions = key
    digest = hashlib.sha256(",".join(regions).encode()).hexdigest()[:6]
    return f"{home}-{digest if regions else 'nofasttrip'}"


def _template_settings(defaults: Account, key: tuple[str, tuple[str, ...]], label: str) -> Account:
    home, regions = key
    return dataclasses.replace(
        defaults,
        id=Aws.ACCOUNT_ID,  # a token: AWS::AccountId in the template
        name=f"members-{label}",
        home_region=home,
        regions=regions,
        fast_trip=bool(regions),
        quarantine=True,
    )


def group_members(fleet: Fleet, organization: Organization) -> list[MemberGroup]:
    """The default group (every account of the target OUs on `defaults`'s home and Regions,
    listed or not) first, then one group per other (home, Regions) of a listed member."""
    if fleet.defaults is None:
        raise ValueError("fleet.defaults is unset: load the fleet with config.py")
    default_key = _key(fleet.defaults)
    listed: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for account in fleet.sub_accounts:
        key = _key(account)
        if key != default_key:
            listed.setdefault(key, []).append(account.id)
    groups = [
        MemberGroup(
            DEFAULT_GROUP,
            _template_settings(fleet.defaults, default_key, DEFAULT_GROUP),
            (),
        )
    ]
    for key, ids in sorted(listed.items()):
        label = _label(key)
        groups.append(
            MemberGroup(label, _template_settings(fleet.defaults, key, label), tuple(ids))
        )
    return groups


def build_targets(
    organization: Organization, group: MemberGroup, groups: list[MemberGroup]
) -> CfnStackSet.DeploymentTargetsProperty:
    """Service-managed targets always name OUs ("For create and delete operations, specify
    OrganizationalUnitIds", API Reference, DeploymentTargets). The default group: the target
    OUs but the accounts of other groups (DIFFERENCE); another group: its accounts within the
    target OUs (INTERSECTION). UNION (OUs plus accounts elsewhere) "is not supported for create
    operations when using StackSet as a resource" (AWS::CloudFormation::StackSet
    DeploymentTargets), so a listed member must lie in a target OU."""
    ous = list(organization.target_ous)
    if group.label != DEFAULT_GROUP:
        return CfnStackSet.DeploymentTargetsProperty(
            organizational_unit_ids=ous,
            accounts=list(group.accounts),
            account_filter_type="INTERSECTION",
        )
    elsewhere = sorted(a for g in groups for a in g.accounts)
    if not elsewhere:
        return CfnStackSet.DeploymentTargetsProperty(organizational_unit_ids=ous)
    return CfnStackSet.DeploymentTargetsProperty(
        organizational_unit_ids=ous, accounts=elsewhere, account_filter_type="DIFFERENCE"
    )


def name_stack_sets(group: MemberGroup) -> tuple[str, str]:
    """The guard's and the forwarders' StackSet names (letters, digits, hyphens)."""
    return f"{PREFIX}-guard-{group.label}", f"{PREFIX}-fast-trip-{group.label}"


class CodeBucketStack(Stack):
    """The payer's code bucket in one member home Region: the Lambda code of the member
    templates, readable by principals of the organisation only (aws:PrincipalOrgID)."""

    def __init__(self, scope: Construct, *, fleet: Fleet, organization: Organization, region: str):
        name = name_code_stack(region)
        payer = fleet.payer
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=Environment(account=payer.id, region=region),
            description=f"runawaytrain: the member guards' Lambda code for {region}",
            analytics_reporting=False,
            # No asset: deployed with the payer home Region's bootstrap roles (fleet.py
            # reuse_home_bootstrap does the same for the fast-trip Regions), so this Region
            # needs no `cdk bootstrap`.
            synthesizer=BootstraplessSynthesizer(
                deploy_role_arn=_in_home(DEPLOY_ROLE, payer),
                cloud_formation_execution_role_arn=_in_home(CFN_EXECUTION_ROLE, payer),
            ),
        )
        self.bucket = s3.Bucket(
            self,
            "Code",
            bucket_name=name_code_bucket(fleet, region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Lambda reads a function's code with the caller's rights: the member's StackSets
        # execution role creating the function. Objects are keyed by content hash.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganisationReadsCode",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions=organization.member_conditions,
            )
        )
        # The CDK CLI uploads with the home Region's publishing role (stack_set_assets.py).
        publisher = iam.ArnPrincipal(_in_home(FILE_PUBLISHING_ROLE, payer, partition="aws"))
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CdkPublishesCode",
                principals=[publisher],
                actions=["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:PutObject*"],
                resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects("*")],
            )
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="The bucket holds only content-hashed Lambda code the CDK CLI uploads; "
                "CloudTrail records who wrote it, and a log bucket per Region would double the "
                "payer's stacks' buckets for no reader.",
            )
        )


def _in_home(role: str, payer: Account, partition: str | None = None) -> str:
    value = role.replace("${AWS::AccountId}", payer.id).replace("${AWS::Region}", payer.home_region)
    return value.replace("${AWS::Partition}", partition) if partition else value


class MembersStack(Stack):
    """`runawaytrain-members`: StackSet resources only (and, as file assets, their templates
    and code)."""

    def __init__(self, scope: Construct, *, fleet: Fleet, organization: Organization) -> None:
        payer = fleet.payer
        self.synthesizer_ = MembersSynthesizer(home_region=payer.home_region, payer_id=payer.id)
        super().__init__(
            scope,
            MEMBERS_STACK_NAME,
            stack_name=MEMBERS_STACK_NAME,
            env=Environment(account=payer.id, region=payer.home_region),
            description="runawaytrain: every member's guard, by service-managed StackSets",
            analytics_reporting=False,
            synthesizer=self.synthesizer_,
        )
        self.groups = group_members(fleet, organization)
        self.guard_sets: dict[str, CfnStackSet] = {}
        self.fast_trip_sets: dict[str, CfnStackSet] = {}
        for group in self.groups:
            self._add_group(fleet, organization, group)

    def _add_group(self, fleet: Fleet, organization: Organization, group: MemberGroup) -> None:
        home = group.settings.home_region
        code = CodeDestination(home, name_code_bucket(fleet, home))
        guard_name, fast_trip_name = name_stack_sets(group)
        guard_template = TemplateSynthesizer(self.synthesizer_, code)
        guard = GuardStack(self, account=group.settings, fleet=fleet, template=guard_template)
        name_member_resources(guard, guard.guard.function.node.default_child)
        targets = build_targets(organization, group, self.groups)
        # "Automatic deployments do not consider account level targeting filters. If you
        # target specific accounts and enable automatic deployments, your StackSet will
        # continue to deploy to any newly added accounts" (CloudFormation User Guide, "Enable
        # or disable automatic deployments for StackSets in AWS Organizations",
        # Considerations): a group of listed accounts (INTERSECTION) with automatic deployment
        # would put its guard into every account joining the OUs, beside the default one
        # (their named roles collide). Only the default group deploys itself to joiners; the
        # other groups' accounts are listed, so a payer deploy adds them.
        joins = group.label == DEFAULT_GROUP
        guard_set = self._add_stack_set(
            guard_name, guard_template.template_url, targets, [home], [], joins=joins
        )
        self.guard_sets[group.label] = guard_set
        if group.label != DEFAULT_GROUP:
            # An account listed into this group leaves the default group in the same deploy:
            # StackSets would delete its default instance while creating this one, both with
            # the same named roles and queues ("already exists":
            # aws-cloudformation/cloudformation-coverage-roadmap#2427). CloudFormation updates
            # this set after the default ones (DependsOn). Moves the other way: two deploys
            # (docs/deploy.md).
            guard_set.add_dependency(self.guard_sets[DEFAULT_GROUP])
            if DEFAULT_GROUP in self.fast_trip_sets:
                guard_set.add_dependency(self.fast_trip_sets[DEFAULT_GROUP])
        if not group.forwarder_regions:
            return
        forwarder_template = TemplateSynthesizer(self.synthesizer_, code)
        forwarder = FastTripRegionStack(
            self, account=group.settings, region=None, synthesizer=forwarder_template
        )
        name_member_resources(forwarder)
        # Each Region's rule targets the guard stack's bus and role: those come first, at the
        # first deploy and whenever an account joins (AutoDeployment DependsOn).
        fast_trip_set = self._add_stack_set(
            fast_trip_name,
            forwarder_template.template_url,
            targets,
            list(group.forwarder_regions),
            [_stack_set_arn(guard_set)] if joins else [],
            joins=joins,
        )
        fast_trip_set.add_dependency(guard_set)
        self.fast_trip_sets[group.label] = fast_trip_set

    def _add_stack_set(
        self,
        name: str,
        template_url: str,
        targets: CfnStackSet.DeploymentTargetsProperty,
        regions: list[str],
        depends_on: list[str],
        *,
        joins: bool,
    ) -> CfnStackSet:
        return CfnStackSet(
            self,
            name,
            stack_set_name=name,
            permission_model="SERVICE_MANAGED",
            # Created from the management account itself (not a delegated administrator).
            call_as="SELF",
            # RetainStacksOnAccountRemoval: "Specify only if Enabled is set to True" (API
            # Reference, AutoDeployment).
            auto_deployment=CfnStackSet.AutoDeploymentProperty(
                enabled=True,
                retain_stacks_on_account_removal=False,
                depends_on=depends_on or None,
            )
            if joins
            else CfnStackSet.AutoDeploymentProperty(enabled=False),
            managed_execution={"Active": True},
            operation_preferences=OPERATION_PREFERENCES,
            capabilities=CAPABILITIES,
            template_url=template_url,
            description=f"runawaytrain: {name} (accounts.yaml; docs/deploy.md)",
            stack_instances_group=[
                CfnStackSet.StackInstancesProperty(deployment_targets=targets, regions=regions)
            ],
        )


def _stack_set_arn(stack_set: CfnStackSet) -> str:
    """A StackSet's ARN: arn:<partition>:cloudformation:<region>:<account>:stackset/<id>, the id
    being `<name>:<uuid>` (Ref of AWS::CloudFormation::StackSet returns it)."""
    return (
        f"arn:{Aws.PARTITION}:cloudformation:{Aws.REGION}:{Aws.ACCOUNT_ID}:"
        f"stackset/{stack_set.attr_stack_set_id}"
    )
