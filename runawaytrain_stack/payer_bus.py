"""The payer's bus: where every guard of the fleet reports (heartbeats, quarantine requests).

A guard puts events straight onto this bus in another account (EventBridge User Guide,
"Permissions for event buses": a resource-based policy may allow PutEvents from another
account). The policy admits only the fleet's accounts and only the guard's event source; the
standing SCP (scp.py) narrows each member further to the guard's own roles. EventBridge sets
an event's `account` to the sender (PutEventsRequestEntry has no account member), so the rules
here trust `account`, never the detail, for who is speaking.
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import PAYER_BUS_NAME
from runawaytrain_stack.payer_wiring import build_bus_statement


class PayerBus(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, fleet: Fleet) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=PAYER_BUS_NAME,
            description="runawaytrain: every guard's heartbeats and quarantine requests",
        )
        if fleet.has_payer_stack:
            self.bus.add_to_resource_policy(
                iam.PolicyStatement.from_json(build_bus_statement(fleet))
            )
