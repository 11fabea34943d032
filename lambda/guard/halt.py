"""Halt a tripped account, region by region in parallel, without ever losing data a stop keeps.

Per region, in this order (each kind of capacity has its own module, its restore beside it):
1. at once, side by side: the incident tag on every instance the census counted (the record,
   before anything is stopped); spot.py's read of the Spot requests and instance_kinds.py's
   filtered DescribeInstances (fleet members; instance store where `unstoppable` acts on it),
   which say which instances need care, the rest being plain on-demand; one read of the Auto
   Scaling groups, after which auto_scaling.py suspends the processes that would replace,
   health-check away or scale in what is stopped, then warm_pools.py sets pools kept Running to
   Stopped;
2. spot.py: set `maintain` fleets to 0 and cancel Spot requests that would relaunch;
3. instances.py: stop every running instance AWS lets us stop (lifting stop protection, all the
   protected ones recorded in one call), terminate what `unstoppable` allows, then stop the pending
   ones as they reach running, within the wait budget (what happens to each kind of instance, and
   to one AWS refused to stop, is treatment.py's table); the incident tag comes off what is left
   running;
4. beside all of it, never waited for before a stop: idle_capacity.py counts Dedicated Hosts and
   Capacity Reservations, which bill regardless, for the mail.
On-demand EBS-backed instances are only ever stopped.

Record, then change (issue 20): each change's record is written before the change, by the module
making it, so a crash or a Lambda timeout between the two leaves a record of a change that never
happened, which restore tolerates, never a change restore cannot find:

| change | record (restore reads it) | written |
| --- | --- | --- |
| (every change below) | the incident's record in SSM (ledger.py): ids, prior values | before |
| SuspendProcesses | group tags: incident, processes not already suspended | before |
| PutWarmPool (PoolState Stopped) | group tag: incident, pool configuration, processes | before |
| ModifySpotFleetRequest / ModifyFleet to 0 | fleet tags: incident, previous capacities | before |
| CancelSpotInstanceRequests | request tag: incident (listed by restore, not reopenable) | before |
| StopInstances | instance tag: incident | before |
| ModifyInstanceAttribute (stop protection off) | instance tags: incident, lifted | before |
| TerminateInstances (one-time Spot) | none, irreversible (its fleet's capacity tag) | - |
| lockout: keys, deny, revoke (lockout.py) | principal tags, `partial` until complete | before |

The SSM record is what restore trusts (issue 22 item 7: tags anyone can write); the tags stay as
the visible marker. Per region, one write for the instances the census counted (beside the
reads, before any stop), one for those launched since (before their stop), one for the Auto
Scaling groups to suspend (with the processes, before the suspension), and one per fleet zeroed
and per warm pool stopped (their prior values are read just before each change; `eager`). An
instance whose record could not be written is stopped all the same (a stop keeps its volumes and
the money must stop) and the mail says how to start it by hand, restore being unable to vouch
for it; one whose group was not suspended in this run (the groups' read, record or suspension
failed) is left running: a stopped instance in a group left unsuspended would be
health-checked away and replaced.

IAM: see each module.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.auto_scaling import plan_suspensions, read_groups, suspend_groups
from guard.census import Census, describe_error
from guard.idle_capacity import list_idle_capacity
from guard.incident import INCIDENT_TAG, STOP_PROTECTION_TAG, SUSPENDED_TAG
from guard.instance_kinds import (
    Kind,
    Target,
    classify,
    describe_ids,
    describe_special,
    kind_of,
    special_filters,
)
from guard.instances import (
    Stopping,
    Waiting,
    reprotect,
    stop_running,
    tag_instances,
    terminate,
    wait_and_stop,
)
from guard.ledger import AUTO_SCALING, FLEETS, INSTANCES, WARM_POOLS, Ledger, capture
from guard.logs import get_logger
from guard.parallel import map_in_parallel
from guard.settings import Unstoppable
from guard.spot import (
    SpotRequest,
    cancel_spot_requests,
    persistence,
    read_spot_requests,
    relaunching_requests,
    requests_to_cancel,
    zero_maintained_fleets,
)
from guard.treatment import KEPT_RUNNING, NEVER_STOPS, Treatment, decide_treatment, why_kept
from guard.warm_pools import halt_warm_pools

LOG = get_logger("halt")


@dataclass
class HaltResult:
    stopped_by_region: dict[str, list[str]] = field(default_factory=dict)
    not_stopped: dict[str, str] = field(default_factory=dict)  # instance id -> why, still running
    terminated_by_region: dict[str, list[str]] = field(default_factory=dict)
    still_pending: dict[str, list[str]] = field(default_factory=dict)  # region -> ids, next run
    protection_lifted: list[str] = field(default_factory=list)  # stop protection turned off
    # region -> {Auto Scaling group -> the processes this incident suspended}
    suspended_by_region: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    warm_pools: dict[str, dict[str, str]] = field(default_factory=dict)  # region -> {group: done}
    fleets_zeroed: dict[str, dict[str, str]] = field(default_factory=dict)  # region -> {id: cap}
    spot_cancelled: dict[str, list[str]] = field(default_factory=dict)  # region -> request ids
    still_billing: dict[str, list[str]] = field(default_factory=dict)  # region -> what bills
    errors: list[str] = field(default_factory=list)  # failures other than per-instance ones
    stop_calls: dict[str, int] = field(default_factory=dict)  # region -> StopInstances requests
    unprotected: list[str] = field(default_factory=list)  # lifted, not stopped, not put back
    # instances left running: their group could not be suspended (or recorded) this run
    unheld: set[str] = field(default_factory=set)

    @property
    def stopped(self) -> list[str]:
        by_region = self.stopped_by_region
        return [id_ for region in sorted(by_region) for id_ in by_region[region]]

    @property
    def terminated(self) -> list[str]:
        by_region = self.terminated_by_region
        return [id_ for region in sorted(by_region) for id_ in by_region[region]]

    @property
    def suspended_asgs(self) -> list[str]:
        by_region = self.suspended_by_region
        return [name for region in sorted(by_region) for name in by_region[region]]

    def merge(self, other: HaltResult) -> None:
        self.stopped_by_region.update(other.stopped_by_region)
        self.not_stopped.update(other.not_stopped)
        self.terminated_by_region.update(other.terminated_by_region)
        self.still_pending.update(other.still_pending)
        self.protection_lifted += other.protection_lifted
        self.suspended_by_region.update(other.suspended_by_region)
        self.warm_pools.update(other.warm_pools)
        self.fleets_zeroed.update(other.fleets_zeroed)
        self.spot_cancelled.update(other.spot_cancelled)
        self.still_billing.update(other.still_billing)
        self.errors += other.errors
        self.stop_calls.update(other.stop_calls)
        self.unprotected += other.unprotected
        self.unheld |= other.unheld


@dataclass(frozen=True)
class HaltPlan:
    """What the trip does in every region: the same for all of them."""

    incident: str
    ledger: Ledger  # the incident's record (ledger.py), written before each change
    unstoppable: Unstoppable = Unstoppable.TERMINATE_SPOT
    wait_s: float = 0.0  # how long to wait for pending instances to reach running
    sleep: Callable[[float], None] | None = None  # time.sleep unless a test drives a clock


def halt_instances(
    census: Census,
    plan: HaltPlan,
    ec2_for: Callable[[str], Any],
    autoscaling_for: Callable[[str], Any],
    workers: int,
) -> HaltResult:
    """Halt every region that has counted instances, all regions at once."""
    targets = sorted(region for region, found in census.instances.items() if found)
    result = HaltResult()

    def halt_one(region: str) -> HaltResult:
        counted = [Target(i.id, i.state) for i in census.instances[region]]
        return halt_region(region, plan, ec2_for(region), lambda: autoscaling_for(region), counted)

    for region_result in map_in_parallel(halt_one, targets, workers):
        result.merge(region_result)
    return result


READS_AT_ONCE = 7  # record, idle capacity, incident tag, groups, Spot requests, 1-2 special reads
NOT_HELD = (
    "kept running: its Auto Scaling group could not be suspended this run (stopped, it would be "
    "health-checked away and replaced, its volumes lost); the next run tries again"
)
# Auto Scaling tags every instance it launches `aws:autoscaling:groupName` (a reserved `aws:`
# key nobody else can write; moto does the same; DetachInstances takes it off): the members of
# a Region's groups when DescribeAutoScalingGroups cannot say (aws-solutions instance scheduler
# skips instances by this tag for the same reason).
GROUP_MEMBER_FILTER = {"Name": "tag-key", "Values": ["aws:autoscaling:groupName"]}


def halt_region(
    region: str,
    plan: HaltPlan,
    ec2: Any,
    autoscaling: Callable[[], Any],
    counted: Sequence[Target] = (),
) -> HaltResult:
    """Every round trip that does not need the one before it runs beside it: the halt's latency
    is what stands between the trip and the money stopping (bench/halt_mix.py). `counted`: the
    census's instances of the region, each plain until the special reads say otherwise."""
    result = HaltResult()
    ids = [target.id for target in counted]
    with ThreadPoolExecutor(READS_AT_ONCE) as pool:
        # Only told in the mail, never waited for before a stop: read beside everything else.
        billing = pool.submit(list_idle_capacity, ec2)
        # Record first, beside the reads: every counted instance carries the incident before
        # anything is stopped; whatever ends up neither stopped nor terminated is untagged.
        recording = pool.submit(plan.ledger.write, region, INSTANCES, ids)
        tagging = pool.submit(tag_instances, ec2, ids, {INCIDENT_TAG: plan.incident})
        holding = pool.submit(hold_groups, region, ids, plan, autoscaling(), ec2)
        requests = pool.submit(read_spot_requests, ec2)
        terminate_all = plan.unstoppable is Unstoppable.TERMINATE_ALL
        reads = [pool.submit(describe_special, ec2, f) for f in special_filters(terminate_all)]
        live_requests = spot_requests(region, requests, result)
        targets = classified(region, counted, reads, live_requests, result)
        counted_ids = set(ids)
        tagged = counted_ids - set(recorded(region, tagging.result(), result))
        # An instance whose record could not be written is halted all the same (below): the
        # money must stop, and a stop keeps its volumes. Restore will not start it (it cannot
        # tell it from one anyone tagged), so the mail says how to start it by hand. Unlike a
        # lockout or a service's change, whose undoing restore alone knows, a stopped instance
        # is undone by one start anyone may run.
        no_record = set(ids) if recording.result() is not None else set()
        record_errors = [recording.result()] if no_record else []
        late = [target.id for target in targets if target.id not in counted_ids]
        if late:  # launched since the census: recorded too, before it is stopped
            error = plan.ledger.write(region, INSTANCES, late)
            if error is not None:
                no_record |= set(late)
                record_errors.append(error)
            tagged |= set(late) - set(
                recorded(region, tag_instances(ec2, late, {INCIDENT_TAG: plan.incident}), result)
            )
        held = holding.result()  # before anything stops: a stopped instance would be replaced
        result.merge(held)
        result.not_stopped.update(dict.fromkeys(sorted(held.unheld), NOT_HELD))
        targets = [target for target in targets if target.id not in held.unheld]
        if targets:
            act(region, plan, ec2, targets, requests=live_requests, pool=pool, result=result)
        report_stopped_without_record(region, no_record, record_errors, result)
        # Not in a `finally`: after a crash nobody knows what was stopped, and a tag taken off a
        # stopped instance is a record lost (tests/guard/test_record_first.py). A tag left on a
        # running one costs less: the next run takes it for carried over, trips, and untags it.
        untag_unhalted(ec2, region, tagged, result)
        count_still_billing(region, billing.result(), result)
    LOG.info(
        "region_halted",
        extra={
            "region": region,
            "incident": plan.incident,
            "stopped": len(result.stopped_by_region.get(region, [])),
            "terminated": len(result.terminated_by_region.get(region, [])),
            "still_pending": len(result.still_pending.get(region, [])),
            "not_stopped": result.not_stopped,
        },
    )
    return result


