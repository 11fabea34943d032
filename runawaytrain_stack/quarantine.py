"""In the payer: the quarantine and guard-protection SCPs of every member account, and the
Lambda that attaches or detaches an account's quarantine when its guard asks (scp.py says what
the policies deny and who is exempt; lambda/quarantine the how).

The quarantine SCPs (one or more per account, attached together: scp.py) are created
unattached; the Lambda may attach or detach exactly those, to exactly the fleet's member accounts
(IAM resources: the policies' ARNs and the accounts' ARNs; Service Authorization Reference, AWS
Organizations: AttachPolicy and DetachPolicy authorize both the policy and the target). The
guard-protection SCPs are attached at deploy, one per member account, when `protect_guards` is on.
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, CfnTag, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_organizations as organizations
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
    QUARANTINE_POLICY_PREFIX,
    QUARANTINE_STATE_PATH,
    QUARANTINE_TAG,
    ROLE_PATH,
    name_protection_policy,
    name_quarantine_policy,
)
from runawaytrain_stack.payer_wiring import build_request_pattern
from runawaytrain_stack.scp import (
    build_guard_protection_policies,
    build_quarantine_policies,
)

HANDLER = "quarantine.handler.handler"


class Quarantine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        fleet: Fleet,
        bus: events.IEventBus,
        alerts: AlertTopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        quarantined = [a for a in fleet.sub_accounts if a.quarantine]
        # Several SCPs per account, attached together (scp.py); the first keeps the construct
        # id and name it had as the only one.
        self.quarantine_policies = {
            account.id: [
                organizations.CfnPolicy(
                    self,
                    f"Quarantine-{account.name}" + (f"-{index + 1}" if index else ""),
                    name=name_quarantine_policy(account.id, index),
                    type="SERVICE_CONTROL_POLICY",
                    description=f"runawaytrain: {account.name} tripped; attached until restore "
                    f"({index + 1} of {len(documents)})",
                    content=document,
                    tags=[CfnTag(key=QUARANTINE_TAG, value=account.id)],
                )
                for index, document in enumerate(documents)
            ]
            for account in quarantined
            for documents in [build_quarantine_policies(fleet, account)]
        }
        # One SCP per member, two when its break-glass list makes it overflow (scp.py); the
        # first keeps the construct id and name it had as the only one.
        self.protection_policies: dict[str, list[organizations.CfnPolicy]] = {}
        if fleet.protect_guards:
            self.protection_policies = {
                account.id: [
                    organizations.CfnPolicy(
                        self,
                        f"ProtectGuard-{account.name}" + (f"-{index + 1}" if index else ""),
                        name=name_protection_policy(account.id, index),
                        type="SERVICE_CONTROL_POLICY",
                        description=f"runawaytrain: nobody in {account.name} switches its guard "
                        "off" + (f" ({index + 1} of {n})" if (n := len(documents)) > 1 else ""),
                        content=document,
                        target_ids=[account.id],
                    )
                    for index, document in enumerate(documents)
                ]
                for account in fleet.sub_accounts
                for documents in [build_guard_protection_policies(fleet, account)]
            }
        self.function: lambda_.Function | None = None
        if not quarantined:
            return
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        member_arns = [
            f"arn:{stack.partition}:organizations::{stack.account}:account/o-*/{a.id}"
            for a in quarantined
        ]
        policy_arns = (
            f"arn:{stack.partition}:organizations::{stack.account}:policy/o-*/"
            "service_control_policy/p-*"
        )
        state = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{QUARANTINE_STATE_PATH[1:]}*"
        )
        statements = [
            iam.PolicyStatement(
                sid="FindQuarantinePolicies",
                actions=["organizations:ListPolicies"],
                resources=["*"],
            ),
            # AttachPolicy and DetachPolicy authorize the policy and the target separately: the
            # policies by their tag (ids are random, and a reference to them would tie this role
            # to resources the emulator cannot create), the targets by account id.
            iam.PolicyStatement(
                sid="OnlyQuarantinePolicies",
                actions=["organizations:AttachPolicy", "organizations:DetachPolicy"],
                resources=[policy_arns],
                conditions={"StringLike": {f"aws:ResourceTag/{QUARANTINE_TAG}": "*"}},
            ),
            iam.PolicyStatement(
                sid="OnlyMemberAccounts",
                actions=["organizations:AttachPolicy", "organizations:DetachPolicy"],
                resources=member_arns,
            ),
            iam.PolicyStatement(
                sid="RecordQuarantine", actions=["ssm:PutParameter"], resources=[state]
            ),
            *alerts.publisher_statements("MailOutcome"),
            build_log_statement(log_group),
        ]
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            path=ROLE_PATH,
            description="runawaytrain quarantine: attaches a tripped member's quarantine SCP",
            inline_policies={"Quarantine": iam.PolicyDocument(statements=statements)},
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="organizations:ListPolicies supports no resource-level permissions "
                "(Service Authorization Reference); the function finds its policy by name.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_as_nag_names(policy_arns, stack)}]",
                reason="Policy ids are random; attach and detach are limited to the policies "
                "tagged runawaytrain:quarantine (the quarantine SCPs), and to member accounts.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{_as_nag_names(state, stack)}]",
                reason="One record per quarantined member account, named by its account id, "
                "written on every attach and detach; the path holds nothing else.",
            ),
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{_as_nag_names(arn, stack)}]",
                    reason="The organization id (o-...) is not known at synth time; the member "
                    "account id is fixed, so only that account can be a target.",
                )
                for arn in member_arns
            ),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="runawaytrain quarantine: attach/detach a member's quarantine SCP",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDES),
            role=role.without_policy_updates(),
            memory_size=128,
            # One request at a time: attach and detach of one account never race.
            reserved_concurrent_executions=1,
            environment={
                "accounts": json.dumps({a.id: a.name for a in quarantined}, sort_keys=True),
                # How many quarantine SCPs each account has: a missing one is an error.
                "pieces": json.dumps(
                    {key: len(value) for key, value in self.quarantine_policies.items()},
                    sort_keys=True,
                ),
                "policy_prefix": QUARANTINE_POLICY_PREFIX,
                "state_path": QUARANTINE_STATE_PATH,
                "snstopic": alerts.topic.topic_arn,
            },
            log_group=log_group,
            retry_attempts=2,
            on_failure=destinations.SnsDestination(alerts.topic),
        )
        pattern = build_request_pattern(fleet)
        self.rule = events.Rule(
            self,
            "Requests",
            description="A member's guard asks for its quarantine to be attached or detached",
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                account=pattern["account"],
            ),
            targets=[targets.LambdaFunction(self.function)],
        )


def _as_nag_names(arn: str, stack: Stack) -> str:
    """cdk-nag writes the unresolved partition token by its pseudo-parameter name."""
    return arn.replace(stack.partition, "<AWS::Partition>")
