"""Strict Spot requests of instances launched as Spot without RequestSpotInstances: listed by
DescribeSpotInstanceRequests, and what stopping and starting a Spot instance does to its request.

moto lists only the requests RequestSpotInstances made, and never changes a request's state when
its instance is stopped or started. AWS:
- RunInstances with InstanceMarketOptions (MarketType spot) makes a Spot request, one-time
  unless SpotOptions.SpotInstanceType says persistent, with the interruption behaviour asked
  for (default terminate), and DescribeSpotInstanceRequests lists it `active` with its
  InstanceId (EC2 API Reference, "SpotMarketOptions": SpotInstanceType, "The Spot Instance
  request type ... Default: one-time", InstanceInterruptionBehavior "Default: terminate"; EC2
  User Guide, "Spot request status": a fulfilled request is `active`). So does the Spot share of
  an Auto Scaling group (one-time requests: auto_scaling.py);
- stopping a Spot instance disables its persistent request (`disabled`,
  `instance-stopped-by-user`), starting it makes it `active` (`fulfilled`) again (EC2 User Guide,
  "Cancel a Spot Instance request": "Your Spot Instance request is disabled when you stop your
  Spot Instance"; "State changes for a Spot request", Fulfilled: "fulfilled | active | stopped ->
  running", and "instance-stopped-by-user | disabled | stopped").
"""

from __future__ import annotations

from moto.ec2.models.instances import Instance
from moto.ec2.models.spot_requests import SpotInstanceRequest
from moto.ec2.utils import random_spot_request_id

DEFAULT_TYPE = "one-time"
DEFAULT_INTERRUPTION = "terminate"


class _LaunchedSpotRequest(SpotInstanceRequest):
    """A Spot request AWS made for an instance already launched (RunInstances, Auto Scaling)."""

    def __init__(self, instance: Instance, spot_type: str, interruption: str) -> None:
        self._launched = instance
        super().__init__(
            instance.ec2_backend,
            random_spot_request_id(),
            price=None,  # type: ignore[arg-type]  # none asked: AWS shows none either
            image_id=instance.image_id,
            spot_instance_type=spot_type,
            valid_from=None,
            valid_until=None,
            launch_group=None,
            availability_zone_group=None,
            key_name=instance.key_name,
            security_groups=[],
            user_data=None,
            instance_type=instance.instance_type,
            placement=instance.availability_zone,
            kernel_id=None,
            ramdisk_id=None,
            monitoring_enabled=False,
            subnet_id=instance.subnet_id,
            tags={},
            spot_fleet_id=None,
            instance_interruption_behaviour=interruption,
        )

    def launch_instance(self) -> Instance:
        return self._launched  # launched already: the request only records it


def register(
    instance: Instance, spot_type: str = DEFAULT_TYPE, interruption: str = DEFAULT_INTERRUPTION
) -> None:
    """Give a Spot `instance` the request AWS makes for it, listed `active`."""
    request = _LaunchedSpotRequest(instance, spot_type, interruption)
    instance.ec2_backend.spot_instance_requests[request.id] = request
    instance.spot_instance_request_id = request.id
    instance.lifecycle = "spot"


def request_of(instance: Instance) -> SpotInstanceRequest | None:
    """The Spot request that launched `instance`, unless it was cancelled (a cancelled request
    stays listed a while, as `cancelled`: ec2_fleets.py)."""
    for request in instance.ec2_backend.spot_instance_requests.values():
        if request.instance is instance and request.state != "cancelled":
            return request
    return None


def instance_stopped(instance: Instance) -> None:
    request = request_of(instance)
    if request is not None and request.type == "persistent":
        request.state = "disabled"
        request._status_code = "instance-stopped-by-user"
        request.status_message = (
            "Your instance was stopped because a user stopped the instance or ran the shutdown "
            "command from the instance."
        )


def instance_started(instance: Instance) -> None:
    request = request_of(instance)
    if request is not None and request.state == "disabled":
        request.state = "active"
        request._status_code = "fulfilled"
        request.status_message = ""
