"""EC2 read APIs that moto lacks and the guard calls, answered as AWS documents them."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2 import utils as ec2_utils
from moto.ec2.models.instances import Instance
from moto.ec2.responses import EC2Response

from strict_aws.patches import Patches

# DescribeInstances filters the guard relies on that moto raises NotImplementedError for, mapped
# to the moto Instance attribute that holds the same value (EC2 API Reference, DescribeInstances,
# Filters: "instance-lifecycle - Indicates whether this is a Spot Instance, a Scheduled Instance,
# or a Capacity Block (spot | scheduled | capacity-block)"; "root-device-type - The type of the
# root device volume (ebs | instance-store)"). An on-demand instance has no lifecycle, so it
# matches no instance-lifecycle value, as on AWS.
INSTANCE_FILTERS = {"instance-lifecycle": "lifecycle", "root-device-type": "root_device_type"}


def install(patches: Patches) -> None:
    for name, attribute in INSTANCE_FILTERS.items():
        if name not in ec2_utils.filter_dict_attribute_mapping:
            patches.set_item(ec2_utils.filter_dict_attribute_mapping, name, attribute)
    if not hasattr(EC2Response, "describe_instance_image_metadata"):
        patches.set(EC2Response, "describe_instance_image_metadata", _instance_image_metadata)
    if not hasattr(EC2Response, "describe_capacity_reservations"):
        patches.set(EC2Response, "describe_capacity_reservations", _no_capacity_reservations)


def _no_capacity_reservations(self: EC2Response) -> ActionResult:
    """moto has no DescribeCapacityReservations; an account that reserved nothing answers this
    (EC2 API Reference, DescribeCapacityReservations: an empty CapacityReservations list)."""
    return ActionResult({"CapacityReservations": []})


def _instance_image_metadata(self: EC2Response) -> ActionResult:
    """moto has no DescribeInstanceImageMetadata (the weighted census reads it). EC2 API
    Reference, DescribeInstanceImageMetadata: per instance InstanceId, InstanceType, LaunchTime,
    AvailabilityZone, ZoneId, State, OwnerId, Tags, ImageMetadata; filters include
    instance-state-name and instance-type; MaxResults up to 1000 with NextToken."""
    filters = self._filters_from_querystring()
    wanted = {"instance-state-name", "instance-type", "availability-zone", "instance-id"}
    instances = [
        instance
        for instance in self.ec2_backend.all_instances()
        if all(
            _image_metadata_field(instance, name) in values
            for name, values in filters.items()
            if name in wanted
        )
    ]
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 1000)
    page = instances[start : start + size]
    result: dict[str, Any] = {
        "InstanceImageMetadata": [
            {
                "InstanceId": instance.id,
                "InstanceType": instance.instance_type,
                "LaunchTime": instance.launch_time,
                "AvailabilityZone": instance.placement,
                "State": {"Code": instance.state_code, "Name": instance.state},
                "OwnerId": instance.owner_id,
                "Tags": [{"Key": t["key"], "Value": t["value"]} for t in instance.get_tags()],
                "ImageMetadata": {"ImageId": instance.image_id},
            }
            for instance in page
        ]
    }
    if start + size < len(instances):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def _image_metadata_field(instance: Instance, name: str) -> str:
    return {
        "instance-state-name": instance.state,
        "instance-type": instance.instance_type,
        "availability-zone": instance.placement,
        "instance-id": instance.id,
    }[name]
