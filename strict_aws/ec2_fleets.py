"""Strict Spot requests and fleets: what moto drops or never does for Spot Fleets and EC2 Fleets.

- an instance a Spot request launched carries its request id and `spot` lifecycle;
- a Spot request whose ValidFrom lies ahead stays `open` and launches nothing, and a cancelled
  request stays listed as `cancelled` (moto fulfils every request at once and forgets a
  cancelled one);
- a Spot Fleet keeps its Type (`maintain` by default), DescribeSpotFleetRequests reports it, and
  CreateTags on its sfr- id shows;
- `maintain` fleets replace terminated capacity (called after every TerminateInstances);
- ModifyFleet (missing in moto) sets the target, honouring ExcessCapacityTerminationPolicy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.fleets import Fleet
from moto.ec2.models.instances import Instance
from moto.ec2.models.spot_requests import (
    SpotFleetRequest,
    SpotInstanceRequest,
    SpotRequestBackend,
)
from moto.ec2.responses.fleets import Fleets
from moto.ec2.responses.spot_fleets import SpotFleets

from strict_aws.patches import Patches

_ORIGINAL: dict[str, Any] = {
    "launch_spot_instance": SpotInstanceRequest.launch_instance,
    "spot_request_init": SpotInstanceRequest.__init__,
    "request_spot_fleet_response": SpotFleets.request_spot_fleet,
    "sfr_config": SpotFleetRequest.spot_fleet_request_config,
}


def install(patches: Patches) -> None:
    patches.set(SpotInstanceRequest, "launch_instance", _launch_spot_instance)
    patches.set(SpotInstanceRequest, "__init__", _spot_request_init)
    patches.set(SpotInstanceRequest, "instance_id", property(_spot_request_instance_id))
    patches.set(SpotRequestBackend, "cancel_spot_instance_requests", _cancel_spot_requests)
    patches.set(SpotFleets, "request_spot_fleet", _request_spot_fleet_response)
    patches.set(SpotFleetRequest, "tag_set", property(_sfr_tag_set))
    patches.set(SpotFleetRequest, "spot_fleet_request_config", property(_sfr_config))
    patches.set(Fleets, "modify_fleet", _modify_fleet_response)


def _launch_spot_instance(self: SpotInstanceRequest) -> Instance | None:
    if _scheduled_later(self.valid_from):
        return None  # see _spot_request_init
    instance: Instance = _ORIGINAL["launch_spot_instance"](self)
    # DescribeInstances carries SpotInstanceRequestId for every instance a Spot request launched
    # (EC2 API Reference, "Instance": spotInstanceRequestId, instanceLifecycle).
    instance.spot_instance_request_id = self.id
    instance.lifecycle = "spot"
    return instance


def _scheduled_later(valid_from: Any) -> bool:
    if not valid_from:
        return False
    if isinstance(valid_from, str):
        valid_from = datetime.fromisoformat(valid_from)
    if valid_from.tzinfo is None:
        valid_from = valid_from.replace(tzinfo=UTC)
    return bool(valid_from > datetime.now(UTC))


def _spot_request_init(self: SpotInstanceRequest, *args: Any, **kwargs: Any) -> None:
    _ORIGINAL["spot_request_init"](self, *args, **kwargs)
    if self.instance is None:
        # A request whose ValidFrom lies ahead "becomes active at this date and time"
        # (EC2 API Reference, RequestSpotInstances ValidFrom): until then it is `open` with
        # status not-scheduled-yet and no instance (EC2 User Guide, "Spot request status
        # codes"). moto fulfils it at once. The layer never fulfils it later: a test that wants
        # an open request (what the guard cancels) makes one this way.
        self.state = "open"
        self._status_code = "not-scheduled-yet"
        self.status_message = "The request will not be evaluated until the scheduled date."


def _spot_request_instance_id(self: SpotInstanceRequest) -> str | None:
    # InstanceId: "if an instance has been launched to fulfill the Spot Instance request"
    # (EC2 API Reference, SpotInstanceRequest); an open request has none.
    return None if self.instance is None else str(self.instance.id)


def _cancel_spot_requests(
    self: SpotRequestBackend, request_ids: list[str]
) -> list[SpotInstanceRequest]:
    # A cancelled request stays listed by DescribeSpotInstanceRequests, state `cancelled`:
    # "Spot Instance requests are deleted four hours after they are canceled and their instances
    # are terminated" (EC2 API Reference, DescribeSpotInstanceRequests); status
    # canceled-before-fulfillment, or request-canceled-and-instance-running when its instance
    # runs on, which cancelling never terminates (EC2 User Guide, "Spot request status codes",
    # "Cancel a Spot Instance request"). moto forgets it at once. Not modelled: the deletion
    # four hours later.
    cancelled = []
    for request_id in request_ids:
        request = self.spot_instance_requests[request_id]
        instance = request.instance
        running = instance is not None and instance.state not in ("terminated", "shutting-down")
        request.state = "cancelled"
        request._status_code = (
            "request-canceled-and-instance-running" if running else "canceled-before-fulfillment"
        )
        request.status_message = "Your Spot request is canceled."
        cancelled.append(request)
    return cancelled


def _request_spot_fleet_response(self: SpotFleets) -> Any:
    before = set(self.ec2_backend.spot_fleet_requests)
    result = _ORIGINAL["request_spot_fleet_response"](self)
    # moto drops SpotFleetRequestConfig.Type; AWS's default is `maintain` (EC2 API Reference,
    # "SpotFleetRequestConfigData": Type, default maintain).
    fleet_type = self._get_param("SpotFleetRequestConfig.Type") or "maintain"
    for request_id in set(self.ec2_backend.spot_fleet_requests) - before:
        self.ec2_backend.spot_fleet_requests[request_id].strict_type = fleet_type
    return result


def _sfr_config(self: SpotFleetRequest) -> dict[str, Any]:
    # DescribeSpotFleetRequests carries SpotFleetRequestConfig.Type (EC2 API Reference,
    # "SpotFleetRequestConfigData"); moto leaves it out.
    config: dict[str, Any] = _ORIGINAL["sfr_config"].fget(self)
    config.setdefault("Type", getattr(self, "strict_type", "maintain"))
    return config


def _sfr_tag_set(self: SpotFleetRequest) -> list[dict[str, str]]:
    # CreateTags on an sfr- id must show in DescribeSpotFleetRequests (getmoto/moto#6310).
    tags = dict(self.tags.get("spot-fleet-request", {}))
    tags.update(self.ec2_backend.tags.get(self.id, {}))
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _fleet_instances(fleet: Fleet | SpotFleetRequest) -> list[Instance]:
    found = [request.instance for request in fleet.spot_requests]
    if isinstance(fleet, Fleet):
        found += [item["instance"] for item in fleet.on_demand_instances]
    return [i for i in found if i.state not in ("terminated", "shutting-down")]


def _weight(fleet: Fleet | SpotFleetRequest, instance: Instance) -> float:
    for spec in fleet.launch_specs:
        if spec.instance_type == instance.instance_type:
            return float(spec.weighted_capacity)
    return 1.0


def maintain_fleets(backend: Any) -> None:
    """Replace terminated capacity of active `maintain` fleets, synchronously.

    EC2 User Guide, "EC2 Fleet request types" / "Spot Fleet request types"
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-fleet-request-type.html): a
    `maintain` fleet replaces interrupted or terminated instances to keep its target capacity.
    """
    fleets: list[Fleet | SpotFleetRequest] = [
        f
        for f in backend.spot_fleet_requests.values()
        if getattr(f, "strict_type", "maintain") == "maintain"
    ]
    fleets += [f for f in backend.fleets.values() if f.fleet_type == "maintain"]
    for fleet in fleets:
        if fleet.state not in ("active", "modifying"):
            continue  # cancelled or deleted fleets replace nothing
        fulfilled = sum(_weight(fleet, i) for i in _fleet_instances(fleet))
        fleet.fulfilled_capacity = fulfilled
        shortfall = fleet.target_capacity - fulfilled
        if shortfall <= 0:
            continue
        default = "spot"
        if isinstance(fleet, Fleet):
            spec = fleet.target_capacity_specification
            default = spec.get("DefaultTargetCapacityType") or "on-demand"
        fleet.fulfilled_capacity = fulfilled
        if default == "spot":
            fleet.create_spot_requests(shortfall)
        else:
            fleet.create_on_demand_requests(shortfall)  # type: ignore[union-attr]
        fleet.fulfilled_capacity = sum(_weight(fleet, i) for i in _fleet_instances(fleet))


def _modify_fleet_response(self: Fleets) -> ActionResult:
    # ModifyFleet (EC2 API Reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/
    # API_ModifyFleet.html), missing from moto: TotalTargetCapacity and
    # ExcessCapacityTerminationPolicy (no-termination keeps the running instances).
    fleet_id = self._get_param("FleetId")
    fleet = self.ec2_backend.get_fleet(fleet_id)
    if fleet is None:
        raise EC2ClientError("InvalidFleetId.NotFound", f"The fleet ID '{fleet_id}' does not exist")
    spec = self._get_param("TargetCapacitySpecification", {}) or {}
    policy = (
        self._get_param("ExcessCapacityTerminationPolicy")
        or fleet.excess_capacity_termination_policy
    )
    self.error_on_dryrun()
    if "TotalTargetCapacity" in spec:
        target = int(spec["TotalTargetCapacity"])
        fleet.target_capacity = target
        fleet.target_capacity_specification = {
            **fleet.target_capacity_specification,
            "TotalTargetCapacity": target,
        }
        live = sum(_weight(fleet, i) for i in _fleet_instances(fleet))
        if live > target and policy == "termination":
            fleet.fulfilled_capacity = live
            fleet.terminate_instances()
        elif live < target:
            maintain_fleets(self.ec2_backend)
    return ActionResult({"Return": True})
