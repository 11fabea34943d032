"""Strict Lambda: a function's configuration has a RevisionId, and a stale one is refused.

AWS returns RevisionId ("the latest updated revision of the function or alias") in every
FunctionConfiguration (GetFunction, GetFunctionConfiguration, UpdateFunctionConfiguration; Lambda
API Reference, "FunctionConfiguration"), and UpdateFunctionConfiguration with a RevisionId that is
not the latest fails with PreconditionFailedException, HTTP 412: "The RevisionId provided does
not match the latest RevisionId for the Lambda function or alias" (Lambda API Reference,
UpdateFunctionConfiguration, "Errors"). moto 5.2 gives functions no RevisionId (only aliases have
one) and ignores the parameter. `runawaytrain pass` reads the variables, then writes them all back
under the RevisionId it read (runawaytrain_cli/pass_guard.py). Scope: configuration updates
bump the revision; code updates and publishing versions do not (nothing here relies on them).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.awslambda.exceptions import PreconditionFailedException
from moto.awslambda.models import LambdaFunction

from strict_aws.patches import Patches

ORIGINAL_GET_CONFIGURATION = LambdaFunction.get_configuration
ORIGINAL_UPDATE_CONFIGURATION = LambdaFunction.update_configuration


def install(patches: Patches) -> None:
    patches.set(LambdaFunction, "get_configuration", _get_configuration)
    patches.set(LambdaFunction, "update_configuration", _update_configuration)


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
