"""What kind of capacity each pending or running instance is (`Kind`): treatment.py says what a
trip does to each kind.

The census already lists every pending or running instance (DescribeInstanceStatus); what it
does not say is which of them need care. Classification costs what those few cost, not what
every instance costs (a full DescribeInstances of 1000 instances is about 0.6 s of Lambda CPU to
parse, issue 20), from reads the halt makes side by side:
- the region's live Spot requests (spot.read_spot_requests), which it needs anyway to tell
  persistent from one-time: each fulfilled request names its instance ("You can use
  DescribeSpotInstanceRequests to find a running Spot Instance by examining the response. If
  the status of the Spot Instance is fulfilled, the instance ID appears in the response", EC2
  API Reference, DescribeSpotInstanceRequests);
- DescribeInstances filtered on `tag-key` = the tags AWS puts on what a Spot Fleet or an EC2
  Fleet launches: every fleet member, Spot or on-demand, with its lifecycle, so that a
  `maintain` fleet is set to 0 even when none of its Spot instances is left (whether a fleet
  replaces stopped on-demand members is not settled: "Create an EC2 Fleet" speaks of interrupted
  Spot Instances, "Work with EC2 Fleet" of "the target number of running instances");
- DescribeInstances filtered on `root-device-type=instance-store`, only where `unstoppable:
  terminate-all` acts on them. Elsewhere such an instance is stopped like any other and AWS's
  refusal (UnsupportedOperation, "does not have an 'ebs' root device type") leaves it running,
  reported: the same outcome, without a call in every region for capacity that is rare
  (instance-store roots need an AMI registered from an S3 manifest).
Every other counted instance is taken for plain on-demand, EBS-backed: stopped. Should one be a
Spot instance none of these reads named (its request cancelled, or not listed), AWS refuses its
stop with UnsupportedOperation; the halt then describes the refused instances by id and treats
them by what they are (halt.Refused). Filter names and values: EC2 API Reference,
DescribeInstances, Filters.

IAM: ec2:DescribeInstances (no resource-level permissions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

COUNTED_STATES = ("pending", "running")
PAGE_SIZE = 1000  # DescribeInstances MaxResults upper bound (EC2 API Reference)
# Tags AWS adds to the instances it launches (EC2 User Guide, "Tag your resources": tags with the
# aws: prefix; Spot Fleet: aws:ec2spot:fleet-request-id; EC2 Fleet: aws:ec2:fleet-id).
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


FLEET_FILTER = {"Name": "tag-key", "Values": [SPOT_FLEET_TAG, EC2_FLEET_TAG]}
INSTANCE_STORE_FILTER = {"Name": "root-device-type", "Values": ["instance-store"]}


def special_filters(terminate_instance_store: bool) -> list[dict[str, Any]]:
    """The filters that find the instances needing care, one DescribeInstances each."""
    return [FLEET_FILTER, *([INSTANCE_STORE_FILTER] if terminate_instance_store else [])]


def describe_special(ec2: Any, special: dict[str, Any]) -> list[Target]:
    """The pending or running instances matching `special`, following every page."""
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[special, {"Name": "instance-state-name", "Values": list(COUNTED_STATES)}],
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    return _targets(pages)


def describe_ids(ec2: Any, ids: Sequence[str]) -> list[Target]:
    """The pending or running ones of `ids`, as DescribeInstances says they are."""
    return _targets([ec2.describe_instances(InstanceIds=list(ids))])


def _targets(pages: Any) -> list[Target]:
    found = []
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                if instance["State"]["Name"] in COUNTED_STATES:  # the filter is the contract
                    found.append(target_of(instance))
    return found


def classify(
    counted: Sequence[Target], special: Sequence[Target], spot_requests: Mapping[str, str]
) -> list[Target]:
    """The census's instances, each as the special reads describe it where they do, as a Spot
    instance of its request where `spot_requests` ({instance id: request id}) names it, plain
    otherwise; one the census missed (launched since) is added: it is pending or running."""
    described = {target.id: target for target in special}
    merged = []
    for target in counted:
        if target.id in described:
            merged.append(described.pop(target.id))
        elif target.id in spot_requests:
            merged.append(replace(target, spot=True, spot_request=spot_requests[target.id]))
        else:
            merged.append(target)
    return merged + sorted(described.values(), key=lambda target: target.id)


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
