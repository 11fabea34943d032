"""StackSets delegated administrators: a way around every guard of the organisation.

The protection SCP spares the StackSets execution roles (`stacksets-exec-<hash>`): the payer's
service-managed StackSets deploy and update the guards through them. Any account registered as
a delegated administrator for StackSets runs service-managed StackSets too ("StackSets with
service-managed permissions are created in the management account, including StackSets that
are created by delegated administrators": CloudFormation API Reference, CreateStackSet
`CallAs`), so whoever administers such an account can change or delete any member's guard
through the same roles. The watchdog cannot refuse that; it mails the payer's list once
whenever the set of StackSets delegated administrators becomes non-empty or changes, naming
them (Organizations ListDelegatedAdministrators, ServicePrincipal
member.org.stacksets.cloudformation.amazonaws.com).

Decision (`assess_delegates`) pure; the calls (`check_delegates`) apart.
IAM (the payer's watchdog role): organizations:ListDelegatedAdministrators; ssm:GetParameters
and PutParameter on the state path; sns:Publish on the payer's topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.mail import _subject, publish
from watchdog.records import read_values

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
DELEGATES_RECORD = "stacksets-delegates"  # under the watchdog's state path


@dataclass(frozen=True)
class Delegate:
    id: str
    name: str


def assess_delegates(
    delegates: tuple[Delegate, ...], mailed: tuple[str, ...] | None
) -> tuple[bool, tuple[str, ...]]:
    """(mail now, the ids to remember). Mailed once per set: none, or the same as mailed
    before, is quiet; a set that shrank to none is remembered so the next one is mailed."""
    ids = tuple(sorted(d.id for d in delegates))
    return bool(ids) and ids != mailed, ids


def list_stacksets_delegates(organizations: Any) -> tuple[Delegate, ...]:
    found = []
    for page in organizations.get_paginator("list_delegated_administrators").paginate(
        ServicePrincipal=STACKSETS_PRINCIPAL
    ):
        found += [Delegate(d["Id"], d.get("Name", "")) for d in page["DelegatedAdministrators"]]
    return tuple(sorted(found, key=lambda d: d.id))


def compose_delegates(delegates: tuple[Delegate, ...]) -> tuple[str, str]:
    names = ", ".join(f"{d.name} ({d.id})" if d.name else d.id for d in delegates)
    body = "\n".join(
        [
            f"StackSets delegated administrator(s) in the organisation: {names}.",
            "",
            "A delegated administrator runs service-managed StackSets through the same "
            "stacksets-exec roles the protection SCP spares for the payer's guard StackSets: "
            "whoever administers these accounts can change or delete any member's guard, and "
            "no SCP of runawaytrain stops it.",
            "If that is not intended: aws organizations deregister-delegated-administrator "
            f"--service-principal {STACKSETS_PRINCIPAL} --account-id <id> (in the payer).",
            "The watchdog mails this once per set of delegated administrators.",
        ]
    )
    return _subject(f"runawaytrain watchdog: StackSets delegated administrator {names}"), body


def check_delegates(
    *, organizations: Any, ssm: Any, sns: Any, topic_arn: str, state_path: str
) -> bool:
    """One pass: True if it mailed. Raises DelegatesCheckError when the list cannot be read."""
    try:
        delegates = list_stacksets_delegates(organizations)
    except (ClientError, BotoCoreError) as error:
        raise DelegatesCheckError(f"listing StackSets delegated administrators: {error}") from error
    name = state_path + DELEGATES_RECORD
    record = read_values(ssm, [name]).get(name)
    mailed = tuple(record["mailed"]) if isinstance(record, dict) and "mailed" in record else None
    mail, remember = assess_delegates(delegates, mailed)
    if mail and publish(sns, topic_arn, *compose_delegates(delegates)) is not None:
        return False  # not remembered as mailed: the next check tries again
    if remember != mailed:
        value = json.dumps({"mailed": list(remember)})
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return mail


class DelegatesCheckError(RuntimeError):
    """The delegated administrators could not be listed (logged; the other checks still run)."""
