"""One account's guard stack, deployed into the account's home region."""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Environment, IStackSynthesizer, Stack
from constructs import Construct

from runawaytrain_stack.alerts import AlertTopic
from runawaytrain_stack.billing_bus import ANY_BILLING_ALARM, BillingTripBus
from runawaytrain_stack.fast_trip import FastTrip
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.guard import TIMEOUT, GuardFunction
from runawaytrain_stack.launch_block import LaunchBlockPolicy
from runawaytrain_stack.names import (
    FAST_TRIP_FORWARDER_ROLE_NAME,
    FORWARDER_ROLE_NAME,
    GUARD_FUNCTION_OUTPUT,
    GUARD_ROLE_NAME,
    NOTIFY_TOPIC_OUTPUT,
    SCHEDULER_ROLE_NAME,
    STACK_SETS_EXECUTION_ROLES,
    WATCHDOG_READER_ROLE_NAME,
    list_own_stack_prefixes,
    name_billing_alarm,
    name_guard_stack,
    name_payer_bus_arn,
    name_payer_topic_arn,
    name_settings_bucket,
)
from runawaytrain_stack.schedule import GuardSchedule
from runawaytrain_stack.scp import list_exempt_principals
from runawaytrain_stack.watchdog_reader import WatchdogReader


class GuardStack(Stack):
    def __init__(
        self,
        scope: Construct,
        *,
        account: Account,
        fleet: Fleet,
        template: IStackSynthesizer | None = None,
    ) -> None:
        """`template`: build the member template a guard StackSet deploys (members.py) with
        this synthesizer: `account` is the group's settings with the id a token
        (AWS::AccountId), so nothing per account is in it; no reserved concurrency."""
        name = name_guard_stack(account)
        if template is None:
            super().__init__(
                scope,
                name,
                stack_name=name,
                env=Environment(account=account.id, region=account.home_region),
                description=f"runawaytrain guard for account {account.name} ({account.id})",
                analytics_reporting=False,
            )
        else:
            super().__init__(
                scope,
                name,
                env=Environment(region=account.home_region),
                description="runawaytrain guard, delivered by the payer's StackSet "
                f"{name} (docs/deploy.md)",
                analytics_reporting=False,
                synthesizer=template,
            )
        # Nobody but these changes the topic's key or drains the fast-trip queue (their own
        # policies: alerts.py, fast_trip.py); the guard-protection SCP's exemptions. A StackSet's
        # stacks are created and updated by the StackSets execution role, `stacksets-exec-*`.
        exempt = list_exempt_principals(fleet, account)
        if template is not None:
            exempt.append(f"arn:aws:iam::{account.id}:role/{STACK_SETS_EXECUTION_ROLES}")
        self.alerts = AlertTopic(
            self,
            "Alerts",
            # A member template's mail reaches its notify list through the payer's topic
            # (settings as data: docs/settings.md); subscribing here too would mail it twice.
            emails=account.notify if template is None else (),
            display_name=f"runawaytrain {account.name}",
            exempt_principals=exempt,
        )
        # Built before the guard: the guard's role names the queue it is polled from.
        self.fast_trip: FastTrip | None = None
        if account.fast_trip:
            self.fast_trip = FastTrip(
                self,
                "FastTrip",
                account=account,
                function_timeout_s=int(TIMEOUT.to_seconds()),
                schedule_minutes=account.schedule_minutes,
                exempt_principals=exempt,
            )
        stack_roles = [SCHEDULER_ROLE_NAME]
        if account == fleet.payer and fleet.has_billing_stack:
            stack_roles.append(FORWARDER_ROLE_NAME)  # the payer holds the billing forwarder too
        if self.fast_trip is not None:
            stack_roles.append(FAST_TRIP_FORWARDER_ROLE_NAME)
        if fleet.has_payer_stack:
            stack_roles.append(WATCHDOG_READER_ROLE_NAME)  # a lockout must not blind the payer
        # The policy a trip attaches to refuse launches; the guard's role may attach only it.
        self.launch_block = LaunchBlockPolicy(self, "LaunchBlock")
        self.guard = GuardFunction(
            self,
            "Guard",
            account=account,
            alerts=self.alerts,
            stack_roles=stack_roles,
            launch_block_arn=self.launch_block.policy_arn,
            fast_trip_queue_arn=self.fast_trip.queue_arn if self.fast_trip is not None else None,
            payer_bus=name_payer_bus_arn(fleet) if fleet.has_payer_stack else "",
            # A StackSet names its stacks StackSet-<set>-<random>: this stack's own id instead.
            own_stacks=list_own_stack_prefixes(fleet, account)
            if template is None
            else [Aws.STACK_ID],
            # New accounts can have a concurrency quota of 10, all of it unreserved.
            reserved_concurrency=1 if template is None else None,
            settings_bucket=name_settings_bucket(fleet) if template is not None else "",
            payer_topic_arn=name_payer_topic_arn(fleet) if template is not None else "",
            # The settings bucket, the payer's topic and its key admit this role by name.
            role_name=GUARD_ROLE_NAME if template is not None else None,
            operator_role=fleet.operator_role,  # spared by the lockout and the launch block
        )
        if self.fast_trip is not None:
            self.fast_trip.add_poller(self.guard.function)
        CfnOutput(self, GUARD_FUNCTION_OUTPUT, value=self.guard.function.function_name)
        CfnOutput(self, NOTIFY_TOPIC_OUTPUT, value=self.alerts.topic.topic_arn)
        self.schedule = GuardSchedule(
            self, "Schedule", function=self.guard.function, minutes=account.schedule_minutes
        )
        self.billing_trips: BillingTripBus | None = None
        spend_limited = account.max_spend_per_day_usd is not None and fleet.cur is not None
        if template is not None and fleet.has_billing_stack:
            # Any member may be listed with a budget or spend limit: every one gets the bus,
            # which admits only the payer, whose rules send it only this account's alarms.
            self.billing_trips = BillingTripBus(
                self,
                "BillingTrips",
                function=self.guard.function,
                payer_id=fleet.payer.id,
                alarm_name=ANY_BILLING_ALARM,
                spend_account_id=account.id if fleet.cur is not None else None,
            )
        elif account.monthly_budget_usd is not None or spend_limited:
            self.billing_trips = BillingTripBus(
                self,
                "BillingTrips",
                function=self.guard.function,
                payer_id=fleet.payer.id,
                alarm_name=(
                    name_billing_alarm(account) if account.monthly_budget_usd is not None else None
                ),
                spend_account_id=account.id if spend_limited else None,
            )
        # Last: it reads every rule of this stack. Only where a payer watchdog exists.
        self.watchdog_reader: WatchdogReader | None = None
        if fleet.has_payer_stack:
            self.watchdog_reader = WatchdogReader(
                self,
                "WatchdogReader",
                account=account,
                fleet=fleet,
                function=self.guard.function,
                stack_arn=Aws.STACK_ID if template is not None else None,
            )