def classified(
    region: str,
    counted: Sequence[Target],
    reads: Sequence[Future[list[Target]]],
    requests: Mapping[str, SpotRequest],
    result: HaltResult,
) -> list[Target]:
    """The census's instances as the reads describe them (instance_kinds.classify). A read that
    failed leaves its instances plain: each is stopped like any other, and AWS's refusal says
    what it is (Refused), so the halt goes on."""
    special: list[Target] = []
    for read in reads:
        try:
            special += read.result()
        except (ClientError, BotoCoreError) as error:
            result.errors.append(f"{region}: describing instances: {describe_error(error)}")
    spot_of = {r.instance: r.id for r in requests.values() if r.instance}
    return classify(counted, special, spot_of)


def hold_groups(
    region: str, ids: Sequence[str], plan: HaltPlan, autoscaling: Any, ec2: Any
) -> HaltResult:
    """One read of the region's Auto Scaling groups, then the groups holding `ids` suspended
    and the warm pools kept Running stopped, side by side (auto_scaling.py, warm_pools.py).
    The groups to suspend are recorded first, in one write. Every member of a group not
    suspended in this run (the read, the record or the suspension failed) is left running
    (`unheld`), said in the mail, and tried again by the next run: a stopped InService instance
    fails the EC2 health check and "When Amazon EC2 Auto Scaling determines that an InService
    instance is unhealthy, it replaces it with a new instance" (EC2 Auto Scaling User Guide,
    "Health checks for instances in an Auto Scaling group"), terminating the stopped one."""
    incident = plan.incident
    held = HaltResult()
    try:
        groups = read_groups(autoscaling)
    except (ClientError, BotoCoreError) as error:
        held.unheld = group_members(ec2, ids, held)
        held.errors.append(
            f"{region}: describing Auto Scaling groups: {describe_error(error)}: none suspended, "
            f"so {len(held.unheld)} instance(s) of groups left running (stopped, they would be "
            "replaced); the next run tries again"
        )
        return held
    # One after the other: the pools leave to the suspension only what it did suspend (one
    # that failed leaves its processes to the pool halt), and no two calls change one group at
    # once (SuspendProcesses, PutWarmPool and CreateOrUpdateTags answer ResourceContentionFault
    # to "a pending update to an Auto Scaling resource", Auto Scaling API Reference).
    plans = plan_suspensions(groups, ids, incident)
    planned = set(plans)
    values = {
        group: {INCIDENT_TAG: incident, SUSPENDED_TAG: ",".join(processes)}
        for group, (_, processes) in plans.items()
    }
    error = plan.ledger.write(region, AUTO_SCALING, [], values)
    if error is not None:
        held.errors.append(
            f"{region}: recording Auto Scaling groups {sorted(plans)} failed ({error}): not "
            "suspended (restore could not resume them)"
        )
        plans = {}
    suspended = suspend_groups(region, plans, incident, autoscaling)
    # The pools' prior configurations are read group by group just before each change: each
    # record the module tags is written to the incident's record first (eager, ledger.py). A
    # pool's halt suspends what the group suspension left (warm_pools.py): that group is held.
    recorder = eager(autoscaling, plan.ledger, region, WARM_POOLS)
    warmed = halt_warm_pools(region, incident, recorder, groups, suspended.suspended)
    held.errors += suspended.errors + warmed.errors
    if suspended.suspended:
        held.suspended_by_region[region] = suspended.suspended
    if warmed.halted:
        held.warm_pools[region] = warmed.halted
    unheld = planned - set(suspended.suspended) - set(warmed.halted)
    held.unheld = {
        instance["InstanceId"]
        for group in groups
        if group["AutoScalingGroupName"] in unheld
        for instance in group.get("Instances", [])
    }  # launched since the census too: none of them is stopped
    if held.unheld:
        held.errors.append(
            f"{region}: Auto Scaling groups {sorted(unheld)} not suspended: their "
            f"{len(held.unheld)} instance(s) left running (stopped, they would be replaced); "
            "the next run tries again"
        )
    return held


