"""`runawaytrain status` under `organization:`: the accounts of the target OUs (and OUs below)
that accounts.yaml does not list. The payer's StackSets guard them on `defaults`; the payer's
watchdog records their heartbeats, or mails once if none comes `join_minutes` after joining."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from guard.census import describe_error
from runawaytrain_cli.fleet_file import format_table
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import HEARTBEAT_PATH
from watchdog.joined import list_target_accounts
from watchdog.records import parse_heartbeat, read_values

AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError, RuntimeError, ValueError, KeyError)
UNLISTED_COLUMNS = ("account", "name", "OU", "joined (UTC)", "guard (last heartbeat, UTC)")


def describe_unlisted(fleet: Fleet, organizations: Any, payer_ssm: Any, now: datetime) -> list[str]:
    """The target OUs' accounts nobody listed, as lines (an AWS failure is one line)."""
    assert fleet.organization is not None
    listed = {a.id for a in fleet.accounts}
    heading = (
        f"Accounts in the target OUs ({', '.join(fleet.organization.target_ous)}) not in "
        "accounts.yaml: guarded on defaults by the payer's StackSets"
    )
    try:
        found = [
            a
            for a in list_target_accounts(organizations, fleet.organization.target_ous)
            if a.id not in listed
        ]
        beats = read_values(payer_ssm, (HEARTBEAT_PATH + a.id for a in found))
    except AWS_ERRORS as error:
        return [heading, f"ERROR listing them: {_error_text(error)}"]
    if not found:
        return [heading, "none"]
    rows = []
    for account in found:
        beat = parse_heartbeat(beats.get(HEARTBEAT_PATH + account.id))
        joined = account.joined.astimezone(UTC)
        if account.status != "ACTIVE":
            guard = f"none expected ({account.status})"
        elif beat is None:
            waited = int((now - joined).total_seconds() // 60)
            guard = f"NO HEARTBEAT YET ({waited} min since joining)"
        else:
            guard = f"{beat.time.astimezone(UTC):%Y-%m-%d %H:%M} {beat.verdict}"
        rows.append([account.id, account.name, account.parent, f"{joined:%Y-%m-%d %H:%M}", guard])
    return [heading, *format_table(UNLISTED_COLUMNS, rows)]


def _error_text(error: BaseException) -> str:
    if isinstance(error, ClientError | BotoCoreError):
        return describe_error(error)
    return f"{type(error).__name__}: {error}"
