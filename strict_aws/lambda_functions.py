"""Strict Lambda: a function's configuration has a RevisionId, and a stale one is refused; a
reservation that leaves less than 100 unreserved concurrent executions is refused.

AWS returns RevisionId ("the latest updated revision of the function or alias") in every
FunctionConfiguration (GetFunction, GetFunctionConfiguration, UpdateFunctionConfiguration; Lambda
API Reference, "FunctionConfiguration"), and UpdateFunctionConfiguration with a RevisionId that is
not the latest fails with PreconditionFailedException, HTTP 412: "The RevisionId provided does
not match the latest RevisionId for the Lambda function or alias" (Lambda API Reference,
UpdateFunctionConfiguration, "Errors"). moto 5.2 gives functions no RevisionId (only aliases have
one) and ignores the parameter. `runawaytrain pass` reads the variables, then writes them all back
under the RevisionId it read (runawaytrain_cli/pass_guard.py). Scope: configuration updates
bump the revision; code updates and publishing versions do not (nothing here relies on them).

PutFunctionConcurrency: "You can reserve concurrency for as many functions as you like, as long
as you leave at least 100 simultaneous executions unreserved" (Lambda API Reference,
PutFunctionConcurrency), against the Region's quota of 1,000 concurrent executions (Lambda
Developer Guide, "Lambda quotas"; an account whose quota is lower, 10 for some new accounts,
answers "[10]" instead). AWS's refusal, InvalidParameterValueException "Specified
ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below
its minimum value of [100]." (quoted in localstack's Lambda tests and many deploy logs). moto
checks it only when MOTO_LAMBDA_CONCURRENCY_QUOTA is set; here always, with that variable or
1,000. A reservation of 0 (the guard's halt) never lowers the unreserved pool below what it was.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, PreconditionFailedException
from moto.awslambda.models import LambdaBackend, LambdaFunction

from strict_aws.patches import Patches

ORIGINAL_GET_CONFIGURATION = LambdaFunction.get_configuration
ORIGINAL_UPDATE_CONFIGURATION = LambdaFunction.update_configuration
ORIGINAL_PUT_CONCURRENCY = LambdaBackend.put_function_concurrency
QUOTA = "MOTO_LAMBDA_CONCURRENCY_QUOTA"
DEFAULT_QUOTA = "1000"  # concurrent executions per Region (Lambda quotas)
MIN_UNRESERVED = 100


def install(patches: Patches) -> None:
    patches.set(LambdaFunction, "get_configuration", _get_configuration)
    patches.set(LambdaFunction, "update_configuration", _update_configuration)
    patches.set(LambdaBackend, "put_function_concurrency", _put_function_concurrency)


def _put_function_concurrency(
    self: LambdaBackend, function_name: str, reserved_concurrency: str
) -> Any:
    # moto's own check (which runs only when the variable is set), always, before moto's call.
    available = int(os.environ.get(QUOTA, DEFAULT_QUOTA)) - int(reserved_concurrency)
    for other in self.list_functions():
        if other.reserved_concurrency and other.function_name != function_name:
            available -= int(other.reserved_concurrency)
    if available < MIN_UNRESERVED:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
        )
    return ORIGINAL_PUT_CONCURRENCY(self, function_name, reserved_concurrency)


def _revision(function: LambdaFunction) -> str:
    if not getattr(function, "strict_revision_id", None):
        function.strict_revision_id = str(uuid.uuid4())  # type: ignore[attr-defined]
    return str(function.strict_revision_id)  # type: ignore[attr-defined]


def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
    return {**ORIGINAL_GET_CONFIGURATION(self, on_create), "RevisionId": _revision(self)}


def _update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    wanted = config_updates.get("RevisionId")
    if wanted and wanted != _revision(self):
        raise PreconditionFailedException(
            "The RevisionId provided does not match the latest RevisionId for the Lambda "
            "function or alias."
        )
    ORIGINAL_UPDATE_CONFIGURATION(self, config_updates)
    self.strict_revision_id = str(uuid.uuid4())  # type: ignore[attr-defined]
    return self.get_configuration()
