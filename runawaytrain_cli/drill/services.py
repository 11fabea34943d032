"""The drill's capacity outside EC2 (issue 21): one of each kind the guard halts, seeded into the
tripped account's first region, read back from the emulator before the trip, after it and after
the restore. The trip must halt each (the report names it and the emulator shows it halted), and
the restore must give back exactly what the drill read before the trip.

Each kind is a `Seed`: how to create it, how to read what restore must give back (a snapshot,
compared whole), and what the snapshot looks like halted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_stack.fleet_model import Account

if TYPE_CHECKING:  # scenario seeds through this module
    from runawaytrain_cli.drill.scenario import DrillResult

SERVICE_ROLE = "drill-seeds"  # the role the seeds' services run as (locked out by users+roles)
SETTLE_S = 30.0  # for a seed to leave its starting state (the emulator's pending time, and margin)
Snapshot = dict[str, Any]


@dataclass(frozen=True)
class Seed:
    kind: str  # the guard module's KIND, as the report names it
    name: str  # the name the report gives it ("region/name" there)
    create: Callable[[Any, str, str, str], None]  # (operator session, region, account, name)
    read: Callable[[Any, str, str], Snapshot]  # (session, region, name): what restore gives back
    halted: Callable[[Snapshot], bool]  # the snapshot after the trip says it is halted
    settled: Callable[[Snapshot], bool] = lambda _: True  # ready to be tripped on
    # A snapshot after restore, as it will read once settled (a restarted notebook is Pending).
    as_restored: Callable[[Snapshot], Snapshot] = lambda snapshot: snapshot
    reported_as: Callable[[str], str] = lambda name: name  # "cluster/service" for ECS


def _create_notebook(session: Any, region: str, account: str, name: str) -> None:
    session.client("sagemaker", region_name=region).create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType="ml.t3.medium",
        RoleArn=f"arn:aws:iam::{account}:role/drill-notebook",
    )


def _read_notebook(session: Any, region: str, name: str) -> Snapshot:
    found = session.client("sagemaker", region_name=region).describe_notebook_instance(
        NotebookInstanceName=name
    )
    return {"status": found["NotebookInstanceStatus"], "type": found["InstanceType"]}


def _network(session: Any, region: str, account: str) -> dict[str, str]:
    """One VPC, subnet and security group per region for the seeds that need a network, and
    a service role (made once)."""
    ec2 = session.client("ec2", region_name=region)
    found = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["drill-seeds"]}])
    if found["Subnets"]:
        subnet = found["Subnets"][0]
        vpc = subnet["VpcId"]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(
            VpcId=vpc,
            CidrBlock="10.9.0.0/24",
            TagSpecifications=[
                {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "drill-seeds"}]}
            ],
        )["Subnet"]
        ec2.create_security_group(GroupName="drill-seeds", Description="drill", VpcId=vpc)
    groups = ec2.describe_security_groups(
        Filters=[
            {"Name": "group-name", "Values": ["drill-seeds"]},
            {"Name": "vpc-id", "Values": [vpc]},
        ]
    )["SecurityGroups"]
    return {
        "subnet": subnet["SubnetId"],
        "group": groups[0]["GroupId"],
        "role": _service_role(session, region),
    }


def _service_role(session: Any, region: str) -> str:
    """The role the seeds' services run as (made once)."""
    iam = session.client("iam", region_name=region)
    try:
        return str(iam.get_role(RoleName=SERVICE_ROLE)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        created = iam.create_role(RoleName=SERVICE_ROLE, AssumeRolePolicyDocument="{}")
        return str(created["Role"]["Arn"])


def _create_batch_environment(session: Any, region: str, account: str, name: str) -> None:
    """A Fargate compute environment with a job running on its queue (Fargate: no instance in
    the EC2 count; a Fargate environment bills through its jobs, so it counts with one)."""
    net = _network(session, region, account)
    batch = session.client("batch", region_name=region)
    batch.create_compute_environment(
        computeEnvironmentName=name,
        type="MANAGED",
        state="ENABLED",
        computeResources={
            "type": "FARGATE",
            "maxvCpus": 16,
            "subnets": [net["subnet"]],
            "securityGroupIds": [net["group"]],
        },
        serviceRole=net["role"],
    )
    batch.create_job_queue(
        jobQueueName=f"{name}-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}],
    )
    batch.register_job_definition(
        jobDefinitionName=f"{name}-job",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "busybox",
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "2048"},
            ],
        },
    )
    batch.submit_job(jobName="etl", jobQueue=f"{name}-queue", jobDefinition=f"{name}-job")


