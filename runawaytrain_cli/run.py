"""`runawaytrain run`: invoke the deployed guard once, as its schedule would, and print its report.

It acts on the account's guard function only (guard_target.py: the operator role assumed in the
account, the function found by its stack's output).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from runawaytrain_cli.account_target import add_target_arguments
from runawaytrain_cli.guard_target import ACCOUNT_HELP, open_guard


def register(subparsers: Any) -> None:
    run = subparsers.add_parser(
        "run",
        help="invoke the deployed guard once now and print its report",
        description="Invoke the account's guard (synchronously) as the schedule would, and print "
        "its report. --dry-run: count and decide, stop nothing (the guard's own dry-run).",
    )
    add_target_arguments(run, help_account=ACCOUNT_HELP)
    run.add_argument(
        "--dry-run", action="store_true", help="report what would trip, change nothing"
    )
    run.add_argument("--json", action="store_true", help="print the whole report as JSON")
    run.set_defaults(func=run_guard_once)


def run_guard_once(args: argparse.Namespace) -> int:
    # An OperatorError (no account, credentials or guard) is said by main.py, exit status 2.
    target, lambda_, function = open_guard(args, "runawaytrain-run")
    event: dict[str, Any] = {"action": "proceed"}
    if args.dry_run:
        event["dry_run"] = True
    try:
        # RequestResponse: the call returns the handler's result, or FunctionError with the
        # error in the payload (Lambda API Reference, Invoke).
        response = lambda_.invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event)
        )
        payload = json.loads(response["Payload"].read() or b"null")
    except (ClientError, BotoCoreError, ValueError) as error:
        message = describe_error(error) if not isinstance(error, ValueError) else str(error)
        if isinstance(error, ClientError) and "TooManyRequests" in message:
            message = "the guard is running now (one run at a time); try again in a few minutes"
        print(f"{target.label}: invoking {function} failed: {message}")
        return 1
    if response.get("FunctionError") or not isinstance(payload, dict) or "report" not in payload:
        detail = payload.get("errorMessage") if isinstance(payload, dict) else payload
        print(f"{target.label}: the guard {function} failed: {detail}")
        return 1
    report = payload["report"]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(payload["body"])
    print(f"  count {report['count']} vs limit {report['limit']}, mode {report['mode']}")
    if report.get("stopped") or report.get("would_stop"):
        key = "stopped" if report.get("stopped") else "would_stop"
        print(f"  {key.replace('_', ' ')}: {' '.join(report[key])}")
    if report.get("region_errors"):
        print(f"  not counted: {report['region_errors']}")
    print(f"  mailed: {'yes' if report.get('notified') else 'no'}")
    return 0
