"""The quarantine SCP documents of one account, built from a template: pure (no boto3), shared by
the payer stack at synth (runawaytrain_stack/scp.py, which fills the template from the fleet) and
by the quarantine Lambda at a trip, when the fleet has an `organization` and the payer creates
the SCPs on demand (on_demand.py) rather than holding one set per member in its template.

What the documents deny and why: runawaytrain_stack/scp.py. How they are split: the actions, in
order, fill one document after the other, each within MAX_SCP_CHARACTERS (Organizations quotas,
"Maximum size of a policy document": 5,120 characters for an SCP), each with the same exemptions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

MAX_SCP_CHARACTERS = 5120
# Placeholder for the account id in the template's ARN patterns.
ACCOUNT = "{account}"


@dataclass(frozen=True)
class QuarantineTemplate:
    """Everything a quarantine document says but the account id and its own exemptions; the
    patterns carry `{account}`, filled by `for_account`."""

    actions: tuple[str, ...]  # denied to all but the exempt (scp.py list_quarantine_actions)
    own_functions: str  # the guard's functions: invoking one restores (exempt only)
    payer_bus: str  # only the guard's roles put events on it
    guard_roles: str  # the guard's roles
    exempt: tuple[str, ...]  # principals exempt in every account (break_glass is added per account)

    def to_json(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuarantineTemplate:
        return cls(
            actions=tuple(data["actions"]),
            own_functions=str(data["own_functions"]),
            payer_bus=str(data["payer_bus"]),
            guard_roles=str(data["guard_roles"]),
            exempt=tuple(data["exempt"]),
        )


def list_break_glass_principals(account_id: str, names: tuple[str, ...] | list[str]) -> list[str]:
    """A break_glass name is a user or a role (the config does not say which): both ARNs."""
    found = []
    for name in names:
        found += [
            f"arn:aws:iam::{account_id}:user/{name}",
            f"arn:aws:iam::{account_id}:role/{name}",
        ]
    return found


def list_exempt(template: QuarantineTemplate, account_id: str, break_glass: list[str]) -> list[str]:
    """The account's exempt principals: the template's, then its break_glass principals."""
    exempt = [pattern.replace(ACCOUNT, account_id) for pattern in template.exempt]
    return list(dict.fromkeys([*exempt, *list_break_glass_principals(account_id, break_glass)]))


def build_quarantine_documents(
    template: QuarantineTemplate, account_id: str, exempt: list[str]
) -> list[dict[str, Any]]:
    """The account's quarantine, one or more documents attached together: the first holds the
    statements with resources of their own, then the actions fill it and as many more as
    needed."""
    unless_exempt = {"ArnNotLike": {"aws:PrincipalArn": exempt}}
    only_guard = {
        "ArnNotLike": {"aws:PrincipalArn": [template.guard_roles.replace(ACCOUNT, account_id)]}
    }
    first = [
        deny(
            "NoRestoreButBreakGlass",
            ("lambda:InvokeFunction",),
            [template.own_functions.replace(ACCOUNT, account_id)],
            unless_exempt,
        ),
        deny(
            "OnlyTheGuardReports",
            ("events:PutEvents",),
            [template.payer_bus],
            only_guard,
        ),
    ]
    policies: list[dict[str, Any]] = []
    statement = deny("NoLaunchesPurchasesOrIamChanges", (), ["*"], unless_exempt)
    policy = {"Version": "2012-10-17", "Statement": [statement, *first]}
    for action in template.actions:
        statement["Action"].append(action)
        if policy_size(policy) > MAX_SCP_CHARACTERS and len(statement["Action"]) > 1:
            statement["Action"].pop()
            policies.append(policy)
            statement = deny("NoLaunchesPurchasesOrIamChanges", (action,), ["*"], unless_exempt)
            policy = {"Version": "2012-10-17", "Statement": [statement]}
    return [*policies, policy]


def render(policy: dict[str, Any]) -> str:
    """The policy as Organizations stores it: minified JSON."""
    return json.dumps(policy, separators=(",", ":"))


def policy_size(policy: dict[str, Any]) -> int:
    """Characters the quota counts, as an upper bound: CloudFormation serializes `Content`
    itself, and how is not documented, so the size is taken with a space after every `,` and
    `:` (json's default), not minified."""
    return len(json.dumps(policy))


def deny(
    sid: str, actions: tuple[str, ...], resources: list[str], condition: dict[str, Any]
) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Action": list(actions),
        "Resource": resources,
        "Condition": condition,
    }
