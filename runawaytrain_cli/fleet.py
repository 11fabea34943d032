"""`runawaytrain check` and `runawaytrain bootstrap-commands`: the fleet file, from a terminal.

Both load accounts.yaml with the loader app.py uses, so what `check` accepts is what deploys.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from runawaytrain_stack.bootstrap import render_bootstrap_commands, render_execution_policy
from runawaytrain_stack.config import Account, ConfigError, Fleet, load_fleet

DEFAULT_FLEET_FILE = Path("accounts.yaml")
TABLE_COLUMNS = (
    "account",
    "name",
    "region",
    "limit",
    "weighted limits",
    "schedule",
    "mode",
    "budget",
    "notify",
)


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
        "--policy",
        action="store_true",
        help="print the CloudFormation execution policy document (JSON) instead",
    )
    bootstrap.set_defaults(func=run_bootstrap_commands)


def run_check(args: argparse.Namespace) -> int:
    fleet = _load_or_report(args.accounts)
    if fleet is None:
        return 1
    print(
        f"{args.accounts}: {len(fleet.accounts)} accounts (payer {fleet.payer.id}), "
        f"{len(fleet.budgeted_accounts)} with a billing alarm"
    )
    print("\n".join(format_table(TABLE_COLUMNS, [_row(a) for a in fleet.accounts])))
    return 0


def run_bootstrap_commands(args: argparse.Namespace) -> int:
    if args.policy:
        print(render_execution_policy())
        return 0
    fleet = _load_or_report(args.accounts)
    if fleet is None:
        return 1
    print("\n".join(render_bootstrap_commands(fleet, args.profile_format)))
    return 0


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def format_line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return [format_line(header), format_line(["-" * w for w in widths]), *map(format_line, rows)]


def _row(account: Account) -> list[str]:
    budget = account.monthly_budget_usd
    return [
        account.id,
        account.name,
        account.home_region,
        str(account.ec2_limit),
        _weighted_limits(account),
        f"{account.schedule_minutes} min",
        account.mode.value,
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


def _load_or_report(path: Path) -> Fleet | None:
    try:
        return load_fleet(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None
