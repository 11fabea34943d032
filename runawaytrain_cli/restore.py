"""`runawaytrain restore`: undo one incident in one account, from the operator's machine.

Works from any folder: `--account` may be any 12-digit id (no accounts.yaml needed; add
`--home-region` and, if the fleet's operator role is not the default, `--role-name`). Run it with
the payer's credentials, allowed to assume the operator role in the account.

It assumes a role in the account (default: the fleet's `operator_role`, which the lockout
never touches and the quarantine SCP exempts) and runs the guard's own restore code with those
credentials: the same function the Lambda runs for `{"action": "restore"}`. Then, with the
caller's own credentials (the payer's), it detaches the account's quarantine SCP with the
payer's quarantine code, and records that as the payer's Lambda does.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from guard.clients import ClientFactory
from guard.handler import run_restore
from guard.invocation import Invocation, Trigger
from guard.settings import Action, Settings
from quarantine.handler import apply, record
from runawaytrain_cli.account_target import (
    Target,
    add_target_arguments,
    operator_session,
    resolve_target,
)
from runawaytrain_cli.aws_errors import explain_aws_error
from runawaytrain_cli.incident_lookup import require_recorded
from runawaytrain_cli.operator_error import OperatorError, check_credentials
from runawaytrain_stack.names import (
    QUARANTINE_POLICY_PREFIX,
    QUARANTINE_STATE_PATH,
    name_launch_block_policy_arn,
)

POLICY_NOT_FOUND = "PolicyNotFoundException"  # quarantine.handler.apply: no SCP by that name


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "restore",
        help="undo an incident in an account (IAM lockout, Auto Scaling, optionally instances)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_target_arguments(
        parser, help_account="account name or id from accounts.yaml, or any 12-digit account id"
    )
    parser.add_argument(
        "--incident",
        help="incident id, as the trip mail names it (default: the newest one recorded); one "
        "recorded nowhere in the account is an error, listing those that are",
    )
    parser.add_argument(
        "--restart-instances", action="store_true", help="also start the instances it stopped"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would be undone")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # What is missing (the account, credentials, the incident) is an OperatorError: main.py
    # says it in one line, exit status 2, before anything is changed.
    target = resolve_target(args)
    needs = f"credentials allowed to assume {target.role_arn} (usually the payer's; or --role-name)"
    check_credentials(needs, target.home_region)
    try:
        session = operator_session(
            target.account_id, target.role_arn, target.home_region, "runawaytrain-restore"
        )
    except (BotoCoreError, ClientError) as error:
        raise OperatorError(explain_aws_error(error, needs)) from None
    clients = ClientFactory(session)
    if args.incident:
        require_recorded(args.incident, clients, target.label, needs)
    account = target.account
    settings = Settings(
        ec2limit=account.ec2_limit if account else 0,
        snstopic="",  # the CLI prints; the Lambda's own restore publishes
        account_name=account.name if account else "",
        # The one policy restore detaches where the incident recorded a launch block: the guard
        # stack's, by its fixed name (the Lambda reads the same ARN from its environment).
        launch_block_policy=name_launch_block_policy_arn(target.account_id),
    )
    invocation = Invocation(
        action=Action.RESTORE,
        trigger=Trigger.OPERATOR,
        incident=args.incident,
        restart_instances=args.restart_instances,
        dry_run=args.dry_run,
    )
    report = run_restore(settings, invocation, clients, target.account_id)
    release = None
    quarantined = account.quarantine if account else True  # unknown: detach if there is one
    if not args.dry_run and quarantined:
        # Whether or not an incident is still recorded: a release that failed earlier, after
        # the records were undone, must still be possible.
        release = release_quarantine(target, report.incident or "")
        report.quarantine = describe_release(release)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{target.label}: {report.reason}")
        for key, value in (report.restore or {}).items():
            if value and key not in ("incident", "dry_run"):
                print(f"  {key.replace('_', ' ')}: {value}")
    if report.quarantine and not args.json:
        print(f"  quarantine: {report.quarantine}")
    errors = (report.restore or {}).get("errors") or report.region_errors
    return 1 if errors or (release is not None and release["error"]) else 0


def release_quarantine(target: Target, incident: str) -> dict[str, Any]:
    """Detach the account's quarantine SCP with the caller's credentials (the payer's). With no
    accounts.yaml, an account without a quarantine SCP is not an error; the record goes to the
    caller's Region (the payer's home Region, as the mail says)."""
    session = boto3.session.Session()
    result = apply(
        session,
        account=target.account_id,
        account_name=target.account.name if target.account else target.account_id,
        verb="detach",
        incident=incident,
        policy_prefix=QUARANTINE_POLICY_PREFIX,
    )
    if target.account is None and str(result["error"]).startswith(POLICY_NOT_FOUND):
        return {**result, "error": None, "changed": False}
    if result["error"] is None:
        region = target.fleet.payer.home_region if target.fleet else session.region_name
        record(boto3.session.Session(region_name=region), QUARANTINE_STATE_PATH, result)
    return result


def describe_release(result: dict[str, Any]) -> str:
    if result["error"]:
        return f"could NOT detach {result['policy']}: {result['error']}; {result['advice']}"
    if result["changed"]:
        return f"detached {result['policy']}"
    return "was not attached"
