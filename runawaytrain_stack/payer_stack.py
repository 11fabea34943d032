"""The payer's stack (management account, its home Region): the bus every guard reports to,
the quarantine and guard-protection SCPs with the quarantine Lambda (quarantine.py), the
watchdog that mails when a guard stops reporting (watchdog.py), and one
topic that mails the payer's list everything and each member's list what concerns it."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import PAYER_STACK_NAME
from runawaytrain_stack.payer_bus import PayerBus
from runawaytrain_stack.quarantine import Quarantine
from runawaytrain_stack.stack_limits import group_member_emails
from runawaytrain_stack.watchdog import Watchdog

# Messages about one member carry this attribute (its account id): the payer's subscriptions
# take every message, a member's address only those naming its accounts (SNS Developer Guide,
# "Amazon SNS message filtering": a subscription with a filter policy receives only messages
# whose attributes match it).
ACCOUNT_ATTRIBUTE = "account"


class PayerStack(Stack):
    def __init__(self, scope: Construct, *, fleet: Fleet) -> None:
        super().__init__(
            scope,
            PAYER_STACK_NAME,
            stack_name=PAYER_STACK_NAME,
            env=Environment(account=fleet.payer.id, region=fleet.payer.home_region),
            description="runawaytrain payer: guards' reports, quarantine and guard-protection SCPs",
            analytics_reporting=False,
        )
        self.alerts = AlertTopic(
            self,
            "Alerts",
            emails=fleet.payer.notify,
            display_name="runawaytrain payer",
            # The watchdog's own alarm publishes as CloudWatch (watchdog.py, MissedChecks).
            service_publishers=["cloudwatch.amazonaws.com"],
        )
        # One subscription per member-only address: its filter may list at most 150 members
        # (stack_limits.py check_notify_filter_values refuses more before synth).
        for email, ids in group_member_emails(fleet).items():
            self.alerts.topic.add_subscription(
                subscriptions.EmailSubscription(
                    email,
                    filter_policy={
                        ACCOUNT_ATTRIBUTE: sns.SubscriptionFilter.string_filter(allowlist=ids)
                    },
                )
            )
        self.bus = PayerBus(self, "Bus", fleet=fleet)
        self.quarantine = Quarantine(
            self, "Quarantine", fleet=fleet, bus=self.bus.bus, alerts=self.alerts
        )
        self.watchdog = Watchdog(
            self, "Watchdog", fleet=fleet, bus=self.bus.bus, alerts=self.alerts
        )
