"""Builders for IAM-rich accounts in moto, and a snapshot of everything a trip may change."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from guard.clients import ClientFactory, assume_role_session
from runawaytrain_stack.launch_block import build_launch_block_document
from runawaytrain_stack.names import LAUNCH_BLOCK_POLICY_NAME, ROLE_PATH
from tests.guard.conftest import AMI, HOME

GUARD_ROLE = "runawaytrain-guard-role"
TRUST_ANYONE_IN_ACCOUNT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
ALLOW_EC2_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
    }
)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
QUOTA = 10  # managed policies per user or role (IAM default quota)


def iam() -> Any:
    return boto3.client("iam", region_name=HOME)


@dataclass
class UserSpec:
    name: str
    keys: int = 1  # 0..2
    inactive_keys: int = 0  # how many of those start Inactive
    managed: int = 0  # customer managed policies attached (QUOTA = full)
    inline: int = 0
    tags: dict[str, str] = field(default_factory=dict)


def create_policies(count: int) -> list[str]:
    return [
        iam().create_policy(PolicyName=f"team-policy-{n}", PolicyDocument=ALLOW_EC2_READ)["Policy"][
            "Arn"
        ]
        for n in range(count)
    ]


def create_launch_block_policy() -> str:
    """The guard stack's launch-block policy, as the stack creates it (name, path, document)."""
    return iam().create_policy(
        PolicyName=LAUNCH_BLOCK_POLICY_NAME,
        Path=ROLE_PATH,
        PolicyDocument=json.dumps(build_launch_block_document()),
    )["Policy"]["Arn"]


def create_user(spec: UserSpec, policies: list[str]) -> list[dict[str, str]]:
    client = iam()
    client.create_user(
        UserName=spec.name, Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()]
    )
    keys = [client.create_access_key(UserName=spec.name)["AccessKey"] for _ in range(spec.keys)]
    for key in keys[: spec.inactive_keys]:
        client.update_access_key(
            UserName=spec.name, AccessKeyId=key["AccessKeyId"], Status="Inactive"
        )
    for arn in policies[: spec.managed]:
        client.attach_user_policy(UserName=spec.name, PolicyArn=arn)
    for n in range(spec.inline):
        client.put_user_policy(
            UserName=spec.name, PolicyName=f"inline-{n}", PolicyDocument=ALLOW_EC2_READ
        )
    return keys


def create_role(name: str, path: str = "/", managed: list[str] = ()) -> None:
    client = iam()
    client.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_ANYONE_IN_ACCOUNT)
    for arn in managed:
        client.attach_role_policy(RoleName=name, PolicyArn=arn)


PROTECTED_ROLES = {
    # name: path
    "AWSServiceRoleForAutoScaling": "/aws-service-role/autoscaling.amazonaws.com/",
    "AWSReservedSSO_Admin_0123456789abcdef": "/aws-reserved/sso.amazonaws.com/",
    "cdk-runaway-deploy-role-123456789012-us-east-1": "/",
    "cdk-runaway-cfn-exec-role-123456789012-us-east-1": "/",
    "OrganizationAccountAccessRole": "/",
    "AWSCloudFormationStackSetExecutionRole": "/",
    "stacksets-exec-0123456789abcdef0123456789abcdef": "/",
}


def guard_clients() -> ClientFactory:
    """Clients with the credentials of the guard's own role, as inside the Lambda."""
    create_role(GUARD_ROLE, managed=[ADMIN])
    role_arn = f"arn:aws:iam::123456789012:role/{GUARD_ROLE}"
    return ClientFactory(assume_role_session(role_arn, HOME, "guard"))


def create_group(region: str, name: str, size: int, suspended: list[str]) -> None:
    ec2 = boto3.client("ec2", region_name=region)
    autoscaling = boto3.client("autoscaling", region_name=region)
    ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"{name}-lt"},
        MinSize=size,
        MaxSize=size,
        DesiredCapacity=size,
        AvailabilityZones=[f"{region}a"],
        Tags=[{"Key": "team", "Value": "vision", "PropagateAtLaunch": False}],
    )
    if suspended:
        autoscaling.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=suspended)


def enforce_policy_quota(clients: ClientFactory) -> None:
    """moto does not enforce IAM's managed-policy quota; make the guard's IAM client do it,
    answering as IAM does: LimitExceeded, 'Cannot exceed quota for PoliciesPerUser: 10'."""
    plain = iam()

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "UserName" in params:
            attached = plain.list_attached_user_policies(UserName=params["UserName"])
            what = "PoliciesPerUser"
        else:
            attached = plain.list_attached_role_policies(RoleName=params["RoleName"])
            what = "PoliciesPerRole"
        if len(attached["AttachedPolicies"]) >= QUOTA:
            raise ClientError(
                {
                    "Error": {
                        "Code": "LimitExceeded",
                        "Message": f"Cannot exceed quota for {what}: {QUOTA}",
                    }
                },
                model.name,
            )

    events = clients.client("iam", HOME).meta.events
    events.register("before-parameter-build.iam.AttachUserPolicy", check)
    events.register("before-parameter-build.iam.AttachRolePolicy", check)


def snapshot(regions: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything a trip may change in IAM and Auto Scaling, in comparable form."""
    client = iam()
    users = {}
    for user in client.list_users()["Users"]:
        name = user["UserName"]
        users[name] = {
            "attached": sorted(
                p["PolicyArn"]
                for p in client.list_attached_user_policies(UserName=name)["AttachedPolicies"]
            ),
            "inline": {
                policy: client.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
                for policy in client.list_user_policies(UserName=name)["PolicyNames"]
            },
            "keys": {
                k["AccessKeyId"]: k["Status"]
                for k in client.list_access_keys(UserName=name)["AccessKeyMetadata"]
            },
            "tags": {t["Key"]: t["Value"] for t in client.list_user_tags(UserName=name)["Tags"]},
        }
    roles = {}
    for role in client.list_roles()["Roles"]:
        name = role["RoleName"]
        roles[name] = {
            "attached": sorted(
                p["PolicyArn"]
                for p in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            ),
            "inline": {
                policy: client.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
                for policy in client.list_role_policies(RoleName=name)["PolicyNames"]
            },
            "tags": {t["Key"]: t["Value"] for t in client.list_role_tags(RoleName=name)["Tags"]},
        }
    groups = {}
    for region in regions:
        autoscaling = boto3.client("autoscaling", region_name=region)
        for group in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]:
            groups[f"{region}/{group['AutoScalingGroupName']}"] = {
                "suspended": sorted(p["ProcessName"] for p in group["SuspendedProcesses"]),
                "tags": {t["Key"]: t["Value"] for t in group.get("Tags", [])},
            }
    return {"users": users, "roles": roles, "groups": groups}