def group_members(ec2: Any, ids: Sequence[str], result: HaltResult) -> set[str]:
    """The pending or running members of the region's Auto Scaling groups, by the tag Auto
    Scaling puts on them (GROUP_MEMBER_FILTER), when the groups themselves cannot be read; if
    that read fails too, all of `ids`: no instance is stopped that its group could replace."""
    try:
        return {t.id for t in describe_special(ec2, GROUP_MEMBER_FILTER)}
    except (ClientError, BotoCoreError) as error:
        result.errors.append(f"describing Auto Scaling group members: {describe_error(error)}")
        return set(ids)


def act(
    region: str,
    plan: HaltPlan,
    ec2: Any,
    targets: Sequence[Target],
    *,
    requests: dict[str, SpotRequest],
    pool: ThreadPoolExecutor,
    result: HaltResult,
) -> None:
    """Stop, terminate: the incident tag is already on (halt_region), terminating runs beside
    the stops."""
    persistent = persistence(requests)
    kinds = {t.id: kind_of(t, persistent) for t in targets}
    to_stop, pending, disposable, kept = keep_from_replacing(
        region, plan, ec2, targets, requests=requests, kinds=kinds, result=result
    )
    terminating = pool.submit(terminate, ec2, [t.id for t in disposable]) if disposable else None
    refused = Refused(
        region, plan.unstoppable, {t.id: t for t in targets}, kinds, requests, plan.incident
    )
    stopping = stop_running(ec2, [t.id for t in to_stop], plan.incident)
    refused.terminate_instead(ec2, stopping, result)
    waiting = stopping.still_pending + [t.id for t in pending]
    if terminating is not None:
        done, failed = terminating.result()
        result.terminated_by_region.setdefault(region, []).extend(done)
        result.not_stopped.update(failed)
    result.not_stopped.update(kept)
    stopping.still_pending = waiting
    if waiting and plan.wait_s > 0:
        waiting_for = Waiting(plan.wait_s, plan.sleep or time.sleep)
        later = wait_and_stop(ec2, waiting, waiting_for, plan.incident)
        refused.terminate_instead(ec2, later, result)  # refused once it ran
        stopping.still_pending = later.still_pending
        later.still_pending = []
        stopping.merge(later)
    report_unrecorded(region, stopping.unrecorded, result)
    # Not stopped, left running: its protection, where the lift worked and the stop did not,
    # goes back on first; if that fails too, both records stay, so restore puts it back (the
    # incident tag of the rest comes off in untag_unhalted).
    not_stopped = set(stopping.not_stopped) & {t.id for t in to_stop + pending}
    lifted = set(stopping.lifted)
    for instance in sorted(not_stopped & lifted):
        error = reprotect(ec2, instance)
        if error is not None:
            result.unprotected.append(instance)
            result.errors.append(
                f"{region}: {instance} kept running with its stop protection lifted; putting it "
                f"back failed ({error}): restore puts it back"
            )
    reprotected = (not_stopped & lifted) - set(result.unprotected)
    stopping.lifted = [i for i in stopping.lifted if i not in reprotected]
    result.stopped_by_region[region] = sorted(stopping.stopped)  # the mail lists them in order
    if region in result.terminated_by_region:
        result.terminated_by_region[region].sort()
    result.not_stopped.update(
        {
            instance: why_kept(kinds[instance], code, stopping.refusals.get(instance))
            if instance in kinds
            else code
            for instance, code in stopping.not_stopped.items()
        }
    )
    result.protection_lifted += stopping.lifted
    result.stop_calls[region] = stopping.calls
    if stopping.still_pending:
        result.still_pending[region] = stopping.still_pending


