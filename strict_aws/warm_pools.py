"""Strict Auto Scaling warm pools: a pool holds EC2 instances, in their warm lifecycle states.

moto 5 stores a warm pool's configuration only: DescribeWarmPool answers `Instances: []` and no
instance is ever launched. AWS (Amazon EC2 Auto Scaling User Guide, "Warm pools for Amazon EC2
Auto Scaling", ec2-auto-scaling-warm-pools.html, and "Use lifecycle hooks with a warm pool",
warm-pool-instance-lifecycle.html):
- the pool is "a pool of pre-initialized EC2 instances that sits alongside an Auto Scaling
  group": real instances, launched from the group's launch template, not members of the group
  (DescribeAutoScalingGroups lists the group's; "You can view the instances in the warm pool
  using the DescribeWarmPool API call", PutWarmPool API Reference);
- its size is the group's maximum capacity (or MaxGroupPreparedCapacity, when set) minus the
  desired capacity, at least MinSize ("Warm pool size", "Minimum warm pool size"); -1 removes a
  MaxGroupPreparedCapacity set before (PutWarmPool API Reference);
- a new instance is `Warmed:Pending` while it launches, then goes to the pool state:
  `Warmed:Running` (left running, billed as running), or stopped / hibernated
  (`Warmed:Stopped`, `Warmed:Hibernated`): "As soon as an instance finishes launching into the
  warm pool, Amazon EC2 Auto Scaling stops or hibernates the instance" (lifecycle page);
- PoolState is "the instance state to transition to after the lifecycle actions are complete"
  (WarmPoolConfiguration, API Reference): it applies to instances entering the pool. What a
  PutWarmPool that changes it does to instances already warmed is not documented; this layer
  leaves them as they are, the case a caller cannot rely on AWS to stop anything for it;
- health: "For warm pool instances kept in a Running state, it relies on EC2 status checks";
  stopped ones are judged by their EBS volumes; an unhealthy instance is terminated and a new one
  launched to replace it ("View health check status", warm-pools-health-checks-monitor-view-
  status.html), unless HealthCheck or ReplaceUnhealthy is suspended (as for the group's own
  instances, auto_scaling.py);
- the pool is refilled with `Launch`: "Adds instances to the Auto Scaling group when the group
  scales out, or when Amazon EC2 Auto Scaling chooses to launch instances for other reasons, such
  as when it adds instances to a warm pool" ("Suspend and resume processes"); a pool larger than
  its settings allow is cut down ("Amazon EC2 Auto Scaling can terminate instances in the warm
  pool to reduce its size when it is larger than necessary", "Instance reuse policy"), which
  Terminate being suspended prevents;
- no warm pool for a group with a mixed instances policy (Limitations).
The pool is settled (launches finished, pool state applied, refills) on PutWarmPool, on
DescribeWarmPool, on each health-check pass and when processes are resumed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import (
    ASG_NAME_TAG,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    autoscaling_backends,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.ec2.models.instances import Instance

from strict_aws.active import current
from strict_aws.ec2_instances import is_launch_pending, terminate_unchecked
from strict_aws.patches import Patches

WARMED_PENDING = "Warmed:Pending"
WARMED_RUNNING = "Warmed:Running"
PAGE_MAX = 50  # DescribeWarmPool MaxRecords: "The maximum value is 50" (API Reference)
_POOL_ATTRIBUTE = "strict_warm_pool"  # on a moto group: its pool's WarmInstance list

_ORIGINAL: dict[str, Any] = {
    "put_warm_pool": FakeAutoScalingGroup.put_warm_pool,
    "describe_warm_pool": AutoScalingResponse.describe_warm_pool,
}
_CHAINED: dict[str, Any] = {}  # what was installed before this module (auto_scaling.py's resume)


@dataclass
class WarmInstance:
    instance: Instance
    lifecycle: str
    entering: str  # the pool state when it was launched into the pool, applied once it ran


def install(patches: Patches) -> None:
    _CHAINED["resume"] = AutoScalingBackend.resume_processes
    patches.set(FakeAutoScalingGroup, "put_warm_pool", _put_warm_pool)
    patches.set(AutoScalingResponse, "describe_warm_pool", _describe_warm_pool)
    patches.set(AutoScalingBackend, "resume_processes", _resume_processes)


def run_health_checks() -> list[str]:
    """One health-check pass over every warm pool in every loaded region; terminated ids."""
    terminated: list[str] = []
    for regions in list(autoscaling_backends.values()):
        for backend in list(regions.values()):
            for group in list(backend.autoscaling_groups.values()):
                terminated += check_pool(group)
    return terminated


def pool_of(group: FakeAutoScalingGroup) -> list[WarmInstance]:
    pool: list[WarmInstance] = group.__dict__.setdefault(_POOL_ATTRIBUTE, [])
    return pool


def check_pool(group: FakeAutoScalingGroup) -> list[str]:
    """One health-check pass over `group`'s warm pool, then a refill of what it lacks (lost
    instances included); returns the ids it terminated."""
    if group.warm_pool is None:
        return []
    settle(group)
    unhealthy = []
    if not _suspended(group) & {"HealthCheck", "ReplaceUnhealthy"}:
        unhealthy = [
            warm
            for warm in pool_of(group)
            if warm.lifecycle == WARMED_RUNNING
            and warm.instance.state != "running"
            and not is_launch_pending(warm.instance)
        ]
    if unhealthy:
        terminate_unchecked(group.ec2_backend, [warm.instance.id for warm in unhealthy])
        group.__dict__[_POOL_ATTRIBUTE] = [w for w in pool_of(group) if w not in unhealthy]
    refill(group)
    return [warm.instance.id for warm in unhealthy]


def settle(group: FakeAutoScalingGroup) -> None:
    """Drop terminated instances; put those whose launch finished into their pool state.

    Settled lazily (on the next read), but as of the moment the launch finished: an instance
    someone stopped after it reached running had entered the pool by then. A PoolState change
    while an instance launches is not modelled (it enters in the state it was launched for)."""
    kept = []
    for warm in pool_of(group):
        state = warm.instance.state
        if state in ("terminated", "shutting-down"):
            continue
        if warm.lifecycle == WARMED_PENDING and not is_launch_pending(warm.instance):
            if warm.entering != "Running" and state == "running":
                warm.instance.stop()  # Auto Scaling's own stop: no caller's checks apply
            warm.lifecycle = f"Warmed:{warm.entering}"
        kept.append(warm)
    group.__dict__[_POOL_ATTRIBUTE] = kept


def pool_size(group: FakeAutoScalingGroup) -> int:
    config = group.warm_pool
    if config is None:
        return 0
    prepared = config.max_group_prepared_capacity
    ceiling = group.max_size if prepared is None else prepared
    return max(int(ceiling or 0) - int(group.desired_capacity or 0), int(config.min_size or 0), 0)


def refill(group: FakeAutoScalingGroup) -> None:
    """Launch what the pool lacks (unless Launch is suspended), cut what it has too many of
    (unless Terminate is)."""
    config = group.warm_pool
    if config is None:
        return
    pool = pool_of(group)
    missing = pool_size(group) - len(pool)
    suspended = _suspended(group)
    if missing > 0 and "Launch" not in suspended:
        entering = str(config.pool_state)
        pool += [WarmInstance(i, WARMED_PENDING, entering) for i in _launch(group, missing)]
    elif missing < 0 and "Terminate" not in suspended:
        extra = pool[missing:]
        terminate_unchecked(group.ec2_backend, [warm.instance.id for warm in extra])
        del pool[missing:]
    settle(group)


def _launch(group: FakeAutoScalingGroup, count: int) -> list[Instance]:
    """moto's own group launch (replace_autoscaling_group_instances), without making the
    instances members of the group."""
    tags = {**group.get_propagated_tags(), ASG_NAME_TAG: group.name, **group.instance_tags}
    template = None
    if group.ec2_launch_template:
        template = {"LaunchTemplateId": group.ec2_launch_template.id}
    subnet = group.vpc_zone_identifier.split(",")[0] if group.vpc_zone_identifier else None
    reservation = group.autoscaling_backend.ec2_backend.run_instances(
        group.image_id,
        count,
        group.user_data,
        group.security_groups,
        instance_type=group.instance_type,
        tags={"instance": tags},
        placement=random.choice(group.availability_zones),
        launch_config=group.launch_config,
        launch_template=template,
        is_instance_type_default=False,
        subnet_id=subnet,
    )
    return list(reservation.instances)


def _suspended(group: FakeAutoScalingGroup) -> set[str]:
    return {p["ProcessName"] for p in group.suspended_processes}


def _put_warm_pool(
    self: FakeAutoScalingGroup,
    max_group_prepared_capacity: int | None,
    min_size: int | None,
    pool_state: str | None,
    instance_reuse_policy: dict[str, bool] | None,
) -> None:
    if current() is None:
        _ORIGINAL["put_warm_pool"](
            self, max_group_prepared_capacity, min_size, pool_state, instance_reuse_policy
        )
        return
    if self.mixed_instances_policy:
        # Limitations: "You cannot add a warm pool to Auto Scaling groups that have a mixed
        # instances policy"; the text is boto3's PutWarmPool documentation (the error code AWS
        # answers with is not documented: ValidationError, as for other bad parameters).
        raise ValidationError(
            "This operation cannot be called on an Auto Scaling group that has a mixed "
            "instances policy or a launch template or launch configuration that requests Spot "
            "Instances."
        )
    prepared = None if max_group_prepared_capacity is None else int(max_group_prepared_capacity)
    _ORIGINAL["put_warm_pool"](
        self,
        None if prepared == -1 else prepared,  # -1 removes the value set before
        None if min_size is None else int(min_size),
        pool_state,
        instance_reuse_policy,
    )
    settle(self)
    refill(self)


def _describe_warm_pool(self: AutoScalingResponse) -> Any:
    if current() is None:
        return _ORIGINAL["describe_warm_pool"](self)
    name = self._get_param("AutoScalingGroupName")
    [group] = self.autoscaling_backend.describe_auto_scaling_groups([name])
    settle(group)
    size = min(int(self._get_param("MaxRecords") or PAGE_MAX), PAGE_MAX)
    start = int(self._get_param("NextToken") or 0)
    pool = pool_of(group) if group.warm_pool is not None else []
    result: dict[str, Any] = {
        "WarmPoolConfiguration": _configuration(group),
        "Instances": [_describe(warm, group) for warm in pool[start : start + size]],
    }
    if start + size < len(pool):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def _configuration(group: FakeAutoScalingGroup) -> dict[str, Any] | None:
    config = group.warm_pool
    if config is None:
        return None
    described: dict[str, Any] = {"MinSize": int(config.min_size), "PoolState": config.pool_state}
    if config.max_group_prepared_capacity is not None:
        described["MaxGroupPreparedCapacity"] = int(config.max_group_prepared_capacity)
    if config.instance_reuse_policy:
        described["InstanceReusePolicy"] = config.instance_reuse_policy
    return described


def _describe(warm: WarmInstance, group: FakeAutoScalingGroup) -> dict[str, Any]:
    instance = warm.instance
    described: dict[str, Any] = {
        "InstanceId": instance.id,
        "InstanceType": instance.instance_type,
        "AvailabilityZone": instance.placement,
        "LifecycleState": warm.lifecycle,
        "HealthStatus": "Healthy",
    }
    if group.ec2_launch_template:
        described["LaunchTemplate"] = {
            "LaunchTemplateId": group.ec2_launch_template.id,
            "LaunchTemplateName": group.ec2_launch_template.name,
            "Version": str(group.launch_template_version),
        }
    return described


def _resume_processes(
    self: AutoScalingBackend, group_name: str, scaling_processes: list[str]
) -> None:
    _CHAINED["resume"](self, group_name, scaling_processes)
    if current() is not None and group_name in self.autoscaling_groups:
        # Resumed HealthCheck and Launch act on the pool too (the next pass: real AWS, within
        # minutes).
        check_pool(self.autoscaling_groups[group_name])
