"""Auto Scaling warm pools: keep a group's pool of pre-initialised instances from running (or
being replaced) while an incident is open, and give the pool its configuration back after.

A warm pool's instances are EC2 instances beside the group, not in it (DescribeWarmPool lists
them, DescribeAutoScalingGroups does not): the census counts the running ones and
instances.py stops them with the region's other instances. What the pool adds is an owner that
undoes the stop. Amazon EC2 Auto Scaling User Guide, "Warm pools for Amazon EC2 Auto Scaling"
and "View health check status" (warm-pools-health-checks-monitor-view-status.html):
- a pool kept `Running` bills its instances as running ones ("Keeping instances in a Running
  state inside the warm pool is also possible, but is highly discouraged to avoid incurring
  unnecessary charges");
- its instances are health-checked with EC2 status checks, and an unhealthy one is terminated
  and replaced: a Warmed:Running instance the guard stopped would be thrown away (its EBS volumes
  with it) and a running one launched instead;
- Auto Scaling refills the pool with the Launch process ("such as when it adds instances to a
  warm pool", "Suspend and resume processes") and cuts a pool larger than its settings allow
  ("Instance reuse policy"): MinSize and MaxGroupPreparedCapacity are never lowered here, and the
  pool is never deleted (DeleteWarmPool --force-delete "also terminates the Amazon EC2
  instances", "AWS CLI examples for working with warm pools").

Halt, for every group whose pool is kept Running (pools kept Stopped or Hibernated burn only
their volumes and are left alone), from the region's one read of its groups (shared with
auto_scaling.py, beside whose suspension of the groups holding halted instances this runs; the
processes that suspension claims are left to it):
1. record on the group (WARM_POOL_TAG) the incident, the pool's configuration and the processes
   this incident suspends there, before changing anything;
2. suspend the ASG_PROCESSES not suspended yet (Launch refills, HealthCheck/ReplaceUnhealthy
   replace the stopped instances);
3. PutWarmPool with PoolState Stopped and the rest of the configuration as it was: what enters
   the pool from now on (a refill, an instance returning on scale-in) is stopped by Auto Scaling
   itself. PoolState is "the instance state to transition to after the lifecycle actions are
   complete" (WarmPoolConfiguration, API Reference): it does not stop what already runs there,
   which is why instances.py stops them.
Restore: once no instance of the pool is left stopped (restore with restart_instances starts the
ones the incident stopped), put the recorded configuration back, resume the recorded processes
and remove the record. While one is still stopped the pool stays Stopped and the group
suspended: PoolState Running and HealthCheck over a stopped Warmed:Running instance would
replace it.

IAM: autoscaling:DescribeAutoScalingGroups, autoscaling:DescribeWarmPool,
autoscaling:PutWarmPool, autoscaling:SuspendProcesses, autoscaling:ResumeProcesses,
autoscaling:CreateOrUpdateTags and autoscaling:DeleteTags (runawaytrain:* keys),
autoscaling:DescribeTags, ec2:DescribeInstances.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.auto_scaling import ASG_PROCESSES
from guard.census import describe_error
from guard.incident import WARM_POOL_TAG
from guard.instances import states_of
from guard.ledger import Record
from guard.logs import get_logger

LOG = get_logger("warm_pools")

RUNNING = "Running"  # the PoolState that keeps the pool's instances running (and billed)
HALTED_STATE = "Stopped"
STOPPED_LIFECYCLES = ("Warmed:Stopped", "Warmed:Hibernated")  # kept stopped by Auto Scaling
PENDING_DELETE = "PendingDelete"  # WarmPoolConfiguration Status of a pool being deleted
POOL_PAGE_SIZE = 50  # DescribeWarmPool MaxRecords: "The maximum value is 50" (API Reference)
TAG_VALUE_MAX = 256  # Auto Scaling tag values (API Reference, Tag)


@dataclass(frozen=True)
class PoolConfig:
    """A warm pool's configuration, as PutWarmPool takes it back."""

    pool_state: str
    min_size: int = 0
    max_prepared: int | None = None  # MaxGroupPreparedCapacity; None: the group's MaxSize
    reuse_on_scale_in: bool | None = None

    @classmethod
    def from_api(cls, config: dict[str, Any]) -> PoolConfig:
        reuse = config.get("InstanceReusePolicy", {}).get("ReuseOnScaleIn")
        prepared = config.get("MaxGroupPreparedCapacity")
        return cls(
            pool_state=config.get("PoolState", HALTED_STATE),  # the API's default
            min_size=int(config.get("MinSize", 0)),
            max_prepared=None if prepared is None or int(prepared) < 0 else int(prepared),
            reuse_on_scale_in=None if reuse is None else bool(reuse),
        )

    def put_params(self, group: str, pool_state: str | None = None) -> dict[str, Any]:
        """PutWarmPool's parameters: this configuration, in `pool_state` if given. Every field is
        sent: one left out could fall back to its default (a MinSize of 0 shrinks the pool)."""
        params: dict[str, Any] = {
            "AutoScalingGroupName": group,
            "PoolState": pool_state or self.pool_state,
            "MinSize": self.min_size,
            # -1 removes a value set before (PutWarmPool API Reference)
            "MaxGroupPreparedCapacity": -1 if self.max_prepared is None else self.max_prepared,
        }
        if self.reuse_on_scale_in is not None:
            params["InstanceReusePolicy"] = {"ReuseOnScaleIn": self.reuse_on_scale_in}
        return params

    def describe(self) -> str:
        prepared = "unset" if self.max_prepared is None else str(self.max_prepared)
        return (
            f"PoolState {self.pool_state}, MinSize {self.min_size}, "
            f"MaxGroupPreparedCapacity {prepared}"
        )


