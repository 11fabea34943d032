"""Strict Auto Scaling: suspended processes are honoured, health checks replace what is not
running, and a mixed-instances group's Spot share is launched as Spot.

moto's groups never check health, launch with Launch suspended and scale in with Terminate
suspended. `StrictAWS.run_health_checks()` runs one health-check pass on demand; resuming
processes runs one at once (real AWS: within minutes).
"""

from __future__ import annotations

from typing import Any

from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup, autoscaling_backends
from moto.ec2.models.instances import Instance

from strict_aws.active import current
from strict_aws.ec2_instances import is_launch_pending, terminate_unchecked
from strict_aws.ec2_spot_requests import register
from strict_aws.patches import Patches

_ORIGINAL: dict[str, Any] = {
    "asg_replace": FakeAutoScalingGroup.replace_autoscaling_group_instances,
    "asg_set_desired": FakeAutoScalingGroup.set_desired_capacity,
    "asg_resume": AutoScalingBackend.resume_processes,
}


def install(patches: Patches) -> None:
    patches.set(FakeAutoScalingGroup, "replace_autoscaling_group_instances", _asg_replace)
    patches.set(FakeAutoScalingGroup, "set_desired_capacity", _asg_set_desired)
    patches.set(AutoScalingBackend, "resume_processes", _asg_resume)


def run_health_checks() -> list[str]:
    """One Auto Scaling EC2 health-check pass in every loaded region; returns terminated ids."""
    terminated: list[str] = []
    for regions in list(autoscaling_backends.values()):
        for backend in list(regions.values()):
            for group in list(backend.autoscaling_groups.values()):
                terminated += check_group(backend, group)
    return terminated


def check_group(backend: AutoScalingBackend, group: FakeAutoScalingGroup) -> list[str]:
    """One EC2 health-check pass over `group`; returns the ids it terminated."""
    # Auto Scaling User Guide, "Health checks for instances in an Auto Scaling group"
    # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/healthcheck.html, and "About the
    # health checks", .../health-checks-overview.html: the EC2 check "checks that the instance
    # is running"; the older page: "marks an instance as unhealthy if its instance status is
    # any value other than running"). Unhealthy InService instances are terminated and
    # replaced unless HealthCheck or ReplaceUnhealthy is suspended ("Suspend and resume
    # processes", .../as-suspend-resume-processes.html). An instance still pending from its
    # launch is in the group's Pending lifecycle (and grace period), not unhealthy.
    suspended = {p["ProcessName"] for p in group.suspended_processes}
    if suspended & {"HealthCheck", "ReplaceUnhealthy"}:
        return []
    unhealthy = []
    for state in group.instance_states:
        instance = state.instance
        if state.lifecycle_state != "InService" or instance.state == "terminated":
            continue
        if is_launch_pending(instance):
            continue
        if instance.state != "running":
            unhealthy.append(instance.id)
    if unhealthy:
        terminate_unchecked(backend.ec2_backend, unhealthy)
        backend.notify_terminate_instances(unhealthy)
    return unhealthy


def _suspended(group: FakeAutoScalingGroup) -> set[str]:
    return {p["ProcessName"] for p in group.suspended_processes}


def _asg_replace(self: FakeAutoScalingGroup, count_needed: int, propagated_tags: Any) -> None:
    # Auto Scaling User Guide, "Suspend and resume Amazon EC2 Auto Scaling processes"
    # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html):
    # with Launch suspended the group launches nothing (no scale-out, no replacement).
    if current() is None:
        _ORIGINAL["asg_replace"](self, count_needed, propagated_tags)
        return
    if "Launch" in _suspended(self):
        return
    before = {state.instance.id for state in self.instance_states}
    _ORIGINAL["asg_replace"](self, count_needed, propagated_tags)
    new = [s.instance for s in self.instance_states if s.instance.id not in before]
    _mark_asg_spot(self, new)


def _spot_share(group: FakeAutoScalingGroup) -> int:
    """How many of the group's instances its MixedInstancesPolicy puts on Spot (moto's maths)."""
    policy = group.mixed_instances_policy or {}
    if not policy.get("LaunchTemplate", {}).get("Overrides"):
        return 0
    distribution = policy.get("InstancesDistribution", {})
    base = int(distribution.get("OnDemandBaseCapacity", 0))
    percent = int(distribution.get("OnDemandPercentageAboveBaseCapacity", 100))
    above = max(0, (group.desired_capacity or 0) - base)
    return int(above - above * percent / 100.0)


def _mark_asg_spot(group: FakeAutoScalingGroup, new: list[Instance]) -> None:
    # Auto Scaling User Guide, "Auto Scaling groups with multiple instance types and purchase
    # options" (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-mixed-
    # instances-groups.html): the Spot share is launched as Spot Instances (one-time requests,
    # so StopInstances refuses them). moto launches them all on-demand; mark the Spot share, each
    # with the one-time request DescribeSpotInstanceRequests lists (ec2_spot_requests.py).
    current = sum(
        1
        for s in group.instance_states
        if s.instance not in new and getattr(s.instance, "lifecycle", None) == "spot"
    )
    for instance in new[: max(0, _spot_share(group) - current)]:
        register(instance)


def _asg_set_desired(self: FakeAutoScalingGroup, new_capacity: int | None) -> None:
    # Same page: with Terminate suspended the group does not scale in; desired capacity changes
    # but the instances stay.
    if current() is not None and "Terminate" in _suspended(self):
        target = self.min_size if new_capacity is None else new_capacity
        if (target or 0) < len(self.active_instances()):
            self.desired_capacity = target
            return
    _ORIGINAL["asg_set_desired"](self, new_capacity)


def _asg_resume(self: AutoScalingBackend, group_name: str, scaling_processes: list[str]) -> None:
    _ORIGINAL["asg_resume"](self, group_name, scaling_processes)
    if current() is not None and group_name in self.autoscaling_groups:
        # The next health-check pass comes right after resuming (real AWS: within minutes).
        check_group(self, self.autoscaling_groups[group_name])
