"""`runawaytrain restore`: undo one incident in one account, from the operator's machine.

It assumes a role in the account (default OrganizationAccountAccessRole, which the lockout
never touches) and runs the guard's own restore code with those credentials: the same
function the Lambda runs for `{"action": "restore"}`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_restore
from guard.invocation import Invocation, Trigger
from guard.settings import Action, Settings
from runawaytrain_cli.fleet import DEFAULT_FLEET_FILE
from runawaytrain_stack.config import Account, ConfigError, load_fleet

DEFAULT_ROLE = "OrganizationAccountAccessRole"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="undo an incident in an account (IAM lockout, Auto Scaling, optionally instances)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--account", required=True, help="account id or name from accounts.yaml")
    parser.add_argument("--incident", help="incident id (default: the most recent one recorded)")
    parser.add_argument(
        "--restart-instances", action="store_true", help="also start the instances it stopped"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be undone")
    parser.add_argument(
        "--role-name", default=DEFAULT_ROLE, help=f"role to assume ({DEFAULT_ROLE})"
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_FLEET_FILE, metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        fleet = load_fleet(args.config)
    except ConfigError as error:
        print(error)
        return 1
    account = find_account(fleet.accounts, args.account)
    if account is None:
        known = ", ".join(f"{a.name} ({a.id})" for a in fleet.accounts)
        print(f"{args.config}: no account {args.account!r}; known accounts: {known}")
        return 1
    role_arn = f"arn:aws:iam::{account.id}:role/{args.role_name}"
    session = assume_role_session(role_arn, account.home_region, "runawaytrain-restore")
    clients = ClientFactory(session)
    settings = Settings(
        ec2limit=account.ec2_limit,
        snstopic="",  # the CLI prints; the Lambda's own restore publishes
        account_name=account.name,
    )
    invocation = Invocation(
        action=Action.RESTORE,
        trigger=Trigger.OPERATOR,
        incident=args.incident,
        restart_instances=args.restart_instances,
        dry_run=args.dry_run,
    )
    report = run_restore(settings, invocation, clients, account.id)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{account.name} ({account.id}): {report.reason}")
        for key, value in (report.restore or {}).items():
            if value and key not in ("incident", "dry_run"):
                print(f"  {key.replace('_', ' ')}: {value}")
    errors = (report.restore or {}).get("errors") or report.region_errors
    return 1 if errors else 0


def find_account(accounts: tuple[Account, ...], wanted: str) -> Account | None:
    return next((a for a in accounts if wanted in (a.id, a.name)), None)
