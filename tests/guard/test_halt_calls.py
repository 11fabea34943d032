"""What the halt asks AWS, on the strict-AWS layer: classification describes only the
instances that need care (a Spot instance no read named, once AWS refused its stop), stop
protection costs two calls per protected instance, and the region's Auto Scaling groups are read
once for the suspension and the warm pools (issue 20; the latency these buy is bench/halt.py's
and bench/halt_mix.py's)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.incident import INCIDENT_TAG
from guard.instances import tag_instances
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


def test_classifying_describes_none_of_the_plain_instances(strict, inbox, clients):
    plain = launch(6)
    spot = launch(1, InstanceMarketOptions={"MarketType": "spot"})
    described = described_by(clients)

    report = trip(inbox, clients)

    # The census counted all seven, the Spot one is named by its request: nothing to describe.
    assert described == set()
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


def test_a_spot_instance_no_read_named_is_described_once_refused_then_terminated(
    strict, inbox, clients
):
    """The Spot requests cannot be read: the one-time Spot instance is taken for plain, AWS
    refuses its stop, the halt describes it and terminates it (unstoppable: terminate-spot)."""
    plain = launch(3)
    spot = launch(1, InstanceMarketOptions={"MarketType": "spot"})
    refuse(clients, "DescribeSpotInstanceRequests")
    described = described_by(clients)

    report = trip(inbox, clients)

    assert described == set(spot)
    assert sorted(report.stopped) == sorted(plain)
    assert report.terminated_by_region == {HOME: spot}
    assert any("describing Spot requests" in error for error in report.action_errors)


def refuse(clients: ClientFactory, operation: str) -> None:
    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, operation)

    clients.client("ec2", HOME).meta.events.register(f"before-call.ec2.{operation}", fail)


def test_a_maintain_fleet_with_only_on_demand_members_is_set_to_zero(strict, inbox, clients):
    """Found through its members' aws:ec2:fleet-id tag, not through Spot instances it has none
    of (AWS review of issue 20: whether it would replace stopped members is not settled)."""
    ec2 = boto3.client("ec2", region_name=HOME)
    ec2.create_launch_template(
        LaunchTemplateName="batch", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )
    fleet = ec2.create_fleet(
        Type="maintain",
        LaunchTemplateConfigs=[
            {"LaunchTemplateSpecification": {"LaunchTemplateName": "batch", "Version": "$Latest"}}
        ],
        TargetCapacitySpecification={
            "TotalTargetCapacity": 2,
            "OnDemandTargetCapacity": 2,
            "SpotTargetCapacity": 0,
            "DefaultTargetCapacityType": "on-demand",
        },
    )["FleetId"]

    report = trip(inbox, clients)

    assert report.fleets_zeroed == {HOME: {fleet: "2/2/0"}}
    assert len(report.stopped) == 2


class TagRefusingOne:
    """A client whose CreateTags fails as AWS does when one id no longer exists."""

    def __init__(self, gone: str) -> None:
        self.gone, self.calls = gone, []

    def create_tags(self, Resources: list[str], Tags: list[dict[str, str]]) -> None:  # noqa: N803
        self.calls.append(list(Resources))
        if self.gone in Resources:
            message = f"The instance ID '{self.gone}' does not exist"
            raise ClientError(
                {"Error": {"Code": "InvalidInstanceID.NotFound", "Message": message}}, "CreateTags"
            )


def test_an_instance_gone_since_the_census_costs_one_more_tag_call_not_one_per_instance():
    ids = [f"i-{n:017x}" for n in range(1, 60)]
    client = TagRefusingOne(ids[7])

    failed = tag_instances(client, ids, {INCIDENT_TAG: "incident"})

    assert list(failed) == [ids[7]]
    assert client.calls == [ids, ids[:7] + ids[8:]]


def test_a_failed_group_suspension_leaves_its_processes_to_the_warm_pool_halt(
    strict, inbox, clients
):
    """AWS review of issue 20: the pool halt claimed what the suspension planned, not what it
    did; a failed SuspendProcesses then left HealthCheck running over stopped instances."""
    held = create_group("render", desired=2, maximum=4)
    autoscaling().put_warm_pool(AutoScalingGroupName="render", PoolState="Running")
    _, warmed = warm_pool("render")
    refused = []

    def fail_first(**_: Any) -> None:
        if not refused:
            refused.append(True)
            error = {"Error": {"Code": "ResourceContention", "Message": "injected"}}
            raise ClientError(error, "SuspendProcesses")

    clients.client("autoscaling", POOL_REGION).meta.events.register(
        "before-call.autoscaling.SuspendProcesses", fail_first
    )

    report = trip(inbox, clients)
    replaced = strict.run_health_checks()

    assert refused and replaced == []
    assert sorted(report.stopped) == sorted(held + list(warmed))
    assert list(report.warm_pools[POOL_REGION]) == ["render"]