@dataclass
class Refused:
    """What to do with what StopInstances refused, as `decide_treatment` says: Spot that AWS
    will not stop after all is terminated (after the requests that would relaunch it are
    cancelled) when `unstoppable` allows, the rest stays in `not_stopped` with AWS's reason. An
    instance taken for plain that AWS refuses as one it never stops, for another reason than an
    instance-store root, is described first: it may be a Spot instance no read named
    (instance_kinds.py)."""

    region: str
    unstoppable: Unstoppable
    targets: dict[str, Target]
    kinds: dict[str, Kind]
    requests: dict[str, SpotRequest]
    incident: str  # cancelled requests are recorded under it first (spot.cancel_spot_requests)

    def to_terminate(self, stopping: Stopping) -> list[Target]:
        refused = stopping.not_stopped
        return [
            t
            for t in self.targets.values()
            if t.id in refused
            and decide_treatment(self.kinds[t.id], t.state, self.unstoppable, refused[t.id])
            is Treatment.TERMINATE
        ]

    def look_again(self, ec2: Any, stopping: Stopping, result: HaltResult) -> None:
        unknown = [
            instance
            for instance, code in stopping.not_stopped.items()
            if code == NEVER_STOPS
            and self.kinds.get(instance) is Kind.ON_DEMAND
            and "root device" not in stopping.refusals.get(instance, "")
        ]
        if not unknown:
            return
        try:
            described = describe_ids(ec2, unknown)
        except (ClientError, BotoCoreError) as error:
            result.errors.append(
                f"{self.region}: describing {len(unknown)} instance(s) AWS would not stop: "
                f"{describe_error(error)}"
            )
            return
        persistent = persistence(self.requests)
        for target in described:
            self.targets[target.id] = target
            self.kinds[target.id] = kind_of(target, persistent)

    def terminate_instead(self, ec2: Any, stopping: Stopping, result: HaltResult) -> None:
        self.look_again(ec2, stopping, result)
        refused_spot = self.to_terminate(stopping)
        if not refused_spot:
            return
        relaunching = relaunching_requests(self.requests, refused_spot)
        cancelled, errors = cancel_spot_requests(ec2, self.region, relaunching, self.incident)
        result.errors += errors
        if cancelled:
            result.spot_cancelled.setdefault(self.region, []).extend(cancelled)
        done, failed = terminate(ec2, [t.id for t in refused_spot])
        result.terminated_by_region.setdefault(self.region, []).extend(done)
        result.not_stopped.update(failed)
        for target in refused_spot:
            stopping.not_stopped.pop(target.id, None)


