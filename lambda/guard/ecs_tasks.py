"""Standalone ECS tasks (RunTask / StartTask, not a service's): counted, and stopped at a trip
only where accounts.yaml's `halt:` names them (irreversible: a stopped task is not resumed).

A service's tasks are ecs_services.py's: a task a service started carries the service's
deployment id in `startedBy` ("If an Amazon ECS service started the task, the startedBy
parameter contains the deployment ID of that service", ECS API Reference, Task.startedBy; the
ids read ecs-svc/...) and the group service:<name> ("Tasks launched as part of a service use the
service name as the task group name", ECS Developer Guide, "Group related Amazon ECS tasks").
Neither is the service's alone: RunTask and StartTask take any `group` (up to 255 characters)
and any `startedBy` ("Up to 36 letters (uppercase and lowercase), numbers, hyphens (-), forward
slash (/), and underscores (_)", API Reference, StartTask/RunTask startedBy), so anyone who may
run a task can dress it as a service's and, unchecked, escape both halts (the service's, which
sets its desired count to 0, and this one). So a task is a service's only when it names (group)
a service of its cluster that exists, its startedBy is one of that service's deployments or task
sets (DescribeServices: deployments[].id, taskSets[].id), and the service holds it: a service is
weighed as max(desired, running + pending) tasks (ecs_services.py), and the tasks claiming it
beyond that many (the oldest first are its own) are standalone here.

Every other task ECS wants running is counted: ListTasks with desiredStatus RUNNING (its
default, spelled out) lists the tasks from PROVISIONING to RUNNING, and Fargate bills from the
image pull on (so PENDING ones too); a task already told to stop is not listed. A Fargate task
weighs its task-level cpu / 1024 vCPUs (Task.cpu; the task definition's when DescribeTasks omits
it). A task on the EC2 launch type (or an EC2 capacity provider) runs on an instance the EC2
census counts: count 0 here, and the EC2 halt stops its instance. EXTERNAL tasks (ECS Anywhere)
run on the customer's servers: not counted.

Halt: the task is tagged with the incident, then StopTask'ed with a reason naming it. StopTask
"Any tags associated with the task will be deleted" (API Reference): the lasting record is the
reason, shown as stoppedReason by DescribeTasks; the tag covers a run that ends between the two
(the next run, while the incident is open, stops it). A tag ECS refuses (a task with the old
short ARN) does not keep the task running: nothing is restored from it. Restore does nothing.

IAM: ecs:ListClusters, ecs:ListTasks (no resource-level permission is needed on `*`),
ecs:DescribeTasks, ecs:DescribeServices (service ARNs, only for tasks that claim a service),
ecs:StopTask, ecs:TagResource (runawaytrain: keys) on task ARNs,
ecs:DescribeTaskDefinition.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.ecs_services import DESCRIBE_BATCH as SERVICES_PER_DESCRIBE
from guard.ecs_services import PAGE_SIZE, TaskSizes, clusters, on_fargate, size
from guard.incident import INCIDENT_TAG
from guard.ledger import Record
from guard.logs import get_logger
from guard.parallel import map_items
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("ecs_tasks")

SERVICE = "ecs"
KIND = "ECS task"
PRICE_COMPONENT = "Fargate"  # pricing.FARGATE: its vCPUs and GiB at the Fargate rates
NAME = "ecs-tasks"  # in accounts.yaml's `halt:` (irreversible)
STOP_KEEPS = (
    "Lost: the task and its work (a stopped task is not resumed; its ephemeral storage is "
    "gone). Kept: its task definition, to run it again by hand after restore."
)
DESCRIBE_BATCH = 100  # DescribeTasks: "A list of up to 100 task IDs or full ARN entries"
SERVICE_GROUP = "service:"
# AWS Batch runs its jobs as ECS tasks in clusters of its own, named AWSBatch-<environment>-<id>
# (aws-samples/aws-batch-runtime-monitoring#21): batch_jobs.py counts and halts them as jobs.
BATCH_CLUSTER = "AWSBatch-"


def count(ecs: Any, region: str) -> list[Running]:
    """Every standalone task ECS wants running, in every cluster of the region: the clusters
    are asked at once (parallel.map_items), each listed, then described 100 tasks a call."""
    names = [c for c in clusters(ecs) if not c.rsplit("/", 1)[-1].startswith(BATCH_CLUSTER)]
    # Batch's own clusters are left out: their tasks are its jobs, counted by batch_jobs.py.
    tasks = [task for found in map_items(lambda c: standalone(ecs, c), names) for task in found]
    sizes = TaskSizes(ecs)
    sizes.read([task["taskDefinitionArn"] for task in tasks if unsized(task)])
    return [item for task in tasks if (item := weigh(task, region, sizes)) is not None]


def standalone(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    """DescribeTasks of the tasks of `cluster` ECS wants running that no service holds."""
    arns = [
        arn
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster=cluster, desiredStatus="RUNNING", PaginationConfig={"PageSize": PAGE_SIZE}
        )
        for arn in page["taskArns"]
    ]
    chunks = [arns[start : start + DESCRIBE_BATCH] for start in range(0, len(arns), DESCRIBE_BATCH)]
    described = map_items(
        lambda chunk: ecs.describe_tasks(cluster=cluster, tasks=chunk)["tasks"], chunks
    )
    tasks = [task for found in described for task in found]
    services = services_own(ecs, cluster, tasks)
    return [task for task in tasks if task["taskArn"] not in services]


def claimed_service(task: dict[str, Any]) -> str | None:
    """The service a task's group names (service:<name>), or None."""
    group = task.get("group") or ""
    return group[len(SERVICE_GROUP) :] if group.startswith(SERVICE_GROUP) else None


