"""The drill's checks on the capacity a halt must handle with care (see scenario.Capacity):
a `maintain` Spot Fleet, a persistent Spot instance, a stop-protected instance, a launch still
pending at the trip, an Auto Scaling group and a warm pool kept Running. Each is read back from the
emulator, not only
from the guard's report.
"""

from __future__ import annotations

from typing import Any

from guard.incident import INCIDENT_TAG, STOP_PROTECTION_TAG
from guard.settings import Settings
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.scenario import (
    SEED_FLEET_CAPACITY,
    SEED_GROUP,
    SEED_WARM_GROUP,
    Capacity,
    DrillResult,
    format_states,
)
from runawaytrain_cli.drill.services import check_services_restore, check_services_trip
from runawaytrain_stack.fleet_model import Account

# What must not run while the incident is open: these would replace, health-check away or
# scale in the stopped instances (guard/auto_scaling.py suspends these and more).
MUST_SUSPEND = {"Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AZRebalance"}
LIVE = ("pending", "running")


class Reader:
    """The emulator, as the account's operator sees it in the capacity's region."""

    def __init__(self, emulator: Emulator, account: Account, capacity: Capacity) -> None:
        session = emulator.operator(account.id, capacity.region)
        self.ec2 = session.client("ec2", region_name=capacity.region)
        self.autoscaling = session.client("autoscaling", region_name=capacity.region)
        self.emulator = emulator
        self.account = account
        self.capacity = capacity

    def instances(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        found = {}
        for page in self.ec2.get_paginator("describe_instances").paginate(InstanceIds=ids):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    found[instance["InstanceId"]] = instance
        return found

    def states(self, ids: list[str]) -> dict[str, str]:
        return {i: found["State"]["Name"] for i, found in self.instances(ids).items()}

    def tags(self, instance: str) -> dict[str, str]:
        found = self.instances([instance]).get(instance, {})
        return {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}

    def account_states(self) -> dict[str, str]:
        """Every instance of the account in the regions the drill seeded."""
        states = {}
        for region in self.capacity.regions:
            ec2 = self.emulator.operator(self.account.id, region).client("ec2", region_name=region)
            for page in ec2.get_paginator("describe_instances").paginate():
                for reservation in page["Reservations"]:
                    for instance in reservation["Instances"]:
                        states[instance["InstanceId"]] = instance["State"]["Name"]
        return states

    def fleet_target(self) -> int:
        [config] = self.ec2.describe_spot_fleet_requests(
            SpotFleetRequestIds=[self.capacity.spot_fleet]
        )["SpotFleetRequestConfigs"]
        return int(config["SpotFleetRequestConfig"]["TargetCapacity"])

    def fleet_instances(self) -> list[str]:
        active = self.ec2.describe_spot_fleet_instances(SpotFleetRequestId=self.capacity.spot_fleet)
        return sorted(i["InstanceId"] for i in active["ActiveInstances"])

    def spot_request(self, instance: str) -> str:
        """The state of the Spot request that launched `instance` ("none" if none is listed)."""
        requests = self.ec2.describe_spot_instance_requests(
            Filters=[{"Name": "instance-id", "Values": [instance]}]
        )["SpotInstanceRequests"]
        return ", ".join(request["State"] for request in requests) or "none"

    def stop_protected(self, instance: str) -> bool:
        attribute = self.ec2.describe_instance_attribute(
            InstanceId=instance, Attribute="disableApiStop"
        )
        return bool(attribute["DisableApiStop"]["Value"])

    def group(self, name: str = SEED_GROUP) -> tuple[set[str], list[str]]:
        """(the group's suspended processes, its instance ids)."""
        [group] = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
            "AutoScalingGroups"
        ]
        suspended = {p["ProcessName"] for p in group.get("SuspendedProcesses", [])}
        return suspended, sorted(i["InstanceId"] for i in group["Instances"])

    def warm_pool(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(the warm group's WarmPoolConfiguration, {pool instance id: lifecycle state})."""
        pages = self.autoscaling.get_paginator("describe_warm_pool").paginate(
            AutoScalingGroupName=SEED_WARM_GROUP
        )
        config: dict[str, Any] = {}
        lifecycles = {}
        for page in pages:
            config = page.get("WarmPoolConfiguration") or config
            lifecycles.update({i["InstanceId"]: i["LifecycleState"] for i in page["Instances"]})
        return config, lifecycles


def _reader(emulator: Emulator, result: DrillResult, tripped: Account) -> Reader | None:
    if result.capacity is None:
        return None
    return Reader(emulator, tripped, result.capacity)


def check_capacity_trip(emulator: Emulator, result: DrillResult, tripped: Account) -> None:
    reader = _reader(emulator, result, tripped)
    report = result.guards[tripped.name].report
    if reader is None or report is None:
        return
    capacity, name = reader.capacity, tripped.name
    unstoppable = Settings.from_env(result.guards[name].environment).unstoppable.value
    zeroed = report.fleets_zeroed.get(capacity.region, {})
    target = reader.fleet_target()
    result.check(
        f"{name}: maintain Spot Fleet set to target capacity 0 (was {SEED_FLEET_CAPACITY})",
        zeroed.get(capacity.spot_fleet) == f"{SEED_FLEET_CAPACITY}/0" and target == 0,
        f"recorded {zeroed}, target capacity now {target}",
    )
    terminated = sorted(report.terminated_by_region.get(capacity.region, []))
    states = reader.states(capacity.spot_instances)
    result.check_over(
        f"{name}: the fleet's one-time Spot instances terminated (unstoppable: {unstoppable})",
        capacity.spot_instances,
        terminated == capacity.spot_instances
        and set(states.values()) <= {"terminated", "shutting-down"},
        f"terminated {len(terminated)} of {len(capacity.spot_instances)}; {format_states(states)}",
    )
    relaunched = sorted(
        i
        for i, state in reader.account_states().items()
        if state in LIVE and i not in capacity.before_trip
    )
    live_in_fleet = reader.fleet_instances()
    result.check(
        f"{name}: nothing relaunched (no new instance, the fleet holds none)",
        not relaunched and not live_in_fleet,
        f"new: {', '.join(relaunched) or 'none'}; "
        f"in the fleet: {', '.join(live_in_fleet) or 'none'}",
    )
    spot = capacity.persistent_spot
    state, request = reader.states([spot]).get(spot), reader.spot_request(spot)
    cancelled = [i for ids in report.spot_cancelled.values() for i in ids]
    result.check(
        f"{name}: persistent Spot instance stopped, not terminated; its request disabled",
        spot in report.stopped
        and spot not in terminated
        and state in ("stopped", "stopping")
        and request == "disabled",
        f"state {state}, request {request}, cancelled requests: "
        + (", ".join(cancelled) or "none"),
    )
    tags = reader.tags(capacity.protected)
    state = reader.states([capacity.protected]).get(capacity.protected)
    result.check(
        f"{name}: stop-protected instance stopped, its protection recorded",
        capacity.protected in report.protection_lifted
        and capacity.protected in report.stopped
        and state in ("stopped", "stopping")
        and tags.get(STOP_PROTECTION_TAG) == "lifted"
        and tags.get(INCIDENT_TAG) == report.incident,
        f"lifted: {', '.join(report.protection_lifted) or 'none'}, state {state}, "
        f"tag {STOP_PROTECTION_TAG}={tags.get(STOP_PROTECTION_TAG)}",
    )
    state = reader.states([capacity.pending]).get(capacity.pending)
    still = [i for ids in report.still_pending.values() for i in ids]
    result.check(
        f"{name}: the launch made just before the trip is stopped",
        capacity.pending_state == "pending"
        and capacity.pending in report.stopped
        and state in ("stopped", "stopping")
        and not still,
        f"state at launch {capacity.pending_state}, now {state}, still pending: "
        + (", ".join(still) or "none"),
    )
    waited = f"{name}: the guard waited for it to leave pending, then stopped it"
    if capacity.waited_s > 0:
        result.check(f"{waited} ({capacity.waited_s:.0f}s)", capacity.pending in report.stopped)
    else:
        # The emulator keeps a launch pending for PENDING_SECONDS; a run slower than that (a
        # busy machine) finds it running already. tests/guard/test_capacity.py covers the wait.
        result.skip(waited, "it was running already when the halt reached it (a slow run)")
    suspended, members = reader.group()
    result.check(
        f"{name}: group {SEED_GROUP} suspended (Launch, Terminate, HealthCheck, ...)",
        suspended >= MUST_SUSPEND,
        f"suspended: {', '.join(sorted(suspended)) or 'none'}; missing: "
        + ", ".join(sorted(MUST_SUSPEND - suspended)),
    )
    states = reader.states(capacity.group_instances)
    result.check_over(
        f"{name}: group {SEED_GROUP}'s instances stopped, not terminated, still in the group",
        capacity.group_instances,
        members == sorted(capacity.group_instances)
        and set(states.values()) <= {"stopped", "stopping"},
        f"{len(members)} members ({len(capacity.group_instances)} seeded), {format_states(states)}",
    )
    check_warm_pool_trip(reader, result, report.warm_pools.get(capacity.region, {}), name)
    check_services_trip(reader.emulator, result, tripped, capacity.region)


def check_warm_pool_trip(
    reader: Reader, result: DrillResult, halted: dict[str, str], name: str
) -> None:
    """The pool set to Stopped and nothing else of its configuration changed, its group
    suspended, its instances stopped and still in the pool (none replaced)."""
    capacity = reader.capacity
    config, lifecycles = reader.warm_pool()
    suspended, _ = reader.group(SEED_WARM_GROUP)
    states = reader.states(capacity.warm_instances)
    result.check_over(
        f"{name}: group {SEED_WARM_GROUP}'s warm pool set to Stopped, the group suspended, its "
        "instances stopped and still in the pool",
        capacity.warm_instances,
        config == {**capacity.warm_pool, "PoolState": "Stopped"}
        and SEED_WARM_GROUP in halted
        and suspended >= MUST_SUSPEND
        and sorted(lifecycles) == capacity.warm_instances
        and set(states.values()) <= {"stopped", "stopping"},
        f"configuration {pool_text(config)}; suspended: "
        f"{', '.join(sorted(suspended)) or 'none'}; pool {len(lifecycles)} "
        f"({len(capacity.warm_instances)} seeded), {format_states(states)}",
    )


def check_capacity_restore(emulator: Emulator, result: DrillResult, tripped: Account) -> None:
    reader = _reader(emulator, result, tripped)
    report = result.guards[tripped.name].report
    restored = (result.restore.restore if result.restore else None) or {}
    if reader is None or report is None:
        return
    capacity, name = reader.capacity, tripped.name
    target = reader.fleet_target()
    result.check(
        f"{name}: restore put the Spot Fleet's target capacity back ({SEED_FLEET_CAPACITY})",
        restored.get("fleets_restored", {}).get(capacity.spot_fleet) == f"{SEED_FLEET_CAPACITY}/0"
        and target == SEED_FLEET_CAPACITY,
        f"restored: {restored.get('fleets_restored') or 'nothing'}, target capacity now {target}",
    )
    state = reader.states([capacity.protected]).get(capacity.protected)
    protected = reader.stop_protected(capacity.protected)
    tags = reader.tags(capacity.protected)
    result.check(
        f"{name}: stop-protected instance runs again with DisableApiStop true",
        state == "running"
        and protected
        and capacity.protected in restored.get("reprotected", [])
        and STOP_PROTECTION_TAG not in tags,
        f"state {state}, DisableApiStop {protected}, "
        f"tag {STOP_PROTECTION_TAG}={tags.get(STOP_PROTECTION_TAG)}",
    )
    spot = capacity.persistent_spot
    state, request = reader.states([spot]).get(spot), reader.spot_request(spot)
    result.check(
        f"{name}: persistent Spot instance runs again, its request active",
        state == "running"
        and request == "active"
        and spot in restored.get("started_instances", []),
        f"state {state}, request {request}",
    )
    stopped = sorted(report.stopped)
    states = reader.account_states()
    not_running = {i: states.get(i, "gone") for i in stopped if states.get(i) != "running"}
    result.check_over(
        f"{name}: every instance the trip stopped runs again (same {len(stopped)} ids)",
        stopped,
        not not_running,
        f"not running: {format_states(not_running)}",
    )
    suspended, members = reader.group()
    group_states = reader.states(members)
    resumed = [g for g in restored.get("resumed_asgs", {}) if g.endswith(f"/{SEED_GROUP}")]
    result.check(
        f"{name}: group {SEED_GROUP} resumed only once its instances ran (none replaced)",
        bool(resumed)
        and not suspended
        and not restored.get("kept_suspended")
        and members == sorted(capacity.group_instances)
        and set(group_states.values()) == {"running"},
        f"resumed: {', '.join(resumed) or 'none'}; still suspended: "
        f"{', '.join(sorted(suspended)) or 'none'}; {len(members)} members "
        f"({len(capacity.group_instances)} seeded), {format_states(group_states)}",
    )
    check_warm_pool_restore(reader, result, restored, name)
    check_services_restore(reader.emulator, result, tripped, capacity.region)
    on_demand = sorted(capacity.before_trip - {*capacity.spot_instances, capacity.persistent_spot})
    lost = {i: states.get(i, "gone") for i in on_demand if states.get(i) not in LIVE}
    terminated = sorted(i for ids in report.terminated_by_region.values() for i in ids)
    spot_only = set(terminated) <= set(capacity.spot_instances)
    result.check_over(
        f"{name}: nothing on-demand terminated ({len(on_demand)} instances, only Spot went)",
        on_demand,
        not lost and spot_only,
        f"lost: {format_states(lost)}; terminated {len(terminated)}",
    )


def check_warm_pool_restore(
    reader: Reader, result: DrillResult, restored: dict[str, Any], name: str
) -> None:
    """The pool's configuration as seeded, the same instances running as Warmed:Running, the
    group resumed."""
    capacity = reader.capacity
    config, lifecycles = reader.warm_pool()
    suspended, _ = reader.group(SEED_WARM_GROUP)
    states = reader.states(capacity.warm_instances)
    put_back = [g for g in restored.get("warm_pools_restored", {}) if g.endswith(SEED_WARM_GROUP)]
    result.check_over(
        f"{name}: group {SEED_WARM_GROUP}'s warm pool back to {pool_text(capacity.warm_pool)}, "
        "the same instances Warmed:Running, the group resumed",
        capacity.warm_instances,
        bool(put_back)
        and config == capacity.warm_pool
        and lifecycles == dict.fromkeys(capacity.warm_instances, "Warmed:Running")
        and set(states.values()) == {"running"}
        and not suspended,
        f"put back: {', '.join(put_back) or 'none'}; configuration {pool_text(config)}; pool "
        f"{', '.join(sorted(set(lifecycles.values()))) or 'empty'} ({len(lifecycles)} of "
        f"{len(capacity.warm_instances)}), {format_states(states)}; still suspended: "
        f"{', '.join(sorted(suspended)) or 'none'}",
    )


def pool_text(config: dict[str, Any]) -> str:
    """A WarmPoolConfiguration in words: 'PoolState Running, MinSize 1, ...'."""
    return ", ".join(f"{key} {value}" for key, value in sorted(config.items())) or "none"


__all__ = ["check_capacity_restore", "check_capacity_trip"]
