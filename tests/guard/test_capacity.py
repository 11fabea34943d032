"""The halt and restore per kind of capacity, on the strict-AWS layer (AWS's refusals, not moto's
leniency): pending, one-time Spot, maintain fleets, stop protection, Auto Scaling health checks,
customer managed keys, SCP-closed regions. Each AWS behaviour is cited in the strict_aws package."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.notify import compose_body
from guard.settings import Action, Lockout, Settings, Unstoppable
from strict_aws import StrictAWS
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


PERSISTENT_SPOT = {
    "InstanceMarketOptions": {
        "MarketType": "spot",
        "SpotOptions": {"SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop"},
    }
}


def instance_store_image(region: str = HOME) -> str:
    """An AMI registered from a bundle's manifest in S3: instance store-backed."""
    return str(
        boto3.client("ec2", region_name=region).register_image(
            Name="store", ImageLocation="bucket/store/image.manifest.xml"
        )["ImageId"]
    )


def launch(count: int, region: str = HOME, image: str = AMI, **extra: Any) -> list[str]:
    # Only previous-generation types (M3, C3, ...) take an instance-store root (EC2 User
    # Guide, "Create an instance store-backed AMI").
    kind = "t3.micro" if image == AMI else "m3.medium"
    response = boto3.client("ec2", region_name=region).run_instances(
        ImageId=image, MinCount=count, MaxCount=count, InstanceType=kind, **extra
    )
    return [instance["InstanceId"] for instance in response["Instances"]]


def count_calls(clients: ClientFactory, operation: str, region: str = HOME) -> list[int]:
    """The number of instance ids in each of the guard's `operation` calls."""
    sizes: list[int] = []
    clients.client("ec2", region).meta.events.register(
        f"before-parameter-build.ec2.{operation}",
        lambda params, **_: sizes.append(len(params["InstanceIds"])),
    )
    return sizes


def count_stop_calls(clients: ClientFactory, region: str = HOME) -> list[int]:
    return count_calls(clients, "StopInstances", region)


def spot_request_state(instance: str) -> str:
    ec2 = boto3.client("ec2", region_name=HOME)
    requests = ec2.describe_spot_instance_requests(
        Filters=[{"Name": "instance-id", "Values": [instance]}]
    )["SpotInstanceRequests"]
    return ", ".join(request["State"] for request in requests) or "none"


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
    # refused once per protected instance (each lift runs beside the next attempt), the plain
    # ones stop, then the two unprotected ones together
    assert stops == [5, 4, 3, 2]
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


