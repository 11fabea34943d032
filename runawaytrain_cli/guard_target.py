"""The deployed guard function `run` and `pass` act on, and a Lambda client to act on it.

It assumes the operator role in the account (account_target.py) and finds the guard function by
its stack's output (guard_lookup.py): the commands act on that one function only.
"""

from __future__ import annotations

import argparse
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.clients import CLIENT_CONFIG
from runawaytrain_cli.account_target import Target, TargetError, operator_session, resolve_target
from runawaytrain_cli.aws_errors import explain_aws_error
from runawaytrain_cli.guard_lookup import find_guard_stack
from runawaytrain_cli.operator_error import OperatorError, check_credentials

ACCOUNT_HELP = "account name or id from accounts.yaml, or any 12-digit account id"

# A synchronous Invoke of a run that may last the guard's 5 minutes: wait that long, and never
# retry. botocore would resend Invoke on a read timeout, and Lambda runs the function again for
# each (boto/boto3#1104): a second halt and mail. A busy guard (reserved concurrency 1) answers
# TooManyRequestsException; that is said, not retried. `pass` reads and updates the function's
# configuration with the same client.
INVOKE_CONFIG = Config(read_timeout=360, connect_timeout=10, retries={"max_attempts": 1})


def open_guard(args: argparse.Namespace, session_name: str) -> tuple[Target, Any, str]:
    """(target, its Lambda client, the guard function's name); raises OperatorError (TargetError
    among them) when the account, the credentials or the guard are missing."""
    target = resolve_target(args)
    needs = f"credentials allowed to assume {target.role_arn} (usually the payer's; or --role-name)"
    check_credentials(needs, target.home_region)
    try:
        session = operator_session(
            target.account_id, target.role_arn, target.home_region, session_name
        )
    except (ClientError, BotoCoreError) as error:
        raise OperatorError(f"{target.label}: {explain_aws_error(error, needs)}") from None
    try:
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
