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
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.mail import _subject, publish
from watchdog.records import read_values

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
DELEGATES_RECORD = "stacksets-delegates"  # under the watchdog's state path
DELEGATES_MAILED = "stacksets-delegated-admin"
UNREADABLE_MAILED = "stacksets-delegates-unreadable"
UNREADABLE_AFTER = timedelta(minutes=15)  # three checks at the default 5 minutes


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
    *, organizations: Any, ssm: Any, sns: Any, topic_arn: str, state_path: str, now: datetime
) -> str | None:
    """One pass: what it mailed (DELEGATES_MAILED, UNREADABLE_MAILED) or None. A listing that
    fails (a role stripped of the permission, say) would switch this check off unseen: it is
    mailed once when it has failed for UNREADABLE_AFTER, and forgotten when it reads again."""
    name = state_path + DELEGATES_RECORD
    record = read_values(ssm, [name]).get(name)
    record = record if isinstance(record, dict) else {}
    mailed = tuple(record["mailed"]) if isinstance(record.get("mailed"), list) else None
    try:
        delegates = list_stacksets_delegates(organizations)
    except (ClientError, BotoCoreError) as error:
        return _unreadable(
            ssm, sns, topic_arn=topic_arn, name=name, record=record, error=str(error), now=now
        )
    mail, remember = assess_delegates(delegates, mailed)
    if mail and publish(sns, topic_arn, *compose_delegates(delegates)) is not None:
        return None  # not remembered as mailed: the next check tries again
    if remember != mailed or set(record) - {"mailed"}:
        value = json.dumps({"mailed": list(remember)})
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return DELEGATES_MAILED if mail else None


def _unreadable(
    ssm: Any,
    sns: Any,
    *,
    topic_arn: str,
    name: str,
    record: dict[str, Any],
    error: str,
    now: datetime,
) -> str | None:
    try:
        since = datetime.fromisoformat(str(record["unreadable_since"]))
    except (KeyError, ValueError):
        since = now
    told = bool(record.get("unreadable_mailed"))
    mail = not told and now - since >= UNREADABLE_AFTER
    if mail:
        subject = _subject("runawaytrain watchdog: cannot list StackSets delegated administrators")
        body = (
            f"Since {since.isoformat(timespec='minutes')} the watchdog cannot list the "
            f"organisation's StackSets delegated administrators: {error[:300]}\n\n"
            "Until it can, a delegated administrator (whose StackSets pass the protection SCP) "
            "would go unmentioned. Check the watchdog role's "
            "organizations:ListDelegatedAdministrators (runawaytrain-payer). Mailed once."
        )
        told = publish(sns, topic_arn, subject, body) is None
    value = {**record, "unreadable_since": since.isoformat(), "unreadable_mailed": told}
    if value != record:
        ssm.put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)
    return UNREADABLE_MAILED if mail and told else None
