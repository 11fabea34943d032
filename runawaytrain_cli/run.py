"""`runawaytrain run` (invoke the deployed guard once) and `runawaytrain pass` (set its envaction).

Both assume the operator role in the account (account_target.py), find the guard function by its
stack's output (guard_lookup.py) and act on that one function only.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.clients import CLIENT_CONFIG
from runawaytrain_cli.account_target import (
    Target,
    TargetError,
    add_target_arguments,
    operator_session,
    resolve_target,
)
from runawaytrain_cli.guard_lookup import find_guard_stack

ACCOUNT_HELP = "account name or id from accounts.yaml, or any 12-digit account id"

# A synchronous Invoke of a run that may last the guard's 5 minutes: wait that long, and never
# retry. botocore would resend Invoke on a read timeout, and Lambda runs the function again for
# each (boto/boto3#1104): a second halt and mail. A busy guard (reserved concurrency 1) answers
# TooManyRequestsException; that is said, not retried.
INVOKE_CONFIG = Config(read_timeout=360, connect_timeout=10, retries={"max_attempts": 1})


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

    pass_ = subparsers.add_parser(
        "pass",
        help="set the guard's envaction=pass (void every run), keeping its other variables",
        description="Set envaction=pass on the account's guard function so that restarted "
        "instances do not trip it again; --off sets envaction=proceed. Every other environment "
        "variable is kept (UpdateFunctionConfiguration replaces them all, so they are read "
        "first). Only `pass --off` sets it back: a `cdk deploy` changes the function only when its "
        "template changed, so an unchanged deploy leaves envaction=pass in place.",
    )
    add_target_arguments(pass_, help_account=ACCOUNT_HELP)
    pass_.add_argument("--off", action="store_true", help="set envaction=proceed again")
    pass_.set_defaults(func=set_envaction)


def _guard(args: argparse.Namespace, session_name: str) -> tuple[Target, Any, str]:
    """(target, its Lambda client, the guard function's name); raises TargetError."""
    target = resolve_target(args)
    try:
        session = operator_session(
            target.account_id, target.role_arn, target.home_region, session_name
        )
        cloudformation = session.client("cloudformation", config=CLIENT_CONFIG)
        stack = find_guard_stack(cloudformation, target.stack_name)
    except (ClientError, BotoCoreError) as error:
        raise TargetError(
            f"{target.label}: cannot read its guard stack as {target.role_name} in "
            f"{target.home_region}: {describe_error(error)}"
        ) from None
    if stack is None or not stack.function:
        raise TargetError(
            f"{target.label}: no runawaytrain guard stack in {target.home_region} "
            "(deploy it, or name its Region with --home-region)"
        )
    return target, session.client("lambda", config=INVOKE_CONFIG), stack.function


def run_guard_once(args: argparse.Namespace) -> int:
    try:
        target, lambda_, function = _guard(args, "runawaytrain-run")
    except TargetError as error:
        print(error)
        return 1
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


def set_envaction(args: argparse.Namespace) -> int:
    try:
        target, lambda_, function = _guard(args, "runawaytrain-pass")
    except TargetError as error:
        print(error)
        return 1
    wanted = "proceed" if args.off else "pass"
    try:
        config = lambda_.get_function_configuration(FunctionName=function)
        variables = dict(config.get("Environment", {}).get("Variables", {}))
        variables["envaction"] = wanted
        # Environment replaces every variable; RevisionId refuses the update if the function
        # changed since it was read (Lambda API Reference, UpdateFunctionConfiguration).
        lambda_.update_function_configuration(
            FunctionName=function,
            Environment={"Variables": variables},
            RevisionId=config["RevisionId"],
        )
    except (ClientError, BotoCoreError) as error:
        print(f"{target.label}: setting envaction={wanted} on {function}: {describe_error(error)}")
        return 1
    print(f"{target.label}: {function} envaction={wanted} ({len(variables)} variables kept)")
    return 0
