"""Find an account's deployed guard: its stack (status, outputs), function and topic. Read-only.

With accounts.yaml the stack is named (`runawaytrain-guard-<name>`); from a mail alone (an
account id) the guard stack is the one among the account's stacks that outputs the function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from runawaytrain_stack.names import GUARD_FUNCTION_OUTPUT, NOTIFY_TOPIC_OUTPUT


@dataclass(frozen=True)
class GuardStackInfo:
    name: str
    status: str  # CloudFormation StackStatus, e.g. CREATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE
    function: str  # the guard function's name ("" when the stack has no such output)
    topic_arn: str


def find_guard_stack(cloudformation: Any, stack_name: str | None) -> GuardStackInfo | None:
    """The guard stack, or None when it is not deployed. Raises AWS errors (the caller says)."""
    if stack_name is not None:
        try:
            stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            # DescribeStacks of a stack that does not exist: ValidationError "Stack with id X
            # does not exist" (CloudFormation API Reference, DescribeStacks).
            if error.response.get("Error", {}).get("Code") == "ValidationError":
                return None
            raise
    else:
        pages = cloudformation.get_paginator("describe_stacks").paginate()
        stacks = [stack for page in pages for stack in page["Stacks"]]
    for stack in stacks:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if stack_name is not None or GUARD_FUNCTION_OUTPUT in outputs:
            return GuardStackInfo(
                name=stack["StackName"],
                status=stack["StackStatus"],
                function=outputs.get(GUARD_FUNCTION_OUTPUT, ""),
                topic_arn=outputs.get(NOTIFY_TOPIC_OUTPUT, ""),
            )
    return None
