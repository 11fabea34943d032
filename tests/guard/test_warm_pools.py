"""A group's warm pool kept Running is halted with the group, and restored with it.

The pool's instances are EC2 instances beside the group (strict_aws/warm_pools.py): a stopped
Warmed:Running instance fails the pool's EC2 health check and is replaced by a running one unless
the halt keeps Auto Scaling from doing so.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from guard.auto_scaling import ASG_PROCESSES
from guard.handler import run_guard, run_restore
from guard.incident import WARM_POOL_TAG
from guard.invocation import Invocation, Trigger
from guard.notify import compose_body
from guard.settings import Action, Settings
from guard.warm_pools import TAG_VALUE_MAX, PoolConfig, PoolRecord, plan_pool_halt
from tests.guard.conftest import AMI

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def create_group(name: str, desired: int, maximum: int) -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.create_launch_template(
        LaunchTemplateName=f"{name}-template",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )
    autoscaling().create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"{name}-template"},
        MinSize=0,
        MaxSize=maximum,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{REGION}a"],
    )
    return members(name)


def autoscaling() -> Any:
    return boto3.client("autoscaling", region_name=REGION)


def describe_group(name: str) -> dict[str, Any]:
    [group] = autoscaling().describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    return group


def members(name: str) -> list[str]:
    return sorted(i["InstanceId"] for i in describe_group(name)["Instances"])


def suspended(name: str) -> set[str]:
    return {p["ProcessName"] for p in describe_group(name)["SuspendedProcesses"]}


def group_tags(name: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in describe_group(name)["Tags"]}


def warm_pool(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(WarmPoolConfiguration, {instance id: lifecycle state})."""
    answer = autoscaling().describe_warm_pool(AutoScalingGroupName=name)
    lifecycles = {i["InstanceId"]: i["LifecycleState"] for i in answer["Instances"]}
    return answer["WarmPoolConfiguration"], lifecycles


def region_states() -> dict[str, str]:
    """Every instance of the region, terminated ones included: what a bill would show."""
    ec2 = boto3.client("ec2", region_name=REGION)
    pages = ec2.get_paginator("describe_instances").paginate()
    return {
        i["InstanceId"]: i["State"]["Name"]
        for page in pages
        for reservation in page["Reservations"]
        for i in reservation["Instances"]
    }


def trip(inbox: Any, clients: Any) -> Any:
    return run_guard(Settings(ec2limit=0, snstopic=inbox.topic_arn), Invocation(), clients, ACCOUNT)


def restore(inbox: Any, clients: Any, restart: bool) -> Any:
    invocation = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=restart)
    settings = Settings(ec2limit=0, snstopic=inbox.topic_arn)
    return run_restore(settings, invocation, clients, ACCOUNT)


RUNNING_POOL = {"PoolState": "Running", "MinSize": 1, "MaxGroupPreparedCapacity": 3}


def test_a_running_pool_is_fully_halted_and_nothing_relaunches(strict, inbox, clients):
    """A group with no instance of its own: only its pool runs (issue 20)."""
    create_group("render", desired=0, maximum=2)
    autoscaling().put_warm_pool(AutoScalingGroupName="render", PoolState="Running")
    _, warmed = warm_pool("render")
    assert set(warmed.values()) == {"Warmed:Running"}

    report = trip(inbox, clients)
    terminated = strict.run_health_checks()

    assert terminated == []
    assert set(region_states().values()) == {"stopped"}  # none terminated, none launched
    config, after = warm_pool("render")
    assert sorted(after) == sorted(warmed)
    assert config["PoolState"] == "Stopped"
    assert suspended("render") >= {"Launch", "HealthCheck", "ReplaceUnhealthy"}
    assert sorted(warmed) == sorted(set(report.stopped) & set(warmed))
    assert list(report.warm_pools[REGION]) == ["render"]


def test_the_pool_is_recorded_on_its_group_before_anything_changes(aws, inbox, clients):
    create_group("render", desired=0, maximum=2)
    autoscaling().put_warm_pool(AutoScalingGroupName="render", **RUNNING_POOL)
    calls: list[str] = []
    for service in ("ec2", "autoscaling"):
        clients.client(service, REGION).meta.events.register(
            "before-call", lambda event_name, **_: calls.append(event_name.split(".")[-1])
        )

    report = trip(inbox, clients)

    record = PoolRecord.decode(group_tags("render")[WARM_POOL_TAG])
    assert record == PoolRecord(report.incident, PoolConfig("Running", 1, 3), tuple(ASG_PROCESSES))
    first_change = min(calls.index(c) for c in ("SuspendProcesses", "PutWarmPool", "StopInstances"))
    assert calls.index("CreateOrUpdateTags") < first_change
    assert calls.index("PutWarmPool") < calls.index("StopInstances")


