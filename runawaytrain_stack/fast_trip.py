"""Fast trip, the home Region's half: launches anywhere in the account prompt a census at once.

EC2 puts an "EC2 Instance State-change Notification" (source `aws.ec2`) on the default event bus
of the Region where an instance changes state; a launch or start enters state `pending` first
(EC2 User Guide, "State change events for Amazon EC2 instances"). SageMaker, ECS, Batch and RDS
put their own state-change events there too; the ones that announce capacity, and in which
states, are listed once, in the guard's guard/launch_events.py, so that the rules match exactly
what the guard reads. A rule in each watched Region forwards those events, unchanged, to the
bus `runawaytrain-fast-trip` here (fast_trip_region.py); a rule on that bus and one on this
Region's default bus put them on a queue, and Lambda's SQS poller hands the guard whatever
gathered within the batching window in one invocation:

    {"Records": [{"eventSource": "aws:sqs", "body": "<the EventBridge event, as JSON>"}, ...]}

so a burst of launches costs one census, not one per instance. A dedicated bus, not this
Region's default bus, receives the forwarded events, so other Regions' events never reach the
account's own rules on its default bus. Every rule has the one pattern, an `$or` of one branch
per kind of event (within EventBridge's 2,048-character pattern quota: tests/stack).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, Aws, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from guard.launch_events import EC2_INSTANCE
from guard.launch_events import build_launch_pattern as _build_launch_pattern
from runawaytrain_stack.fleet_model import Account, list_fast_trip_regions
from runawaytrain_stack.names import (
    FAST_TRIP_BUS_NAME,
    FAST_TRIP_FORWARDER_ROLE_NAME,
    ROLE_PATH,
)

# The EC2 launch event (the drill puts one on a bus to follow it to the queue).
LAUNCH_SOURCE = EC2_INSTANCE.source
LAUNCH_DETAIL_TYPE = EC2_INSTANCE.detail_type
(LAUNCH_STATE,) = EC2_INSTANCE.states
# "Set the source queue's visibility timeout to at least six times the configuration timeout on
# your function. The extra time allows Lambda to retry if your function is throttled while
# processing a previous batch" (Lambda Developer Guide, "Creating and configuring an Amazon SQS
# event source mapping"). Throttling is expected here: reserved concurrency 1.
VISIBILITY_TIMEOUT_FACTOR = 6
# A prompt only asks for a census sooner than the schedule's next one, and any census counts
# every instance: a prompt older than one schedule period has been superseded. The floor of an
# hour keeps a prompt through two visibility timeouts (2 x 30 min), i.e. one retry after a
# failed run (a guard that keeps failing is reported by the scheduled runs' on-failure topic).
MIN_RETENTION_S = 3600
# The most a standard queue's event source mapping takes per invocation (Lambda Developer Guide,
# "Lambda parameters for Amazon SQS event source mappings": BatchSize, maximum 10,000); Lambda
# also stops gathering at its 6 MB payload limit. Any number of prompts means one census.
BATCH_SIZE = 10_000
# How long Lambda gathers prompts before invoking (MaximumBatchingWindowInSeconds, 0-300):
# the delay a burst adds to the first census, traded against how many censuses a long burst
# causes. A benchmark of the guard's side may tune it.
MAX_BATCHING_WINDOW_S = 5
# The lowest ScalingConfig.MaximumConcurrency allowed (2-1000, Lambda API Reference,
# "ScalingConfig"). Reserved concurrency 1 still serialises the guard; a throttled batch is
# retried by the poller within the visibility timeout.
MAX_CONCURRENCY = 2
# What drains, hides or removes the prompts, or the queue and its policy (_only_the_exempt_drain).
# A received message is invisible to the poller for its visibility timeout, and
# ChangeMessageVisibility stretches that to 12 hours (SQS Developer Guide, "Amazon SQS
# visibility timeout"): receiving is draining.
# A queue policy takes at most 7 actions per statement (SQS Developer Guide, "Amazon SQS policy
# quotas": 8,192 bytes, 20 statements, 7 actions per statement, 10 conditions); the wildcard is
# AddPermission and RemovePermission (Service Authorization Reference, Amazon SQS).
QUEUE_DRAIN_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:PurgeQueue",
    "sqs:SetQueueAttributes",
    "sqs:DeleteQueue",
    "sqs:*Permission",
)


def build_launch_pattern() -> dict[str, Any]:
    """The one event pattern of every fast-trip rule, as CloudFormation's EventPattern JSON."""
    return _build_launch_pattern()


@functools.cache
def _partition() -> str:
    """The AWS::Partition token: a plain Ref, valid in any stack (fetched from jsii once)."""
    return Aws.PARTITION


def format_fast_trip_bus_arn(account: Account) -> str:
    """The fast-trip bus of `account`, in its home Region. Formatted here rather than by
    Stack.format_arn: the same string for every Region stack, and one jsii call less each."""
    home = account.home_region
    return f"arn:{_partition()}:events:{home}:{account.id}:event-bus/{FAST_TRIP_BUS_NAME}"


def format_forwarder_role_arn(account: Account) -> str:
    """The role every Region's forwarding rule of `account` uses (IAM is global: one per account);
    a role's ARN includes its path."""
    return f"arn:{_partition()}:iam::{account.id}:role{ROLE_PATH}{FAST_TRIP_FORWARDER_ROLE_NAME}"


