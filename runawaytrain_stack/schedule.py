"""The guard's clock: an EventBridge Scheduler schedule that invokes it every N minutes.

EventBridge Scheduler, not a scheduled EventBridge rule: the EventBridge User Guide calls
scheduled rules "a legacy feature" and says "We recommend that you use Scheduler to invoke
targets on a schedule" ("Creating a scheduled rule (legacy)"). Scheduler also gives the target
its own retry policy and a role that may invoke this one function and nothing else.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct

from runawaytrain_stack.names import ROLE_PATH, SCHEDULE_NAME, SCHEDULER_ROLE_NAME

# Scheduler's invoke is asynchronous and almost never fails; a few retries cover throttling.
RETRY_ATTEMPTS = 2
MIN_EVENT_AGE = Duration.seconds(60)  # Scheduler's lowest allowed maximum event age
SCHEDULE_INPUT = {"trigger": "schedule"}  # no `action` key: a plain scheduled check


class GuardSchedule(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, minutes: int
    ) -> None:
        super().__init__(scope, construct_id)
        invoke_guard = iam.PolicyStatement(
            actions=["lambda:InvokeFunction"], resources=[function.function_arn]
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            role_name=SCHEDULER_ROLE_NAME,
            path=ROLE_PATH,
            description="Lets EventBridge Scheduler invoke the runawaytrain guard",
            inline_policies={"InvokeGuard": iam.PolicyDocument(statements=[invoke_guard])},
        )
        period = Duration.minutes(minutes)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=SCHEDULE_NAME,
            description=f"Runs the runawaytrain guard every {minutes} minute(s)",
            schedule=scheduler.ScheduleExpression.rate(period),
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object(SCHEDULE_INPUT),
                # The next tick supersedes a late one, so none should outlive its period.
                max_event_age=period if minutes > 1 else MIN_EVENT_AGE,
                retry_attempts=RETRY_ATTEMPTS,
                # Immutable: the grant the target would add would also allow `<arn>:*`.
                role=self.role.without_policy_updates(),
            ),
        )
