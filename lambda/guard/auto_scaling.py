"""Auto Scaling: keep groups from replacing, health-checking away or scaling in what a trip
stopped, and give them back exactly what the incident took once their instances run again.

Halt: suspend, in every group holding a halted instance, the processes that would undo the halt
or destroy a stopped instance, and tag the group with the incident and the processes this
incident suspended (those suspended before are not ours to resume).
Restore: resume them only when none of the group's instances is still stopped by the incident:
under EC2 health checks an InService instance in any state other than running is unhealthy and
is terminated and replaced as soon as HealthCheck and ReplaceUnhealthy run again (Amazon EC2 Auto
Scaling User Guide, "Health checks for instances in an Auto Scaling group").

IAM: autoscaling:DescribeAutoScalingGroups, autoscaling:SuspendProcesses,
autoscaling:ResumeProcesses, autoscaling:CreateOrUpdateTags and autoscaling:DeleteTags
(runawaytrain:* keys), autoscaling:DescribeTags.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.incident import INCIDENT_TAG, SUSPENDED_TAG
from guard.instances import states_of
from guard.ledger import Record
from guard.logs import get_logger

LOG = get_logger("auto_scaling")

# Amazon EC2 Auto Scaling User Guide, "Suspend and resume processes":
# - Launch, ReplaceUnhealthy, AZRebalance: would launch replacements for what was stopped;
# - HealthCheck: marks a stopped InService instance unhealthy (EC2 health checks);
# - Terminate: scale-in (and ReplaceUnhealthy) would terminate stopped instances, losing their
#   EBS volumes when they delete on termination;
# - AlarmNotification, ScheduledActions: scaling policies and schedules would change the desired
#   capacity during the incident (scale-out launches, scale-in terminates);
# - InstanceRefresh: a refresh replaces instances, stopped ones included.
# cloud-custodian's ASG suspend action suspends these and AddToLoadBalancer (stopped
# instances leave their load balancer targets unhealthy either way).
ASG_PROCESSES = (
    "Launch",
    "Terminate",
    "HealthCheck",
    "ReplaceUnhealthy",
    "AZRebalance",
    "AlarmNotification",
    "ScheduledActions",
    "InstanceRefresh",
)
ASG_PAGE_SIZE = 100  # DescribeAutoScalingGroups MaxRecords upper bound (Auto Scaling API Reference)
NAMES_PER_DESCRIBE = 50  # DescribeAutoScalingGroups AutoScalingGroupNames: at most 50 names


@dataclass
class Suspension:
    """What one region's suspension did: {group: processes suspended now}, and what failed."""

    suspended: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def read_groups(autoscaling: Any) -> list[dict[str, Any]]:
    """Every Auto Scaling group of the region, with its instances, suspended processes, tags and
    warm pool: one DescribeAutoScalingGroups page lists 100 groups, so the region's groups cost
    one call, read once for both the suspension and the warm pools (warm_pools.py)."""
    paginator = autoscaling.get_paginator("describe_auto_scaling_groups")
    pages = paginator.paginate(PaginationConfig={"PageSize": ASG_PAGE_SIZE})
    return [group for page in pages for group in page["AutoScalingGroups"]]


SuspensionPlans = dict[str, tuple[list[str], list[str]]]  # group -> (to suspend, to record)


def plan_suspensions(
    groups: Sequence[dict[str, Any]], ids: Collection[str], incident: str
) -> SuspensionPlans:
    """Pure. For every group holding one of `ids`: the undoing processes to suspend now (not
    those suspended before the incident: not ours), and the processes the incident's record
    lists (tripped again under the same incident: what it suspended the first time, too)."""
    plans = {}
    for group, (already, ours) in sorted(groups_holding(groups, set(ids), incident).items()):
        to_suspend = [process for process in ASG_PROCESSES if process not in already]
        if to_suspend:
            plans[group] = to_suspend, [p for p in ASG_PROCESSES if p in ours or p in to_suspend]
    return plans


