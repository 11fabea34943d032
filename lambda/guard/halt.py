"""Stop every counted instance, region by region in parallel, without ever losing data.

Stop, never terminate. Before stopping, suspend the Auto Scaling processes that would replace
the stopped instances. Everything changed is tagged with the incident id for restore.

IAM: ec2:StopInstances, ec2:CreateTags (runawaytrain:* keys), autoscaling:DescribeAutoScalingGroups,
autoscaling:SuspendProcesses, autoscaling:CreateOrUpdateTags (runawaytrain:* keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import Census, Instance, describe_error
from guard.incident import INCIDENT_TAG, SUSPENDED_TAG
from guard.logs import get_logger
from guard.parallel import map_in_parallel

LOG = get_logger("halt")
_T = TypeVar("_T")

# Without these an Auto Scaling group launches a replacement for every instance we stop
# (Amazon EC2 Auto Scaling User Guide, "Suspend and resume processes").
ASG_PROCESSES = ("Launch", "HealthCheck", "ReplaceUnhealthy", "AZRebalance")
STOP_CHUNK = 500  # instance ids per StopInstances call, and per CreateTags call (limit 1000)
ASG_PAGE_SIZE = 100  # DescribeAutoScalingGroups MaxRecords upper bound (Auto Scaling API Reference)
# Errors about the request as a whole: splitting the batch cannot help, so it is not bisected.
# (Throttling has already been retried by the client's standard retry mode.)
REQUEST_LEVEL_ERRORS = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ServiceUnavailable",
        "Unavailable",
        "InternalError",
        "InternalFailure",
        "AuthFailure",
        "UnauthorizedOperation",
        "AccessDenied",
    }
)


@dataclass
class HaltResult:
    stopped_by_region: dict[str, list[str]] = field(default_factory=dict)
    not_stopped: dict[str, str] = field(default_factory=dict)  # instance id -> AWS error code
    # region -> {Auto Scaling group -> the processes this incident suspended}
    suspended_by_region: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # ASG and tagging failures, per region

    @property
    def stopped(self) -> list[str]:
        by_region = self.stopped_by_region
        return [id_ for region in sorted(by_region) for id_ in by_region[region]]

    @property
    def suspended_asgs(self) -> list[str]:
        by_region = self.suspended_by_region
        return [name for region in sorted(by_region) for name in by_region[region]]

    def merge(self, other: HaltResult) -> None:
        self.stopped_by_region.update(other.stopped_by_region)
        self.not_stopped.update(other.not_stopped)
        self.suspended_by_region.update(other.suspended_by_region)
        self.errors += other.errors


def halt_instances(
    census: Census,
    incident: str,
    ec2_for: Callable[[str], Any],
    autoscaling_for: Callable[[str], Any],
    workers: int,
) -> HaltResult:
    """Halt every region that has counted instances, all regions at once."""
    targets = {region: found for region, found in census.instances.items() if found}
    result = HaltResult()
    if not targets:
        return result

    def halt_one(region: str) -> HaltResult:
        return halt_region(
            region, targets[region], incident, ec2_for(region), lambda: autoscaling_for(region)
        )

    for region_result in map_in_parallel(halt_one, sorted(targets), workers):
        result.merge(region_result)
    return result


def halt_region(
    region: str,
    instances: Sequence[Instance],
    incident: str,
    ec2: Any,
    autoscaling: Callable[[], Any],
) -> HaltResult:
    """Suspend the Auto Scaling groups holding these instances, then stop them."""
    result = HaltResult()
    ids = [instance.id for instance in instances]
    suspend_asg_processes(region, ids, incident, autoscaling(), result)
    stopped_here = result.stopped_by_region.setdefault(region, [])
    for chunk in chunks(ids, STOP_CHUNK):
        stopped, failed = stop_instances(ec2, chunk)
        stopped_here += stopped
        result.not_stopped.update(failed)
        if stopped:
            tag_instances(region, stopped, incident, ec2, result)
    LOG.info(
        "instances_stopped",
        extra={
            "region": region,
            "incident": incident,
            "stopped": len(stopped_here),
            "not_stopped": result.not_stopped,
        },
    )
    return result


def stop_instances(ec2: Any, ids: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Stop `ids` in one call; if the call fails, bisect so one bad instance cannot block the rest.

    Returns (stopped ids, {id: error code}). Worst case 2n-1 calls when every instance fails
    individually; request-level errors fail the batch at once.
    """
    try:
        response = ec2.stop_instances(InstanceIds=list(ids))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        if len(ids) == 1 or code in REQUEST_LEVEL_ERRORS:
            return [], dict.fromkeys(ids, code)
        half = len(ids) // 2
        stopped_a, failed_a = stop_instances(ec2, ids[:half])
        stopped_b, failed_b = stop_instances(ec2, ids[half:])
        return stopped_a + stopped_b, failed_a | failed_b
    except BotoCoreError as error:  # connection lost, timeouts: nothing to learn from bisecting
        return [], dict.fromkeys(ids, type(error).__name__)
    stopped = [change["InstanceId"] for change in response.get("StoppingInstances", [])]
    missing = set(ids) - set(stopped)
    return stopped, dict.fromkeys(sorted(missing), "NotInResponse")


