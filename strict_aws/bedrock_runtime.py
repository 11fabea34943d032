"""Strict Bedrock runtime: a model invocation an SCP denies is refused.

moto's bedrock-runtime answers every InvokeModel with an empty body and evaluates no SCP (and
implements nothing else). Bedrock has no stop: refusing the invocation is how a tripped account
halts it, by the guard's launch block from inside and the payer's quarantine SCPs from outside
(runawaytrain_stack/launch_actions.py, scp.py). Here every bedrock-runtime request asks scps.py
first, under the IAM action AWS authorizes it as: Converse and StartAsyncInvoke as
bedrock:InvokeModel, ConverseStream as bedrock:InvokeModelWithResponseStream ("This operation
requires permission for the bedrock:InvokeModel action", Bedrock API Reference, Converse,
ConverseStream, StartAsyncInvoke); any other operation as `bedrock:<operation>`. The resource is
the model: an ARN as given, or a foundation model's `arn:aws:bedrock:<region>::foundation-model/
<id>` (Service Authorization Reference, Amazon Bedrock, resource type foundation-model).

The refusal: HTTP 403, AccessDeniedException, "User: <arn> is not authorized to perform:
<action> on resource: <arn> with an explicit deny in a service control policy" (the shape of IAM
User Guide, "Troubleshoot access denied error messages").
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto.bedrockruntime.responses import BedrockRuntimeResponse

from strict_aws.patches import Patches
from strict_aws.principals import partition_of, principal_arn, principal_role_arn
from strict_aws.scps import denying_policy

_ORIGINAL_CALL_ACTION = BedrockRuntimeResponse.call_action
AUTHORIZED_AS = {
    "InvokeModel": "bedrock:InvokeModel",
    "Converse": "bedrock:InvokeModel",
    "StartAsyncInvoke": "bedrock:InvokeModel",
    "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
    "ConverseStream": "bedrock:InvokeModelWithResponseStream",
}


def install(patches: Patches) -> None:
    patches.set(BedrockRuntimeResponse, "call_action", _call_action)


def _call_action(self: BedrockRuntimeResponse) -> Any:
    operation = self._get_action() or ""
    action = AUTHORIZED_AS.get(operation, f"bedrock:{operation}")
    model = unquote((self.uri_match or {}).get("modelId", ""))
    resource = (
        model
        if model.startswith("arn:")
        else f"arn:{partition_of(self.region)}:bedrock:{self.region}::foundation-model/{model}"
    )
    account, region, key = self.current_account, self.region, self.access_key
    if denying_policy(account, principal_role_arn(account, region, key), action, resource, region):
        message = (
            f"User: {principal_arn(account, region, key)} is not authorized to perform: "
            f"{action} on resource: {resource} with an explicit deny in a service control policy"
        )
        headers = {
            "status": 403,
            "Content-Type": "application/json",
            "x-amzn-ErrorType": "AccessDeniedException",
        }
        return 403, headers, json.dumps({"message": message})
    return _ORIGINAL_CALL_ACTION(self)