def spot_requests(
    region: str, reading: Future[dict[str, SpotRequest]], result: HaltResult
) -> dict[str, SpotRequest]:
    """The region's live Spot requests; if that read failed, none: each Spot instance outside a
    fleet is then taken for plain and stopped like any other, and only AWS's refusal makes it
    one-time (Refused.look_again, instance_kinds.kind_of)."""
    try:
        return reading.result()
    except (ClientError, BotoCoreError) as error:
        result.errors.append(f"{region}: describing Spot requests: {describe_error(error)}")
        return {}


def keep_from_replacing(
    region: str,
    plan: HaltPlan,
    ec2: Any,
    targets: Sequence[Target],
    *,
    requests: dict[str, SpotRequest],
    kinds: Mapping[str, Kind],
    result: HaltResult,
) -> tuple[list[Target], list[Target], list[Target], dict[str, str]]:
    """Fleets to 0 and relaunching Spot requests cancelled, before anything is stopped or
    terminated; returns the targets sorted by what happens to them (see `sort_targets`). Only
    the requests of what is terminated are cancelled: cancelling the disabled request of a
    stopped Spot instance would terminate it (spot.py)."""
    sorted_targets = sort_targets(targets, kinds, plan.unstoppable)
    fleets = zero_maintained_fleets(
        eager(ec2, plan.ledger, region, FLEETS), region, targets, plan.incident
    )
    result.errors += fleets.errors
    if fleets.zeroed:
        result.fleets_zeroed[region] = fleets.zeroed
    cancel = requests_to_cancel(requests, sorted_targets[2])
    if cancel:
        cancelled, errors = cancel_spot_requests(ec2, region, cancel, plan.incident)
        result.errors += errors
        result.spot_cancelled[region] = cancelled
    return sorted_targets


