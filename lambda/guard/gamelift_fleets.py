"""Amazon GameLift Servers managed EC2 fleets: scaled to 0 instances with auto scaling stopped at
a trip, given their capacity (and auto scaling) back by restore.

A managed fleet's instances are EC2 instances in GameLift's own account, billed by GameLift "per
instance-second consumed for each instance, from the time an instance is launched until it is
terminated" (aws.amazon.com/gamelift/pricing): the EC2 census never sees them. Counted here per
fleet from DescribeFleetCapacity's EC2InstanceCounts: PENDING ("starting but not yet active")
plus ACTIVE ("ready to host game sessions"), as the EC2 census counts pending and running. IDLE
is not added: it is the "Number of active instances that are not currently hosting a game
session", a part of ACTIVE; TERMINATING instances are going and no halt can hasten them.
InstanceType is an EC2 type (GameLift's EC2InstanceType enum: c5.large, ...), weighed as EC2.

Census: DescribeFleetCapacity with no FleetIds "retrieve[s] capacity information for all
fleets" in pages (API Reference, DescribeFleetCapacity), so a region with no fleet costs one call;
only if some fleet bills, one more listing, DescribeFleetAttributes of every fleet, for its
Status. Naming no FleetIds also avoids the per-request FleetIds limit AWS does not state ("the
error message contains the maximum allowed number").

Halt, per ACTIVE fleet: the record first (TagResource on the fleet ARN: the incident, the prior
"min/desired/max", and whether AUTO_SCALING was already stopped), then StopFleetActions
(AUTO_SCALING: GameLift "no longer initiates scaling events except in response to manual changes
using UpdateFleetCapacity", API StopFleetActions), then UpdateFleetCapacity(DesiredInstances 0,
MinSize 0, MaxSize as it was, passed so no default applies). "The fleet must be in ACTIVE status"
(API UpdateFleetCapacity, InvalidFleetStatusException): a fleet still activating (NEW,
DOWNLOADING, VALIDATING, BUILDING, ACTIVATING) waits for the next run while the incident is open.
A refused update starts the auto scaling this halt stopped again and takes the record off.

What a scale-in loses: the instances, and the game sessions on them ("NoProtection - Game
sessions can be terminated during active gameplay as a result of a scale-down event";
"FullProtection - Game sessions in ACTIVE status cannot be terminated during a scale-down
event", API CreateFleet NewGameSessionProtectionPolicy): a protected instance bills on until its
sessions end. Restore brings new instances, not the old ones.

Restore (only with restart: capacity back launches instances): UpdateFleetCapacity to the
recorded values, then StartFleetActions only where auto scaling ran before, then the record goes.
A record on a fleet never changed (a crash between the record and the change) is just removed.

What is not halted, and said so:
- remote locations of a multi-location fleet: DescribeFleetCapacity and UpdateFleetCapacity
  without Location are the home Region only ("With multi-location fleets, this operation
  retrieves data for the fleet's home Region only", API DescribeFleetCapacity); a remote
  location's instances (DescribeFleetLocationCapacity, one call per fleet and location) are
  neither counted nor scaled in: UNCOUNTED, the docs/services.md table says so;
- container fleets: DescribeFleetCapacity, UpdateFleetCapacity and Stop/StartFleetActions work
  for them ("This API works with the following fleet types: EC2, Container"), but
  DescribeFleetAttributes does not ("EC2, Anywhere"), so neither their status nor whether their
  auto scaling was stopped can be read the way this module records it: counted and weighed, and
  the halt reports them for a person to scale in by hand;
- a fleet whose ManagedCapacityConfiguration is SCALE_TO_AND_FROM_ZERO refuses MinSize ("cannot
  be set when using a ManagedCapacityConfiguration where ZeroCapacityStrategy has a value of
  SCALE_TO_AND_FROM_ZERO"): its update fails and is reported.

IAM: gamelift:DescribeFleetCapacity, gamelift:DescribeFleetAttributes (no resource-level
permissions: Service Authorization Reference, "Actions defined by Amazon GameLift Servers");
gamelift:StopFleetActions, gamelift:StartFleetActions, gamelift:UpdateFleetCapacity,
gamelift:ListTagsForResource, gamelift:TagResource / gamelift:UntagResource (fleet ARNs,
runawaytrain:* keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("gamelift_fleets")

SERVICE = "gamelift"
KIND = "GameLift fleet"
NAME = "gamelift-fleets"
# A few per Region: each item's prior values go to the incident's record before its change
# (services.py), so a Lambda timeout between the two never leaves one without them (ledger.py).
EAGER_RECORD = True
CAPACITY_TAG = f"{TAG_PREFIX}prior-capacity"  # "min/desired/max"
SCALING_TAG = f"{TAG_PREFIX}prior-auto-scaling"  # RUNNING or STOPPED
RECORD_TAGS = (INCIDENT_TAG, CAPACITY_TAG, SCALING_TAG)
RUNNING, STOPPED = "running", "stopped"
AUTO_SCALING = "AUTO_SCALING"  # FleetAction: the only one there is
UPDATABLE = "ACTIVE"
BILLING_COUNTS = ("PENDING", "ACTIVE")
NOT_YET_ACTIVE = "InvalidFleetStatusException"
STOP_KEEPS = (
    "Scaled to 0 instances (min 0, desired 0, max kept), auto scaling stopped: its instances "
    "are terminated and the game sessions on them end (with FullProtection, an instance hosting "
    "an active game session stays until the session ends). Kept: the fleet, its build, settings "
    "and scaling policies. Restore with restart_instances gives its capacity back on new "
    "instances and starts auto scaling again where it ran. Remote locations of a multi-location "
    "fleet are not scaled in."
)


def instances_of(counts: dict[str, int]) -> int:
    return sum(counts.get(state, 0) for state in BILLING_COUNTS)


def pages_of(gamelift: Any, operation: str, key: str) -> Iterator[dict[str, Any]]:
    for page in gamelift.get_paginator(operation).paginate():
        yield from page[key]


def count(gamelift: Any, region: str) -> list[Running]:
    billing = [
        capacity
        for capacity in pages_of(gamelift, "describe_fleet_capacity", "FleetCapacity")
        if instances_of(capacity.get("InstanceCounts", {})) > 0
    ]
    if not billing:
        return []
    status = {
        attributes["FleetId"]: attributes.get("Status", "")
        for attributes in pages_of(gamelift, "describe_fleet_attributes", "FleetAttributes")
    }
    return [
        Running(
            kind=KIND,
            region=region,
            name=capacity["FleetId"],
            arn=capacity["FleetArn"],
            instance_type=capacity.get("InstanceType", ""),
            state=status.get(capacity["FleetId"], ""),  # "": not described (a container fleet)
            count=instances_of(capacity["InstanceCounts"]),
        )
        for capacity in billing
    ]


def capacity_of(text: str) -> tuple[int, int, int]:
    low, desired, high = (int(part) for part in text.split("/"))
    return low, desired, high


def tags_of(gamelift: Any, arn: str) -> dict[str, str]:
    tags = gamelift.list_tags_for_resource(ResourceARN=arn)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in tags}


def halt(gamelift: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Per fleet: record, stop auto scaling, scale to 0; one not ACTIVE waits."""
    outcome = ServiceHalt()
    for fleet in found:
        where = f"{fleet.region}: {KIND} {fleet.name}"
        try:
            described = gamelift.describe_fleet_attributes(FleetIds=[fleet.arn])["FleetAttributes"]
            capacities = gamelift.describe_fleet_capacity(FleetIds=[fleet.arn])["FleetCapacity"]
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: reading it: {describe_error(error)}")
            continue
        if not capacities:
            continue  # deleted since the count
        if not described:
            outcome.errors.append(
                f"{where}: not halted: DescribeFleetAttributes does not describe it (a container "
                "fleet?), so its prior auto scaling cannot be recorded. Scale it in by hand: aws "
                f"gamelift stop-fleet-actions --fleet-id {fleet.name} --actions AUTO_SCALING; aws "
                f"gamelift update-fleet-capacity --fleet-id {fleet.name} --desired-instances 0 "
                f"--min-size 0 --region {fleet.region}"
            )
            continue
        attributes, counts = described[0], capacities[0]["InstanceCounts"]
        stopped = AUTO_SCALING in attributes.get("StoppedActions", [])
        low, desired, high = counts["MINIMUM"], counts["DESIRED"], counts["MAXIMUM"]
        if low == 0 and desired == 0 and stopped:
            continue  # halted already (its instances still terminating)
        if attributes.get("Status") != UPDATABLE:
            outcome.waiting.append(fleet)
            continue
        halt_one(gamelift, fleet, incident, (low, desired, high, stopped), outcome)
    return outcome