class FastTrip(Construct):
    """The queue, the bus that receives other Regions' launches, the rules onto the queue, and
    the forwarder role. `add_poller` connects the queue to the guard once the guard exists (its
    role must already allow reading the queue: permissions.py).

    CloudFormation-level constructs with plain property values throughout: each jsii call costs
    about half a millisecond, and these L1s take a third of the calls the L2s did
    (bench/synth.py; docs/deploy.md, "Synthesis speed"). The resources are what the L2s would
    make, but for the queue's DeletionPolicy left at CloudFormation's default (Delete).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        account: Account,
        function_timeout_s: int,
        schedule_minutes: int,
        exempt_principals: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.CfnQueue(
            self,
            "Queue",
            sqs_managed_sse_enabled=True,
            visibility_timeout=VISIBILITY_TIMEOUT_FACTOR * function_timeout_s,
            message_retention_period=max(MIN_RETENTION_S, schedule_minutes * 60),
        )
        self.queue_arn = self.queue.attr_arn
        Validations.of(self.queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="The queue holds only prompts to count sooner; a prompt that cannot be "
                "delivered is superseded by the next scheduled census, which counts everything, "
                "and a failing guard is reported by the scheduled runs' on-failure topic. A "
                "dead-letter queue would keep stale prompts nobody reads.",
            )
        )
        self.bus = events.CfnEventBus(
            self,
            "Bus",
            name=FAST_TRIP_BUS_NAME,
            description="Receives launch events forwarded from the account's other Regions",
        )
        pattern = build_launch_pattern()
        queue_target = {"arn": self.queue_arn, "id": "FastTripQueue"}
        self.forwarded_rule = events.CfnRule(
            self,
            "ForwardedLaunches",
            description="Queues launches forwarded from other Regions for the guard",
            # The bus by name, ordered by the dependency below: the same template as a Ref, and
            # the emulator the drill deploys into creates it (it fails on a Ref here).
            event_bus_name=FAST_TRIP_BUS_NAME,
            event_pattern=pattern,
            targets=[queue_target],
        )
        self.forwarded_rule.add_resource_dependency(self.bus)
        self.home_rule: events.CfnRule | None = None
        if account.home_region in list_fast_trip_regions(account):
            self.home_rule = events.CfnRule(
                self,
                "HomeLaunches",
                description="Queues launches in this Region for the guard",
                event_pattern=pattern,
                targets=[queue_target],
            )
        rules = [rule for rule in (self.forwarded_rule, self.home_rule) if rule is not None]
        self.queue_policy = sqs.CfnQueuePolicy(
            self,
            "QueuePolicy",
            queues=[self.queue.ref],
            policy_document=_policy(
                {
                    "Action": "sqs:*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Resource": self.queue_arn,
                },
                {
                    "Action": "sqs:SendMessage",
                    "Condition": {"ArnEquals": {"aws:SourceArn": [r.attr_arn for r in rules]}},
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Resource": self.queue_arn,
                    "Sid": "OnlyFastTripRules",
                },
                *_only_the_exempt_drain(self.queue_arn, exempt_principals),
            ),
        )
        self.forwarder = iam.CfnRole(
            self,
            "ForwarderRole",
            role_name=FAST_TRIP_FORWARDER_ROLE_NAME,
            path=ROLE_PATH,
            description="Lets each Region's fast-trip rule forward launches to the guard's bus",
            assume_role_policy_document=_policy(
                {
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account.id}},
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                }
            ),
            # Property mappings in jsii (camelCase) names, as the L1 structs take them.
            policies=[
                {
                    "policyName": "ForwardLaunches",
                    "policyDocument": _policy(
                        {
                            "Action": "events:PutEvents",
                            "Effect": "Allow",
                            "Resource": self.bus.attr_arn,
                        }
                    ),
                }
            ],
        )
        self.poller: lambda_.CfnEventSourceMapping | None = None

    def add_poller(self, function: lambda_.IFunction) -> lambda_.CfnEventSourceMapping:
        """Lambda's SQS poller: gathers prompts for up to MAX_BATCHING_WINDOW_S, then invokes."""
        self.poller = lambda_.CfnEventSourceMapping(
            self,
            "Poller",
            function_name=function.function_name,
            event_source_arn=self.queue_arn,
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=MAX_BATCHING_WINDOW_S,
            scaling_config={"maximumConcurrency": MAX_CONCURRENCY},
        )
        return self.poller


def _only_the_exempt_drain(queue_arn: str, exempt: Sequence[str]) -> list[dict[str, Any]]:
    """Nobody but the exempt principals (scp.py: the guard's role, whose poller reads the queue,
    the CDK roles, the operator and break-glass) receives, deletes or hides a prompt, or changes,
    purges or deletes the queue (issue 22).

    In the queue's own policy rather than the guard-protection SCP: it holds where no SCP binds
    (the payer's own guard: SCPs "don't affect users or roles in the management account",
    Organizations User Guide) and with `protect_guards: false`, and it costs the SCP, whose every
    statement repeats the exemptions within 5,120 characters, nothing. An explicit deny in a
    resource-based policy overrides any allow (IAM User Guide, "Policy evaluation logic"), the
    account's root user included; `sqs:SetQueueAttributes`
    (which sets this policy) is one of the actions denied, so only the exempt can lift it. The
    Lambda poller receives and deletes as the function's execution role (Lambda Developer Guide,
    "Using Lambda with Amazon SQS": the execution role needs sqs:ReceiveMessage,
    sqs:DeleteMessage, sqs:GetQueueAttributes), an exempt /runawaytrain/ role."""
    if not exempt:
        return []
    return [
        {
            "Action": list(QUEUE_DRAIN_ACTIONS),
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": list(exempt)}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": queue_arn,
            "Sid": "OnlyTheExemptDrainOrChange",
        }
    ]


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}
