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

With IAM authentication on (moto's enable_iam_authentication, or moto_server's
INITIAL_NO_AUTH_ACTION_COUNT), the caller's identity policies are evaluated as well, under the
same action and resource: the guard's launch block (an explicit Deny of bedrock:Invoke* attached
at a trip) refuses "... with an explicit deny in an identity-based policy", and a caller no
policy allows "... because no identity-based policy allows the <action> action" (same IAM page).
moto alone evaluates the operation's own name (bedrock:Converse, which no policy names: a
Converse would pass a Deny of bedrock:InvokeModel) on resource `*`, and answers an XML error
that botocore, reading this JSON protocol, reports as code "403" rather than
AccessDeniedException.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from moto import settings
from moto.bedrockruntime.responses import BedrockRuntimeResponse
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMPolicy, IAMRequest, PermissionResult

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
    # Authorized here, under the action AWS authorizes it as (_identity_refusal), not by moto.
    patches.set(BedrockRuntimeResponse, "_authenticate_and_authorize_normal_action", _no_auth)


def _no_auth(self: BedrockRuntimeResponse, resource: str = "*") -> None:
    return None


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
    user = principal_arn(account, region, key)
    if denying_policy(account, principal_role_arn(account, region, key), action, resource, region):
        return _refused(
            f"User: {user} is not authorized to perform: {action} on resource: {resource} "
            "with an explicit deny in a service control policy"
        )
    why = _identity_refusal(self, action, resource)
    if why is not None:
        return _refused(f"User: {user} is not authorized to perform: {action} {why}")
    return _ORIGINAL_CALL_ACTION(self)


def _refused(message: str) -> Any:
    headers = {
        "status": 403,
        "Content-Type": "application/json",
        "x-amzn-ErrorType": "AccessDeniedException",
    }
    return 403, headers, json.dumps({"message": message})


def _identity_refusal(self: BedrockRuntimeResponse, action: str, resource: str) -> str | None:
    """Why the caller's identity policies refuse `action` on `resource`, or None (allowed, or
    IAM authentication off), counting requests towards moto's INITIAL_NO_AUTH_ACTION_COUNT as
    moto's own check does (moto.core.authorization)."""
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return None
    request = IAMRequest(
        account_id=self.current_account,
        method=self.method,
        path=self.raw_path,
        data=self.data,
        body=self.raw_body,
        headers=self.headers,
        action=action.split(":", 1)[1],
    )
    request.check_signature()
    permitted = False
    for policy in request._access_key.collect_policies():
        result = IAMPolicy(policy).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return f"on resource: {resource} with an explicit deny in an identity-based policy"
        permitted = permitted or result == PermissionResult.PERMITTED
    if permitted:
        return None
    return f"because no identity-based policy allows the {action} action"
