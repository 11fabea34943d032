"""Spot and fleets: make sure nothing replaces what a trip halts, and tell which Spot capacity
can be stopped at all.

- Only a Spot instance launched by a *persistent* request, outside any fleet, can be stopped;
  every other Spot instance (one-time requests, which is what Auto Scaling, EC2 Fleet
  `instant`/`request`, Spot Fleet, Karpenter and AWS Batch launch) refuses StopInstances with
  UnsupportedOperation (EC2 User Guide, "Stop a Spot Instance"). Which is which is read here
  (`read_spot_requests`) and judged in instance_kinds.kind_of: a Spot instance whose request is
  not read is stopped like any other, and terminated or reported, as `unstoppable` says
  (treatment.py), only once AWS refuses that stop.
- A persistent request launches a new instance when its instance is terminated, and an open
  request launches one when capacity appears: both are cancelled before anything is terminated
  (EC2 User Guide, "Cancel a Spot Instance request": cancelling an active request does not
  terminate its instance; cancelling a *disabled* one, whose instance is stopped, terminates it,
  so requests of instances the trip stopped are never cancelled). Each is tagged with the
  incident first. A cancelled request cannot be reopened (`cancelled` is a terminal state: EC2
  User Guide, "Spot request status codes"), so restore undoes nothing there: it reads the tags
  to list what the incident cancelled, even when the trip died before its mail, and clears them.
- Spot Fleet and EC2 Fleet requests of type `maintain` replace lost capacity: their target
  capacity is set to 0 with the excess-capacity policy that keeps running instances (those are
  then stopped or terminated like the others), after the previous capacities are recorded on
  the request as a tag. Restore puts them back (EC2 User Guide, "Modify a Spot Fleet request",
  "Modify an EC2 Fleet").

IAM: ec2:DescribeSpotInstanceRequests, ec2:CancelSpotInstanceRequests,
ec2:DescribeSpotFleetRequests, ec2:ModifySpotFleetRequest, ec2:DescribeFleets, ec2:ModifyFleet,
ec2:CreateTags / ec2:DeleteTags (runawaytrain:* keys), ec2:DescribeTags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.incident import FLEET_CAPACITY_TAG, INCIDENT_TAG
from guard.instance_kinds import Target
from guard.ledger import Record
from guard.logs import get_logger

LOG = get_logger("spot")

LIVE_REQUEST_STATES = ("open", "active")  # the states in which a request can still launch
FLEET_PAGE = 1000  # DescribeSpotInstanceRequests MaxResults upper bound
CANCEL_CHUNK = (
    100  # request ids per CancelSpotInstanceRequests call (kept well under the URL limit)
)
LIVE_FLEET_STATES = frozenset({"submitted", "active", "modifying"})
# Both request types default to `maintain` when the request names none (EC2 API Reference,
# SpotFleetRequestConfigData.Type and CreateFleet Type: "Default: maintain").
DEFAULT_FLEET_TYPE = "maintain"


@dataclass(frozen=True)
class SpotRequest:
    id: str
    persistent: bool
    state: str
    instance: str | None


def read_spot_requests(ec2: Any) -> dict[str, SpotRequest]:
    """Open and active Spot requests of the region, by id."""
    pages = ec2.get_paginator("describe_spot_instance_requests").paginate(
        Filters=[{"Name": "state", "Values": list(LIVE_REQUEST_STATES)}],
        PaginationConfig={"PageSize": FLEET_PAGE},
    )
    return {
        request["SpotInstanceRequestId"]: SpotRequest(
            id=request["SpotInstanceRequestId"],
            persistent=request.get("Type") == "persistent",
            state=request.get("State", ""),
            instance=request.get("InstanceId"),
        )
        for page in pages
        for request in page["SpotInstanceRequests"]
    }


def persistence(requests: dict[str, SpotRequest]) -> dict[str, bool]:
    """{request id: persistent?} of the requests read: what instance_kinds.kind_of judges by
    ("You can only stop Spot Instances associated with persistent Spot Instance requests", the
    UnsupportedOperation text). A request missing here was not read, not read as one-time."""
    return {request.id: request.persistent for request in requests.values()}


def requests_to_cancel(
    requests: dict[str, SpotRequest], terminating: Iterable[Target]
) -> list[str]:
    """Open requests (they would launch), and the requests that would relaunch what is about
    to be terminated. A one-time active request closes with its instance."""
    ids = {request.id for request in requests.values() if request.state == "open"}
    return sorted(ids | set(relaunching_requests(requests, terminating)))


def relaunching_requests(
    requests: dict[str, SpotRequest], terminating: Iterable[Target]
) -> list[str]:
    """Persistent requests of `terminating` instances, and the request of each whose request was
    not read (it may be persistent: cancelling a one-time request of a running instance changes
    nothing, and the instance is about to be terminated); a fleet's own are left to the fleet,
    which is set to capacity 0 instead."""
    ids = set()
    for target in terminating:
        if not target.spot_request or target.spot_fleet or target.ec2_fleet:
            continue
        request = requests.get(target.spot_request)
        if request is None or request.persistent:
            ids.add(target.spot_request)
    return sorted(ids)


def cancel_spot_requests(
    ec2: Any, region: str, ids: Sequence[str], incident: str
) -> tuple[list[str], list[str]]:
    """(cancelled ids, errors). Each batch is recorded before it is cancelled (see above); a
    record AWS refuses does not keep a request open to relaunch what is halted: it is cancelled
    all the same and the error reported. Cancelling never terminates an instance."""
    cancelled, errors = [], []
    for start in range(0, len(ids), CANCEL_CHUNK):
        batch = list(ids[start : start + CANCEL_CHUNK])
        try:
            ec2.create_tags(Resources=batch, Tags=[{"Key": INCIDENT_TAG, "Value": incident}])
        except (ClientError, BotoCoreError) as error:
            errors.append(
                f"{region}: recording Spot requests {batch} before cancelling them: "
                f"{describe_error(error)}; cancelled all the same, restore will not list them"
            )
        try:
            response = ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=batch)
        except (ClientError, BotoCoreError) as error:
            errors.append(f"{region}: cancelling Spot requests {batch}: {describe_error(error)}")
            continue
        cancelled += [r["SpotInstanceRequestId"] for r in response["CancelledSpotInstanceRequests"]]
    return cancelled, errors


# (what it is called, which of its `maintain` requests hold capacity, how to set that capacity)
FleetKind = tuple[str, Callable[..., list[tuple[str, str]]], Callable[..., None]]


@dataclass
class FleetHalt:
    zeroed: dict[str, str] = field(default_factory=dict)  # fleet id -> recorded capacities
    errors: list[str] = field(default_factory=list)


def zero_maintained_fleets(
    ec2: Any, region: str, targets: Iterable[Target], incident: str
) -> FleetHalt:
    """Set every `maintain` Spot Fleet / EC2 Fleet holding one of `targets` to capacity 0,
    keeping its instances; the previous capacities are recorded on the request first."""
    outcome = FleetHalt()
    targets = list(targets)
    spot_fleets = sorted({t.spot_fleet for t in targets if t.spot_fleet})
    ec2_fleets = sorted({t.ec2_fleet for t in targets if t.ec2_fleet})
    for fleet_kind, ids in zip(FLEET_KINDS, (spot_fleets, ec2_fleets), strict=True):
        if not ids:
            continue
        modify = fleet_kind[2]
        for fleet_id, capacity in _described(ec2, region, fleet_kind, ids, outcome):
            _zero(
                ec2, region, fleet_id, capacity, incident=incident, outcome=outcome, modify=modify
            )
    return outcome


def _described(
    ec2: Any, region: str, fleet_kind: FleetKind, ids: list[str], outcome: FleetHalt
) -> list[tuple[str, str]]:
    """All of `ids` in one call; if one unknown or deleted id (an `instant` fleet's, say) fails
    it, each on its own, so one bad id cannot keep the maintain fleets replacing capacity."""
    kind, capacities, _ = fleet_kind
    try:
        return capacities(ec2, ids)
    except (ClientError, BotoCoreError) as error:
        if len(ids) == 1:
            outcome.errors.append(f"{region}: describing {kind} {ids[0]}: {describe_error(error)}")
            return []
    return [found for one in ids for found in _described(ec2, region, fleet_kind, [one], outcome)]


def _maintained_spot_fleets(ec2: Any, ids: list[str]) -> list[tuple[str, str]]:
    """(id, "target/on-demand") of the live `maintain` Spot Fleets among `ids` with capacity."""
    configs = ec2.describe_spot_fleet_requests(SpotFleetRequestIds=ids)["SpotFleetRequestConfigs"]
    found = []
    for config in configs:
        data = config["SpotFleetRequestConfig"]
        if (
            data.get("Type", DEFAULT_FLEET_TYPE) == "maintain"
            and config.get("SpotFleetRequestState") in LIVE_FLEET_STATES
            and int(data.get("TargetCapacity", 0)) > 0
        ):
            capacity = f"{data['TargetCapacity']}/{data.get('OnDemandTargetCapacity', 0)}"
            found.append((config["SpotFleetRequestId"], capacity))
    return found


def _maintained_ec2_fleets(ec2: Any, ids: list[str]) -> list[tuple[str, str]]:
    """(id, "total/on-demand/spot") of the live `maintain` EC2 Fleets among `ids` with capacity."""
    found = []
    for fleet in ec2.describe_fleets(FleetIds=ids)["Fleets"]:
        spec = fleet.get("TargetCapacitySpecification", {})
        total = int(spec.get("TotalTargetCapacity", 0))
        live = (
            fleet.get("Type", DEFAULT_FLEET_TYPE) == "maintain"
            and fleet.get("FleetState") in LIVE_FLEET_STATES
        )
        if live and total > 0:
            on_demand = spec.get("OnDemandTargetCapacity", 0)
            spot = spec.get("SpotTargetCapacity", 0)
            found.append((fleet["FleetId"], f"{total}/{on_demand}/{spot}"))
    return found


def _zero(
    ec2: Any,
    region: str,
    fleet_id: str,
    capacity: str,
    *,
    incident: str,
    outcome: FleetHalt,
    modify: Any,
) -> None:
    try:
        ec2.create_tags(
            Resources=[fleet_id],
            Tags=[
                {"Key": INCIDENT_TAG, "Value": incident},
                {"Key": FLEET_CAPACITY_TAG, "Value": capacity},
            ],
        )
        modify(ec2, fleet_id, capacity, zero=True)
    except (ClientError, BotoCoreError) as error:
        outcome.errors.append(f"{region}: setting fleet {fleet_id} to 0: {describe_error(error)}")
        LOG.error("fleet_not_zeroed", extra={"region": region, "fleet": fleet_id})
        return
    outcome.zeroed[fleet_id] = capacity
    LOG.info("fleet_zeroed", extra={"region": region, "fleet": fleet_id, "previous": capacity})


def _set_spot_fleet(ec2: Any, fleet_id: str, capacity: str, *, zero: bool) -> None:
    target, on_demand = (0, 0) if zero else (int(part) for part in capacity.split("/")[:2])
    ec2.modify_spot_fleet_request(
        SpotFleetRequestId=fleet_id,
        TargetCapacity=target,
        OnDemandTargetCapacity=on_demand,
        # keep the running instances: the halt stops (or terminates) them itself
        ExcessCapacityTerminationPolicy="noTermination",
    )


def _set_ec2_fleet(ec2: Any, fleet_id: str, capacity: str, *, zero: bool) -> None:
    total, on_demand, spot = (0, 0, 0) if zero else (int(p) for p in capacity.split("/")[:3])
    ec2.modify_fleet(
        FleetId=fleet_id,
        TargetCapacitySpecification={
            "TotalTargetCapacity": total,
            "OnDemandTargetCapacity": on_demand,
            "SpotTargetCapacity": spot,
        },
        ExcessCapacityTerminationPolicy="no-termination",
    )


FLEET_KINDS: tuple[FleetKind, ...] = (
    ("Spot Fleet", _maintained_spot_fleets, _set_spot_fleet),
    ("EC2 Fleet", _maintained_ec2_fleets, _set_ec2_fleet),
)


def _tags_of(ec2: Any, resource: str) -> dict[str, str]:
    pages = ec2.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "resource-id", "Values": [resource]}]
    )
    return {tag["Key"]: tag["Value"] for page in pages for tag in page["Tags"]}


def restore_fleets(
    ec2: Any, incident: str, dry_run: bool, record: Record
) -> tuple[dict[str, str], list[str]]:
    """Put back the capacities `incident` recorded on fleets: ({fleet id: capacity}, errors).
    The capacities are the incident's own record's (ledger.py), not the tags': a fleet anyone
    tagged is left alone (`record.refused`)."""
    recorded: dict[str, dict[str, str]] = {}
    # DescribeTags documents `fleet` as a resource-type filter value but not Spot Fleet
    # requests: filter by our capacity key, which only fleets carry, and tell them by id.
    pages = ec2.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "key", "Values": [FLEET_CAPACITY_TAG]}]
    )
    fleets = {tag["ResourceId"] for page in pages for tag in page["Tags"]}
    for fleet_id in sorted(fleets):
        recorded[fleet_id] = record.vouch(_tags_of(ec2, fleet_id), fleet_id)
    restored, errors = {}, []
    for fleet_id, tags in sorted(recorded.items()):
        if tags.get(INCIDENT_TAG) != incident or FLEET_CAPACITY_TAG not in tags:
            continue
        capacity = tags[FLEET_CAPACITY_TAG]
        modify = _set_spot_fleet if fleet_id.startswith("sfr-") else _set_ec2_fleet
        try:
            if not dry_run:
                modify(ec2, fleet_id, capacity, zero=False)
                ec2.delete_tags(
                    Resources=[fleet_id],
                    Tags=[{"Key": INCIDENT_TAG}, {"Key": FLEET_CAPACITY_TAG}],
                )
        except (ClientError, BotoCoreError, ValueError) as error:
            errors.append(f"fleet {fleet_id} back to {capacity}: {describe_error(error)}")
            continue
        restored[fleet_id] = capacity
    return restored, errors


def cancelled_requests(ec2: Any, incident: str, dry_run: bool) -> list[str]:
    """The Spot requests `incident` recorded cancelling that are cancelled: nothing can reopen
    them, restore lists them. Their records are cleared, and so are those of requests the trip
    recorded and never cancelled (it died between the two): those are as they were."""
    pages = ec2.get_paginator("describe_spot_instance_requests").paginate(
        Filters=[{"Name": f"tag:{INCIDENT_TAG}", "Values": [incident]}],
        PaginationConfig={"PageSize": FLEET_PAGE},
    )
    recorded = {
        request["SpotInstanceRequestId"]: request.get("State", "")
        for page in pages
        for request in page["SpotInstanceRequests"]
    }
    if recorded and not dry_run:
        for start in range(0, len(recorded), CANCEL_CHUNK):
            batch = sorted(recorded)[start : start + CANCEL_CHUNK]
            ec2.delete_tags(Resources=batch, Tags=[{"Key": INCIDENT_TAG}])
    return sorted(request for request, state in recorded.items() if state == "cancelled")
