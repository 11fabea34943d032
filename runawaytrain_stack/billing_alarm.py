"""One account's billing alarm in the payer, and the rule that forwards its ALARM to the guard.

`EstimatedCharges` with dimensions Currency and LinkedAccount is the account's month-to-date
estimate, visible only in the payer and only in us-east-1 (CloudWatch User Guide, "Create a
billing alarm to monitor your estimated AWS charges").
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from runawaytrain_stack.billing_bus import build_alarm_pattern
from runawaytrain_stack.fleet_model import Account
from runawaytrain_stack.names import BILLING_BUS_NAME, name_billing_alarm

# AWS sends estimated charges "several times daily"; the User Guide's billing alarm uses a
# 6-hour period, and a shorter one would mostly see gaps.
PERIOD = Duration.hours(6)


class BillingAlarm(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        account: Account,
        alerts: sns.ITopic,
        forwarder: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        if account.monthly_budget_usd is None:
            raise ValueError(f"account {account.name} has no monthly_budget_usd")
        alarm_name = name_billing_alarm(account)
        charges = cloudwatch.Metric(
            namespace="AWS/Billing",
            metric_name="EstimatedCharges",
            dimensions_map={"Currency": "USD", "LinkedAccount": account.id},
            statistic=cloudwatch.Stats.MAXIMUM,
            period=PERIOD,
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                f"Estimated charges of {account.name} ({account.id}) this month exceed "
                f"{account.monthly_budget_usd:g} USD: its runawaytrain guard trips"
            ),
            metric=charges,
            threshold=account.monthly_budget_usd,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # No data yet this month means nothing has been charged: not a breach.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(alerts))
        bus_arn = Stack.of(self).format_arn(
            service="events",
            region=account.home_region,
            account=account.id,
            resource="event-bus",
            resource_name=BILLING_BUS_NAME,
        )
        self.rule = events.Rule(
            self,
            "ForwardToGuard",
            description=f"Forwards {alarm_name} entering ALARM to the guard of {account.name}",
            event_pattern=build_alarm_pattern(alarm_name),
            targets=[
                targets.EventBus(
                    events.EventBus.from_event_bus_arn(self, "GuardBus", bus_arn), role=forwarder
                )
            ],
        )
