"""In the payer, with `organization:` (docs/settings.md): the store every member guard reads its
settings from, and the publisher that fills it from accounts.yaml.

- The settings document, built at synth (settings_documents.py), is one file asset.
- The bucket `runawaytrain-settings-<payer id>`: versioned (every published change is kept),
  SSE-S3 (readers in other accounts need no key grant), public access blocked, TLS only. Its
  policy lets a principal of the organisation whose ARN is a member guard's role
  (names.GUARD_ROLE_NAME) read `accounts/${aws:PrincipalAccount}.json` and `defaults.json` and
  nothing else, and denies every object write to all but the publisher's role.
- The publisher (lambda/settings) copies the asset into per-account objects every
  PUBLISH_MINUTES minutes (EventBridge Scheduler, as the guard's clock: schedule.py says why).
  No custom resource: moto's CloudFormation cannot run one, and the schedule also repairs a
  deleted object.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.guard import (
    ASSET_DIR,
    ASSET_EXCLUDES,
    LOG_RETENTION,
    RUNTIME,
    build_log_statement,
)
from runawaytrain_stack.names import (
    ROLE_PATH,
    SETTINGS_SCHEDULE_NAME,
    name_org_guard_roles,
    name_settings_bucket,
)
from runawaytrain_stack.settings_documents import build_settings_document, serialize

HANDLER = "settings.handler.handler"
# A guard reads its document at every run; a change reaches it within this plus its schedule.
PUBLISH_MINUTES = 5
# One ListObjectsV2 page per 1,000 accounts and one PutObject per changed document: seconds.
TIMEOUT = Duration.minutes(2)
# Old versions of a document: what a guard read before a change, kept for looking back.
NONCURRENT_DAYS = 90
# What only the publisher may do to the documents (versions included).
OBJECT_WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]


def build_bucket_statements(
    fleet: Fleet, bucket_arn: str, publisher_role_arn: str
) -> list[dict[str, Any]]:
    """The settings bucket's policy (beside CDK's TLS-only deny), as IAM JSON: the evaluator
    tests read exactly these (tests/payer/test_settings_bucket_policy.py).

    `${aws:PrincipalAccount}` in the Resource: IAM replaces a policy variable by the request's
    value of the key, in resource-based policies too ("Variables can be used in identity-based
    policies, resource policies, service control policies, ...": IAM User Guide, "IAM policy
    elements: Variables and tags"); aws:PrincipalAccount is "the account to which the requesting
    principal belongs" and aws:PrincipalOrgID its organisation (IAM User Guide, "AWS global
    condition context keys"). So one statement lets each guard read its own account's document
    and no other, however many accounts join."""
    assert fleet.organization is not None
    return [
        {
            "Sid": "GuardsReadOwnSettings",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:GetObject",
            "Resource": [
                f"{bucket_arn}/accounts/${{aws:PrincipalAccount}}.json",
                f"{bucket_arn}/defaults.json",
            ],
            "Condition": {
                **fleet.organization.member_conditions,
                "ArnLike": {"aws:PrincipalArn": name_org_guard_roles()},
            },
        },
        {
            # "An explicit deny in any policy overrides any allows" (IAM User Guide, "Policy
            # evaluation logic"): not the payer's administrators nor its root user write here.
            "Sid": "OnlyThePublisherWrites",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": OBJECT_WRITE_ACTIONS,
            "Resource": f"{bucket_arn}/*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": publisher_role_arn}},
        },
    ]


class SettingsStore(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, fleet: Fleet, alerts: AlertTopic
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        folder = Path(tempfile.mkdtemp(prefix="runawaytrain-settings-"))
        (folder / "settings.json").write_text(serialize(build_settings_document(fleet)))
        self.document = s3_assets.Asset(self, "Document", path=str(folder / "settings.json"))
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=name_settings_bucket(fleet),
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(NONCURRENT_DAYS))
            ],
            removal_policy=RemovalPolicy.RETAIN,  # guards fall back to their copies meanwhile
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="Only the publisher writes here (the bucket policy denies every other "
                "object write) and versioning keeps every document it wrote; reads are the "
                "guards' own settings. Access logs would need a second bucket per payer and "
                "record only that; CloudTrail data events can be turned on where wanted.",
            )
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        bucket_arn = self.bucket.bucket_arn
        statements = [
            iam.PolicyStatement(
                sid="ReadSynthesizedSettings",
                actions=["s3:GetObject"],
                resources=[
                    f"arn:{stack.partition}:s3:::{self.document.s3_bucket_name}/"
                    f"{self.document.s3_object_key}"
                ],
            ),
            iam.PolicyStatement(
                sid="ListSettings", actions=["s3:ListBucket"], resources=[bucket_arn]
            ),
            iam.PolicyStatement(
                sid="PublishSettings",
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[f"{bucket_arn}/defaults.json", f"{bucket_arn}/accounts/*"],
            ),
            build_log_statement(self.log_group),
            *alerts.publisher_statements("MailPayerOnFailure"),
        ]
        self.role = iam.Role(
            self,
            "Role",
            path=ROLE_PATH,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="runawaytrain settings publisher: accounts.yaml settings to the bucket",
            inline_policies={"Publisher": iam.PolicyDocument(statements=statements)},
        )
        bucket_id = stack.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/accounts/*]",
                reason="One settings document per account of the organisation, named by its "
                "account id and known only from accounts.yaml at each publish; the bucket holds "
                "nothing but these documents and the defaults.",
            )
        )
        for statement in build_bucket_statements(fleet, bucket_arn, self.role.role_arn):
            self.bucket.add_to_resource_policy(iam.PolicyStatement.from_json(statement))
        self.function = lambda_.Function(
            self,
            "Function",
            description="runawaytrain settings publisher: per-account settings documents, every "
            f"{PUBLISH_MINUTES} min",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDES),
            role=self.role.without_policy_updates(),
            timeout=TIMEOUT,
            memory_size=128,
            reserved_concurrent_executions=1,  # two runs would race on the same objects
            environment={
                "document_bucket": self.document.s3_bucket_name,
                "document_key": self.document.s3_object_key,
                "settings_bucket": self.bucket.bucket_name,
            },
            log_group=self.log_group,
            retry_attempts=0,  # the next tick starts again from the start
            on_failure=destinations.SnsDestination(alerts.topic),
        )
        period = Duration.minutes(PUBLISH_MINUTES)
        invoke = iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[self.function.function_arn]
        )
        self.schedule_role = iam.Role(
            self,
            "ScheduleRole",
            path=ROLE_PATH,
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Lets EventBridge Scheduler invoke the runawaytrain settings publisher",
            inline_policies={"InvokePublisher": iam.PolicyDocument(statements=[invoke])},
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=SETTINGS_SCHEDULE_NAME,
            description=f"Publishes runawaytrain settings every {PUBLISH_MINUTES} minute(s)",
            schedule=scheduler.ScheduleExpression.rate(period),
            target=scheduler_targets.LambdaInvoke(
                self.function,
                max_event_age=period,
                retry_attempts=0,
                role=self.schedule_role.without_policy_updates(),
            ),
        )
