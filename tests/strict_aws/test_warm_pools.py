"""Strict warm pools: a pool holds EC2 instances in their warm lifecycle states, as AWS does."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from strict_aws import StrictAWS
from tests.strict_aws.conftest import FakeClock

AMI = "ami-12c6146b"
REGION = "eu-west-1"
GROUP = "workers"


def autoscaling() -> Any:
    return boto3.client("autoscaling", region_name=REGION)


def create_group(desired: int = 1, maximum: int = 3, **extra: Any) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.create_launch_template(
        LaunchTemplateName=f"{GROUP}-template",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )
    autoscaling().create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateName": f"{GROUP}-template"},
        MinSize=0,
        MaxSize=maximum,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{REGION}a"],
        **extra,
    )


def pool() -> dict[str, str]:
    """{instance id: lifecycle state} of the group's warm pool, read through every page."""
    pages = autoscaling().get_paginator("describe_warm_pool").paginate(AutoScalingGroupName=GROUP)
    return {i["InstanceId"]: i["LifecycleState"] for page in pages for i in page["Instances"]}


def group_members() -> list[str]:
    [group] = autoscaling().describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])[
        "AutoScalingGroups"
    ]
    return [i["InstanceId"] for i in group["Instances"]]


def ec2_states(ids: list[str]) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}


def test_a_running_pool_launches_ec2_instances_beside_the_group(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create_group(desired=1, maximum=3)
    clock.now += 30

    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Running")

    warmed = pool()
    assert set(warmed.values()) == {"Warmed:Pending"}  # maximum 3 - desired 1
    assert len(warmed) == 2
    assert not set(warmed) & set(group_members())
    clock.now += 30
    assert set(pool().values()) == {"Warmed:Running"}
    assert set(ec2_states(list(warmed)).values()) == {"running"}


def test_a_stopped_pool_stops_what_finished_launching(strict: StrictAWS, clock: FakeClock) -> None:
    create_group(desired=0, maximum=0)

    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Stopped", MinSize=2)
    clock.now += 30

    warmed = pool()
    assert set(warmed.values()) == {"Warmed:Stopped"}
    assert set(ec2_states(list(warmed)).values()) == {"stopped"}


def test_changing_the_pool_state_leaves_warmed_instances_running(
    strict: StrictAWS, clock: FakeClock
) -> None:
    """PoolState is the state to enter the pool in (WarmPoolConfiguration, API Reference): what
    already runs there keeps running, and keeps being billed."""
    create_group(desired=0, maximum=2)
    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Running")
    clock.now += 30
    warmed = list(pool())

    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Stopped")

    assert pool() == dict.fromkeys(warmed, "Warmed:Running")
    assert set(ec2_states(warmed).values()) == {"running"}
    answer = autoscaling().describe_warm_pool(AutoScalingGroupName=GROUP)
    assert answer["WarmPoolConfiguration"]["PoolState"] == "Stopped"


def test_a_stopped_warmed_running_instance_is_replaced_by_the_health_check(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create_group(desired=0, maximum=1)
    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Running")
    [warm] = pool()
    clock.now += 30
    assert ec2_states([warm]) == {warm: "running"}
    boto3.client("ec2", region_name=REGION).stop_instances(InstanceIds=[warm])

    assert pool() == {warm: "Warmed:Running"}  # it had entered the pool running
    assert strict.run_health_checks() == [warm]

    assert ec2_states([warm]) == {warm: "terminated"}
    [replacement] = pool()
    assert replacement != warm
    clock.now += 30
    assert ec2_states([replacement]) == {replacement: "running"}


def test_suspended_processes_keep_a_stopped_pool_instance_and_launch_nothing(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create_group(desired=0, maximum=1)
    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Running")
    clock.now += 30
    [warm] = pool()
    autoscaling().suspend_processes(
        AutoScalingGroupName=GROUP, ScalingProcesses=["HealthCheck", "ReplaceUnhealthy", "Launch"]
    )
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.stop_instances(InstanceIds=[warm])

    assert strict.run_health_checks() == []
    assert ec2_states([warm]) == {warm: "stopped"}
    ec2.terminate_instances(InstanceIds=[warm])  # lost all the same: Launch does not refill
    strict.run_health_checks()

    assert pool() == {}
    autoscaling().resume_processes(AutoScalingGroupName=GROUP, ScalingProcesses=["Launch"])
    assert list(pool().values()) == ["Warmed:Pending"]


def test_shrinking_the_pool_terminates_warm_instances(strict: StrictAWS, clock: FakeClock) -> None:
    create_group(desired=0, maximum=0)
    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Stopped", MinSize=3)
    clock.now += 30
    warmed = list(pool())

    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Stopped", MinSize=1)

    assert len(pool()) == 1
    assert sorted(ec2_states(warmed).values()) == ["stopped", "terminated", "terminated"]


def test_max_group_prepared_capacity_sizes_the_pool_and_minus_one_unsets_it(
    strict: StrictAWS,
) -> None:
    create_group(desired=1, maximum=10)
    autoscaling().put_warm_pool(
        AutoScalingGroupName=GROUP, PoolState="Stopped", MaxGroupPreparedCapacity=3
    )
    assert len(pool()) == 2  # prepared 3 - desired 1
    assert (
        autoscaling().describe_warm_pool(AutoScalingGroupName=GROUP)["WarmPoolConfiguration"][
            "MaxGroupPreparedCapacity"
        ]
        == 3
    )

    autoscaling().put_warm_pool(
        AutoScalingGroupName=GROUP, PoolState="Stopped", MaxGroupPreparedCapacity=-1
    )

    config = autoscaling().describe_warm_pool(AutoScalingGroupName=GROUP)["WarmPoolConfiguration"]
    assert "MaxGroupPreparedCapacity" not in config
    assert len(pool()) == 9  # maximum 10 - desired 1


def test_describe_warm_pool_pages_by_fifty(strict: StrictAWS) -> None:
    create_group(desired=0, maximum=60)
    autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Stopped")

    first = autoscaling().describe_warm_pool(AutoScalingGroupName=GROUP)

    assert len(first["Instances"]) == 50
    assert "NextToken" in first
    assert len(pool()) == 60


def test_a_mixed_instances_group_refuses_a_warm_pool(strict: StrictAWS) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.create_launch_template(
        LaunchTemplateName="mixed-template",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )
    autoscaling().create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=0,
        AvailabilityZones=[f"{REGION}a"],
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "mixed-template"},
                "Overrides": [{"InstanceType": "t3.micro"}, {"InstanceType": "t3.small"}],
            }
        },
    )

    with pytest.raises(ClientError) as refused:
        autoscaling().put_warm_pool(AutoScalingGroupName=GROUP, PoolState="Running")

    assert refused.value.response["Error"]["Code"] == "ValidationError"