def _read_batch_environment(session: Any, region: str, name: str) -> Snapshot:
    [found] = session.client("batch", region_name=region).describe_compute_environments(
        computeEnvironments=[name]
    )["computeEnvironments"]
    return {"state": found["state"], "maxvCpus": found["computeResources"]["maxvCpus"]}


SCALING = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


def _create_ecs_service(session: Any, region: str, account: str, name: str) -> None:
    """A Fargate service of 2 tasks whose count Application Auto Scaling keeps in [1, 4]: the
    halt must suspend the scaling before it sets the count to 0."""
    ecs = session.client("ecs", region_name=region)
    ecs.create_cluster(clusterName="drill")
    definition = ecs.register_task_definition(
        family=name,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="2048",
        containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="drill",
        serviceName=name,
        taskDefinition=definition,
        desiredCount=2,
        launchType="FARGATE",
    )
    session.client("application-autoscaling", region_name=region).register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/drill/{name}",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=4,
    )


def _read_ecs_service(session: Any, region: str, name: str) -> Snapshot:
    [service] = session.client("ecs", region_name=region).describe_services(
        cluster="drill", services=[name]
    )["services"]
    [target] = session.client(
        "application-autoscaling", region_name=region
    ).describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[f"service/drill/{name}"])[
        "ScalableTargets"
    ]
    suspended = target.get("SuspendedState", {})
    return {
        "desiredCount": service["desiredCount"],
        "scaling": (target["MinCapacity"], target["MaxCapacity"]),
        "suspended": sorted(key for key in SCALING if suspended.get(key)),
    }


def _create_endpoint(session: Any, region: str, account: str, name: str) -> None:
    """A real-time endpoint of one ml.m5.large, from a configuration and model of its own."""
    sagemaker = session.client("sagemaker", region_name=region)
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=_service_role(session, region),
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/drill:latest"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": f"{name}-model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(
        EndpointName=name,
        EndpointConfigName=f"{name}-config",
        Tags=[{"Key": "team", "Value": "drill"}],
    )


def _read_endpoint(session: Any, region: str, name: str) -> Snapshot:
    sagemaker = session.client("sagemaker", region_name=region)
    try:
        found = sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError:
        return {"status": "absent"}  # a halted endpoint is deleted: its configuration stays
    tags = sagemaker.list_tags(ResourceArn=found["EndpointArn"])["Tags"]
    return {
        "status": found["EndpointStatus"],
        "config": found["EndpointConfigName"],
        "tags": {tag["Key"]: tag["Value"] for tag in tags},
    }


def _create_function(session: Any, region: str, account: str, name: str) -> None:
    """A function with a reserved concurrency of 5: the halt throttles it to 0."""
    functions = session.client("lambda", region_name=region)
    functions.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=_service_role(session, region),
        Handler="index.handler",
        Code={"ZipFile": b"drill: never invoked"},
    )
    functions.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)


def _read_function(session: Any, region: str, name: str) -> Snapshot:
    found = session.client("lambda", region_name=region).get_function_concurrency(FunctionName=name)
    return {"reserved": found.get("ReservedConcurrentExecutions")}


def _create_database(session: Any, region: str, account: str, name: str) -> None:
    session.client("rds", region_name=region).create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="drill",
        MasterUserPassword="drill-password-1",
    )