def services_own(ecs: Any, cluster: str, tasks: list[dict[str, Any]]) -> set[str]:
    """The ARNs of the tasks a service of `cluster` really holds (module docstring): the
    services the tasks name are described, 10 a call, only when a task names one."""
    claims: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        name = claimed_service(task)
        if name:
            claims.setdefault(name, []).append(task)
    names = sorted(claims)
    chunks = [
        names[start : start + SERVICES_PER_DESCRIBE]
        for start in range(0, len(names), SERVICES_PER_DESCRIBE)
    ]
    described = map_items(
        lambda chunk: ecs.describe_services(cluster=cluster, services=chunk)["services"], chunks
    )
    owned: set[str] = set()
    for services in described:
        for service in services:
            if service.get("status") != "ACTIVE" or service["serviceName"] not in claims:
                continue
            ids = {d["id"] for d in service.get("deployments", []) if d.get("id")}
            ids |= {t["id"] for t in service.get("taskSets", []) if t.get("id")}
            holds = max(
                service.get("desiredCount", 0),
                service.get("runningCount", 0) + service.get("pendingCount", 0),
            )
            its = [t for t in claims[service["serviceName"]] if t.get("startedBy") in ids]
            its.sort(key=lambda t: (str(t.get("createdAt", "")), t["taskArn"]))
            owned |= {t["taskArn"] for t in its[:holds]}
    return owned


def unsized(task: dict[str, Any]) -> bool:
    """Whether `weigh` reads the task's definition for its size (it counts the task, and the
    task's own cpu is unset)."""
    if "STOPPED" in (task.get("desiredStatus"), task.get("lastStatus")):
        return False
    provider = task.get("capacityProviderName")
    if on_fargate(task.get("launchType"), [provider] if provider else []) is None:
        return False
    return size(task.get("cpu"), task.get("memory"))[0] is None


def weigh(task: dict[str, Any], region: str, sizes: TaskSizes) -> Running | None:
    """A standalone task as it bills (services_own has taken out those a service holds)."""
    if "STOPPED" in (task.get("desiredStatus"), task.get("lastStatus")):
        return None  # being stopped, or stopped
    provider = task.get("capacityProviderName")
    fargate = on_fargate(task.get("launchType"), [provider] if provider else [])
    if fargate is None:
        return None
    vcpus, memory = size(task.get("cpu"), task.get("memory"))
    if vcpus is None:
        vcpus, memory = sizes.of(task["taskDefinitionArn"])
    cluster = task["clusterArn"].rsplit("/", 1)[-1]
    return Running(
        kind=KIND,
        region=region,
        name=f"{cluster}/{task['taskArn'].rsplit('/', 1)[-1]}",
        arn=task["taskArn"],
        instance_type="",
        state=task.get("lastStatus", ""),
        count=1 if fargate else 0,  # on EC2: its instance is in the EC2 census
        vcpus=vcpus if fargate else 0.0,
        memory_gib=memory,
    )


def halt(ecs: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Tag, then stop, every task in `found` (only reached when `halt:` names ecs-tasks)."""
    outcome = ServiceHalt()
    for task in found:
        where = f"{task.region}: {KIND} {task.name}"
        cluster = task.name.split("/", 1)[0]
        try:
            ecs.tag_resource(resourceArn=task.arn, tags=[{"key": INCIDENT_TAG, "value": incident}])
        except (ClientError, BotoCoreError) as error:  # stopped all the same: nothing to restore
            outcome.errors.append(
                f"{where}: tagging: {describe_error(error)}; stopped all the same"
            )
        try:
            ecs.stop_task(
                cluster=cluster,
                task=task.arn,
                reason=f"runawaytrain incident {incident}: the account's spending limit tripped",
            )
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: stopping: {describe_error(error)}")
            continue
        outcome.halted.append(task)
        LOG.info("ecs_task_stopped", extra={"region": task.region, "task": task.name})
    return outcome


def restore(
    ecs: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Irreversible: a stopped task is not started again."""
    return ServiceRestore()
