"""A Region closed by a service control policy: every EC2 request there fails with 403.

Organizations SCPs themselves live in organizations.py; this is what a member account's caller
sees in a Region an SCP denies (`StrictAWS.deny_region_by_scp`).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.ec2.responses import EC2Response

from strict_aws.active import current
from strict_aws.patches import Patches
from strict_aws.principals import principal_arn

_ORIGINAL_CALL_ACTION = EC2Response.call_action


def install(patches: Patches) -> None:
    patches.set(EC2Response, "call_action", _ec2_call_action)


def _ec2_call_action(self: EC2Response) -> Any:
    layer = current()
    if layer is not None and layer.is_denied_by_scp(self.region, "ec2"):
        # EC2 answers UnauthorizedOperation, HTTP 403. Text as quoted from AWS in
        # aws/karpenter-provider-aws#7370 and #8190 ("... is not authorized to perform:
        # ec2:RunInstances on resource: ... with an explicit deny in a service control policy.
        # Encoded authorization failure message: ..."). IAM User Guide, "Troubleshoot access
        # denied error messages" (https://docs.aws.amazon.com/IAM/latest/UserGuide/
        # troubleshoot_access-denied.html) gives the shape. Simplified here: no resource
        # clause, no encoded message (Describe* calls have neither).
        action = self._get_action()
        arn = principal_arn(self.current_account, self.region, self.access_key)
        message = (
            f"You are not authorized to perform this operation. User: {arn} is not authorized "
            f"to perform: ec2:{action} with an explicit deny in a service control policy"
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>UnauthorizedOperation</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
        )
        return 403, {"status": 403, "Content-Type": "text/xml"}, body
    return _ORIGINAL_CALL_ACTION(self)
