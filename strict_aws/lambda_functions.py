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

Provisioned concurrency, which moto lacks entirely (every call 404 "Not yet implemented"): Put,
Get, Delete and ListProvisionedConcurrencyConfigs under /2019-09-30/functions/<name>/
provisioned-concurrency (Lambda API Reference, each operation's "Request Syntax"), in-process and
under moto_server (the route is added to moto's Lambda url_paths, which both read):
- Qualifier: a published version or an alias of one; "Provisioned Concurrency is not supported
  on the unpublished version of the function ($LATEST)" (Lambda Developer Guide, "Managing
  Lambda provisioned concurrency"), nor on an alias pointing at it: InvalidParameterValueException
  (the text here is UNCERTAIN: no source quotes AWS's). An unknown function, version or alias:
  404 ResourceNotFoundException "Function not found: <arn>" (moto's text for unknown functions).
- "You can't allocate more provisioned concurrency than reserved concurrency for a function"
  (same page): the function's configurations together never exceed its reservation,
  InvalidParameterValueException (text UNCERTAIN).
- PutFunctionConcurrency below the function's provisioned total (0, the throttle, included) is
  refused, InvalidParameterValueException (the rule is the guide's sentence above read the
  other way; code and text UNCERTAIN: no source quotes AWS's answer).
- Put answers 202 with Requested, Available and Allocated executions, Status and LastModified;
  allocation is asynchronous: "Allocated ProvisionedConcurrentExecutions": 0, "Status":
  "IN_PROGRESS" right after the put (the guide's example), READY once allocated (Status values
  IN_PROGRESS | READY | FAILED, API Reference), here after the layer's `pending_seconds`.
- Get or Delete of a qualifier without one: 404 ProvisionedConcurrencyConfigNotFoundException
  "No Provisioned Concurrency Config found for this function" (AWS's answer quoted in
  serverless/serverless#10897). Delete answers 204.
- List (GET ...?List=ALL): ProvisionedConcurrencyConfigs[] with the qualified FunctionArn, at
  most MaxItems (1-50, default 50 here) a page, NextMarker (opaque offset here).
Not modelled: one configuration per version (an alias and its version both configured), the
100 unreserved executions PC on an unreserved function must leave, FAILED, and deleting a
function or alias deleting its configurations.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import (
    InvalidParameterValueException,
    LambdaClientError,
    PreconditionFailedException,
)
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse

from strict_aws.active import current
from strict_aws.patches import Patches

ORIGINAL_GET_CONFIGURATION = LambdaFunction.get_configuration
ORIGINAL_UPDATE_CONFIGURATION = LambdaFunction.update_configuration
ORIGINAL_PUT_CONCURRENCY = LambdaBackend.put_function_concurrency
QUOTA = "MOTO_LAMBDA_CONCURRENCY_QUOTA"
DEFAULT_QUOTA = "1000"  # concurrent executions per Region (Lambda quotas)
MIN_UNRESERVED = 100
PROVISIONED_PATH = (
    r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$"
)
LATEST = "$LATEST"
LIST_PAGE = 50  # ListProvisionedConcurrencyConfigs MaxItems: 1-50


def install(patches: Patches) -> None:
    patches.set(LambdaFunction, "get_configuration", _get_configuration)
    patches.set(LambdaFunction, "update_configuration", _update_configuration)
    patches.set(LambdaBackend, "put_function_concurrency", _put_function_concurrency)
    patches.set_item(lambda_urls.url_paths, PROVISIONED_PATH, LambdaResponse.dispatch)
    patches.set(LambdaResponse, "put_provisioned_concurrency_config", _put_provisioned)
    patches.set(LambdaResponse, "get_provisioned_concurrency_config", _get_provisioned)
    patches.set(LambdaResponse, "delete_provisioned_concurrency_config", _delete_provisioned)
    patches.set(LambdaResponse, "list_provisioned_concurrency_configs", _list_provisioned)


class ConfigNotFoundError(LambdaClientError):
    code = 404

    def __init__(self) -> None:
        super().__init__(
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        )


@dataclass
class Provisioned:
    """One qualifier's provisioned concurrency: requested now, allocated once READY."""

    requested: int
    since: float  # the layer's clock at the put
    modified: str

    def ready(self) -> bool:
        layer = current()
        return layer is None or layer.clock() >= self.since + layer.pending_seconds

    def answer(self) -> dict[str, Any]:
        allocated = self.requested if self.ready() else 0
        return {
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": allocated,
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "Status": "READY" if self.ready() else "IN_PROGRESS",
            "LastModified": self.modified,
        }


def _configs(backend: LambdaBackend) -> dict[tuple[str, str], Provisioned]:
    """(function name, qualifier) -> its configuration, kept on moto's backend."""
    if not hasattr(backend, "strict_provisioned"):
        backend.strict_provisioned = {}  # type: ignore[attr-defined]
    return backend.strict_provisioned  # type: ignore[attr-defined,no-any-return]


def _function_of(response: LambdaResponse) -> LambdaFunction:
    name = unquote(re.split(r"/functions/", response.path)[1].split("/")[0])
    if ":function:" in name:
        name = name.split(":function:")[1]
    return response.backend.get_function(name.split(":")[0])


def _qualifier(response: LambdaResponse, function: LambdaFunction) -> str:
    """The qualifier asked for, checked: a published version, or an alias of one."""
    qualifier = response.querystring.get("Qualifier", [""])[0]
    storage = response.backend._lambdas
    name = function.function_name
    if qualifier == LATEST:
        raise InvalidParameterValueException(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        )
    try:
        target = storage.get_function_by_name_with_qualifier(name, qualifier)
    except LambdaClientError:
        raise storage.construct_unknown_function_exception(name, qualifier) from None
    if str(target.version) == LATEST:  # an alias of $LATEST
        raise InvalidParameterValueException(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
        )
    return qualifier


def _put_provisioned(self: LambdaResponse) -> Any:
    function = _function_of(self)
    qualifier = _qualifier(self, function)
    requested = int(json.loads(self.body or "{}")["ProvisionedConcurrentExecutions"])
    if requested < 1:
        raise InvalidParameterValueException(
            "1 validation error detected: Value at 'provisionedConcurrentExecutions' failed to "
            "satisfy constraint: Member must have value greater than or equal to 1"
        )
    configs = _configs(self.backend)
    others = sum(
        config.requested
        for (name, other), config in configs.items()
        if name == function.function_name and other != qualifier
    )
    reserved = function.reserved_concurrency
    if reserved is not None and others + requested > int(reserved):
        raise InvalidParameterValueException(
            "Requested Provisioned Concurrency should not be greater than the "
            "reservedConcurrentExecution for function"
        )
    layer = current()
    config = Provisioned(
        requested,
        layer.clock() if layer else 0.0,
        datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    )
    configs[(function.function_name, qualifier)] = config
    return 202, {"status": 202}, json.dumps(config.answer())


def _get_provisioned(self: LambdaResponse) -> Any:
    function = _function_of(self)
    qualifier = _qualifier(self, function)
    config = _configs(self.backend).get((function.function_name, qualifier))
    if config is None:
        raise ConfigNotFoundError()
    return 200, {}, json.dumps(config.answer())


def _delete_provisioned(self: LambdaResponse) -> Any:
    function = _function_of(self)
    qualifier = _qualifier(self, function)
    if _configs(self.backend).pop((function.function_name, qualifier), None) is None:
        raise ConfigNotFoundError()
    return 204, {"status": 204}, ""


def _list_provisioned(self: LambdaResponse) -> Any:
    function = _function_of(self)
    start = int(self.querystring.get("Marker", ["0"])[0] or 0)
    size = int(self.querystring.get("MaxItems", [str(LIST_PAGE)])[0] or LIST_PAGE)
    if not 1 <= size <= LIST_PAGE:
        raise InvalidParameterValueException("MaxItems must be between 1 and 50")
    mine = sorted(
        (qualifier, config)
        for (name, qualifier), config in _configs(self.backend).items()
        if name == function.function_name
    )
    page = mine[start : start + size]
    answer: dict[str, Any] = {
        "ProvisionedConcurrencyConfigs": [
            {"FunctionArn": f"{function.function_arn}:{qualifier}", **config.answer()}
            for qualifier, config in page
        ]
    }
    if start + size < len(mine):
        answer["NextMarker"] = str(start + size)
    return 200, {}, json.dumps(answer)


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
    # "You can't allocate more provisioned concurrency than reserved concurrency for a function"
    # (Developer Guide, "Lambda function scaling"): a reservation below the function's
    # provisioned total, 0 (the throttle) too, is refused. Code and text UNCERTAIN.
    name = function_name.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
    provisioned = sum(c.requested for (f, _), c in _configs(self).items() if f == name)
    if int(reserved_concurrency) < provisioned:
        raise InvalidParameterValueException(
            f"ReservedConcurrentExecutions {reserved_concurrency} should not be lower than "
            f"function's total provisioned concurrency [{provisioned}]."
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