@dataclass(frozen=True)
class PoolRecord:
    """What the trip changed on one group, written on it before the change (WARM_POOL_TAG)."""

    incident: str
    config: PoolConfig
    suspended: tuple[str, ...] = ()

    def encode(self) -> str:
        """`incident=ID PoolState=Running MinSize=2 [MaxGroupPreparedCapacity=5]
        [ReuseOnScaleIn=true] suspended=Launch,HealthCheck,...` (at most TAG_VALUE_MAX)."""
        config = self.config
        parts = [
            f"incident={self.incident}",
            f"PoolState={config.pool_state}",
            f"MinSize={config.min_size}",
        ]
        if config.max_prepared is not None:
            parts.append(f"MaxGroupPreparedCapacity={config.max_prepared}")
        if config.reuse_on_scale_in is not None:
            parts.append(f"ReuseOnScaleIn={str(config.reuse_on_scale_in).lower()}")
        parts.append(f"suspended={','.join(self.suspended)}")
        return " ".join(parts)

    @classmethod
    def decode(cls, value: str) -> PoolRecord | None:
        """The record in a tag value; None if it is not one (edited by hand, say)."""
        fields = dict(part.partition("=")[::2] for part in value.split())
        try:
            prepared = fields.get("MaxGroupPreparedCapacity")
            reuse = fields.get("ReuseOnScaleIn")
            config = PoolConfig(
                pool_state=fields["PoolState"],
                min_size=int(fields["MinSize"]),
                max_prepared=None if prepared is None else int(prepared),
                reuse_on_scale_in=None if reuse is None else reuse == "true",
            )
            return cls(
                fields["incident"], config, tuple(filter(None, fields["suspended"].split(",")))
            )
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True)
class PoolHalt:
    """What the halt does to one group's pool: record, suspend `to_suspend`, set Stopped."""

    group: str
    record: PoolRecord
    to_suspend: tuple[str, ...]


def plan_pool_halt(
    group: str,
    config: PoolConfig,
    suspended: Collection[str],
    recorded: PoolRecord | None,
    incident: str,
) -> PoolHalt | None:
    """Pure. None for a pool that keeps nothing running. Tripped again under the same incident
    (someone set the pool Running by hand), the first record's configuration and processes are
    kept: they are what restore must put back."""
    if config.pool_state != RUNNING:
        return None
    first = recorded if recorded is not None and recorded.incident == incident else None
    to_suspend = tuple(p for p in ASG_PROCESSES if p not in suspended)
    ours = set(to_suspend) | set(first.suspended if first else ())
    record = PoolRecord(
        incident,
        first.config if first else config,
        tuple(p for p in ASG_PROCESSES if p in ours),
    )
    return PoolHalt(group, record, to_suspend)