def refuse(clients: ClientFactory, operation: str, code: str, message: str, when: Any) -> None:
    """Make the guard's `operation` calls fail as AWS would when `when(params)` holds."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

    clients.client("ec2", HOME).meta.events.register(
        f"before-parameter-build.ec2.{operation}", hook
    )


def test_a_failed_start_keeps_the_group_suspended_so_health_checks_cannot_terminate(
    strict, inbox, clients
):
    create_group(HOME, "render", 2, suspended=[])
    run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)
    refuse(clients, "StartInstances", "InsufficientInstanceCapacity", "none left", bool)

    restored = run_restore(settings(inbox, 1), RESTART, clients, ACCOUNT)

    assert list(restored.restore["kept_suspended"]) == [f"{HOME}/render"]
    assert strict.run_health_checks() == []  # nothing resumed, nothing terminated
    group = boto3.client("autoscaling", region_name=HOME).describe_auto_scaling_groups()
    ids = [i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]]
    assert set(instance_states(HOME, ids).values()) == {"stopped"}


def test_a_termination_protected_instance_keeps_only_its_own_zone_from_terminating(
    strict, inbox, clients
):
    """Instance store under terminate-all (Spot cannot be termination-protected): AWS refuses
    the call yet terminates the other zones; the guard calls once more for the protected one's
    neighbours, not once per instance."""
    store = instance_store_image()
    free_a = launch(2, image=store, Placement={"AvailabilityZone": f"{HOME}a"})
    zone_b = {"image": store, "Placement": {"AvailabilityZone": f"{HOME}b"}}
    protected = launch(1, **zone_b, DisableApiTermination=True)
    neighbour = launch(1, **zone_b)
    calls = count_calls(clients, "TerminateInstances")

    report = run_guard(
        settings(inbox, 1, unstoppable=Unstoppable.TERMINATE_ALL), Invocation(), clients, ACCOUNT
    )

    assert report.terminated_by_region[HOME] == sorted(free_a + neighbour)
    assert list(report.not_stopped) == protected
    assert "may not be terminated" in report.not_stopped[protected[0]]
    assert calls == [4, 3]
    assert instance_states(HOME, protected) == dict.fromkeys(protected, "running")


def test_instance_store_is_reported_not_stopped_unless_terminate_all(strict, inbox, clients):
    store = launch(1, image=instance_store_image())
    plain = launch(1)

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert report.stopped == plain
    assert report.terminated_by_region == {}
    assert "instance-store root device" in report.not_stopped[store[0]]
    assert instance_states(HOME, store) == dict.fromkeys(store, "running")
    assert "runawaytrain:incident" not in instance_tags(HOME, store[0])


def test_only_a_stop_protection_refusal_lifts_stop_protection(strict, inbox, clients):
    ids = launch(2)
    refuse(
        clients,
        "StopInstances",
        "OperationNotPermitted",
        f"The instance '{ids[0]}' is in a placement group that is being moved.",
        lambda params: ids[0] in params["InstanceIds"],
    )

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert report.protection_lifted == []
    assert report.stopped == [ids[1]]
    assert report.not_stopped == {ids[0]: "OperationNotPermitted"}
    assert "runawaytrain:incident" not in instance_tags(HOME, ids[0])  # left running, untagged


def test_one_instance_at_its_tag_limit_leaves_the_others_recorded(strict, inbox, clients):
    ids = launch(4)
    refuse(
        clients,
        "CreateTags",
        "TagLimitExceeded",
        "The maximum number of tags per resource has been reached",
        lambda params: ids[0] in params["Resources"],
    )

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert sorted(report.stopped) == sorted(ids)
    for instance in ids[1:]:
        assert instance_tags(HOME, instance)["runawaytrain:incident"] == report.incident
    assert any(ids[0] in error and "TagLimitExceeded" in error for error in report.action_errors)


def test_persistent_spot_is_stopped_not_terminated(strict, inbox, clients):
    ec2 = boto3.client("ec2", region_name=HOME)
    request = ec2.request_spot_instances(
        Type="persistent",
        InstanceInterruptionBehavior="stop",
        LaunchSpecification={"ImageId": AMI, "InstanceType": "t3.micro"},
    )["SpotInstanceRequests"][0]["SpotInstanceRequestId"]
    described = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[request])
    persistent = [described["SpotInstanceRequests"][0]["InstanceId"]]
    launch(1)

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert persistent[0] in report.stopped
    assert report.terminated_by_region.get(HOME, []) == []


def hide_spot_requests(clients: ClientFactory) -> None:
    """DescribeSpotInstanceRequests answers, but without any request (one AWS does not list)."""

    def drop(parsed: dict[str, Any], **_: Any) -> None:
        parsed["SpotInstanceRequests"] = []

    clients.client("ec2", HOME).meta.events.register(
        "after-call.ec2.DescribeSpotInstanceRequests", drop
    )


def fail_spot_requests(clients: ClientFactory) -> None:
    message = "You are not authorized to perform this operation."
    refuse(clients, "DescribeSpotInstanceRequests", "UnauthorizedOperation", message, bool)


@pytest.mark.parametrize("unread", [fail_spot_requests, hide_spot_requests])
def test_spot_whose_request_is_not_read_is_stopped_first_and_restored_never_lost(
    strict, inbox, clients, unread
):
    persistent = launch(1, **PERSISTENT_SPOT)
    one_time = launch(1, InstanceMarketOptions={"MarketType": "spot"})
    unread(clients)

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert report.stopped == persistent
    assert report.terminated_by_region == {HOME: one_time}  # AWS refused its stop: one-time
    assert instance_states(HOME, persistent) == dict.fromkeys(persistent, "stopped")
    assert spot_request_state(persistent[0]) == "disabled"  # stopped, never cancelled
    # the terminated one's request is cancelled, whatever its type (it was not read)
    assert spot_request_state(one_time[0]) == "cancelled"
    assert "Terminated (1)" in inbox.messages()[0]["Message"]

    restored = run_restore(settings(inbox, 1), RESTART, clients, ACCOUNT)

    assert restored.restore["started_instances"] == persistent
    assert instance_states(HOME, persistent) == dict.fromkeys(persistent, "running")
    assert spot_request_state(persistent[0]) == "active"


@pytest.mark.parametrize("unread", [fail_spot_requests, hide_spot_requests])
def test_unread_spot_terminated_after_a_refused_stop_has_its_request_cancelled(
    strict, inbox, clients, unread
):
    """Its request may be persistent (here: interruption behaviour terminate, which AWS refuses
    to stop): left open, it would launch the instance again once terminated (AWS review)."""
    relaunching = launch(
        1,
        InstanceMarketOptions={
            "MarketType": "spot",
            "SpotOptions": {
                "SpotInstanceType": "persistent",
                "InstanceInterruptionBehavior": "terminate",
            },
        },
    )
    launch(1)
    unread(clients)

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert report.terminated_by_region == {HOME: relaunching}
    assert spot_request_state(relaunching[0]) == "cancelled"
    assert len(report.spot_cancelled[HOME]) == 1


@pytest.mark.parametrize("unstoppable", [Unstoppable.TERMINATE_SPOT, Unstoppable.REPORT])
def test_pending_spot_whose_request_is_not_read_is_handled_once_aws_refuses_its_stop(
    strict, clock, inbox, clients, unstoppable
):
    """Waited for like any pending launch; AWS's refusal once it runs makes it one-time Spot:
    terminated, or left running without the incident tag (a later run would trip on it)."""
    running = launch(2)
    strict.pending_seconds = 15
    pending = launch(1, InstanceMarketOptions={"MarketType": "spot"})
    fail_spot_requests(clients)

    report = run_guard(
        settings(inbox, 1, unstoppable=unstoppable), Invocation(), clients, ACCOUNT, sleep=clock
    )

    assert sorted(report.stopped) == sorted(running)
    assert report.still_pending == {}
    if unstoppable is Unstoppable.TERMINATE_SPOT:
        assert (report.terminated_by_region, report.not_stopped) == ({HOME: pending}, {})
    else:
        assert (report.terminated_by_region, list(report.not_stopped)) == ({}, pending)
        assert instance_states(HOME, pending) == dict.fromkeys(pending, "running")
        assert "runawaytrain:incident" not in instance_tags(HOME, pending[0])


def test_an_scp_refusing_the_home_region_too_is_a_blind_guard_not_a_closed_region(
    strict, launch, inbox, clients
):
    """An SCP aimed at the guard's role (not at a region) refuses its census everywhere."""
    strict.deny_region_by_scp("ap-south-1")
    scp = (
        "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:"
        "assumed-role/guard/x is not authorized to perform: ec2:DescribeInstanceStatus with an "
        "explicit deny in a service control policy"
    )
    refuse(clients, "DescribeInstanceStatus", "UnauthorizedOperation", scp, bool)

    report = run_guard(settings(inbox, 4), Invocation(), clients, ACCOUNT)

    assert report.verdict == "degraded"
    assert report.closed_regions == {}
    assert {HOME, "ap-south-1"} <= set(report.region_errors)
    assert "DEGRADED" in inbox.messages()[0]["Subject"]


