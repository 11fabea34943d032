"""In the payer, for fleets with an `organization`: the guard protection as one set of SCPs on the
target OUs, and a quarantine Lambda that creates an account's quarantine SCPs at its trip and
deletes them at restore (lambda/quarantine/on_demand.py). Nothing here is per member, so the
payer's template keeps its size as the organisation grows (docs/quarantine.md).

What the Lambda needs per account (name, break_glass, quarantine on/off) and the quarantine
template reach it as a file in a layer (/opt/...), not in its environment (4 KB in all, Lambda
quotas) nor in the template: lambda/quarantine/account_settings.py reads it.

IAM (Service Authorization Reference, AWS Organizations): CreatePolicy and TagResource take only
"*", narrowed by organizations:PolicyType and by the tag the request must carry (aws:RequestTag,
aws:TagKeys); AttachPolicy, DetachPolicy and DeletePolicy name the policy, here only the tagged
ones (aws:ResourceTag), and AttachPolicy/DetachPolicy the target, here only accounts of the
organisation (never an OU or the root, so never the OU's protection).
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_organizations as organizations
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.file_layer import add_file_layer
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
)
from runawaytrain_stack.payer_wiring import build_request_pattern
from runawaytrain_stack.scp import build_ou_protection_policies, build_quarantine_template

HANDLER = "quarantine.handler.handler"
SETTINGS_FILE = "quarantine/settings.json"
SCP = "SERVICE_CONTROL_POLICY"


def build_settings(fleet: Fleet) -> dict[str, object]:
    """The file the Lambda reads (lambda/quarantine/account_settings.py QuarantineData)."""
    return {
        "template": build_quarantine_template(fleet).to_json(),
        "payer": fleet.payer.id,
        "accounts": {
            account.id: {
                "name": account.name,
                "break_glass": list(account.break_glass),
                "quarantine": account.quarantine,
            }
            for account in fleet.sub_accounts
        },
    }


class OnDemandQuarantine(Construct):
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
        organization = fleet.organization
        if organization is None:
            raise ValueError("OnDemandQuarantine needs a fleet with an organization")
        stack = Stack.of(self)
        self.protection_policies: list[organizations.CfnPolicy] = []
        if fleet.protect_guards:
            documents = build_ou_protection_policies(fleet)
            self.protection_policies = [
                organizations.CfnPolicy(
                    self,
                    "ProtectGuards" + (f"-{index + 1}" if index else ""),
                    name=name_protection_policy("ou", index),
                    type=SCP,
                    description="runawaytrain: nobody in the target OUs' accounts switches "
                    "its guard off"
                    + (f" ({index + 1} of {n})" if (n := len(documents)) > 1 else ""),
                    content=document,
                    target_ids=list(organization.target_ous),
                )
                for index, document in enumerate(documents)
            ]
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        prefix = f"arn:{stack.partition}:organizations::{stack.account}"
        tagged_policies = f"{prefix}:policy/{organization.id}/service_control_policy/p-*"
        member_accounts = f"{prefix}:account/{organization.id}/*"
        state = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{QUARANTINE_STATE_PATH[1:]}*"
        )
        carries_tag = {
            "StringEquals": {"organizations:PolicyType": SCP},
            "StringLike": {f"aws:RequestTag/{QUARANTINE_TAG}": "*"},
            "ForAllValues:StringEquals": {"aws:TagKeys": [QUARANTINE_TAG]},
            "Null": {"aws:TagKeys": "false"},
        }
        statements = [
            iam.PolicyStatement(
                sid="FindQuarantinePolicies",
                actions=["organizations:ListPolicies"],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CreateTaggedQuarantinePolicies",
                actions=["organizations:CreatePolicy", "organizations:TagResource"],
                resources=["*"],
                conditions=carries_tag,
            ),
            iam.PolicyStatement(
                sid="OnlyQuarantinePolicies",
                actions=[
                    "organizations:AttachPolicy",
                    "organizations:DetachPolicy",
                    "organizations:DeletePolicy",
                ],
                resources=[tagged_policies],
                conditions={"StringLike": {f"aws:ResourceTag/{QUARANTINE_TAG}": "*"}},
            ),
            iam.PolicyStatement(
                sid="OnlyMemberAccounts",
                actions=["organizations:AttachPolicy", "organizations:DetachPolicy"],
                resources=[member_accounts],
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
            description="runawaytrain quarantine: creates and attaches a tripped account's SCPs",
            inline_policies={"Quarantine": iam.PolicyDocument(statements=statements)},
        )
        nag = lambda arn: arn.replace(stack.partition, "<AWS::Partition>")  # noqa: E731
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="organizations:ListPolicies, CreatePolicy and TagResource support no "
                "resource-level permissions (Service Authorization Reference); creating and "
                "tagging are limited to SCPs carrying the runawaytrain:quarantine tag.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{nag(tagged_policies)}]",
                reason="Policy ids are random and made at the trip; attach, detach and delete "
                "are limited to the policies tagged runawaytrain:quarantine (the quarantine "
                "SCPs this function creates).",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{nag(member_accounts)}]",
                reason="Any account of the organisation may trip and be quarantined, including "
                "accounts that join after the deploy; OUs and the root are not targets.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{nag(state)}]",
                reason="One record per quarantined account, named by its account id, written "
                "before and after every change; the path holds nothing else.",
            ),
        )
        self.settings = add_file_layer(
            self,
            "Settings",
            files={SETTINGS_FILE: json.dumps(build_settings(fleet), sort_keys=True)},
            description="runawaytrain quarantine: template and listed accounts (accounts.yaml)",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="runawaytrain quarantine: create+attach / detach+delete an account's SCPs",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(ASSET_DIR), exclude=ASSET_EXCLUDES),
            layers=[self.settings],
            role=role.without_policy_updates(),
            memory_size=128,
            # One request at a time: attach and detach of one account never race.
            reserved_concurrent_executions=1,
            environment={
                "settings_file": f"/opt/{SETTINGS_FILE}",
                "policy_prefix": QUARANTINE_POLICY_PREFIX,
                "policy_tag": QUARANTINE_TAG,
                "state_path": QUARANTINE_STATE_PATH,
                "snstopic": alerts.topic.topic_arn,
            },
            log_group=log_group,
            retry_attempts=2,
            on_failure=destinations.SnsDestination(alerts.topic),
        )
        pattern = build_request_pattern(fleet)
        # No account list: the bus admits only the organisation's guard roles (payer_wiring.py);
        # the function ignores the payer and accounts with quarantine: false.
        self.rule = events.Rule(
            self,
            "Requests",
            description="A guard of the organisation asks for its quarantine to be attached or "
            "detached",
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"]
            ),
            targets=[targets.LambdaFunction(self.function)],
        )