def halt_one(
    gamelift: Any,
    fleet: Running,
    incident: str,
    prior: tuple[int, int, int, bool],
    outcome: ServiceHalt,
) -> None:
    """Record (incident, prior capacity and auto scaling), stop auto scaling, scale to 0."""
    where = f"{fleet.region}: {KIND} {fleet.name}"
    low, desired, high, stopped = prior
    try:
        before = tags_of(gamelift, fleet.arn)
        # A record there already (this incident's, scaled up again since, or an older
        # incident's never restored) holds the OLDEST prior state: kept, only its incident moves.
        tags = {INCIDENT_TAG: incident}
        if CAPACITY_TAG not in before:
            tags[CAPACITY_TAG] = f"{low}/{desired}/{high}"
            tags[SCALING_TAG] = STOPPED if stopped else RUNNING
        recorded_now = any(before.get(key) != value for key, value in tags.items())
        if recorded_now:
            gamelift.tag_resource(
                ResourceARN=fleet.arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )
    except (ClientError, BotoCoreError) as error:
        outcome.errors.append(
            f"{where}: recording: {describe_error(error)}; not scaled in (restore could not give "
            "its capacity back)"
        )
        return
    stopped_now = False
    try:
        if not stopped:
            gamelift.stop_fleet_actions(FleetId=fleet.name, Actions=[AUTO_SCALING])
            stopped_now = True
        gamelift.update_fleet_capacity(
            FleetId=fleet.name, DesiredInstances=0, MinSize=0, MaxSize=high
        )
    except (ClientError, BotoCoreError) as error:
        code = isinstance(error, ClientError) and error.response["Error"]["Code"]
        if code == NOT_YET_ACTIVE:
            outcome.waiting.append(fleet)  # no longer ACTIVE since it was read: the next run
        else:
            outcome.errors.append(f"{where}: scaling in: {describe_error(error)}")
        if recorded_now and refused(error):  # a timeout may come after the change: kept
            undo(gamelift, fleet, stopped_now, before, outcome.errors)
        return
    outcome.halted.append(fleet)
    LOG.info("gamelift_fleet_scaled_in", extra={"region": fleet.region, "fleet": fleet.name})


