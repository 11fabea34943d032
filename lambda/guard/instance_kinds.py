"""What kind of capacity each pending or running instance is (`Kind`): treatment.py says what a
trip does to each kind.

One DescribeInstances per tripped region (1000 instances a page) says, per instance, its state,
whether it is Spot (and from which request), whether its root device is instance store, and the
tags AWS puts on capacity it launches for an Auto Scaling group, a Spot Fleet or an EC2 Fleet.
The census does not read this (DescribeInstanceStatus is 6x cheaper to parse): only a trip does.

IAM: ec2:DescribeInstances (no resource-level permissions).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
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


class Kind(Enum):
    """What an instance is, as far as halting it goes: whether AWS lets us stop it, and whether
    losing it is acceptable by contract."""

    ON_DEMAND = "on-demand"  # not Spot, EBS root device: stopped, never terminated
    INSTANCE_STORE = "instance-store"  # not Spot, instance-store root device: AWS cannot stop it
    STOPPABLE_SPOT = "stoppable-spot"  # Spot of a persistent request, no fleet: AWS stops it
    ONE_TIME_SPOT = "one-time-spot"  # every other Spot instance: AWS cannot stop it


def kind_of(target: Target, stoppable_spot: Collection[str]) -> Kind:
    """`stoppable_spot`: the ids of the Spot instances AWS lets us stop (spot.stoppable_spot)."""
    if target.spot:
        return Kind.STOPPABLE_SPOT if target.id in stoppable_spot else Kind.ONE_TIME_SPOT
    if target.instance_store:
        return Kind.INSTANCE_STORE
    return Kind.ON_DEMAND


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
