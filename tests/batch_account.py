"""AWS Batch and EKS in an emulated account: compute environments, queues, jobs, node groups
(for tests/guard and tests/strict_aws; the strict layer keeps jobs running without Docker)."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def batch(region: str = REGION) -> Any:
    return boto3.client("batch", region_name=region)


def eks(region: str = REGION) -> Any:
    return boto3.client("eks", region_name=region)


def network(region: str = REGION) -> dict[str, str]:
    """A subnet, security group, service role and instance profile for compute environments."""
    ec2 = boto3.client("ec2", region_name=region)
    iam = boto3.client("iam", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName="batch")["InstanceProfile"]["Arn"]
    return {"subnet": subnet, "group": group["GroupId"], "role": role, "profile": profile}


def create_ec2_environment(
    name: str, net: dict[str, str], low: int = 2, desired: int = 4, high: int = 16
) -> str:
    """A managed EC2 environment (moto starts its instances for desiredvCpus)."""
    return str(
        batch().create_compute_environment(
            computeEnvironmentName=name,
            type="MANAGED",
            state="ENABLED",
            computeResources={
                "type": "EC2",
                "minvCpus": low,
                "maxvCpus": high,
                "desiredvCpus": desired,
                "instanceTypes": ["c5.xlarge"],
                "subnets": [net["subnet"]],
                "securityGroupIds": [net["group"]],
                "instanceRole": net["profile"],
            },
            serviceRole=net["role"],
        )["computeEnvironmentArn"]
    )


def create_fargate_environment(name: str, net: dict[str, str]) -> str:
    return str(
        batch().create_compute_environment(
            computeEnvironmentName=name,
            type="MANAGED",
            state="ENABLED",
            computeResources={
                "type": "FARGATE",
                "maxvCpus": 64,
                "subnets": [net["subnet"]],
                "securityGroupIds": [net["group"]],
            },
            serviceRole=net["role"],
        )["computeEnvironmentArn"]
    )


def create_queue(name: str, environment: str) -> None:
    batch().create_job_queue(
        jobQueueName=name,
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
    )


def submit(queue: str, name: str = "work", vcpus: str = "2", memory: str = "4096") -> str:
    """A job of `vcpus` and `memory` MiB on `queue`; returns its id."""
    definition = f"def-{queue}"
    batch().register_job_definition(
        jobDefinitionName=definition,
        type="container",
        containerProperties={
            "image": "busybox",
            "resourceRequirements": [
                {"type": "VCPU", "value": vcpus},
                {"type": "MEMORY", "value": memory},
            ],
        },
    )
    return str(batch().submit_job(jobName=name, jobQueue=queue, jobDefinition=definition)["jobId"])


def job(job_id: str) -> dict[str, Any]:
    return dict(batch().describe_jobs(jobs=[job_id])["jobs"][0])


def environment(name: str) -> dict[str, Any]:
    found = batch().describe_compute_environments(computeEnvironments=[name])
    return dict(found["computeEnvironments"][0])


def create_node_group(
    cluster: str, name: str, net: dict[str, str], scaling: dict[str, int] | None = None
) -> str:
    """A managed node group (its cluster made when missing); returns its ARN."""
    if cluster not in eks().list_clusters()["clusters"]:
        eks().create_cluster(name=cluster, roleArn=net["role"], resourcesVpcConfig={})
    extra: dict[str, Any] = {"scalingConfig": scaling} if scaling else {}
    return str(
        eks().create_nodegroup(
            clusterName=cluster,
            nodegroupName=name,
            nodeRole=net["role"],
            subnets=[net["subnet"]],
            instanceTypes=["m5.large"],
            **extra,
        )["nodegroup"]["nodegroupArn"]
    )


def node_group(cluster: str, name: str) -> dict[str, Any]:
    return dict(eks().describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"])