def undo(
    gamelift: Any, fleet: Running, stopped_now: bool, before: dict[str, str], errors: list[str]
) -> None:
    """A refused scale-in: start the auto scaling this halt stopped, then put the record back
    as it was `before` (off, where there was none; kept if the start fails: restore starts it)."""
    where = f"{fleet.region}: {KIND} {fleet.name}"
    try:
        if stopped_now:
            gamelift.start_fleet_actions(FleetId=fleet.name, Actions=[AUTO_SCALING])
        back = [{"Key": key, "Value": before[key]} for key in RECORD_TAGS if key in before]
        if back:
            gamelift.tag_resource(ResourceARN=fleet.arn, Tags=back)
        gone = [key for key in RECORD_TAGS if key not in before]
        if gone:
            gamelift.untag_resource(ResourceARN=fleet.arn, TagKeys=gone)
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: undoing a refused scale-in: {describe_error(error)}")


def restore(
    gamelift: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Give the fleets `incident` scaled in their recorded capacity and auto scaling back (only
    with `restart`), then take the record off."""
    outcome = ServiceRestore()
    fleets = list(pages_of(gamelift, "describe_fleet_attributes", "FleetAttributes"))
    if not fleets:
        return outcome
    counts = {
        capacity["FleetId"]: capacity["InstanceCounts"]
        for capacity in pages_of(gamelift, "describe_fleet_capacity", "FleetCapacity")
    }
    for attributes in fleets:
        fleet_id, arn = attributes["FleetId"], attributes["FleetArn"]
        where = f"{region}/{fleet_id}"
        try:
            tags = record.vouch(tags_of(gamelift, arn), arn, fleet_id)
            if tags.get(INCIDENT_TAG) != incident:
                continue
            low, desired, high = capacity_of(tags.get(CAPACITY_TAG, ""))
        except ValueError:
            outcome.errors[f"{KIND} {where}"] = f"its record {CAPACITY_TAG} is unreadable"
            continue
        except (ClientError, BotoCoreError) as error:
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
            continue
        now = counts.get(fleet_id, {})
        resize = (now.get("MINIMUM"), now.get("DESIRED"), now.get("MAXIMUM")) != (
            low,
            desired,
            high,
        )
        restart_scaling = tags.get(SCALING_TAG) == RUNNING and AUTO_SCALING in attributes.get(
            "StoppedActions", []
        )
        try:
            if not (resize or restart_scaling):
                # Never scaled in (a crash between the record and the change), or given back
                # by hand: nothing to give back, the record goes.
                if not dry_run:
                    gamelift.untag_resource(ResourceARN=arn, TagKeys=list(RECORD_TAGS))
                continue
            if not restart or attributes.get("Status") != UPDATABLE:
                outcome.not_yet.append(where)  # the record stays for the next restore
                continue
            if not dry_run:
                if resize:
                    gamelift.update_fleet_capacity(
                        FleetId=fleet_id, DesiredInstances=desired, MinSize=low, MaxSize=high
                    )
                if restart_scaling:
                    gamelift.start_fleet_actions(FleetId=fleet_id, Actions=[AUTO_SCALING])
                gamelift.untag_resource(ResourceARN=arn, TagKeys=list(RECORD_TAGS))
        except (ClientError, BotoCoreError) as error:
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
            continue
        outcome.restored.append(where)
    return outcome