@dataclass
class WarmPoolHalt:
    halted: dict[str, str] = field(default_factory=dict)  # group -> what was done to its pool
    errors: list[str] = field(default_factory=list)


def halt_warm_pools(
    region: str,
    incident: str,
    autoscaling: Any,
    groups: Sequence[dict[str, Any]],
    claimed: Mapping[str, Collection[str]],
) -> WarmPoolHalt:
    """Set every pool kept Running to Stopped, its group's processes suspended, recorded first.
    `groups`: the region's groups as auto_scaling.read_groups read them; `claimed`: {group:
    processes} the region's group suspension (auto_scaling.py) suspends and records for the
    groups holding halted instances: the pool leaves those to it, and claims the rest."""
    outcome = WarmPoolHalt()
    for group, config, suspended, recorded in pools_of(groups):
        taken = suspended | set(claimed.get(group, ()))
        plan = plan_pool_halt(group, config, taken, recorded, incident)
        if plan is not None:
            halt_pool(region, plan, autoscaling, outcome)
    return outcome


def pools_of(
    groups: Sequence[dict[str, Any]],
) -> list[tuple[str, PoolConfig, set[str], PoolRecord | None]]:
    """(group, its pool's configuration, suspended processes, WARM_POOL_TAG record) for every
    group with a warm pool not being deleted (DescribeAutoScalingGroups lists each group's
    WarmPoolConfiguration with its tags)."""
    found = []
    for group in groups:
        config = group.get("WarmPoolConfiguration")
        if not config or config.get("Status") == PENDING_DELETE:
            continue
        tags = {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}
        recorded = PoolRecord.decode(tags[WARM_POOL_TAG]) if WARM_POOL_TAG in tags else None
        suspended = {p["ProcessName"] for p in group.get("SuspendedProcesses", [])}
        found.append(
            (group["AutoScalingGroupName"], PoolConfig.from_api(config), suspended, recorded)
        )
    return found


def halt_pool(region: str, plan: PoolHalt, autoscaling: Any, outcome: WarmPoolHalt) -> None:
    group, config = plan.group, plan.record.config
    try:
        autoscaling.create_or_update_tags(Tags=[group_tag(group, plan.record.encode())])
    except (ClientError, BotoCoreError) as error:
        # Halted all the same: a stopped pool instance must not be replaced. The mail keeps
        # what restore would have read.
        outcome.errors.append(
            f"{region}: recording warm pool of {group}: {describe_error(error)}; it is set to "
            f"Stopped all the same: put back {config.describe()} and resume "
            f"{','.join(plan.to_suspend) or 'nothing'} by hand after restore"
        )
    done = []
    try:
        if plan.to_suspend:
            autoscaling.suspend_processes(
                AutoScalingGroupName=group, ScalingProcesses=list(plan.to_suspend)
            )
            done.append(f"suspended {' '.join(plan.to_suspend)}")
        autoscaling.put_warm_pool(**config.put_params(group, HALTED_STATE))
    except (ClientError, BotoCoreError) as error:
        message = f"{region}: halting warm pool of {group}: {describe_error(error)}"
        outcome.errors.append(message)
        LOG.error("warm_pool_halt_failed", extra={"region": region, "asg": group, "error": message})
        return
    done.insert(0, f"PoolState {config.pool_state} -> {HALTED_STATE}")
    outcome.halted[group] = "; ".join(done)
    LOG.info("warm_pool_halted", extra={"region": region, "asg": group, "done": done})


def group_tag(group: str, value: str) -> dict[str, Any]:
    return {
        "ResourceId": group,
        "ResourceType": "auto-scaling-group",
        "PropagateAtLaunch": False,
        "Key": WARM_POOL_TAG,
        "Value": value,
    }


@dataclass
class WarmPoolRestore:
    restored: dict[str, str] = field(default_factory=dict)  # group -> what was put back
    kept: dict[str, str] = field(default_factory=dict)  # group -> why its pool stays Stopped
    errors: dict[str, str] = field(default_factory=dict)  # group -> what failed


