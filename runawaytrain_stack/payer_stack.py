"""The payer's stack (management account, its home Region): the bus every guard reports to,
the quarantine and guard-protection SCPs with the quarantine Lambda (quarantine.py), the
watchdog that mails when a guard stops reporting (watchdog.py) and prints the fleet's metrics
for the fleet dashboard (dashboard.py), and one
topic that mails the payer's list everything and each member's list what concerns it."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.dashboard import FleetDashboard
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.mail_routing import list_member_addresses, shard_addresses
from runawaytrain_stack.mail_stack import subscribe
from runawaytrain_stack.names import PAYER_STACK_NAME, PAYER_TOPIC_NAME, name_org_guard_roles
from runawaytrain_stack.payer_bus import PayerBus
from runawaytrain_stack.quarantine import Quarantine
from runawaytrain_stack.quarantine_on_demand import OnDemandQuarantine
from runawaytrain_stack.settings_store import SettingsStore
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
            # Organisation delivery: member guards are told the topic's ARN (names.py).
            topic_name=PAYER_TOPIC_NAME if fleet.organization is not None else None,
        )
        self.settings: SettingsStore | None = None
        if fleet.organization is not None:
            self.alerts.admit_organisation(fleet.organization, name_org_guard_roles())
            subscribe_by_notify(self.alerts, fleet)
            self.settings = SettingsStore(self, "Settings", fleet=fleet, alerts=self.alerts)
        else:
            subscribe_by_account(self.alerts, fleet)
        self.bus = PayerBus(self, "Bus", fleet=fleet)
        # With an organization: protection on the OUs, quarantine SCPs created at the trip.
        quarantine = Quarantine if fleet.organization is None else OnDemandQuarantine
        self.quarantine = quarantine(
            self, "Quarantine", fleet=fleet, bus=self.bus.bus, alerts=self.alerts
        )
        self.watchdog = Watchdog(
            self, "Watchdog", fleet=fleet, bus=self.bus.bus, alerts=self.alerts
        )
        self.dashboard = FleetDashboard(
            self, "Dashboard", fleet=fleet, watchdog_logs=self.watchdog.log_group
        )


def subscribe_by_account(alerts: AlertTopic, fleet: Fleet) -> None:
    """Each member address receives the messages naming its accounts (`account`); its filter
    may list at most 150 (stack_limits.py check_notify_filter_values refuses more)."""
    for email, ids in group_member_emails(fleet).items():
        alerts.topic.add_subscription(
            subscriptions.EmailSubscription(
                email,
                filter_policy={
                    ACCOUNT_ATTRIBUTE: sns.SubscriptionFilter.string_filter(allowlist=ids)
                },
            )
        )


def subscribe_by_notify(alerts: AlertTopic, fleet: Fleet) -> None:
    """Organisation delivery: each member address receives the messages whose `notify`
    String.Array holds it (lambda/guard/notify.py route_attributes). One value per filter
    policy, so no address nears SNS's limit of 150 value combinations per policy (SNS
    Developer Guide, "Filter policy constraints"), however many accounts share it; and the
    guard's document says whom to tell, so an account that joins needs no subscription change.
    The address is matched as the guard sends it (filter matching is case-sensitive, same
    page): both come from accounts.yaml as written. Past MAIL_SUBSCRIPTIONS_PER_STACK
    addresses, the subscriptions are in mail stacks of their own (mail_stack.py)."""
    shards = shard_addresses(list_member_addresses(fleet))
    if len(shards) == 1:
        subscribe(alerts, alerts.topic, shards[0])
