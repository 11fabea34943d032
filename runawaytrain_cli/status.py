"""`runawaytrain status`: how every guard of the fleet is doing, read-only.

Per account, assuming the fleet's `operator_role` in it: is the guard stack deployed and its
status, the guard's last run (its own record, lambda/guard/last_run.py) and whether it is overdue,
the open incident, the notify subscriptions (confirmed or pending: SNS delivers nothing to a
pending one), the fast-trip rules in every watched Region, and the schedule. With the caller's
own (the payer's) credentials: the account's quarantine record. An AWS failure is one line in
the account's row, never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from guard.census import describe_error
from guard.clients import CLIENT_CONFIG
from runawaytrain_cli.account_target import operator_session
from runawaytrain_cli.fleet_file import (
    DEFAULT_FLEET_FILE,
    find_account,
    format_table,
    load_fleet_or_report,
    unknown_account_message,
)
from runawaytrain_cli.guard_lookup import find_guard_stack
from runawaytrain_cli.operator_error import OperatorError, check_credentials
from runawaytrain_cli.status_readers import (
    describe_fast_trip,
    describe_last_run,
    describe_open_incident,
    describe_quarantine,
    describe_schedule,
    describe_subscriptions,
    read_last_run,
)
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


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="how every guard is doing: deployed, last run, incident, mail, fast trip, schedule",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--account", help="one account (id or name), shown in detail")
    parser.add_argument("--config", type=Path, default=DEFAULT_FLEET_FILE, metavar="FILE")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # A file grown past what AWS would deploy (stack_limits.py) still shows the deployed guards.
    fleet = load_fleet_or_report(args.config, "--config FILE", check_limits=False)
    if fleet is None:
        return 1
    accounts = fleet.accounts
    if args.account:
        account = find_account(fleet.accounts, args.account)
        if account is None:
            raise OperatorError(unknown_account_message(args.config, args.account, accounts))
        accounts = (account,)
    # Without usable credentials every row would say so: one line instead (main.py, exit 2).
    check_credentials(
        f"the payer's credentials, allowed to assume {fleet.operator_role} in each account",
        fleet.payer.home_region,
    )
    now = datetime.now(UTC)
    payer_ssm = boto3.client("ssm", region_name=fleet.payer.home_region, config=CLIENT_CONFIG)
    rows = [read_account(fleet, account, payer_ssm, now) for account in accounts]
    if args.account:
        for column, cell in zip(COLUMNS, rows[0], strict=True):
            print(f"{column + ':':<38} {cell}")
    else:
        print("\n".join(format_table(COLUMNS, rows)))
    return 1 if any("ERROR" in cell for row in rows for cell in row) else 0


def read_account(fleet: Fleet, account: Account, payer_ssm: Any, now: datetime) -> list[str]:
    """One row; every cell that fails says `ERROR <code>` and the others are still read."""
    row = [account.id, account.name]
    role = f"arn:aws:iam::{account.id}:role/{fleet.operator_role}"
    try:
        session = operator_session(account.id, role, account.home_region, "runawaytrain-status")
    except (ClientError, BotoCoreError) as error:
        cell = f"ERROR assuming {fleet.operator_role}: {describe_error(error)}"
        return [*row, cell, *["-"] * (len(COLUMNS) - 3)]

    def client(service: str, region: str = account.home_region) -> Any:
        return session.client(service, region_name=region, config=CLIENT_CONFIG)

    stack = _cell(lambda: find_guard_stack(client("cloudformation"), name_guard_stack(account)))
    if isinstance(stack, str):
        return [*row, stack, *["-"] * (len(COLUMNS) - 3)]
    if stack is None:
        return [*row, "NOT DEPLOYED", *["-"] * (len(COLUMNS) - 3)]
    schedule = _cell(lambda: describe_schedule(client("scheduler")))
    schedule_text, minutes = schedule if isinstance(schedule, tuple) else (schedule, None)
    minutes = minutes or account.schedule_minutes
    record = _cell(lambda: read_last_run(client("ssm")))
    if isinstance(record, str):
        last, overdue = record, "-"
    else:
        last, overdue = describe_last_run(record, now, minutes)
    regions = [r for r in list_fast_trip_regions(account) if r != account.home_region]
    fast_trip_stacks = {region: name_fast_trip_stack(account, region) for region in regions}
    return [
        *row,
        stack.status,
        last,
        overdue,
        _text(lambda: describe_open_incident(client("ssm"), now)),
        _text(lambda: describe_quarantine(payer_ssm, account.id)) if account.quarantine else "-",
        _text(lambda: describe_subscriptions(client("sns"), stack.topic_arn)),
        _text(lambda: describe_fast_trip(lambda r: client("cloudformation", r), fast_trip_stacks))
        if account.fast_trip
        else "off",
        schedule_text,
    ]


def _cell(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except AWS_ERRORS as error:
        return f"ERROR {_error_text(error)}"


def _text(read: Callable[[], str]) -> str:
    return str(_cell(read))


def _error_text(error: BaseException) -> str:
    if isinstance(error, ClientError | BotoCoreError):
        return describe_error(error)
    return f"{type(error).__name__}: {error}"
