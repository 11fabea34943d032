"""`runawaytrain check`: the fleet file validated, and the fleet printed as a table.

It loads accounts.yaml with the loader app.py uses (fleet_file.py), so what `check` accepts is
what deploys.
"""

from __future__ import annotations

import argparse

from runawaytrain_cli.fleet_file import (
    add_fleet_file_argument,
    format_table,
    load_fleet_or_report,
    plural,
)
from runawaytrain_stack.fleet_model import Account, Fleet, list_fast_trip_regions
from runawaytrain_stack.names import list_account_stacks

TABLE_COLUMNS = (
    "account",
    "name",
    "region",
    "limit",
    "weighted limits",
    "schedule",
    "mode",
    "lockout",
    "fast trip",
    "stacks",
    "budget",
    "notify",
)
# Up to this many watched Regions are listed by name in the table; more are counted.
LISTED_REGIONS = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `check`; its `func` takes the parsed args and returns an exit code."""
    check = subparsers.add_parser(
        "check",
        help="validate accounts.yaml and print the fleet as a table",
        description="Validate the fleet file strictly (what `cdk synth` would accept) and print "
        "one row per account. Exit status 1 lists every problem with its line.",
    )
    add_fleet_file_argument(check)
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    fleet = load_fleet_or_report(args.accounts)
    if fleet is None:
        return 1
    stacks = sum(len(list_account_stacks(fleet, a)) for a in fleet.accounts)
    print(
        f"{args.accounts}: {plural(len(fleet.accounts), 'account')} (payer {fleet.payer.id}), "
        f"{len(fleet.budgeted_accounts)} with a billing alarm, {plural(stacks, 'stack')} to deploy"
    )
    rows = [_row(fleet, a) for a in fleet.accounts]
    print("\n".join(format_table(TABLE_COLUMNS, rows)))
    return 0


def describe_fast_trip(account: Account) -> str:
    """Where launches trip the guard at once: off, the Regions by name, or how many."""
    regions = list_fast_trip_regions(account)
    if not regions:
        return "off"
    if len(regions) <= LISTED_REGIONS:
        return ", ".join(regions)
    return plural(len(regions), "Region")


def _row(fleet: Fleet, account: Account) -> list[str]:
    budget = account.monthly_budget_usd
    return [
        account.id,
        account.name,
        account.home_region,
        str(account.ec2_limit),
        _weighted_limits(account),
        f"{account.schedule_minutes} min",
        account.mode.value,
        account.lockout.value,
        describe_fast_trip(account),
        str(len(list_account_stacks(fleet, account))),
        "-" if budget is None else f"${budget:,.0f}" if budget.is_integer() else f"${budget:,.2f}",
        ", ".join(account.notify),
    ]


def _weighted_limits(account: Account) -> str:
    """ "64 vCPUs, 8 GPUs, $50/h" (the limits set), or "-"."""
    parts = []
    if account.max_vcpus is not None:
        parts.append(f"{account.max_vcpus} vCPUs")
    if account.max_gpus is not None:
        parts.append(f"{account.max_gpus} GPUs")
    if account.max_usd_per_hour is not None:
        parts.append(f"${account.max_usd_per_hour:,.2f}/h".replace(".00/h", "/h"))
    return ", ".join(parts) or "-"