def count_still_billing(
    region: str, billing: tuple[list[str], str | None], result: HaltResult
) -> None:
    found, error = billing
    if found:
        result.still_billing[region] = found
    if error:
        result.errors.append(f"{region}: listing Dedicated Hosts / Capacity Reservations: {error}")


def sort_targets(
    targets: Sequence[Target], kinds: Mapping[str, Kind], unstoppable: Unstoppable
) -> tuple[list[Target], list[Target], list[Target], dict[str, str]]:
    """(running to stop, pending to stop once running, to terminate, {kept running: why}), as
    `decide_treatment` says before anything is stopped."""
    to_stop, pending, disposable, kept = [], [], [], {}
    for target in targets:
        kind = kinds[target.id]
        treatment = decide_treatment(kind, target.state, unstoppable)
        if treatment is Treatment.STOP:
            to_stop.append(target)
        elif treatment is Treatment.WAIT_FOR_RUNNING:
            pending.append(target)
        elif treatment is Treatment.TERMINATE:
            disposable.append(target)  # pending Spot can be terminated at once
        else:
            kept[target.id] = KEPT_RUNNING[kind]
    return to_stop, pending, disposable, kept


def eager(client: Any, ledger: Ledger, region: str, kind: str) -> Any:
    """`client` whose tag writes are each recorded in the incident's record first (ledger.py):
    for fleets and warm pools, a few per Region, whose prior values their modules read just
    before each change. A refused record fails the tag write, so that one is left unchanged
    (fleets) or changed and said (warm pools: a stopped pool instance must not be replaced)."""

    def write(values: dict[str, dict[str, str]]) -> str | None:
        return ledger.write(region, kind, [], values)

    return capture(client, {}, threading.Lock(), write)


