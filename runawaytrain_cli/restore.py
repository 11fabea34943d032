"""`runawaytrain restore`: undo one incident in one account, from the operator's machine.

It assumes a role in the account (default: the fleet's `operator_role`, which the lockout
never touches and the quarantine SCP exempts) and runs the guard's own restore code with those
credentials: the same function the Lambda runs for `{"action": "restore"}`. Then, with the
caller's own credentials (the payer's), it detaches the account's quarantine SCP with the
payer's quarantine code, and records that as the payer's Lambda does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_restore
from guard.invocation import Invocation, Trigger
from guard.settings import Action, Settings
from quarantine.handler import apply, record
from runawaytrain_cli.aws_errors import explain_aws_error
from runawaytrain_cli.fleet import (
    DEFAULT_FLEET_FILE,
    find_account,
    load_fleet_or_report,
    unknown_account_message,
)
from runawaytrain_stack.config import Account, Fleet
from runawaytrain_stack.names import QUARANTINE_POLICY_PREFIX, QUARANTINE_STATE_PATH


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
        "--role-name", help="role to assume in the account (default: operator_role of the fleet)"
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
    role_arn = f"arn:aws:iam::{account.id}:role/{args.role_name or fleet.operator_role}"
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
    release = None
    if not args.dry_run and account.quarantine:
        # Whether or not an incident is still recorded: a release that failed earlier, after
        # the records were undone, must still be possible.
        release = release_quarantine(fleet, account, report.incident or "")
        report.quarantine = describe_release(release)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{account.name} ({account.id}): {report.reason}")
        for key, value in (report.restore or {}).items():
            if value and key not in ("incident", "dry_run"):
                print(f"  {key.replace('_', ' ')}: {value}")
    if report.quarantine and not args.json:
        print(f"  quarantine: {report.quarantine}")
    errors = (report.restore or {}).get("errors") or report.region_errors
    return 1 if errors or (release is not None and release["error"]) else 0


def release_quarantine(fleet: Fleet, account: Account, incident: str) -> dict[str, Any]:
    """Detach `account`'s quarantine SCP with the caller's credentials (the payer's)."""
    session = boto3.session.Session()
    result = apply(
        session,
        account=account.id,
        account_name=account.name,
        verb="detach",
        incident=incident,
        policy_prefix=QUARANTINE_POLICY_PREFIX,
    )
    if result["error"] is None:
        region = fleet.payer.home_region
        record(boto3.session.Session(region_name=region), QUARANTINE_STATE_PATH, result)
    return result


def describe_release(result: dict[str, Any]) -> str:
    if result["error"]:
        return f"could NOT detach {result['policy']}: {result['error']}; {result['advice']}"
    if result["changed"]:
        return f"detached {result['policy']}"
    return "was not attached"