def _read_database(session: Any, region: str, name: str) -> Snapshot:
    [found] = session.client("rds", region_name=region).describe_db_instances(
        DBInstanceIdentifier=name
    )["DBInstances"]
    return {"status": found["DBInstanceStatus"], "class": found["DBInstanceClass"]}


SEEDS: tuple[Seed, ...] = (
    Seed(
        "SageMaker notebook instance",
        "drill-notebook",
        _create_notebook,
        _read_notebook,
        # Started again, a notebook is Pending for a while: the restore check takes either.
        halted=lambda s: s["status"] in ("Stopping", "Stopped"),
        settled=lambda s: s["status"] == "InService",
        as_restored=lambda s: {**s, "status": "InService"} if s["status"] == "Pending" else s,
    ),
    Seed(
        "Batch compute environment",
        "drill-batch",
        _create_batch_environment,
        _read_batch_environment,
        halted=lambda s: s["state"] == "DISABLED",
    ),
    Seed(
        "ECS service",
        "drill-web",
        _create_ecs_service,
        _read_ecs_service,
        # Scaling suspended first: AAS would otherwise raise the count back to its minimum.
        halted=lambda s: s["desiredCount"] == 0 and s["suspended"] == sorted(SCALING),
        reported_as=lambda name: f"drill/{name}",
    ),
    Seed(
        "SageMaker endpoint",
        "drill-endpoint",
        _create_endpoint,
        _read_endpoint,
        halted=lambda s: s["status"] == "absent",
        settled=lambda s: s["status"] == "InService",
        # Created again, an endpoint is Creating for some minutes before it is InService.
        as_restored=lambda s: {**s, "status": "InService"} if s["status"] == "Creating" else s,
    ),
    Seed(
        "Lambda function",
        "drill-function",
        _create_function,
        _read_function,
        halted=lambda s: s["reserved"] == 0,
    ),
    Seed(
        "RDS database",
        "drill-db",
        _create_database,
        _read_database,
        halted=lambda s: s["status"] in ("stopping", "stopped"),
        settled=lambda s: s["status"] == "available",
        as_restored=lambda s: {**s, "status": "available"} if s["status"] == "starting" else s,
    ),
)


def seed_services(emulator: Emulator, account: Account, region: str) -> dict[str, Snapshot]:
    """Create one of each kind, wait until each is ready, and read it: {kind: snapshot}."""
    session = emulator.operator(account.id, region)
    for seed in SEEDS:
        seed.create(session, region, account.id, seed.name)
    before: dict[str, Snapshot] = {}
    deadline = time.monotonic() + SETTLE_S
    for seed in SEEDS:
        while True:
            before[seed.kind] = seed.read(session, region, seed.name)
            if seed.settled(before[seed.kind]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return before


def check_services_trip(
    emulator: Emulator, result: DrillResult, account: Account, region: str
) -> None:
    report = result.guards[account.name].report
    assert report is not None and result.capacity is not None
    session = emulator.operator(account.id, region)
    for seed in SEEDS:
        halted = report.services_halted.get(seed.kind, [])
        now = seed.read(session, region, seed.name)
        result.check(
            f"{account.name}: {seed.kind} {seed.name} halted",
            f"{region}/{seed.reported_as(seed.name)}" in halted and seed.halted(now),
            f"report: {', '.join(halted) or 'none'}; in the emulator: {now}",
        )


def check_services_restore(
    emulator: Emulator, result: DrillResult, account: Account, region: str
) -> None:
    assert result.capacity is not None
    restored = (result.restore.restore if result.restore else None) or {}
    session = emulator.operator(account.id, region)
    for seed in SEEDS:
        before = result.capacity.services_before.get(seed.kind, {})
        now = seed.as_restored(seed.read(session, region, seed.name))
        result.check(
            f"{account.name}: {seed.kind} {seed.name} back as before the trip",
            f"{region}/{seed.reported_as(seed.name)}" in restored.get("services_restored", [])
            and now == before,
            f"before the trip {before}; now {now}",
        )