def report_stopped_without_record(
    region: str, no_record: set[str], errors: Sequence[str], result: HaltResult
) -> None:
    """The instances whose record could not be written (ledger.py): halted all the same, and
    the mail says how to start the stopped ones by hand, since restore will not."""
    if not no_record:
        return
    stopped = sorted(no_record & set(result.stopped_by_region.get(region, [])))
    message = (
        f"{region}: recording {len(no_record)} instance(s) in the incident's record failed "
        f"({'; '.join(errors)})"
    )
    if stopped:
        message += (
            f": {len(stopped)} stopped without a record: restore will not start them; start "
            f"by hand: aws ec2 start-instances --region {region} --instance-ids "
            + " ".join(stopped)
        )
    result.errors.append(message)
    LOG.error("instances_not_recorded", extra={"region": region, "error": message})


def recorded(region: str, failed: dict[str, str], result: HaltResult) -> dict[str, str]:
    """Report the instances the incident tag could not go on (tag_instances' {id: error}):
    they are halted all the same; restore cannot find them by it."""
    if failed:
        shown = ", ".join(f"{i} ({e})" for i, e in sorted(failed.items())[:5])
        message = f"{region}: tagging {len(failed)} instance(s) failed: {shown}"
        result.errors.append(message)
        LOG.error("instance_tagging_failed", extra={"region": region, "error": message})
    return failed


def untag_unhalted(ec2: Any, region: str, tagged: set[str], result: HaltResult) -> None:
    """Take the incident tag off what this run tagged and left running (kept by `unstoppable`,
    refused, a failed termination): each later run would take it for an instance the incident
    halted. Stopped, terminated and still-pending instances keep it (restore, the next run);
    so does an instance whose lifted protection could not be put back (restore does it)."""
    halted = set(result.stopped_by_region.get(region, [])) | set(
        result.terminated_by_region.get(region, [])
    )
    keep = halted | set(result.still_pending.get(region, [])) | set(result.unprotected)
    untag(ec2, region, sorted(tagged - keep), result, (INCIDENT_TAG, STOP_PROTECTION_TAG))


def report_unrecorded(region: str, unrecorded: dict[str, str], result: HaltResult) -> None:
    """Stop protection lifted without its record (AWS refused the tag): restore cannot find it."""
    if not unrecorded:
        return
    shown = ", ".join(f"{i} ({e})" for i, e in sorted(unrecorded.items())[:5])
    message = (
        f"{region}: recording lifted stop protection failed on {len(unrecorded)} instance(s), "
        f"lifted all the same: {shown}; restore cannot put it back: set DisableApiStop on them "
        "by hand"
    )
    result.errors.append(message)
    LOG.error("lift_unrecorded", extra={"region": region, "error": message})


def untag(
    ec2: Any,
    region: str,
    ids: Sequence[str],
    result: HaltResult,
    keys: Sequence[str] = (INCIDENT_TAG,),
) -> None:
    if not ids:
        return
    try:
        ec2.delete_tags(Resources=list(ids), Tags=[{"Key": key} for key in keys])
    except (ClientError, BotoCoreError) as error:
        result.errors.append(f"{region}: untagging {len(ids)} instance(s): {describe_error(error)}")