def suspend_groups(
    region: str, plans: SuspensionPlans, incident: str, autoscaling: Any
) -> Suspension:
    """Carry out `plans` (plan_suspensions), each group's record written first."""
    outcome = Suspension()
    if not plans:
        return outcome
    # Record first: a group suspended with no record would never be resumed by restore.
    tags = [
        tag for group, (_, recorded) in plans.items() for tag in asg_tags(group, incident, recorded)
    ]
    try:
        autoscaling.create_or_update_tags(Tags=tags)
    except (ClientError, BotoCoreError) as error:
        outcome.errors.append(
            f"{region}: tagging Auto Scaling groups {sorted(plans)}: {describe_error(error)}; "
            "they are suspended all the same (stopped instances must not be replaced): resume "
            "them by hand after restore"
        )
    for group, (to_suspend, _) in plans.items():
        try:
            autoscaling.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=to_suspend)
        except (ClientError, BotoCoreError) as error:
            message = f"{region}: suspending Auto Scaling group {group}: {describe_error(error)}"
            outcome.errors.append(message)
            LOG.error(
                "asg_suspend_failed", extra={"region": region, "asg": group, "error": message}
            )
            continue
        outcome.suspended[group] = to_suspend
        LOG.info("asg_suspended", extra={"region": region, "asg": group, "processes": to_suspend})
    return outcome


def groups_holding(
    groups: Sequence[dict[str, Any]], ids: set[str], incident: str
) -> dict[str, tuple[set[str], set[str]]]:
    """{group name: (processes already suspended, those `incident` recorded suspending)} for
    the groups that hold any of `ids`."""
    holding: dict[str, tuple[set[str], set[str]]] = {}
    for group in groups:
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


@dataclass
class Resumption:
    resumed: dict[str, list[str]] = field(default_factory=dict)  # group -> processes resumed
    kept: dict[str, str] = field(default_factory=dict)  # group -> why it stays suspended


def resume_groups(
    autoscaling: Any,
    ec2: Any,
    incident: str,
    still_stopped: Collection[str],
    dry_run: bool,
    *,
    record: Record,
) -> Resumption:
    """Resume what `incident` suspended, except in groups holding an instance in
    `still_stopped` (stopped by the incident and not running again) or, looked up in EC2, any
    instance that is not running (one the incident could not tag, say): resuming those would let
    health checks terminate and replace it. A later restore with restart finishes the job. Only
    the groups and processes the incident's record names (`record`, ledger.py): a group anyone
    tagged is left alone (`record.refused`)."""
    outcome = Resumption()
    stopped = set(still_stopped)
    names = incident_groups(autoscaling, incident)
    for start in range(0, len(names), NAMES_PER_DESCRIBE):
        batch = names[start : start + NAMES_PER_DESCRIBE]
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=batch)
        for group in groups["AutoScalingGroups"]:
            name = group["AutoScalingGroupName"]
            tags = record.vouch({tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}, name)
            if tags.get(INCIDENT_TAG) != incident:
                continue
            processes = [p for p in tags.get(SUSPENDED_TAG, "").split(",") if p]
            members = [i["InstanceId"] for i in group.get("Instances", [])]
            held = sorted(stopped.intersection(members) | not_running(ec2, members, dry_run))
            if held:
                outcome.kept[name] = (
                    f"still holds {len(held)} instance(s) stopped by the incident "
                    f"({' '.join(held[:5])}{' ...' if len(held) > 5 else ''}); resuming "
                    "HealthCheck would terminate them: restore again with restart_instances"
                )
                continue
            if not dry_run:
                if processes:
                    autoscaling.resume_processes(
                        AutoScalingGroupName=name, ScalingProcesses=processes
                    )
                autoscaling.delete_tags(
                    Tags=[
                        {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key}
                        for key in (INCIDENT_TAG, SUSPENDED_TAG)
                        if key in tags
                    ]
                )
            outcome.resumed[name] = processes
    return outcome


def not_running(ec2: Any, ids: Sequence[str], dry_run: bool) -> set[str]:
    """Which of `ids` EC2 says are not running (a dry run changed nothing: not asked)."""
    if dry_run or not ids:
        return set()
    return {i for i, (state, _) in states_of(ec2, ids).items() if state != "running"}


def incident_groups(autoscaling: Any, incident: str | None) -> list[str]:
    """Auto Scaling groups carrying the incident tag (any incident when `incident` is None)."""
    filters = [{"Name": "key", "Values": [INCIDENT_TAG]}]
    if incident is not None:
        filters.append({"Name": "value", "Values": [incident]})
    return sorted(
        {
            tag["ResourceId"]
            for page in autoscaling.get_paginator("describe_tags").paginate(Filters=filters)
            for tag in page["Tags"]
            if incident is None or tag["Value"] == incident
        }
    )
