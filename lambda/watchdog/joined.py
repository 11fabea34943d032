"""Accounts of the target OUs that joined and sent no heartbeat: the organisation delivery's gap.

With `organization:` in accounts.yaml every active account of the target OUs (and OUs below) is
guarded by the payer's StackSets, listed or not. An account nobody listed is not in the
watchdog's `accounts`; this module finds the accounts of the target OUs (Organizations
ListChildren and ListAccountsForParent, which answer each account's Status and JoinedTimestamp:
Organizations API Reference, Account) and mails once for each active one that has sent no
heartbeat `join_minutes` after joining. Organizations records when an account joined the
organisation, not when it moved into an OU, so the clock starts at the later of JoinedTimestamp
and the check that first saw it in a target OU (kept in SSM, `<state_path>joined-<id>`).

Decision (`assess_joined`) pure; the calls (`list_target_accounts`, `check_joined`) apart.
IAM (the payer's watchdog role): organizations:ListChildren, organizations:ListAccountsForParent;
ssm:GetParameters/PutParameter on the state path; sns:Publish on the payer's topic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.mail import _subject, publish
from watchdog.records import read_values

# The default of accounts.yaml's `join_minutes`: StackSets' automatic deployment, the guard
# stack's creation and the first scheduled run take about 15 minutes at most
# (docs/deploy.md, "From joining to the first heartbeat"); twice that before anyone is mailed.
JOIN_MINUTES = 30
JOINED_PREFIX = "joined-"  # under the watchdog's state path


@dataclass(frozen=True)
class OuAccount:
    """An account of a target OU, as Organizations lists it."""

    id: str
    name: str
    status: str  # ACTIVE, SUSPENDED, PENDING_CLOSURE
    joined: datetime
    parent: str  # the OU it lies in


@dataclass(frozen=True)
class JoinRecord:
    """What the watchdog keeps per unlisted account without a heartbeat."""

    first_seen: datetime  # the check that first saw it in a target OU
    mailed: bool = False


class JoinStep(Enum):
    NOTHING = "nothing"  # heartbeating, inactive, or still inside its time to join
    ALERT = "joined-silent"  # active, joined `join_minutes` ago, never heartbeated: mail once


def assess_joined(
    account: OuAccount,
    heartbeat: datetime | None,
    record: JoinRecord | None,
    *,
    now: datetime,
    grace: timedelta,
) -> tuple[JoinStep, JoinRecord | None]:
    """What to do about one account, and what to remember (None: nothing to keep)."""
    if heartbeat is not None or account.status != "ACTIVE":
        return JoinStep.NOTHING, None
    seen = record or JoinRecord(first_seen=now)
    if seen.mailed:
        return JoinStep.NOTHING, seen
    since = max(account.joined, seen.first_seen)
    if now - since < grace:
        return JoinStep.NOTHING, seen
    return JoinStep.ALERT, JoinRecord(seen.first_seen, mailed=True)


def list_target_accounts(organizations: Any, target_ous: tuple[str, ...]) -> list[OuAccount]:
    """Every account of the target OUs and of the OUs below them (paged)."""
    found: dict[str, OuAccount] = {}
    pending = list(target_ous)
    while pending:
        parent = pending.pop()
        for page in organizations.get_paginator("list_accounts_for_parent").paginate(
            ParentId=parent
        ):
            for account in page["Accounts"]:
                found[account["Id"]] = OuAccount(
                    id=account["Id"],
                    name=account.get("Name", ""),
                    status=account.get("Status", "ACTIVE"),
                    joined=account["JoinedTimestamp"],
                    parent=parent,
                )
        for page in organizations.get_paginator("list_children").paginate(
            ParentId=parent, ChildType="ORGANIZATIONAL_UNIT"
        ):
            pending += [child["Id"] for child in page["Children"]]
    return sorted(found.values(), key=lambda a: a.id)


def compose_joined(account: OuAccount, grace: timedelta) -> tuple[str, str]:
    label = f"{account.name} ({account.id})" if account.name else account.id
    minutes = int(grace.total_seconds() // 60)
    body = "\n".join(
        [
            f"Account {label} is active in a target OU ({account.parent}) of accounts.yaml's "
            f"organization and its guard has sent no heartbeat {minutes} minutes after it "
            f"joined (Organizations: joined {account.joined.isoformat(timespec='seconds')}).",
            "",
            "The payer's StackSets should have deployed its guard on `defaults` within about "
            "15 minutes. Look at the StackSets runawaytrain-guard-default and "
            "runawaytrain-fast-trip-default in the payer (their stack instances for this "
            "account: status and reason), and at trusted access for StackSets "
            "(docs/deploy.md). Until a guard reports, nothing may stop a runaway in it.",
            "The watchdog mails this once.",
        ]
    )
    return _subject(f"runawaytrain watchdog: new account {label} has no guard"), body


def check_joined(
    *,
    organizations: Any,
    ssm: Any,
    sns: Any,
    topic_arn: str,
    target_ous: tuple[str, ...],
    listed: set[str],
    heartbeat_path: str,
    state_path: str,
    grace: timedelta,
    now: datetime,
) -> list[str]:
    """One pass: the ids mailed now. An account listed in accounts.yaml is the main check's."""
    if not target_ous:
        return []
    try:
        members = [a for a in list_target_accounts(organizations, target_ous) if a.id not in listed]
    except (ClientError, BotoCoreError) as error:
        raise JoinCheckError(f"listing the target OUs {list(target_ous)}: {error}") from error
    beats = read_values(ssm, (heartbeat_path + a.id for a in members))
    records = read_values(ssm, (f"{state_path}{JOINED_PREFIX}{a.id}" for a in members))
    mailed = []
    for account in members:
        beat = beats.get(heartbeat_path + account.id)
        name = f"{state_path}{JOINED_PREFIX}{account.id}"
        known = _parse_record(records.get(name))
        step, record = assess_joined(account, _beat_time(beat), known, now=now, grace=grace)
        if step is JoinStep.ALERT:
            if publish(sns, topic_arn, *compose_joined(account, grace)) is not None:
                continue  # not remembered as mailed: the next check tries again
            mailed.append(account.id)
        if record is not None and record != known:
            ssm.put_parameter(Name=name, Value=_dump(record), Type="String", Overwrite=True)
    return mailed


class JoinCheckError(RuntimeError):
    """The target OUs could not be listed (the watchdog says so in its log; its other checks
    still run)."""


def _beat_time(value: dict[str, Any] | None) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value["time"])) if value else None
    except (KeyError, ValueError):
        return None


def _parse_record(value: dict[str, Any] | None) -> JoinRecord | None:
    try:
        if not value:
            return None
        return JoinRecord(datetime.fromisoformat(str(value["first_seen"])), bool(value["mailed"]))
    except (KeyError, ValueError):
        return None


def _dump(record: JoinRecord) -> str:
    return json.dumps({"first_seen": record.first_seen.isoformat(), "mailed": record.mailed})
