"""`runawaytrain bootstrap-commands`: per account, the commands that create runawaytrain's
CloudFormation execution policy and bootstrap the account to trust the payer (`--policy`: that
policy's document instead).

It loads accounts.yaml with the loader app.py uses (fleet_file.py).
"""

from __future__ import annotations

import argparse

from runawaytrain_cli.fleet_file import (
    add_fleet_file_argument,
    find_account,
    load_fleet_or_report,
    unknown_account_message,
)
from runawaytrain_cli.operator_error import OperatorError
from runawaytrain_stack.bootstrap import render_bootstrap_commands, render_execution_policy


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bootstrap-commands`; its `func` takes the parsed args and returns an exit code."""
    bootstrap = subparsers.add_parser(
        "bootstrap-commands",
        help="print the commands that prepare every account for `cdk deploy --all`",
        description="Print, per account, the commands that create runawaytrain's CloudFormation "
        "execution policy and bootstrap the account to trust the payer.",
    )
    add_fleet_file_argument(bootstrap)
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
                raise OperatorError(unknown_account_message(args.accounts, wanted, fleet.accounts))
            selected.append(account)
    print("\n".join(render_bootstrap_commands(fleet, args.profile_format, selected)))
    return 0
