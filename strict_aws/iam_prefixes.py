"""IAM action names as AWS authorizes them: a service whose SigV4 signing name is not its IAM
prefix is checked under the prefix.

With IAM authentication on, moto names the action `<signing name>:<Operation>`, the service
read from the request's credential scope. CloudWatch signs as `monitoring` but its actions are
`cloudwatch:*` (Service Authorization Reference, "Actions, resources, and condition keys for
Amazon CloudWatch": service prefix `cloudwatch`; botocore's model: signingName `monitoring`), so
moto refused a guard role that AWS allows GetMetricData (the Bedrock token census) as
"not authorized to perform: monitoring:GetMetricData".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.iam.access_control import IAMRequestBase

from strict_aws.patches import Patches

IAM_PREFIX_OF_SIGNING_NAME = {"monitoring": "cloudwatch"}


def install(patches: Patches) -> None:
    patches.set(IAMRequestBase, "__init__", _named_as_authorized(IAMRequestBase.__init__))


def _named_as_authorized(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: IAMRequestBase, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        signing_name, _, operation = self._action.partition(":")
        if signing_name in IAM_PREFIX_OF_SIGNING_NAME:
            self._action = f"{IAM_PREFIX_OF_SIGNING_NAME[signing_name]}:{operation}"

    return init
