"""`runawaytrain restore`: undo one incident in one account, from the operator's machine.

It assumes a role in the account (default OrganizationAccountAccessRole, which the lockout
never touches) and runs the guard's own restore code with those credentials: the same
function the Lambda runs for `{"action": "restore"}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_restore
from guard.invocation import Invocation, Trigger
from guard.settings import Action, Settings
from runawaytrain_cli.aws_errors import explain_aws_error
from runawaytrain_cli.fleet import (
    DEFAULT_FLEET_FILE,
    find_account,
    load_fleet_or_report,
    unknown_account_message,
)

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
    fleet = load_fleet_or_report(args.config, "--config")
    if fleet is None:
        return 1
    account = find_account(fleet.accounts, args.account)
    if account is None:
        print(unknown_account_message(args.config, args.account, fleet.accounts), file=sys.stderr)
        return 1
    role_arn = f"arn:aws:iam::{account.id}:role/{args.role_name}"
    try:
        session = assume_role_session(role_arn, account.home_region, "runawaytrain-restore")
    except (BotoCoreError, ClientError) as error:
        needs = f"credentials allowed to assume {role_arn} (usually the payer's; or --role-name)"
        print(f"runawaytrain restore: {explain_aws_error(error, needs)}", file=sys.stderr)
        return 1
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
