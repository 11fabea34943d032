"""`runawaytrain status`: how every guard of the fleet is doing, read-only.

Per account, assuming the fleet's `operator_role` in it: is the guard stack deployed and its
status, the guard's last run (its own record, lambda/guard/last_run.py) and whether it is overdue,
the open incident, the notify subscriptions (confirmed or pending: SNS delivers nothing to a
pending one), the fast-trip rules in every watched Region, and the schedule. With the caller's
own (the payer's) credentials: the account's quarantine record. `--numbers` shows instead what
the payer's dashboard plots (count, vCPUs, GPUs, USD/h against each limit, last run, degraded
Regions, open incident), as the guard recorded them; `--json` prints both, for scripts.

The accounts are read --concurrency at a time and printed in the fleet's order. An AWS failure
is one line in the account's row, never a traceback, and the others are still read; the exit
status is 1 when any account could not be read in full.

With `organization:`, then every account of the target OUs (and OUs below) that accounts.yaml
does not list: guarded on `defaults` by the payer's StackSets, with its last heartbeat as the
payer's watchdog recorded it, or "no heartbeat yet" and when it joined (the watchdog mails once
if that lasts `join_minutes`).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from guard.parallel import map_in_parallel
from runawaytrain_cli.fleet_file import (
    DEFAULT_FLEET_FILE,
    find_account,
    format_table,
    load_fleet_or_report,
    unknown_account_message,
)
from runawaytrain_cli.operator_error import OperatorError, check_credentials
from runawaytrain_cli.status_account import COLUMNS, AccountStatus, read_account
from runawaytrain_cli.status_numbers import COLUMNS as NUMBER_COLUMNS
from runawaytrain_cli.status_numbers import format_numbers
from runawaytrain_cli.status_sessions import FleetSessions
from runawaytrain_cli.status_unlisted import describe_unlisted

# Accounts read at once. Every account's AssumeRole and quarantine read are the caller's (the
# payer's) calls, and so count against the payer's own rates: STS throttles per account with a
# token bucket that the SDK's retries ride out (AWS Knowledge Center, "How do I resolve API
# throttling or 'Rate exceeded' errors for IAM and AWS STS?"; AWS Security Blog, "How to monitor
# and query IAM resources at scale - Part 2"), and Parameter Store serves 40 GetParameter
# transactions per second by default (Systems Manager quotas, "Parameter Store max throughput").
# 16 accounts in flight, each entered once, keep the payer well under both; at 0.1 s a call 100
# accounts take ~7 rounds of one account's ~0.3 s, less than the CPU that making the clients and
# signing the calls takes under one interpreter lock (bench/status.py).
DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 64


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="how every guard is doing: deployed, last run, incident, mail, fast trip, schedule",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--account", help="one account (id or name), shown in detail")
    parser.add_argument("--config", type=Path, default=DEFAULT_FLEET_FILE, metavar="FILE")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument(
        "--numbers",
        action="store_true",
        help="the dashboard's numbers: count, vCPUs, GPUs, USD/h vs limits, last run, degraded",
    )
    shown.add_argument("--json", action="store_true", help="everything, as one JSON document")
    parser.add_argument(
        "--fast-trip",
        action="store_true",
        help="also read every watched Region's fast-trip stack for the whole fleet (16 more "
        "calls per account; always read for one --account)",
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"accounts read at once (default {DEFAULT_CONCURRENCY}, at most {MAX_CONCURRENCY})",
    )
    parser.set_defaults(func=run)


def _concurrency(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number from 1 to {MAX_CONCURRENCY}")
    return int(text)


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
    region = fleet.payer.home_region
    # Without usable credentials every row would say so: one line instead (main.py, exit 2).
    caller = check_credentials(
        f"the payer's credentials, allowed to assume {fleet.operator_role} in each account", region
    )
    now = datetime.now(UTC)
    sessions = FleetSessions(boto3.session.Session(region_name=region), caller, region)
    payer_ssm = sessions.make_client("ssm", region, None)
    # The fleet's table leaves the fast-trip Regions out unless asked: 16 of each account's ~22
    # calls and clients, and most of its time (bench/status.py), for stacks the standing guard
    # protection (runawaytrain_stack/scp.py) keeps members from changing.
    regions_read = bool(args.fast_trip or args.account)
    found = map_in_parallel(
        lambda account: read_account(
            sessions, fleet, account, payer_ssm, now, fast_trip_regions=regions_read
        ),
        accounts,
        args.concurrency,
    )
    print("\n".join(render(found, args, now)))
    if fleet.organization is not None and not (args.account or args.json):
        organizations = sessions.make_client("organizations", "us-east-1", None)
        print("\n".join(["", *describe_unlisted(fleet, organizations, payer_ssm, now)]))
    return 1 if any(status.errors for status in found) else 0


def render(found: list[AccountStatus], args: argparse.Namespace, now: datetime) -> list[str]:
    if args.json:
        return [json.dumps(as_document(found, now), indent=2)]
    if args.account:
        (status,) = found
        shown = list(zip(COLUMNS, status.row, strict=True))
        if status.numbers is not None:  # the numbers, but the incident once
            numbers = zip(NUMBER_COLUMNS[2:-1], format_numbers(status.numbers)[:-1], strict=True)
            shown += list(numbers)
        return [f"{column + ':':<38} {cell}" for column, cell in shown]
    if args.numbers:
        return format_table(NUMBER_COLUMNS, [numbers_row(status) for status in found])
    return format_table(COLUMNS, [status.row for status in found])


def numbers_row(status: AccountStatus) -> list[str]:
    """The account's numbers, or why there are none (in the first column of them)."""
    if status.numbers is None:
        return [*status.row[:3], *["-"] * (len(NUMBER_COLUMNS) - 3)]
    return [*status.row[:2], *format_numbers(status.numbers)]


def as_document(found: list[AccountStatus], now: datetime) -> dict[str, Any]:
    """`--json`: per account its cells (by column), its numbers and what failed."""
    return {
        "time": now.isoformat(timespec="seconds"),
        "complete": not any(status.errors for status in found),
        "accounts": [
            {
                "account": status.account.id,
                "name": status.account.name,
                "read": not status.errors,
                "errors": status.errors,
                "status": dict(zip(COLUMNS[2:], status.cells, strict=True)),
                "numbers": status.numbers,
            }
            for status in found
        ],
    }