def test_lockout_runs_beside_the_pending_wait_not_after_it(strict, clock, inbox):
    iam = boto3.client("iam", region_name=HOME)
    iam.create_user(UserName="leaked")
    key = iam.create_access_key(UserName="leaked")["AccessKey"]["AccessKeyId"]
    launch(2)
    strict.pending_seconds = 30
    launch(1)
    clients = role_clients(allow_kms=False)
    seen_while_waiting: list[str] = []

    def sleep(seconds: float) -> None:
        """The halt waits for the pending launch; give the lockout (real) time to act."""
        deadline = time.monotonic() + (0 if seen_while_waiting else 10)
        while True:
            status = iam.list_access_keys(UserName="leaked")["AccessKeyMetadata"][0]["Status"]
            if status == "Inactive" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        seen_while_waiting.append(status)
        clock(seconds)

    report = run_guard(
        settings(inbox, 1, lockout=Lockout.USERS), Invocation(), clients, ACCOUNT, sleep=sleep
    )

    assert report.locked_users == ["leaked"]
    assert seen_while_waiting[0] == "Inactive"  # the key died while the halt still waited
    assert key


def test_an_instance_lifted_but_not_stopped_gets_its_stop_protection_back(strict, inbox, clients):
    """It runs on, so the lift served nothing: its owner's protection goes back on at once
    (before, its incident tag was dropped and restore never put the protection back)."""
    ec2 = boto3.client("ec2", region_name=HOME)
    plain = launch(2)
    [protected] = launch(1, DisableApiStop=True)

    def unprotected() -> bool:
        answer = ec2.describe_instance_attribute(InstanceId=protected, Attribute="disableApiStop")
        return not answer["DisableApiStop"]["Value"]

    refuse(
        clients,
        "StopInstances",
        "InsufficientInstanceCapacity",
        "There is not enough capacity to fulfil the request.",  # any refusal after the lift
        lambda params: protected in params["InstanceIds"] and unprotected(),
    )

    report = run_guard(settings(inbox, 1), Invocation(), clients, ACCOUNT)

    assert sorted(report.stopped) == sorted(plain)
    assert report.not_stopped == {protected: "InsufficientInstanceCapacity"}
    assert instance_states(HOME, [protected]) == {protected: "running"}
    assert not unprotected()  # put back on
    assert report.protection_lifted == []
    assert not any(key.startswith("runawaytrain:") for key in instance_tags(HOME, protected))
