"""`runawaytrain check` and `runawaytrain bootstrap-commands`: the fleet file, from a terminal.

Both load accounts.yaml with the loader app.py uses, so what `check` accepts is what deploys.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from runawaytrain_stack.bootstrap import render_bootstrap_commands, render_execution_policy
from runawaytrain_stack.config import (
    Account,
    ConfigError,
    Fleet,
    list_fast_trip_regions,
    load_fleet,
)
from runawaytrain_stack.names import list_account_stacks

DEFAULT_FLEET_FILE = Path("accounts.yaml")
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
    """Add the fleet subcommands; each `func` takes the parsed args and returns an exit code."""
    check = subparsers.add_parser(
        "check",
        help="validate accounts.yaml and print the fleet as a table",
        description="Validate the fleet file strictly (what `cdk synth` would accept) and print "
        "one row per account. Exit status 1 lists every problem with its line.",
    )
    _add_fleet_file_argument(check)
    check.set_defaults(func=run_check)

    bootstrap = subparsers.add_parser(
        "bootstrap-commands",
        help="print the commands that prepare every account for `cdk deploy --all`",
        description="Print, per account, the commands that create runawaytrain's CloudFormation "
        "execution policy and bootstrap the account to trust the payer.",
    )
    _add_fleet_file_argument(bootstrap)
    bootstrap.add_argument(
        "--profile-format",
        metavar="FORMAT",
        help='add --profile to each command, e.g. "{name}-admin" (placeholders {name}, {id})',
    )
    bootstrap.add_argument(
        "--account",
        metavar="NAME",
        action="append",
        help="only this account (name or id; repeat for more), e.g. when onboarding one",
    )
    bootstrap.add_argument(
        "--policy",
        action="store_true",
        help="print the CloudFormation execution policy document (JSON) instead",
    )
    bootstrap.set_defaults(func=run_bootstrap_commands)


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


def run_bootstrap_commands(args: argparse.Namespace) -> int:
    if args.policy:
        print(render_execution_policy())
        return 0
    fleet = load_fleet_or_report(args.accounts)
    if fleet is None:
        return 1
    selected = list(fleet.accounts)
    if args.account:
        selected = []
        for wanted in args.account:
            account = find_account(fleet.accounts, wanted)
            if account is None:
                message = unknown_account_message(args.accounts, wanted, fleet.accounts)
                print(message, file=sys.stderr)
                return 1
            selected.append(account)
    print("\n".join(render_bootstrap_commands(fleet, args.profile_format, selected)))
    return 0


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def format_line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return [format_line(header), format_line(["-" * w for w in widths]), *map(format_line, rows)]


def plural(count: int, noun: str) -> str:
    """1 account, 2 accounts."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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


def _add_fleet_file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "accounts",
        nargs="?",
        type=Path,
        default=DEFAULT_FLEET_FILE,
        help="the fleet file (default: accounts.yaml)",
    )


def load_fleet_or_report(path: Path, option: str = "a path argument") -> Fleet | None:
    """The fleet, or None after printing every problem (`option`: how to name another file)."""
    if not path.exists():
        print(
            f"{path}: no such file in {Path.cwd()}: run from the folder holding accounts.yaml "
            f"or give its path with {option}",
            file=sys.stderr,
        )
        return None
    try:
        return load_fleet(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def find_account(accounts: tuple[Account, ...], wanted: str) -> Account | None:
    return next((a for a in accounts if wanted in (a.id, a.name)), None)


def unknown_account_message(source: Path, wanted: str, accounts: tuple[Account, ...]) -> str:
    """One line naming the accounts there are, and the closest name if one is close."""
    names = [a.name for a in accounts]
    guess = difflib.get_close_matches(wanted, names, n=1)
    hint = f"; did you mean {guess[0]}?" if guess else ""
    known = ", ".join(f"{a.name} ({a.id})" for a in accounts)
    return f"{source}: no account {wanted!r} (give its name or id){hint} Accounts: {known}"
