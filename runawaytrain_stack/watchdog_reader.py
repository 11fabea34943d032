"""In every guard stack: the role the payer's watchdog assumes to see why a guard went quiet,
and, at every check, whether its mail path or trip wiring was changed.

Read-only and narrow: the guard stack's status, resources and template, the guard's schedule,
the guard function's configuration, the Errors metric, the guard stack's rules
(lambda/watchdog/inside.py); the notify topic's subscriptions and their attributes, the topic's
key, the billing bus, the fast-trip queue's attributes (lambda/watchdog/containment.py). Exactly
these calls, each on this stack's own resource but GetSubscriptionAttributes.

Trusted by the payer account only when the caller is the watchdog's role: the account as
principal with an `aws:PrincipalArn` condition, not the role's ARN as principal, because IAM
turns a role principal into the role's unique id when the policy is saved and refuses one that
does not exist yet (IAM User Guide, "AWS JSON policy elements: Principal", IAM roles), and the
payer stack may be deployed after this one.
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.names import (
    ROLE_PATH,
    SCHEDULE_NAME,
    WATCHDOG_READER_ROLE_NAME,
    name_guard_stack,
    name_watchdog_role_arn,
)

# What inside.py calls, by resource scope (tests/stack/test_watchdog.py compares).
READER_ACTIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackResources",
    "scheduler:GetSchedule",
    "lambda:GetFunctionConfiguration",
    "cloudwatch:GetMetricStatistics",
    "events:DescribeRule",
    "cloudformation:GetTemplate",
    "cloudformation:ListStackResources",
    "sns:ListSubscriptionsByTopic",
    "sns:GetSubscriptionAttributes",
    "kms:DescribeKey",
    "events:DescribeEventBus",
    "sqs:GetQueueAttributes",
)


class WatchdogReader(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        account: Account,
        fleet: Fleet,
        function: lambda_.IFunction,
        stack_arn: str | None = None,
    ) -> None:
        """`stack_arn`: the guard stack's own ARN when its name is not the guard's (a StackSet
        names its stacks StackSet-<set>-<random>: AWS::StackId)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        partition = stack.partition
        where = f"{account.home_region}:{account.id}"
        if stack_arn is None:
            stack_arn = (
                f"arn:{partition}:cloudformation:{where}:stack/{name_guard_stack(account)}/*"
            )
        schedule_arn = f"arn:{partition}:scheduler:{where}:schedule/default/{SCHEDULE_NAME}"
        rules = sorted(
            (c for c in stack.node.find_all() if isinstance(c, events.CfnRule)),
            key=lambda rule: rule.node.path,
        )
        statements = [
            iam.PolicyStatement(
                sid="ReadGuardStack",
                actions=[
                    "cloudformation:DescribeStacks",
                    "cloudformation:DescribeStackResources",
                    "cloudformation:GetTemplate",
                    "cloudformation:ListStackResources",
                ],
                resources=[stack_arn],
            ),
            iam.PolicyStatement(
                sid="ReadSchedule", actions=["scheduler:GetSchedule"], resources=[schedule_arn]
            ),
            iam.PolicyStatement(
                sid="ReadGuardFunction",
                actions=["lambda:GetFunctionConfiguration"],
                resources=[function.function_arn],
            ),
            iam.PolicyStatement(
                sid="ReadErrorsMetric",
                actions=["cloudwatch:GetMetricStatistics"],
                resources=["*"],
            ),
        ]
        statements += _build_containment_statements(stack)
        if rules:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadGuardRules",
                    actions=["events:DescribeRule"],
                    resources=[rule.attr_arn for rule in rules],
                )
            )
        watchdog = name_watchdog_role_arn(fleet).replace("arn:aws:", f"arn:{partition}:", 1)
        self.role = iam.Role(
            self,
            "Role",
            role_name=WATCHDOG_READER_ROLE_NAME,
            path=ROLE_PATH,
            description="runawaytrain: the payer's watchdog reads why this guard is quiet",
            assumed_by=iam.AccountPrincipal(fleet.payer.id).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": watchdog}}
            ),
            inline_policies={"WatchdogReader": iam.PolicyDocument(statements=statements)},
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="cloudwatch:GetMetricStatistics and sns:GetSubscriptionAttributes support "
                "no resource-level permissions (Service Authorization Reference, Amazon "
                "CloudWatch, Amazon SNS); the role reads only the guard function's AWS/Lambda "
                "Errors metric and the guard topic's subscriptions' attributes with them.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{as_nag_names(stack_arn, stack)}]",
                reason="A stack ARN ends with a unique id CloudFormation assigns at creation; the "
                "name before it is this account's guard stack's, so no other stack matches.",
            ),
        )


def _build_containment_statements(stack: Stack) -> list[iam.PolicyStatement]:
    """What lambda/watchdog/containment.py reads, on this stack's topic, key, policied buses and
    queues (found in the stack, as the rules are)."""
    found = list(stack.node.find_all())
    topics = [c.ref for c in found if isinstance(c, sns.CfnTopic)]  # a topic's Ref is its ARN
    keys = [c.attr_arn for c in found if isinstance(c, kms.CfnKey)]
    policied = [
        json.dumps(stack.resolve(c.event_bus_name), sort_keys=True)
        for c in found
        if isinstance(c, events.CfnEventBusPolicy) and c.event_bus_name is not None
    ]
    buses = [
        c.attr_arn
        for c in found
        if isinstance(c, events.CfnEventBus)
        and json.dumps(stack.resolve(c.ref), sort_keys=True) in policied
    ]
    queues = [c.attr_arn for c in found if isinstance(c, sqs.CfnQueue)]
    statements = []
    if topics:
        statements += [
            iam.PolicyStatement(
                sid="ReadSubscriptions", actions=["sns:ListSubscriptionsByTopic"], resources=topics
            ),
            iam.PolicyStatement(
                sid="ReadSubscriptionAttributes",
                actions=["sns:GetSubscriptionAttributes"],
                resources=["*"],
            ),
        ]
    for sid, action, arns in (
        ("ReadTopicKey", "kms:DescribeKey", keys),
        ("ReadBillingBus", "events:DescribeEventBus", buses),
        ("ReadFastTripQueue", "sqs:GetQueueAttributes", queues),
    ):
        if arns:
            statements.append(iam.PolicyStatement(sid=sid, actions=[action], resources=arns))
    return statements


def as_nag_names(arn: str, stack: Stack) -> str:
    """cdk-nag writes the unresolved partition token by its pseudo-parameter name."""
    return arn.replace(stack.partition, "<AWS::Partition>")
