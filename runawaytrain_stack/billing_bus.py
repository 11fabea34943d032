"""The receiving end of a billing trip, in the guarded account's home region.

The payer's us-east-1 rule forwards its billing alarm's state change to this bus; the bus
policy admits only the payer, and the rule here hands the event, unchanged, to the guard:
`{"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
"detail": {"alarmName": ..., "state": {"value": "ALARM"}}}`. docs/deploy.md says why.
The payer's spend watcher's trips for this account arrive the same way (`{"source":
"runawaytrain.spend", "detail-type": "Spend Rate Exceeded", "detail": {"account": ...}}`).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from runawaytrain_stack.names import BILLING_BUS_NAME, PREFIX

ALARM_SOURCE = "aws.cloudwatch"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
# Must equal lambda/spend/watch.py SOURCE / DETAIL_TYPE and lambda/guard/invocation.py.
SPEND_SOURCE = "runawaytrain.spend"
SPEND_DETAIL_TYPE = "Spend Rate Exceeded"


# Any of the payer's billing alarms (names.py name_billing_alarm): a member template cannot name
# its account's alarm, and the payer's rules send each bus only its own account's alarms.
ANY_BILLING_ALARM = {"prefix": f"{PREFIX}-billing-"}


def build_alarm_pattern(
    alarm_name: str | dict[str, str], account_id: str | None = None
) -> events.EventPattern:
    """Matches `alarm_name` (a name, or an EventBridge prefix match) entering ALARM (raised in
    `account_id`, when given)."""
    return events.EventPattern(
        source=[ALARM_SOURCE],
        detail_type=[ALARM_DETAIL_TYPE],
        account=[account_id] if account_id else None,
        detail={"alarmName": [alarm_name], "state": {"value": ["ALARM"]}},
    )


def build_spend_pattern(account_id: str, payer_id: str | None = None) -> events.EventPattern:
    """Matches the spend watcher's trip for `account_id` (sent by `payer_id`, when given)."""
    return events.EventPattern(
        source=[SPEND_SOURCE],
        detail_type=[SPEND_DETAIL_TYPE],
        account=[payer_id] if payer_id else None,
        detail={"account": [account_id]},
    )


class BillingTripBus(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        payer_id: str,
        alarm_name: str | dict[str, str] | None,
        spend_account_id: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=BILLING_BUS_NAME,
            description="Receives the payer's billing alarm state changes for this account",
        )
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowPayerToForwardBillingAlarms",
                principals=[iam.AccountPrincipal(payer_id)],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
            )
        )
        self.rule: events.Rule | None = None
        if alarm_name is not None:
            self.rule = events.Rule(
                self,
                "TripGuard",
                description=(
                    f"Trips the guard when the payer's alarm {alarm_name} enters ALARM"
                    if isinstance(alarm_name, str)
                    else "Trips the guard when the payer's billing alarm for it enters ALARM"
                ),
                event_bus=self.bus,
                # Forwarded events keep the account that raised them: the payer.
                event_pattern=build_alarm_pattern(alarm_name, payer_id),
                targets=[targets.LambdaFunction(function)],
            )
        self.spend_rule: events.Rule | None = None
        if spend_account_id is not None:
            self.spend_rule = events.Rule(
                self,
                "SpendTrip",
                description="Trips the guard when the payer's spend watcher reports its burn rate",
                event_bus=self.bus,
                event_pattern=build_spend_pattern(spend_account_id, payer_id),
                targets=[targets.LambdaFunction(function)],
            )
