"""What kind of capacity each pending or running instance is: it decides how a trip halts it.

One DescribeInstances per tripped region (1000 instances a page) says, per instance, its state,
whether it is Spot (and from which request), whether its root device is instance store, and the
tags AWS puts on capacity it launches for an Auto Scaling group, a Spot Fleet or an EC2 Fleet.
The census does not read this (DescribeInstanceStatus is 6x cheaper to parse): only a trip does.

IAM: ec2:DescribeInstances (no resource-level permissions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COUNTED_STATES = ("pending", "running")
PAGE_SIZE = 1000  # DescribeInstances MaxResults upper bound (EC2 API Reference)
# Tags AWS adds to the instances it launches (EC2 User Guide, "Tag your resources": tags with the
# aws: prefix; Spot Fleet: aws:ec2spot:fleet-request-id; EC2 Fleet: aws:ec2:fleet-id; Auto
# Scaling: aws:autoscaling:groupName).
GROUP_TAG = "aws:autoscaling:groupName"
SPOT_FLEET_TAG = "aws:ec2spot:fleet-request-id"
EC2_FLEET_TAG = "aws:ec2:fleet-id"


@dataclass(frozen=True)
class Target:
    """One instance a trip must halt, as DescribeInstances shows it."""

    id: str
    state: str  # pending | running
    spot: bool = False  # InstanceLifecycle "spot"
    spot_request: str | None = None  # SpotInstanceRequestId, when AWS reports one
    instance_store: bool = False  # RootDeviceType "instance-store": cannot be stopped
    spot_fleet: str | None = None
    ec2_fleet: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


def describe_targets(ec2: Any) -> list[Target]:
    """Every pending or running instance of the client's region, following every page."""
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": list(COUNTED_STATES)}],
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    found = []
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                state = instance["State"]["Name"]
                if state in COUNTED_STATES:  # the filter is the contract; re-check anyway
                    found.append(target_of(instance))
    return found


def target_of(instance: dict[str, Any]) -> Target:
    tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
    return Target(
        id=instance["InstanceId"],
        state=instance["State"]["Name"],
        spot=instance.get("InstanceLifecycle") == "spot",
        spot_request=instance.get("SpotInstanceRequestId"),
        instance_store=instance.get("RootDeviceType") == "instance-store",
        spot_fleet=tags.get(SPOT_FLEET_TAG),
        ec2_fleet=tags.get(EC2_FLEET_TAG),
    )
