"""What kind of capacity each pending or running instance is (`Kind`): treatment.py says what a
trip does to each kind.

One DescribeInstances per tripped region (1000 instances a page) says, per instance, its state,
whether it is Spot (and from which request), whether its root device is instance store, and the
tags AWS puts on capacity it launches for an Auto Scaling group, a Spot Fleet or an EC2 Fleet.
The census does not read this (DescribeInstanceStatus is 6x cheaper to parse): only a trip does.

IAM: ec2:DescribeInstances (no resource-level permissions).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    # Spot, no fleet, whose request DescribeSpotInstanceRequests did not return (the call
    # failed, or did not list it): nothing says AWS will not stop it, so a stop is tried.
    UNREAD_SPOT = "unread-spot"
    ONE_TIME_SPOT = "one-time-spot"  # a fleet's, or its request read as one-time: AWS cannot


def kind_of(target: Target, persistent: Mapping[str, bool]) -> Kind:
    """`persistent`: {request id: whether it is persistent} for the Spot requests read
    (spot.read_spot_requests). AWS stops a Spot instance only if a persistent request launched
    it and it is not part of a fleet (EC2 User Guide, "Stop a Spot Instance"); one whose request
    was not read is not known to be one-time, and terminating it would lose its root volume."""
    if target.spot:
        if target.spot_fleet or target.ec2_fleet:
            return Kind.ONE_TIME_SPOT
        read = persistent.get(target.spot_request or "")
        if read is None:
            return Kind.UNREAD_SPOT
        return Kind.STOPPABLE_SPOT if read else Kind.ONE_TIME_SPOT
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
