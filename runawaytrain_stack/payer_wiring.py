"""What both ends of the member-to-payer wire must agree on, as plain data (no CDK): the payer
bus's policy statement and the quarantine rule's pattern. The stacks build on them, and so do
the tests' and the drill's stand-ins (runawaytrain_cli/drill/payer_standin.py), which must not
need the CDK (or Node) to load."""

from __future__ import annotations

from typing import Any

from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import (
    GUARD_EVENT_SOURCE,
    QUARANTINE_RELEASED,
    QUARANTINE_REQUESTED,
    ROLE_PATH,
    name_guard_stack,
    name_payer_bus_arn,
)


def build_bus_statement(fleet: Fleet) -> dict[str, Any]:
    """The bus policy's one statement: the member accounts put events with the guard's source."""
    if fleet.organization is not None:
        return build_organization_bus_statement(fleet)
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


def build_organization_bus_statement(fleet: Fleet) -> dict[str, Any]:
    """With an `organization`: every account of the target OUs, listed or not (a new account
    is guarded without a payer deploy), by aws:PrincipalOrgID ("the identifier of the
    organization in AWS Organizations to which the requesting account belongs", IAM User Guide,
    "AWS global condition context keys") and aws:PrincipalOrgPaths (Organization.
    member_conditions), and only the guards' roles: one statement whatever the number of
    members."""
    assert fleet.organization is not None
    return {
        "Sid": "OrganizationGuardsReport",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "events:PutEvents",
        "Resource": name_payer_bus_arn(fleet),
        "Condition": {
            "ForAllValues:StringEquals": {"events:source": [GUARD_EVENT_SOURCE]},
            "Null": {"events:source": "false"},
            **fleet.organization.member_conditions,
            "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::*:role{ROLE_PATH}*"]},
        },
    }


def build_request_pattern(fleet: Fleet) -> dict[str, list[str]]:
    """What the quarantine Lambda's rule on the payer bus matches: a quarantined member's
    guard asking (EventBridge sets `account` to the sender)."""
    return {
        "source": [GUARD_EVENT_SOURCE],
        "detail-type": [QUARANTINE_REQUESTED, QUARANTINE_RELEASED],
        "account": [a.id for a in fleet.sub_accounts if a.quarantine],
    }


def build_watched_accounts(fleet: Fleet) -> list[dict[str, object]]:
    """The watchdog's `accounts` environment: every guard of the fleet, payer included."""
    return [
        {
            "id": account.id,
            "name": account.name,
            "schedule_minutes": account.schedule_minutes,
            "ec2_limit": account.ec2_limit,
            "home_region": account.home_region,
            "stack": name_guard_stack(account),
        }
        for account in fleet.accounts
    ]


# The watchdog's watched accounts stay in its environment up to this size (about 16 accounts),
# the other variables taking about 400 bytes of Lambda's 4,096 for all (Lambda quotas;
# stack_limits.py measures them); a longer list goes in a layer file (watchdog.py).
WATCHED_IN_ENVIRONMENT_BYTES = 3000