def test_restore_returns_group_and_pool_to_their_configuration_and_states(strict, inbox, clients):
    ids = create_group("web", desired=1, maximum=5)
    autoscaling().put_warm_pool(
        AutoScalingGroupName="web", InstanceReusePolicy={"ReuseOnScaleIn": True}, **RUNNING_POOL
    )
    config_before, warmed = warm_pool("web")
    assert len(warmed) == 2  # prepared 3 - desired 1
    trip(inbox, clients)
    assert strict.run_health_checks() == []

    restored = restore(inbox, clients, restart=True)

    assert restored.restore["errors"] == {}
    assert list(restored.restore["warm_pools_restored"]) == [f"{REGION}/web"]
    assert warm_pool("web") == (config_before, warmed)
    assert members("web") == ids
    assert set(region_states().values()) == {"running"}
    assert suspended("web") == set()
    assert WARM_POOL_TAG not in group_tags("web")
    assert strict.run_health_checks() == []
    assert "Warm pool of eu-west-1/web: PoolState Running, MinSize 1" in compose_body(restored)


def test_restore_without_restart_keeps_the_pool_stopped_and_its_instances(strict, inbox, clients):
    """PoolState Running and HealthCheck over a stopped Warmed:Running instance would replace it
    (Auto Scaling User Guide, "View health check status")."""
    create_group("render", desired=0, maximum=2)
    autoscaling().put_warm_pool(AutoScalingGroupName="render", PoolState="Running")
    _, warmed = warm_pool("render")
    trip(inbox, clients)

    kept = restore(inbox, clients, restart=False)

    assert list(kept.restore["warm_pools_kept"]) == [f"{REGION}/render"]
    assert kept.restore["warm_pools_restored"] == {}
    config, after = warm_pool("render")
    assert (config["PoolState"], sorted(after)) == ("Stopped", sorted(warmed))
    assert suspended("render") == set(ASG_PROCESSES)
    assert strict.run_health_checks() == []
    assert "Warm pool of eu-west-1/render: still Stopped" in compose_body(kept)

    again = restore(inbox, clients, restart=True)

    assert list(again.restore["warm_pools_restored"]) == [f"{REGION}/render"]
    assert warm_pool("render")[1] == warmed
    assert set(region_states().values()) == {"running"}


def test_a_pool_kept_stopped_is_left_alone(aws, inbox, clients, launch):
    create_group("batch", desired=0, maximum=2)
    autoscaling().put_warm_pool(AutoScalingGroupName="batch", PoolState="Stopped")
    launch(REGION, 1)

    report = trip(inbox, clients)

    assert report.warm_pools == {}
    assert warm_pool("batch")[0]["PoolState"] == "Stopped"
    assert WARM_POOL_TAG not in group_tags("batch")
    assert suspended("batch") == set()


def test_the_mail_says_what_was_done_to_the_pool(aws, inbox, clients):
    create_group("render", desired=0, maximum=1)
    autoscaling().put_warm_pool(AutoScalingGroupName="render", PoolState="Running")

    body = compose_body(trip(inbox, clients))

    assert "warm pools kept Running, set to Stopped" in body
    assert "eu-west-1 render: PoolState Running -> Stopped; suspended Launch" in body


@pytest.mark.parametrize(
    ("pool_state", "already", "recorded", "expected"),
    [
        ("Stopped", set(), None, None),
        ("Hibernated", set(), None, None),
        ("Running", set(), None, (PoolConfig("Running", 2), tuple(ASG_PROCESSES))),
        (
            "Running",
            {"AZRebalance", "Launch"},  # suspended before the incident: not ours
            None,
            (
                PoolConfig("Running", 2),
                tuple(p for p in ASG_PROCESSES if p not in ("AZRebalance", "Launch")),
            ),
        ),
        (
            "Running",  # set Running by hand during the incident: the first record stands
            set(ASG_PROCESSES) - {"Launch"},
            PoolRecord("this", PoolConfig("Running", 5, 9), tuple(ASG_PROCESSES)),
            (PoolConfig("Running", 5, 9), tuple(ASG_PROCESSES)),
        ),
        (
            "Running",  # an earlier incident's stale record is replaced
            set(),
            PoolRecord("older", PoolConfig("Running", 5, 9), ("Launch",)),
            (PoolConfig("Running", 2), tuple(ASG_PROCESSES)),
        ),
    ],
)
def test_which_pools_the_halt_changes_and_what_it_records(pool_state, already, recorded, expected):
    plan = plan_pool_halt("g", PoolConfig(pool_state, 2), already, recorded, "this")

    if expected is None:
        assert plan is None
    else:
        assert plan is not None
        assert (plan.record.config, plan.record.suspended) == expected
        assert plan.record.incident == "this"
        assert set(plan.to_suspend) == set(ASG_PROCESSES) - set(already)


def test_the_record_round_trips_and_fits_a_tag_value():
    longest = PoolRecord(
        "20250101T000000Z-abcdef",
        PoolConfig("Hibernated", 100000, 100000, reuse_on_scale_in=False),
        tuple(ASG_PROCESSES),
    )

    assert PoolRecord.decode(longest.encode()) == longest
    assert len(longest.encode()) <= TAG_VALUE_MAX
    assert PoolRecord.decode("edited by hand") is None
