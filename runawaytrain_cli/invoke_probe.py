"""A Bedrock invocation probe: whether a principal of an account can invoke a model now.

Bedrock has no stop, so a tripped account's Bedrock spend is halted only by refusing the
invocation (the launch block inside, the quarantine SCPs from the payer). The drill asks this
after the quarantine is attached (refused) and after it is released (invoked); against the
emulator the refusal is strict_aws/bedrock_runtime.py evaluating the attached SCPs. It spends
nothing in the emulator; against real AWS it would invoke the model once, so only the drill uses
it.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

PROBE_MODEL = "amazon.titan-text-lite-v1"
# AWS answers an invocation a policy denies with AccessDeniedException (Bedrock API Reference,
# InvokeModel, "Errors").
REFUSALS = ("AccessDeniedException",)


def try_invoke_model(session: Any, region: str, model_id: str = PROBE_MODEL) -> tuple[bool, str]:
    """One InvokeModel with `session` (boto3) in `region`: (invoked?, the model id or the error
    code AWS answered)."""
    runtime = session.client("bedrock-runtime", region_name=region)
    try:
        runtime.invoke_model(
            modelId=model_id,
            body=json.dumps({"inputText": "runawaytrain probe"}),
            contentType="application/json",
            accept="application/json",
        )
    except ClientError as error:
        return False, str(error.response.get("Error", {}).get("Code", "error"))
    return True, model_id
