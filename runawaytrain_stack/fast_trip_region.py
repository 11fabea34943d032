"""Fast trip, one watched Region's half: a rule that forwards launches to the home Region.

One small stack per watched Region other than home, in the same account: a rule on the Region's
default bus (where EC2 puts its state-change events) whose target is the account's fast-trip bus
in the home Region, with the forwarder role. EventBridge sends events to an event bus in another
Region of the same account when the rule's target is that bus's ARN with a role allowed
`events:PutEvents` on it (EventBridge User Guide, "Sending and receiving events between AWS
Regions"; AWS re:Post Knowledge Center, "How do I route events across Regions or accounts to a
centralized event bus": within one account the receiving bus needs no policy of its own). AWS
recommends "always using IAM roles when the target of a rule is an event bus" (EventBridge User
Guide, "Permissions for event buses"). GovCloud and China Regions are not cross-Region
destinations.

A plain CfnRule and no assets: up to 16 of these per account, so they must synthesize cheaply
and deploy without an asset bucket in their Region (fleet.py gives them a synthesizer that
reuses the home Region's bootstrap roles; docs/deploy.md).
"""

from __future__ import annotations

from aws_cdk import Environment, IStackSynthesizer, Stack
from aws_cdk import aws_events as events
from constructs import Construct

from runawaytrain_stack.fast_trip import (
    build_launch_pattern,
    format_fast_trip_bus_arn,
    format_forwarder_role_arn,
)
from runawaytrain_stack.fleet_model import Account
from runawaytrain_stack.names import name_fast_trip_stack, name_guard_stack


class FastTripRegionStack(Stack):
    def __init__(
        self,
        scope: Construct,
        *,
        account: Account,
        region: str | None,
        synthesizer: IStackSynthesizer,
    ) -> None:
        """`region` None: the member template a fast-trip StackSet deploys to every watched
        Region but home (members.py): no account nor Region in it."""
        if region is None:
            name = f"{name_guard_stack(account)}-forwarder"
            super().__init__(
                scope,
                name,
                description="runawaytrain fast trip, delivered by the payer's StackSet: forwards "
                f"launches in this Region to the guard in {account.home_region}",
                analytics_reporting=False,
                synthesizer=synthesizer,
            )
        else:
            name = name_fast_trip_stack(account, region)
            super().__init__(
                scope,
                name,
                stack_name=name,
                env=Environment(account=account.id, region=region),
                description=f"runawaytrain fast trip for account {account.name} ({account.id}): "
                f"forwards launches in {region} to the guard in {account.home_region}",
                analytics_reporting=False,
                synthesizer=synthesizer,
            )
        self.rule = events.CfnRule(
            self,
            "ForwardLaunches",
            description=f"Forwards launches to the runawaytrain guard in {account.home_region}",
            event_pattern=build_launch_pattern(),
            # A plain mapping (jsii's camelCase names), not CfnRule.TargetProperty: a Python
            # struct object costs as much again as the rule (bench/synth.py).
            targets=[
                {
                    "arn": format_fast_trip_bus_arn(account),
                    "id": "FastTripBus",
                    "roleArn": format_forwarder_role_arn(account),
                }
            ],
        )
