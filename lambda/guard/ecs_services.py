"""ECS services: counted, set to 0 tasks at a trip (their Auto Scaling suspended first), given
their tasks and scaling back by restore.

A service keeps `desiredCount` tasks running; UpdateService(desiredCount=0) stops them and
"doesn't trigger a new deployment" (ECS API Reference, UpdateServiceRequest.desiredCount); the
service, its task definition, load balancer and scaling setup stay. Fargate bills each task's
vCPUs and memory from its start until it stops. A service on the EC2 launch type, or on
capacity providers backed by Auto Scaling groups, runs on container instances the EC2 census
already counts and the EC2 halt stops: it weighs nothing here (count 0), but it is set to 0 all
the same, or its tasks start again on the instances a restore restarts. EXTERNAL services run
on the customer's own servers (ECS Anywhere) and DAEMON services (EC2 only: "Tasks using the
Fargate launch type ... don't support the DAEMON scheduling strategy", CreateServiceRequest)
have no desired count to set: neither is counted nor halted.

Weight: a Fargate service counts max(desiredCount, runningCount + pendingCount) tasks, each of
its task definition's cpu / 1024 vCPUs. Desired, because a service just created or scaled out
reads runningCount 0 while its tasks start and bill (the breaker trips on the first run, not
the next); running + pending, because a rolling deployment runs old and new tasks at once
(maximumPercent above 100) and a halted service drains for a while after desired is 0.

Order: Application Auto Scaling would undo the halt. A scalable target's scaling policies and
scheduled actions raise the desired count again unless suspended, and RegisterScalableTarget on
an existing target moves the service's current capacity into [MinCapacity, MaxCapacity] (AAS
API Reference, RegisterScalableTarget: "If you call the RegisterScalableTarget API operation to
update an existing scalable target, Application Auto Scaling retrieves the current capacity of
the resource. If it's below the minimum capacity or above the maximum capacity, Application
Auto Scaling adjusts the capacity..."). So the halt suspends first (SuspendedState: the three
flags true) and then sets desired 0; restore sets desired first and then puts the flags back.

Record, then change: before either change the service is tagged with the incident, its desired
count and its target's SuspendedState as it was ("none": no scalable target). A run while the
incident is open keeps a record this incident already wrote (it holds the state before the
trip, not the halted one). A halt that changed nothing takes its record off again. ECS tags only
services with the long ARN (service/<cluster>/<name>): "If you try to tag a service with a short
ARN, you receive an InvalidParameterException error" (ECS API Reference, TagResource; the text is
"Long arn format must be used for tagging operations", quoted in kayac/ecspresso#297). Such a
service cannot be recorded, so it is not halted; the mail says so and how to migrate it.

Restore, with restart only (a start bills again, as for EC2 instances): desired back to the
recorded count, SuspendedState back to the recorded flags, tags off. Without restart the record
stays and the service stays at 0 (its scaling suspended: resuming it could raise it to its
minimum). A service running again (someone raised it, or a crash came before the change) has
its scaling state put back and its record taken off.

IAM: ecs:ListClusters, ecs:ListServices, ecs:DescribeTaskDefinition and
application-autoscaling:DescribeScalableTargets (no resource-level permissions);
ecs:DescribeServices, ecs:UpdateService, ecs:TagResource / ecs:UntagResource (runawaytrain:
keys) on service ARNs; application-autoscaling:RegisterScalableTarget on scalable targets
(namespace ecs, dimension ecs:service:DesiredCount by condition; no RoleARN is passed, so no
iam:PassRole, and only existing targets are updated, so no iam:CreateServiceLinkedRole).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.parallel import map_items
from guard.service_capacity import Running, ServiceHalt, ServiceRestore, untag_resource

LOG = get_logger("ecs_services")

SERVICE = "ecs"  # the boto3 client
AAS = "application-autoscaling"
EXTRA_SERVICES = (AAS,)  # count, halt and restore get {service: client}
KIND = "ECS service"
PRICE_COMPONENT = "Fargate"  # pricing.FARGATE: its vCPUs and GiB at the Fargate rates
NAME = "ecs-services"  # in accounts.yaml's `halt:`
STOP_KEEPS = (
    "Kept: the service, its task definition, load balancers and scaling setup; its desired "
    "count is set to 0 and its Application Auto Scaling suspended (both recorded on it). "
    "Lost: its running tasks (their ephemeral storage and memory). Restore with "
    "restart_instances sets the count and scaling back."
)
# On a service: the desired count and the scalable target's SuspendedState before the trip.
DESIRED_TAG = f"{TAG_PREFIX}desired-count"
SCALING_TAG = f"{TAG_PREFIX}scaling-suspended"
RECORD_TAGS = [INCIDENT_TAG, DESIRED_TAG, SCALING_TAG]  # what a halt writes, restore takes off
NO_TARGET = "none"  # SCALING_TAG: the service had no scalable target
NAMESPACE, DIMENSION = "ecs", "ecs:service:DesiredCount"  # AAS API Reference, ResourceId
SUSPENDED = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")
# Tag values allow letters, digits, spaces and + - = . _ : / @ (TagResource): no commas.
SHORT = {"DynamicScalingInSuspended": "in", "DynamicScalingOutSuspended": "out"}
SHORT["ScheduledScalingSuspended"] = "scheduled"
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")  # the rest are Auto Scaling groups (EC2)
DESCRIBE_BATCH = 10  # DescribeServices: "You may specify up to 10 services" (API Reference)
PAGE_SIZE = 100  # ListClusters / ListServices maxResults upper bound (API Reference)
UNITS_PER_VCPU = 1024  # task cpu: "1024 CPU units (1 vCPU)" (TaskDefinition.cpu)


def clusters(ecs: Any) -> Iterator[str]:
    for page in ecs.get_paginator("list_clusters").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    ):
        yield from page["clusterArns"]


def service_arns(ecs: Any, cluster: str) -> list[str]:
    return [
        arn
        for page in ecs.get_paginator("list_services").paginate(
            cluster=cluster, PaginationConfig={"PageSize": PAGE_SIZE}
        )
        for arn in page["serviceArns"]
    ]


def services_of(ecs: Any, cluster: str, *, tags: bool = False) -> Iterator[dict[str, Any]]:
    """Every service of `cluster`, described 10 at a time (with its tags if asked)."""
    arns = service_arns(ecs, cluster)
    for start in range(0, len(arns), DESCRIBE_BATCH):
        batch = arns[start : start + DESCRIBE_BATCH]
        extra = {"include": ["TAGS"]} if tags else {}
        yield from ecs.describe_services(cluster=cluster, services=batch, **extra)["services"]


def counted_services(ecs: Any) -> list[dict[str, Any]]:
    """What services_of yields for every cluster, asked at once: the clusters' services
    listed at once, then described 10 a call ("You may specify up to 10 services to describe in
    a single operation", API Reference, DescribeServices), those calls at once."""
    names = list(clusters(ecs))
    listed = map_items(lambda cluster: service_arns(ecs, cluster), names)
    chunks = [
        (cluster, arns[start : start + DESCRIBE_BATCH])
        for cluster, arns in zip(names, listed, strict=True)
        for start in range(0, len(arns), DESCRIBE_BATCH)
    ]
    described = map_items(
        lambda chunk: ecs.describe_services(cluster=chunk[0], services=chunk[1])["services"],
        chunks,
    )
    return [service for services in described for service in services]


def on_fargate(launch_type: str | None, providers: list[str]) -> bool | None:
    """True: Fargate bills it; False: EC2 instances the census counts; None: EXTERNAL (ECS
    Anywhere, the customer's own servers). A strategy mixing Fargate with an EC2 provider
    weighs as Fargate (trips early, never late)."""
    if launch_type == "EXTERNAL":
        return None
    if launch_type:
        return launch_type == "FARGATE"
    return not providers or any(p in FARGATE_PROVIDERS for p in providers)


class TaskSizes:
    """(vCPUs, GiB) of task definitions, each described once in a run."""

    def __init__(self, ecs: Any) -> None:
        self._ecs = ecs
        self._known: dict[str, tuple[float | None, float | None]] = {}

    def of(self, arn: str) -> tuple[float | None, float | None]:
        if arn not in self._known:
            self._known[arn] = self._described(arn)
        return self._known[arn]

    def read(self, arns: list[str]) -> None:
        """Describe the task definitions of `arns` not known yet, at once (DescribeTaskDefinition
        takes one, API Reference), so `of` answers them without a call."""
        unknown = [arn for arn in dict.fromkeys(arns) if arn not in self._known]
        self._known |= dict(zip(unknown, map_items(self._described, unknown), strict=True))

    def _described(self, arn: str) -> tuple[float | None, float | None]:
        definition = self._ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return size(definition.get("cpu"), definition.get("memory"))


def size(cpu: str | None, memory: str | None) -> tuple[float | None, float | None]:
    """(vCPUs, GiB) of task-level cpu units and MiB, None where unset."""
    vcpus = int(cpu) / UNITS_PER_VCPU if cpu else None
    return vcpus, (int(memory) / 1024 if memory else None)


def name_of(service: dict[str, Any]) -> str:
    return f"{service['clusterArn'].rsplit('/', 1)[-1]}/{service['serviceName']}"


def count(clients: dict[str, Any], region: str) -> list[Running]:
    """The services of every cluster that run or want tasks now, weighed (see docstring)."""
    ecs = clients[SERVICE]
    billing = []  # (service, on Fargate, tasks)
    for service in counted_services(ecs):
        providers = [p["capacityProvider"] for p in service.get("capacityProviderStrategy", [])]
        fargate = on_fargate(service.get("launchType"), providers)
        if fargate is None or service.get("schedulingStrategy") == "DAEMON":
            continue
        desired, running = service["desiredCount"], service["runningCount"]
        tasks = max(desired, running + service.get("pendingCount", 0))
        if tasks:
            billing.append((service, fargate, tasks))
    sizes = TaskSizes(ecs)
    sizes.read([service["taskDefinition"] for service, _, _ in billing])
    found = []
    for service, fargate, tasks in billing:
        vcpus, memory = sizes.of(service["taskDefinition"])
        found.append(
            Running(
                kind=KIND,
                region=region,
                name=name_of(service),
                arn=service["serviceArn"],
                instance_type="",
                state=service["status"],
                # On EC2: its instances are in the EC2 census; counted there, not twice.
                count=tasks if fargate else 0,
                vcpus=vcpus if fargate else 0.0,
                memory_gib=memory,
            )
        )
    return found


def resource_id(service_arn: str) -> str:
    """The scalable target's ResourceId, service/<cluster>/<service> (long ARN only)."""
    return service_arn.split(":", 5)[5]


def is_long_arn(service_arn: str) -> bool:
    return resource_id(service_arn).count("/") == 2


def scaling_state(aas: Any, service_arn: str) -> dict[str, bool] | None:
    """The service's scalable target's SuspendedState (absent flags read as false), or None."""
    targets = aas.describe_scalable_targets(
        ServiceNamespace=NAMESPACE,
        ResourceIds=[resource_id(service_arn)],
        ScalableDimension=DIMENSION,
    )["ScalableTargets"]
    if not targets:
        return None
    state = targets[0].get("SuspendedState") or {}
    return {flag: bool(state.get(flag, False)) for flag in SUSPENDED}


def encode(state: dict[str, bool] | None) -> str:
    if state is None:
        return NO_TARGET
    return " ".join(f"{SHORT[flag]}={str(state[flag]).lower()}" for flag in SUSPENDED)


def decode(text: str) -> dict[str, bool] | None:
    if text == NO_TARGET:
        return None
    values = dict(part.split("=", 1) for part in text.split())
    return {flag: values[SHORT[flag]] == "true" for flag in SUSPENDED}


def set_scaling(aas: Any, service_arn: str, state: dict[str, bool]) -> None:
    aas.register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=resource_id(service_arn),
        ScalableDimension=DIMENSION,
        SuspendedState=state,
    )


