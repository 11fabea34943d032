"""Strict SageMaker endpoints: `Creating` before `InService`, `Deleting` before gone, and the
refusals AWS answers.

moto makes an endpoint `InService` the moment CreateEndpoint returns, forgets it the moment
DeleteEndpoint returns, deletes an endpoint in any status, and lets CreateEndpoint overwrite an
endpoint that already exists. AWS:
- CreateEndpoint "sets the endpoint status to Creating. After it creates the endpoint, it sets
  the status to InService" (SageMaker API Reference, CreateEndpoint): `Creating` for the layer's
  `pending_seconds`;
- DeleteEndpoint: the endpoint reads `Deleting` ("DeleteEndpoint is executing", API Reference,
  DescribeEndpoint EndpointStatus) for `pending_seconds`, then is gone (how long is not
  documented: a modelling choice);
- DeleteEndpoint of an endpoint in progress (Creating, Updating, SystemUpdating, RollingBack,
  Deleting) is refused: ValidationException `Cannot update in-progress endpoint "<arn>".`
  (the prefix in aws/amazon-sagemaker-operator-for-k8s,
  controllers/sdkutil/clientwrapper/sagemaker_client.go, `DeleteEndpointInProgressMessagePrefix`;
  API Reference EndpointStatus: SystemUpdating "cannot be updated or deleted", Failed:
  "DeleteEndpoint is the only operation that can be performed"; aws/amazon-sagemaker-examples#3188
  waits for InService before it deletes);
- DeleteEndpoint or DescribeEndpoint of an unknown endpoint: ValidationException
  `Could not find endpoint "<arn>".` (aws/amazon-sagemaker-examples#2402 quotes it; moto quotes
  the ARN with ' instead of ");
- DeleteEndpoint makes Application Auto Scaling deregister the endpoint's variants as scalable
  targets, which "deletes the scaling policies and the scheduled actions that are associated
  with it" (SageMaker Developer Guide, "Delete endpoints configured for auto scaling";
  Application Auto Scaling API Reference, DeregisterScalableTarget); moto keeps them. (AWS does
  it only for a caller allowed application-autoscaling:DeregisterScalableTarget, and otherwise
  the delete fails, per the same page; IAM is not modelled here: the guard's role has it);
- CreateEndpoint of a name that exists: ValidationException
  `Cannot create already existing endpoint "<arn>".` (aws/amazon-sagemaker-examples#2491,
  hashicorp/terraform-provider-aws#40080 quote it).
"""

from __future__ import annotations

from typing import Any

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

from strict_aws.active import current
from strict_aws.patches import Patches
from strict_aws.sagemaker_timed import move, settle

STATUS = "endpoint_status"  # FakeEndpoint's attribute
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")

_ORIGINAL: dict[str, Any] = {
    name: getattr(SageMakerModelBackend, name)
    for name in ("create_endpoint", "delete_endpoint", "describe_endpoint", "list_endpoints")
}


def install(patches: Patches) -> None:
    patches.set(SageMakerModelBackend, "create_endpoint", _create_endpoint)
    patches.set(SageMakerModelBackend, "delete_endpoint", _delete_endpoint)
    patches.set(SageMakerModelBackend, "describe_endpoint", _describe_endpoint)
    patches.set(SageMakerModelBackend, "list_endpoints", _list_endpoints)


def _arn(backend: SageMakerModelBackend, name: str) -> str:
    return str(FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name))


def _create_endpoint(
    self: SageMakerModelBackend,
    endpoint_name: str,
    endpoint_config_name: str,
    tags: list[dict[str, str]],
) -> FakeEndpoint:
    if current() is None:
        return _ORIGINAL["create_endpoint"](self, endpoint_name, endpoint_config_name, tags)
    settle()
    if endpoint_name in self.endpoints:
        raise ValidationError(
            message=f'Cannot create already existing endpoint "{_arn(self, endpoint_name)}".'
        )
    endpoint = _ORIGINAL["create_endpoint"](self, endpoint_name, endpoint_config_name, tags)
    move(endpoint, STATUS, through="Creating", to="InService", name=endpoint_name)
    return endpoint


def _delete_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> None:
    if current() is None:
        _ORIGINAL["delete_endpoint"](self, endpoint_name)
        return
    settle()
    endpoint = self.endpoints.get(endpoint_name)
    if endpoint is None:
        raise ValidationError(message=f'Could not find endpoint "{_arn(self, endpoint_name)}".')
    if endpoint.endpoint_status in IN_PROGRESS:
        raise ValidationError(
            message=f'Cannot update in-progress endpoint "{_arn(self, endpoint_name)}".'
        )

    _deregister_scaling(self, endpoint_name)

    def gone() -> None:
        if self.endpoints.get(endpoint_name) is endpoint:
            del self.endpoints[endpoint_name]

    move(endpoint, STATUS, through="Deleting", to="Deleting", name=endpoint_name, then=gone)


def _describe_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> dict[str, Any]:
    if current() is None:
        return dict(_ORIGINAL["describe_endpoint"](self, endpoint_name))
    settle()
    if endpoint_name not in self.endpoints:
        raise ValidationError(message=f'Could not find endpoint "{_arn(self, endpoint_name)}".')
    return dict(_ORIGINAL["describe_endpoint"](self, endpoint_name))


def _list_endpoints(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
    if current() is not None:
        settle()
    return _ORIGINAL["list_endpoints"](self, *args, **kwargs)


def _deregister_scaling(backend: SageMakerModelBackend, endpoint_name: str) -> None:
    scaling = applicationautoscaling_backends[backend.account_id][backend.region_name]
    prefix = f"endpoint/{endpoint_name}/variant/"

    def of_endpoint(item: Any) -> bool:
        return item.service_namespace == "sagemaker" and item.resource_id.startswith(prefix)

    for targets in scaling.targets.values():
        for resource_id in [r for r, target in targets.items() if of_endpoint(target)]:
            del targets[resource_id]
    for key in [k for k, policy in scaling.policies.items() if of_endpoint(policy)]:
        del scaling.policies[key]
    scaling.scheduled_actions = [a for a in scaling.scheduled_actions if not of_endpoint(a)]