def restore_warm_pools(
    autoscaling: Any,
    ec2: Any,
    incident: str,
    still_stopped: Collection[str],
    dry_run: bool,
    *,
    ledger: Record,
) -> WarmPoolRestore:
    """Put back every pool `incident` recorded, unless one of its instances is still stopped
    (in `still_stopped`, or not running in EC2 while Auto Scaling keeps it Warmed:Running).
    Each pool as the incident's own record (`ledger`, ledger.py) has it, not as its tag says."""
    outcome = WarmPoolRestore()
    for group, record in recorded_pools(autoscaling, incident, ledger):
        try:
            restore_pool(
                autoscaling,
                ec2,
                group,
                record,
                still_stopped=set(still_stopped),
                dry_run=dry_run,
                outcome=outcome,
            )
        except (ClientError, BotoCoreError) as error:
            outcome.errors[group] = describe_error(error)
    return outcome


def recorded_pools(autoscaling: Any, incident: str, ledger: Record) -> list[tuple[str, PoolRecord]]:
    pages = autoscaling.get_paginator("describe_tags").paginate(
        Filters=[{"Name": "key", "Values": [WARM_POOL_TAG]}]
    )
    found = {}
    for page in pages:
        for tag in page["Tags"]:
            vouched = ledger.vouch({WARM_POOL_TAG: tag["Value"]}, tag["ResourceId"])
            if WARM_POOL_TAG not in vouched:
                continue
            record = PoolRecord.decode(vouched[WARM_POOL_TAG])
            if record is not None and record.incident == incident:
                found[tag["ResourceId"]] = record
    return sorted(found.items())


def restore_pool(
    autoscaling: Any,
    ec2: Any,
    group: str,
    record: PoolRecord,
    *,
    still_stopped: set[str],
    dry_run: bool,
    outcome: WarmPoolRestore,
) -> None:
    config, lifecycles = describe_pool(autoscaling, group)
    resumed = f"resumed {' '.join(record.suspended) or 'nothing'}"
    if config is not None:
        held = held_instances(ec2, lifecycles, still_stopped, dry_run)
        if held:
            outcome.kept[group] = (
                f"its warm pool still holds {len(held)} stopped instance(s) "
                f"({' '.join(held[:5])}{' ...' if len(held) > 5 else ''}); PoolState "
                f"{record.config.pool_state} and HealthCheck would replace them: restore again "
                "with restart_instances"
            )
            return
    if not dry_run:
        if config is not None:  # deleted during the incident: not ours to create again
            autoscaling.put_warm_pool(**record.config.put_params(group))
        if record.suspended:
            autoscaling.resume_processes(
                AutoScalingGroupName=group, ScalingProcesses=list(record.suspended)
            )
        autoscaling.delete_tags(
            Tags=[{"ResourceId": group, "ResourceType": "auto-scaling-group", "Key": WARM_POOL_TAG}]
        )
    put_back = (
        f"{record.config.describe()} put back"
        if config is not None
        else ("warm pool deleted during the incident, not created again")
    )
    outcome.restored[group] = f"{put_back}; {resumed}"
    LOG.info("warm_pool_restored", extra={"asg": group, "dry_run": dry_run})


def describe_pool(autoscaling: Any, group: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """(the pool's WarmPoolConfiguration or None, {instance id: lifecycle state})."""
    config = None
    lifecycles = {}
    pages = autoscaling.get_paginator("describe_warm_pool").paginate(
        AutoScalingGroupName=group, PaginationConfig={"PageSize": POOL_PAGE_SIZE}
    )
    for page in pages:
        config = page.get("WarmPoolConfiguration") or config
        for instance in page.get("Instances", []):
            lifecycles[instance["InstanceId"]] = instance["LifecycleState"]
    return config, lifecycles


def held_instances(
    ec2: Any, lifecycles: dict[str, str], still_stopped: set[str], dry_run: bool
) -> list[str]:
    """The pool's instances a restored configuration would endanger: stopped by the incident and
    not started again, or not running while Auto Scaling expects them to run (a dry run started
    nothing: EC2 is not asked)."""
    held = still_stopped.intersection(lifecycles)
    expected_running = [i for i, state in lifecycles.items() if state not in STOPPED_LIFECYCLES]
    if not dry_run and expected_running:
        states = states_of(ec2, expected_running)
        held |= {i for i, (state, _) in states.items() if state != "running"}
    return sorted(held)