def tags_of(service: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in service.get("tags", [])}


def halt(clients: dict[str, Any], found: list[Running], incident: str) -> ServiceHalt:
    """Record, suspend scaling, then set desired 0, for every service in `found`."""
    ecs = clients[SERVICE]
    outcome = ServiceHalt()
    for item in found:
        where = f"{item.region}: {KIND} {item.name}"
        try:
            cluster = item.name.split("/", 1)[0]
            described = ecs.describe_services(
                cluster=cluster, services=[item.arn], include=["TAGS"]
            )
            if not described["services"]:
                continue  # deleted since the count
            halt_one(clients, described["services"][0], item, incident, outcome)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: {describe_error(error)}")
    return outcome


def halt_one(
    clients: dict[str, Any],
    service: dict[str, Any],
    item: Running,
    incident: str,
    outcome: ServiceHalt,
) -> None:
    ecs, aas = clients[SERVICE], clients[AAS]
    arn, where = service["serviceArn"], f"{item.region}: {KIND} {item.name}"
    if service["desiredCount"] == 0 or service["status"] != "ACTIVE":
        return  # halted (its tasks draining), or being deleted: nothing to set
    if not is_long_arn(arn):
        outcome.errors.append(
            f"{where}: not halted: its short ARN ({arn}) cannot be tagged, so the guard cannot "
            "record what restore needs (ECS API Reference, TagResource). Migrate it to the long "
            "ARN format (ECS Developer Guide, 'Migrate an Amazon ECS short service ARN to a long "
            "ARN') or set its desired count to 0 by hand"
        )
        return
    prior = scaling_state(aas, arn)
    recorded = tags_of(service)
    if recorded.get(INCIDENT_TAG) == incident and DESIRED_TAG in recorded:
        wrote = False  # this incident's record holds the state before the trip: kept
    else:
        try:
            record = {
                INCIDENT_TAG: incident,
                DESIRED_TAG: str(service["desiredCount"]),
                SCALING_TAG: encode(prior),
            }
            ecs.tag_resource(
                resourceArn=arn, tags=[{"key": k, "value": v} for k, v in record.items()]
            )
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: not halted: recording it: {describe_error(error)}")
            return
        wrote = True
    suspended = False
    if prior is not None and not all(prior.values()):
        try:
            set_scaling(aas, arn, dict.fromkeys(SUSPENDED, True))
            suspended = True
        except (ClientError, BotoCoreError) as error:  # desired 0 all the same; reported
            outcome.errors.append(
                f"{where}: suspending its Application Auto Scaling: {describe_error(error)}; "
                "its scaling may raise it again (the next run sets it to 0 again)"
            )
    try:
        ecs.update_service(cluster=service["clusterArn"], service=arn, desiredCount=0)
    except (ClientError, BotoCoreError) as error:
        outcome.errors.append(f"{where}: setting its desired count to 0: {describe_error(error)}")
        # Refused, nothing changed: no record of a change that did not happen (a timeout: kept).
        if wrote and not suspended and refused(error):
            untag_resource(ecs, arn, RECORD_TAGS, where, outcome.errors)
        return
    outcome.halted.append(item)
    LOG.info("ecs_service_halted", extra={"region": item.region, "service": item.name})


