"""The halt and restore per kind of capacity, on the strict-AWS layer (AWS's refusals, not moto's
leniency): pending, one-time Spot, maintain fleets, stop protection, Auto Scaling health checks,
customer managed keys, SCP-closed regions. Each AWS behaviour is cited in strict_aws.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.notify import compose_body
from guard.settings import Action, Settings, Unstoppable
from runawaytrain_cli.strict_aws import StrictAWS
from tests.guard.accounts import TRUST_ANYONE_IN_ACCOUNT, create_group
from tests.guard.conftest import AMI, HOME, instance_states, instance_tags

ACCOUNT = "123456789012"
RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)


@pytest.fixture
def clock(strict: StrictAWS) -> Callable[[float], None]:
    """A virtual clock for the layer; returns `advance(seconds)`, which the guard sleeps with."""
    now = [0.0]
    strict.clock = lambda: now[0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def launch(count: int, region: str = HOME, **extra: Any) -> list[str]:
    response = boto3.client("ec2", region_name=region).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro", **extra
    )
    return [instance["InstanceId"] for instance in response["Instances"]]


def count_stop_calls(clients: ClientFactory, region: str = HOME) -> list[int]:
    sizes: list[int] = []
    clients.client("ec2", region).meta.events.register(
        "before-parameter-build.ec2.StopInstances",
        lambda params, **_: sizes.append(len(params["InstanceIds"])),
    )
    return sizes


def settings(inbox: Any, limit: int, **extra: Any) -> Settings:
    return Settings(ec2limit=limit, snstopic=inbox.topic_arn, **extra)


def test_pending_launches_are_stopped_once_they_run_without_a_bisection_storm(
    strict, clock, inbox, clients
):
    running = launch(4)
    strict.pending_seconds = 15  # launches that crossed the limit are still pending at the trip
    pending = launch(3)
    stops = count_stop_calls(clients)

    report = run_guard(settings(inbox, 2), Invocation(), clients, ACCOUNT, sleep=clock)

    assert sorted(report.stopped) == sorted(running + pending)
    assert report.still_pending == {}
    assert stops == [4, 3]  # one call for the running, one once the pending ones run
    assert set(instance_states(HOME, running + pending).values()) == {"stopped"}


def test_instances_still_pending_after_the_wait_are_stopped_by_the_next_run_whatever_the_count(
    strict, clock, inbox, clients
):
    running = launch(4)
    strict.pending_seconds = 600
    pending = launch(3)

    first = run_guard(settings(inbox, 4), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert sorted(first.stopped) == sorted(running)
    assert first.still_pending == {HOME: pending}
    assert "Still pending (3)" in inbox.messages()[0]["Message"]
    clock(601)

    later = run_guard(settings(inbox, 4), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert later.count == 3  # under the limit of 4: only the open incident trips it
    assert later.trip_reasons == ["incident-open"]
    assert (later.incident, sorted(later.stopped)) == (first.incident, sorted(pending))


def test_one_time_spot_is_terminated_after_its_fleet_is_set_to_zero_and_restore_puts_it_back(
    strict, inbox, clients
):
    ec2 = boto3.client("ec2", region_name=HOME)
    on_demand = launch(2)
    spot = launch(2, InstanceMarketOptions={"MarketType": "spot"})
    fleet = ec2.request_spot_fleet(
        SpotFleetRequestConfig={
            "TargetCapacity": 2,
            "IamFleetRole": f"arn:aws:iam::{ACCOUNT}:role/fleet",
            "Type": "maintain",
            "AllocationStrategy": "lowestPrice",
            "LaunchSpecifications": [{"ImageId": AMI, "InstanceType": "t3.micro"}],
        }
    )["SpotFleetRequestId"]

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    fleet_ids = [
        i["InstanceId"]
        for i in ec2.describe_spot_fleet_instances(SpotFleetRequestId=fleet)["ActiveInstances"]
    ]
    assert report.fleets_zeroed == {HOME: {fleet: "2/0"}}
    assert sorted(report.stopped) == sorted(on_demand)
    assert len(report.terminated_by_region[HOME]) == 4
    assert set(spot) <= set(report.terminated_by_region[HOME])
    assert fleet_ids == []  # target 0: the maintain fleet replaced nothing
    active = ec2.describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]
    assert active == []
    body = inbox.messages()[0]["Message"]
    assert f"Fleet {fleet} in {HOME}: target capacity set to 0" in body
    assert "Terminated (4)" in body
    assert report.spot_cancelled == {}  # the fleet owns its requests: zeroed, not cancelled
    assert report.action_errors == []

    run_restore(settings(inbox, 1), RESTART, clients, ACCOUNT)

    config = ec2.describe_spot_fleet_requests(SpotFleetRequestIds=[fleet])
    assert config["SpotFleetRequestConfigs"][0]["SpotFleetRequestConfig"]["TargetCapacity"] == 2
    assert set(instance_states(HOME, on_demand).values()) == {"running"}


def test_unstoppable_report_terminates_nothing_and_says_what_keeps_running(strict, inbox, clients):
    spot = launch(2, InstanceMarketOptions={"MarketType": "spot"})

    report = run_guard(
        settings(inbox, 1, unstoppable=Unstoppable.REPORT), Invocation(), clients, ACCOUNT
    )

    assert report.terminated_by_region == {}
    assert set(report.not_stopped) == set(spot)
    assert set(instance_states(HOME, spot).values()) == {"running"}
    assert "one-time Spot instance" in inbox.messages()[0]["Message"]


def test_stop_protection_is_lifted_recorded_and_put_back_restarted_or_not(strict, inbox, clients):
    ec2 = boto3.client("ec2", region_name=HOME)
    plain = launch(3)
    protected = launch(1, DisableApiStop=True) + launch(1, DisableApiStop=True)
    stops = count_stop_calls(clients)

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert sorted(report.stopped) == sorted(plain + protected)
    assert len(stops) == 3  # refused once per protected instance, then all stop together
    assert sorted(report.protection_lifted) == sorted(protected)
    for instance in protected:
        assert instance_tags(HOME, instance)["runawaytrain:stop-protection"] == "lifted"

    def protection(instance: str) -> bool:
        answer = ec2.describe_instance_attribute(InstanceId=instance, Attribute="disableApiStop")
        return answer["DisableApiStop"]["Value"]

    run_restore(settings(inbox, 1), NO_RESTART, clients, ACCOUNT)
    assert [protection(i) for i in protected] == [True, True]
    assert set(instance_states(HOME, protected).values()) == {"stopped"}

    restored = run_restore(settings(inbox, 1), RESTART, clients, ACCOUNT)
    assert sorted(restored.restore["started_instances"]) == sorted(plain + protected)
    assert [protection(i) for i in protected] == [True, True]


def test_restart_resumes_health_checks_only_after_the_instances_run(strict, clock, inbox, clients):
    create_group(HOME, "render", 3, suspended=[])
    [group] = boto3.client("autoscaling", region_name=HOME).describe_auto_scaling_groups()[
        "AutoScalingGroups"
    ]
    ids = [instance["InstanceId"] for instance in group["Instances"]]
    run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)
    strict.pending_seconds = 20  # a restarted instance is pending for a while

    restored = run_restore(settings(inbox, 1), RESTART, clients, ACCOUNT, sleep=clock)

    assert list(restored.restore["resumed_asgs"]) == [f"{HOME}/render"]
    assert strict.run_health_checks() == []
    assert set(instance_states(HOME, ids).values()) == {"running"}  # the same three, kept


def test_restart_without_kms_create_grant_reports_instances_that_fall_back(strict, inbox):
    key = boto3.client("kms", region_name=HOME).create_key()["KeyMetadata"]["KeyId"]
    encrypted = launch(
        1,
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/sda1",
                "Ebs": {"VolumeSize": 8, "Encrypted": True, "KmsKeyId": key},
            }
        ],
    )
    plain = launch(1)
    clients = role_clients(allow_kms=False)
    run_guard(settings(inbox, 0), Invocation(), clients, ACCOUNT)

    restored = run_restore(settings(inbox, 0), RESTART, clients, ACCOUNT)

    assert restored.restore["started_instances"] == plain
    assert list(restored.restore["fell_back"]) == encrypted
    assert "Client.InternalError" in restored.restore["fell_back"][encrypted[0]]
    assert instance_states(HOME, encrypted) == {encrypted[0]: "stopped"}
    assert "kms:CreateGrant" in compose_body(restored)
    assert instance_tags(HOME, encrypted[0])["runawaytrain:incident"] == restored.incident

    granted = run_restore(settings(inbox, 0), RESTART, role_clients(allow_kms=True), ACCOUNT)
    assert granted.restore["started_instances"] == encrypted


def role_clients(*, allow_kms: bool) -> ClientFactory:
    """A guard-like role: everything but KMS, plus kms:CreateGrant for AWS resources if asked."""
    iam = boto3.client("iam", region_name=HOME)
    name = f"guard-{'kms' if allow_kms else 'nokms'}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_ANYONE_IN_ACCOUNT)
    statements = [{"Effect": "Allow", "NotAction": "kms:*", "Resource": "*"}]
    if allow_kms:
        statements.append(
            {
                "Effect": "Allow",
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    iam.put_role_policy(
        RoleName=name,
        PolicyName="guard",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return ClientFactory(assume_role_session(f"arn:aws:iam::{ACCOUNT}:role/{name}", HOME, "guard"))


def test_a_region_closed_by_an_scp_is_neither_degraded_nor_mailed(strict, launch, inbox, clients):
    strict.deny_region_by_scp("ap-south-1")
    launch(HOME, 1)

    report = run_guard(settings(inbox, 4), Invocation(), clients, ACCOUNT)

    assert report.verdict == "ok"
    assert list(report.closed_regions) == ["ap-south-1"]
    assert "explicit deny in a service control policy" in report.closed_regions["ap-south-1"]
    assert report.region_errors == {}
    assert inbox.messages() == []
