"""One account's row of `runawaytrain status`: every read of it, and its numbers.

Inside the account (the operator role assumed into it, status_sessions.py): the guard stack,
then at once the schedule, the last-run record, the open incident, the notify subscriptions and
the fast-trip rule of every watched Region (one read each, READS_AT_ONCE at a time); with the
payer's credentials, its quarantine record. A read that fails is `ERROR <code>` in its cell and
the others are still read; an account that cannot be entered is one ERROR cell and its row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from guard.census import describe_error
from guard.parallel import map_in_parallel
from runawaytrain_cli.guard_lookup import find_guard_stack
from runawaytrain_cli.status_numbers import account_numbers
from runawaytrain_cli.status_readers import (
    describe_fast_trip,
    describe_last_run,
    describe_open_incident,
    describe_quarantine,
    describe_schedule,
    describe_subscriptions,
    fast_trip_present,
    read_last_run,
)
from runawaytrain_cli.status_sessions import FleetSessions
from runawaytrain_stack.fleet_model import Account, Fleet, list_fast_trip_regions
from runawaytrain_stack.names import name_fast_trip_stack, name_guard_stack

COLUMNS = (
    "account",
    "name",
    "stack",
    "last run (UTC, verdict, count/limit)",
    "overdue",
    "open incident",
    "quarantine",
    "notify",
    "fast trip",
    "schedule",
)
# ResponseParserError: an answer botocore cannot read (an HTTP 500 page, say) is not a
# BotoCoreError; it is an AWS failure of that one cell all the same.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError, RuntimeError, ValueError, KeyError)
# Reads in flight per account: the ~20 reads of one account (16 of them one per watched Region)
# take 3 round trips instead of 20. Each goes to the member's own quotas (API rates are counted
# per calling account: the assumed role's, the member), so they do not add up across the fleet.
READS_AT_ONCE = 8
SESSION_NAME = "runawaytrain-status"


@dataclass(frozen=True)
class AccountStatus:
    account: Account
    cells: list[str]  # COLUMNS[2:]
    numbers: dict[str, Any] | None  # status_numbers.account_numbers; None: nothing was read
    errors: dict[str, str]  # column -> what failed

    @property
    def row(self) -> list[str]:
        return [self.account.id, self.account.name, *self.cells]


class _Failed(str):
    """A cell whose read failed: its text is `ERROR ...`."""

    __slots__ = ()


def read_account(
    sessions: FleetSessions,
    fleet: Fleet,
    account: Account,
    payer_ssm: Any,
    now: datetime,
    *,
    fast_trip_regions: bool = True,
) -> AccountStatus:
    """One account's row; never raises for an AWS failure (it is the cell's text).
    `fast_trip_regions`: read the fast-trip stack of every watched Region (one call and one
    client each: 16 of an account's ~22 calls by default), or only say how many are watched."""
    rest = ["-"] * (len(COLUMNS) - 3)
    role = f"arn:aws:iam::{account.id}:role/{fleet.operator_role}"
    try:
        clients = sessions.open_account(account.id, role, SESSION_NAME)
    except (ClientError, BotoCoreError) as error:
        cell = f"ERROR assuming {fleet.operator_role}: {describe_error(error)}"
        return AccountStatus(account, [cell, *rest], None, {"stack": cell})

    def client(service: str, region: str = account.home_region) -> Any:
        return clients.client(service, region)

    stack = _cell(lambda: find_guard_stack(client("cloudformation"), name_guard_stack(account)))
    if isinstance(stack, _Failed):
        return AccountStatus(account, [stack, *rest], None, {"stack": stack})
    if stack is None:
        return AccountStatus(account, ["NOT DEPLOYED", *rest], None, {})
    regions = [r for r in list_fast_trip_regions(account) if r != account.home_region]
    reads: dict[str, Callable[[], Any]] = {
        "schedule": lambda: describe_schedule(client("scheduler")),
        "record": lambda: read_last_run(client("ssm")),
        "open incident": lambda: describe_open_incident(client("ssm"), now),
        "quarantine": lambda: (
            describe_quarantine(payer_ssm, account.id) if account.quarantine else "-"
        ),
        "notify": lambda: describe_subscriptions(client("sns"), stack.topic_arn),
    }
    for region in regions if account.fast_trip and fast_trip_regions else ():
        stack_name = name_fast_trip_stack(account, region)
        reads[f"fast trip {region}"] = _fast_trip_read(client, region, stack_name)
    found = dict(zip(reads, map_in_parallel(_cell, reads.values(), READS_AT_ONCE), strict=True))
    schedule = found["schedule"]
    schedule_text, minutes = schedule if isinstance(schedule, tuple) else (schedule, None)
    record = found["record"]
    if isinstance(record, _Failed):
        last, overdue, record = record, "-", None
    else:
        last, overdue = describe_last_run(record, now, minutes or account.schedule_minutes)
    cells = {
        "stack": stack.status,
        "last run (UTC, verdict, count/limit)": last,
        "overdue": overdue,
        "open incident": str(found["open incident"]),
        "quarantine": str(found["quarantine"]),
        "notify": str(found["notify"]),
        "fast trip": _fast_trip_cell(found, regions, fast_trip_regions)
        if account.fast_trip
        else "off",
        "schedule": schedule_text,
    }
    errors = {column: cell for column, cell in cells.items() if cell.startswith("ERROR")}
    incident = found["open incident"]
    open_incident = None if isinstance(incident, _Failed) or incident == "none" else incident
    numbers = account_numbers(record, account, open_incident, now)
    return AccountStatus(account, list(cells.values()), numbers, errors)


def _fast_trip_read(client: Callable[..., Any], region: str, stack: str) -> Callable[[], bool]:
    return lambda: fast_trip_present(client("cloudformation", region), stack)


def _fast_trip_cell(found: dict[str, Any], regions: list[str], read: bool) -> str:
    if not read:
        return f"{len(regions)} regions (not read: --fast-trip)"
    present = {region: found[f"fast trip {region}"] for region in regions}
    failed = [cell for cell in present.values() if isinstance(cell, _Failed)]
    return failed[0] if failed else describe_fast_trip(present)


def _cell(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except AWS_ERRORS as error:
        return _Failed(f"ERROR {_error_text(error)}")


def _error_text(error: BaseException) -> str:
    if isinstance(error, ClientError | BotoCoreError):
        return describe_error(error)
    return f"{type(error).__name__}: {error}"
