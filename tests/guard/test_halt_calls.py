"""What the halt asks AWS, on the strict-AWS layer: classification reads only the instances
that need care, stop protection costs two calls per protected instance, and the region's Auto
Scaling groups are read once for the suspension and the warm pools (issue 20; the latency these
buy is bench/halt.py's and bench/halt_mix.py's)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3

from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.settings import Settings
from tests.guard.conftest import AMI, HOME, instance_states
from tests.guard.test_warm_pools import REGION as POOL_REGION
from tests.guard.test_warm_pools import autoscaling, create_group, warm_pool

ACCOUNT = "123456789012"


def launch(count: int, region: str = HOME, **extra: Any) -> list[str]:
    response = boto3.client("ec2", region_name=region).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro", **extra
    )
    return [instance["InstanceId"] for instance in response["Instances"]]


def calls_in(clients: ClientFactory, service: str, region: str) -> Counter[str]:
    """The guard's calls in `region` to `service`, by operation."""
    made: Counter[str] = Counter()
    clients.client(service, region).meta.events.register(
        "before-call", lambda model, **_: made.update([model.name])
    )
    return made


def described_by(clients: ClientFactory, region: str = HOME) -> set[str]:
    """Every instance id any of the guard's DescribeInstances answers carried."""
    seen: set[str] = set()

    def note(parsed: dict[str, Any], **_: Any) -> None:
        for reservation in parsed.get("Reservations", []):
            seen.update(i["InstanceId"] for i in reservation["Instances"])

    clients.client("ec2", region).meta.events.register("after-call.ec2.DescribeInstances", note)
    return seen


def trip(inbox: Any, clients: ClientFactory) -> Any:
    return run_guard(Settings(ec2limit=1, snstopic=inbox.topic_arn), Invocation(), clients, ACCOUNT)


def test_classifying_describes_only_the_spot_instances(strict, inbox, clients):
    plain = launch(6)
    spot = launch(1, InstanceMarketOptions={"MarketType": "spot"})
    described = described_by(clients)

    report = trip(inbox, clients)

    assert described == set(spot)  # not the six plain ones: the census already counted them
    assert sorted(report.stopped) == sorted(plain)
    assert report.terminated_by_region == {HOME: spot}  # one-time Spot: terminate-spot


def test_stop_protection_costs_a_refusal_and_a_lift_per_instance_and_one_record(
    strict, inbox, clients
):
    plain = launch(4)
    protected = launch(3, DisableApiStop=True)
    made = calls_in(clients, "ec2", HOME)

    report = trip(inbox, clients)

    assert sorted(report.stopped) == sorted(plain + protected)
    assert sorted(report.protection_lifted) == sorted(protected)
    assert made["ModifyInstanceAttribute"] == 3
    assert made["StopInstances"] == 3 + 1 + 1  # a refusal each, the rest, the lifted ones
    assert made["CreateTags"] == 2  # the incident on all, then the lifted record on all three
    assert set(instance_states(HOME, plain + protected).values()) == {"stopped"}


def test_the_groups_are_read_once_for_the_suspension_and_the_warm_pool(strict, inbox, clients):
    held = create_group("render", desired=2, maximum=4)
    autoscaling().put_warm_pool(AutoScalingGroupName="render", PoolState="Running")
    _, warmed = warm_pool("render")
    made = calls_in(clients, "autoscaling", POOL_REGION)

    report = trip(inbox, clients)

    assert made["DescribeAutoScalingGroups"] == 1
    assert sorted(report.stopped) == sorted(held + list(warmed))
    assert list(report.warm_pools[POOL_REGION]) == ["render"]
    assert list(report.suspended_by_region[POOL_REGION]) == ["render"]
