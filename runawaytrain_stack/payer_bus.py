"""The payer's bus: where every guard of the fleet reports (heartbeats, quarantine requests).

A guard puts events straight onto this bus in another account (EventBridge User Guide,
"Permissions for event buses": a resource-based policy may allow PutEvents from another
account). The policy admits only the fleet's accounts and only the guard's event source; the
standing SCP (scp.py) narrows each member further to the guard's own roles. EventBridge sets
an event's `account` to the sender (PutEventsRequestEntry has no account member), so the rules
here trust `account`, never the detail, for who is speaking.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from runawaytrain_stack.config import Fleet
from runawaytrain_stack.names import (
    GUARD_EVENT_SOURCE,
    PAYER_BUS_NAME,
    ROLE_PATH,
    name_payer_bus_arn,
)


def build_bus_statement(fleet: Fleet) -> dict[str, Any]:
    """The bus policy's one statement: the member accounts put events with the guard's source."""
    return {
        "Sid": "FleetGuardsReport",
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{a.id}:root" for a in fleet.sub_accounts]},
        "Action": "events:PutEvents",
        "Resource": name_payer_bus_arn(fleet),
        # events:source is multivalued (one value per entry of a PutEvents call): a set
        # operator, as in the EventBridge User Guide's example "Send events to a custom bus in a
        # different account", and Null false so a call with no source cannot pass vacuously.
        # Only the guards' own roles, whether or not the standing SCP is on; a rule in a member
        # forwarding to this bus without a role has no principal ARN and is refused too.
        "Condition": {
            "ForAllValues:StringEquals": {"events:source": [GUARD_EVENT_SOURCE]},
            "Null": {"events:source": "false"},
            "ArnLike": {
                "aws:PrincipalArn": [
                    f"arn:aws:iam::{a.id}:role{ROLE_PATH}*" for a in fleet.sub_accounts
                ]
            },
        },
    }


class PayerBus(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, fleet: Fleet) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=PAYER_BUS_NAME,
            description="runawaytrain: every guard's heartbeats and quarantine requests",
        )
        if fleet.sub_accounts:
            self.bus.add_to_resource_policy(
                iam.PolicyStatement.from_json(build_bus_statement(fleet))
            )
