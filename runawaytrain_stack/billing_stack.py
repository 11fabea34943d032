"""The payer's billing stack in us-east-1: one alarm per budgeted account, routed to its guard."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Environment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.billing_alarm import BillingAlarm
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import (
    BILLING_BUS_NAME,
    BILLING_REGION,
    BILLING_STACK_NAME,
    FORWARDER_ROLE_NAME,
    ROLE_PATH,
)
from runawaytrain_stack.spend_watch import SpendWatcher


class BillingStack(Stack):
    def __init__(self, scope: Construct, *, fleet: Fleet) -> None:
        super().__init__(
            scope,
            BILLING_STACK_NAME,
            stack_name=BILLING_STACK_NAME,
            env=Environment(account=fleet.payer.id, region=BILLING_REGION),
            description="runawaytrain billing alarms: over budget, the account's guard trips",
            analytics_reporting=False,
        )
        self.alerts = AlertTopic(
            self,
            "Alerts",
            emails=fleet.payer.notify,
            display_name="runawaytrain billing alarms",
            service_publishers=["cloudwatch.amazonaws.com"],  # alarm actions publish as CloudWatch
        )
        self.forwarder = self._build_forwarder()
        self.alarms = [
            BillingAlarm(
                self,
                f"Billing-{account.name}",
                account=account,
                alerts=self.alerts.topic,
                forwarder=self.forwarder.without_policy_updates(),
            )
            for account in fleet.budgeted_accounts
        ]
        self.spend_watcher: SpendWatcher | None = None
        if fleet.cur is not None:
            self.spend_watcher = SpendWatcher(
                self,
                "SpendWatcher",
                fleet=fleet,
                cur=fleet.cur,
                alerts=self.alerts,
                forwarder=self.forwarder.without_policy_updates(),
            )

    def _build_forwarder(self) -> iam.Role:
        """One role for every forwarding rule, allowed to put events on guard billing buses only.

        One statement by name instead of one ARN per account: an inline role policy is capped at
        10,240 characters (IAM quotas), which a list of bus ARNs passes at about 130 accounts.
        Each bus still admits only the payer, by its own resource policy.
        """
        buses = self.format_arn(
            service="events",
            region="*",
            account="*",
            resource="event-bus",
            resource_name=BILLING_BUS_NAME,
        )
        put_events = iam.PolicyStatement(actions=["events:PutEvents"], resources=[buses])
        role = iam.Role(
            self,
            "ForwarderRole",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            ),
            role_name=FORWARDER_ROLE_NAME,
            path=ROLE_PATH,
            description="Lets the payer's billing rules forward alarms to each guard's billing bus",
            inline_policies={"ForwardBillingAlarms": iam.PolicyDocument(statements=[put_events])},
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:*:*:event-bus/{BILLING_BUS_NAME}]",
                reason="One role forwards to every account's fixed-name billing bus; listing each "
                "ARN would exceed the inline policy size limit for large fleets, and each bus "
                "accepts only the payer through its own resource policy.",
            )
        )
        return role