def restore(
    clients: dict[str, Any],
    region: str,
    incident: str,
    *,
    dry_run: bool,
    restart: bool,
    record: Record,
) -> ServiceRestore:
    """Give the services `incident` set to 0 their tasks and scaling back (with `restart`),
    and take the record off what needs it no longer."""
    ecs, aas = clients[SERVICE], clients[AAS]
    outcome = ServiceRestore()
    for cluster in clusters(ecs):
        for service in services_of(ecs, cluster, tags=True):
            name, arn = name_of(service), service["serviceArn"]
            recorded = record.vouch(tags_of(service), arn, name)
            if recorded.get(INCIDENT_TAG) != incident:
                continue
            where = f"{region}/{name}"
            try:
                halted = service["desiredCount"] == 0
                if halted and not restart:
                    outcome.not_yet.append(where)  # stays at 0, scaling suspended: recorded
                    continue
                if dry_run:
                    if halted:
                        outcome.restored.append(where)
                    continue
                if halted and DESIRED_TAG in recorded:
                    desired = int(recorded[DESIRED_TAG])
                    ecs.update_service(cluster=cluster, service=arn, desiredCount=desired)
                    outcome.restored.append(where)
                if SCALING_TAG in recorded:
                    was, now = decode(recorded[SCALING_TAG]), scaling_state(aas, arn)
                    if was is not None and now is not None and now != was:
                        set_scaling(aas, arn, was)  # after the count: no clamp to 0
                ecs.untag_resource(resourceArn=arn, tagKeys=RECORD_TAGS)
            except (ClientError, BotoCoreError) as error:
                outcome.errors[f"{KIND} {where}"] = describe_error(error)
            except (ValueError, KeyError) as error:  # a record edited by hand: this one only
                outcome.errors[f"{KIND} {where}"] = f"its record is unreadable: {error}"
    return outcome
