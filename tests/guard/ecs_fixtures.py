"""ECS capacity for the guard's tests: a cluster, Fargate (or EC2) services with or without
Application Auto Scaling, standalone tasks, and how to read them back."""

from __future__ import annotations

from typing import Any

import boto3

CLUSTER = "prod"
ALL_SUSPENDED = dict.fromkeys(
    ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended"), True
)
NONE_SUSPENDED = dict.fromkeys(ALL_SUSPENDED, False)


def ecs(region: str) -> Any:
    return boto3.client("ecs", region_name=region)


def aas(region: str) -> Any:
    return boto3.client("application-autoscaling", region_name=region)


def task_definition(region: str, cpu: str = "1024", memory: str = "2048") -> str:
    ecs(region).create_cluster(clusterName=CLUSTER)
    return str(
        ecs(region).register_task_definition(
            family="web",
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu=cpu,
            memory=memory,
            containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
    )


def create_fargate_service(
    region: str,
    name: str,
    *,
    desired: int,
    scaling: tuple[int, int] | None = None,
    suspended: dict[str, bool] | None = None,
    launch_type: str = "FARGATE",
    cpu: str = "1024",
) -> str:
    """A service of `desired` tasks; `scaling`: (min, max) of a scalable target for it."""
    definition = task_definition(region, cpu=cpu)
    arn = ecs(region).create_service(
        cluster=CLUSTER,
        serviceName=name,
        taskDefinition=definition,
        desiredCount=desired,
        launchType=launch_type,
    )["service"]["serviceArn"]
    if scaling is not None:
        extra = {"SuspendedState": suspended} if suspended is not None else {}
        aas(region).register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{CLUSTER}/{name}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=scaling[0],
            MaxCapacity=scaling[1],
            **extra,
        )
    return str(arn)


def run_fargate_task(region: str, **extra: Any) -> str:
    definition = task_definition(region, cpu="2048", memory="4096")
    ec2 = boto3.client("ec2", region_name=region)
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    return str(
        ecs(region).run_task(
            cluster=CLUSTER,
            taskDefinition=definition,
            launchType="FARGATE",
            networkConfiguration=network,
            **extra,
        )["tasks"][0]["taskArn"]
    )


def service(region: str, name: str) -> dict[str, Any]:
    described = ecs(region).describe_services(cluster=CLUSTER, services=[name], include=["TAGS"])
    return dict(described["services"][0])


def service_tags(region: str, name: str) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in service(region, name).get("tags", [])}


def suspended_state(region: str, name: str) -> dict[str, bool]:
    (target,) = aas(region).describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{CLUSTER}/{name}"]
    )["ScalableTargets"]
    return dict(target.get("SuspendedState") or NONE_SUSPENDED)


def task_status(region: str, arn: str) -> tuple[str, str]:
    (task,) = ecs(region).describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]
    return task["lastStatus"], task.get("stoppedReason", "")