def suspend_asg_processes(
    region: str, ids: Sequence[str], incident: str, autoscaling: Any, result: HaltResult
) -> None:
    """Suspend the replacing processes of every group holding one of `ids`; record which
    processes were newly suspended (those suspended before the incident are not ours)."""
    try:
        groups = groups_holding(autoscaling, set(ids), incident)
    except (ClientError, BotoCoreError) as error:
        result.errors.append(f"{region}: describing Auto Scaling groups: {describe_error(error)}")
        return
    tags = []
    for group, (already, ours) in sorted(groups.items()):
        to_suspend = [process for process in ASG_PROCESSES if process not in already]
        if not to_suspend:
            continue
        # Tripped again under the same incident: keep what it suspended the first time.
        recorded = [
            process for process in ASG_PROCESSES if process in ours or process in to_suspend
        ]
        try:
            autoscaling.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=to_suspend)
        except (ClientError, BotoCoreError) as error:
            message = f"{region}: suspending Auto Scaling group {group}: {describe_error(error)}"
            result.errors.append(message)
            LOG.error(
                "asg_suspend_failed", extra={"region": region, "asg": group, "error": message}
            )
            continue
        result.suspended_by_region.setdefault(region, {})[group] = to_suspend
        tags += asg_tags(group, incident, recorded)
        LOG.info("asg_suspended", extra={"region": region, "asg": group, "processes": to_suspend})
    if tags:
        try:
            autoscaling.create_or_update_tags(Tags=tags)
        except (ClientError, BotoCoreError) as error:
            result.errors.append(f"{region}: tagging Auto Scaling groups: {describe_error(error)}")


def groups_holding(
    autoscaling: Any, ids: set[str], incident: str
) -> dict[str, tuple[set[str], set[str]]]:
    """{group name: (processes already suspended, those `incident` recorded suspending)} for
    the region's groups that hold any of `ids`.

    One DescribeAutoScalingGroups page lists 100 groups with their instances and tags, so
    membership costs one call per region, not one per instance.
    """
    holding: dict[str, tuple[set[str], set[str]]] = {}
    paginator = autoscaling.get_paginator("describe_auto_scaling_groups")
    for page in paginator.paginate(PaginationConfig={"PageSize": ASG_PAGE_SIZE}):
        for group in page["AutoScalingGroups"]:
            if ids & {instance["InstanceId"] for instance in group.get("Instances", [])}:
                suspended = {p["ProcessName"] for p in group.get("SuspendedProcesses", [])}
                tags = {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}
                ours = set()
                if tags.get(INCIDENT_TAG) == incident:
                    ours = set(filter(None, tags.get(SUSPENDED_TAG, "").split(",")))
                holding[group["AutoScalingGroupName"]] = (suspended, ours)
    return holding


def asg_tags(group: str, incident: str, processes: Sequence[str]) -> list[dict[str, Any]]:
    common = {"ResourceId": group, "ResourceType": "auto-scaling-group", "PropagateAtLaunch": False}
    return [
        {**common, "Key": INCIDENT_TAG, "Value": incident},
        {**common, "Key": SUSPENDED_TAG, "Value": ",".join(processes)},
    ]


def tag_instances(
    region: str, ids: Sequence[str], incident: str, ec2: Any, result: HaltResult
) -> None:
    try:
        ec2.create_tags(Resources=list(ids), Tags=[{"Key": INCIDENT_TAG, "Value": incident}])
    except (ClientError, BotoCoreError) as error:
        message = f"{region}: tagging {len(ids)} stopped instances failed: {describe_error(error)}"
        result.errors.append(message)
        LOG.error("instance_tagging_failed", extra={"region": region, "error": message})


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
