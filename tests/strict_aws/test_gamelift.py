"""GameLift managed EC2 fleets in the emulator (strict_aws/gamelift.py): moto has no GameLift at
all; the layer answers the operations the guard uses, with AWS's documented rules, in-process
and under moto_server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from strict_aws import PENDING_SECONDS_ENV, StrictAWS
from tests.strict_aws.conftest import FakeClock

REGION = "eu-west-1"


def gamelift(region: str = REGION) -> Any:
    return boto3.client("gamelift", region_name=region)


def create_fleet(client: Any = None, name: str = "arena") -> dict[str, Any]:
    client = client or gamelift()
    return dict(
        client.create_fleet(
            Name=name, EC2InstanceType="c5.large", BuildId="build-1234", FleetType="ON_DEMAND"
        )["FleetAttributes"]
    )


def status(fleet_id: str) -> str:
    return str(
        gamelift().describe_fleet_attributes(FleetIds=[fleet_id])["FleetAttributes"][0]["Status"]
    )


def counts(fleet_id: str) -> dict[str, int]:
    [capacity] = gamelift().describe_fleet_capacity(FleetIds=[fleet_id])["FleetCapacity"]
    return dict(capacity["InstanceCounts"])


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_moto_alone_has_no_gamelift() -> None:
    """Why the layer emulates it: without it, moto answers 404 Not yet implemented."""
    from moto import mock_aws

    with mock_aws():
        code, _ = error_of(gamelift().list_fleets)
    assert code == "404"


def test_a_new_fleet_goes_from_new_to_active_over_time(strict: StrictAWS, clock: FakeClock):
    """API CreateFleet: "places it in NEW status"; FleetAttributes.Status: NEW, DOWNLOADING,
    VALIDATING, BUILDING, ACTIVATING, ACTIVE; "Desired instances is set to 1"."""
    fleet = create_fleet()
    seen = [fleet["Status"]]
    for _ in range(5):
        clock.now += 6  # pending_seconds 30: five equal steps
        seen.append(status(fleet["FleetId"]))

    assert seen == ["NEW", "DOWNLOADING", "VALIDATING", "BUILDING", "ACTIVATING", "ACTIVE"]
    assert fleet["FleetArn"] == (f"arn:aws:gamelift:{REGION}:123456789012:fleet/{fleet['FleetId']}")
    assert counts(fleet["FleetId"]) == {
        "DESIRED": 1,
        "MINIMUM": 0,
        "MAXIMUM": 1,
        "PENDING": 0,
        "ACTIVE": 1,
        "IDLE": 1,
        "TERMINATING": 0,
    }


def test_its_first_instance_is_pending_until_the_fleet_is_active(strict: StrictAWS, clock):
    fleet = create_fleet()

    assert (counts(fleet["FleetId"])["PENDING"], counts(fleet["FleetId"])["ACTIVE"]) == (1, 0)


def test_capacity_can_be_updated_only_while_active(strict: StrictAWS, clock: FakeClock):
    """API UpdateFleetCapacity: "The fleet must be in ACTIVE status"
    (InvalidFleetStatusException)."""
    fleet = create_fleet()
    clock.now += 24  # ACTIVATING

    code, _ = error_of(
        gamelift().update_fleet_capacity, FleetId=fleet["FleetId"], DesiredInstances=0
    )

    assert code == "InvalidFleetStatusException"
    clock.now += 6
    gamelift().update_fleet_capacity(FleetId=fleet["FleetId"], DesiredInstances=0)
    assert counts(fleet["FleetId"])["DESIRED"] == 0


def test_desired_instances_must_lie_between_min_and_max(strict: StrictAWS, clock: FakeClock):
    """API UpdateFleetCapacity: DesiredInstances "must fall between the minimum and maximum size
    limits" (InvalidRequestException)."""
    fleet = create_fleet()
    clock.now += 30
    update = gamelift().update_fleet_capacity

    assert error_of(update, FleetId=fleet["FleetId"], DesiredInstances=2)[0] == (
        "InvalidRequestException"  # MaxSize is 1
    )
    assert error_of(update, FleetId=fleet["FleetId"], DesiredInstances=0, MinSize=1)[0] == (
        "InvalidRequestException"
    )
    assert error_of(update, FleetId=fleet["FleetId"], MinSize=3, MaxSize=2)[0] == (
        "InvalidRequestException"
    )
    update(FleetId=fleet["FleetArn"], DesiredInstances=3, MinSize=1, MaxSize=4)  # an ARN too
    assert counts(fleet["FleetId"])["MINIMUM"] == 1


def test_instance_counts_follow_the_desired_count(strict: StrictAWS, clock: FakeClock):
    """EC2InstanceCounts: pending and terminating counts are non-zero while the fleet adjusts."""
    fleet = create_fleet()
    clock.now += 30
    gamelift().update_fleet_capacity(FleetId=fleet["FleetId"], DesiredInstances=3, MaxSize=5)

    assert (counts(fleet["FleetId"])["PENDING"], counts(fleet["FleetId"])["ACTIVE"]) == (2, 1)
    clock.now += 30
    assert (counts(fleet["FleetId"])["PENDING"], counts(fleet["FleetId"])["ACTIVE"]) == (0, 3)

    gamelift().update_fleet_capacity(FleetId=fleet["FleetId"], DesiredInstances=0, MinSize=0)

    now = counts(fleet["FleetId"])
    assert (now["DESIRED"], now["ACTIVE"], now["TERMINATING"], now["MAXIMUM"]) == (0, 0, 3, 5)
    clock.now += 30
    assert counts(fleet["FleetId"])["TERMINATING"] == 0


def test_stopping_auto_scaling_shows_in_the_fleet_attributes(strict: StrictAWS, clock):
    """FleetAttributes.StoppedActions: "activity that has been suspended using
    StopFleetActions"; StartFleetActions of actions never stopped "will have no effect"."""
    fleet = create_fleet()
    client = gamelift()

    client.start_fleet_actions(FleetId=fleet["FleetId"], Actions=["AUTO_SCALING"])
    client.stop_fleet_actions(FleetId=fleet["FleetId"], Actions=["AUTO_SCALING"])
    client.stop_fleet_actions(FleetId=fleet["FleetId"], Actions=["AUTO_SCALING"])

    attributes = client.describe_fleet_attributes(FleetIds=[fleet["FleetId"]])
    assert attributes["FleetAttributes"][0]["StoppedActions"] == ["AUTO_SCALING"]
    client.start_fleet_actions(FleetId=fleet["FleetArn"], Actions=["AUTO_SCALING"])
    attributes = client.describe_fleet_attributes(FleetIds=[fleet["FleetId"]])
    assert attributes["FleetAttributes"][0]["StoppedActions"] == []


def test_every_fleet_is_described_in_pages_and_named_ones_only_if_they_exist(strict: StrictAWS):
    """DescribeFleetAttributes/Capacity: all fleets without FleetIds, in pages; the named ones
    "returned only for fleets that currently exist", Limit ignored then."""
    client = gamelift()
    ids = [create_fleet(client, f"arena-{n}")["FleetId"] for n in range(3)]

    pages = list(
        client.get_paginator("describe_fleet_capacity").paginate(PaginationConfig={"PageSize": 2})
    )
    named = client.describe_fleet_attributes(FleetIds=[ids[0], "fleet-gone", ids[2]], Limit=1)

    assert [len(page["FleetCapacity"]) for page in pages] == [2, 1]
    assert {c["FleetId"] for page in pages for c in page["FleetCapacity"]} == set(ids)
    assert {c["InstanceType"] for page in pages for c in page["FleetCapacity"]} == {"c5.large"}
    assert [a["FleetId"] for a in named["FleetAttributes"]] == [ids[0], ids[2]]
    assert "NextToken" not in named
    listed = client.get_paginator("list_fleets").paginate(PaginationConfig={"PageSize": 2})
    assert sorted(i for page in listed for i in page["FleetIds"]) == sorted(ids)
    assert gamelift("us-west-2").describe_fleet_capacity()["FleetCapacity"] == []


def test_tags_overwrite_untag_forgives_and_an_unknown_arn_is_not_found(strict: StrictAWS):
    """API TagResource "succeeds even if the list includes tags that are already assigned";
    UntagResource "even if the list includes tags that aren't assigned"."""
    fleet = create_fleet()
    client = gamelift()
    arn = fleet["FleetArn"]

    client.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "a"}])
    client.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "b"}])
    client.untag_resource(ResourceARN=arn, TagKeys=["never-there"])

    assert client.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "b"}]
    gone = arn.replace(fleet["FleetId"], "fleet-00000000-0000-0000-0000-000000000000")
    assert error_of(client.list_tags_for_resource, ResourceARN=gone)[0] == "NotFoundException"
    assert (
        error_of(client.update_fleet_capacity, FleetId="fleet-nope", DesiredInstances=0)[0]
        == "NotFoundException"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "strict_aws", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, PENDING_SECONDS_ENV: "600"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def client_of(
    endpoint: str, service: str, key: str = "AKIAFAKEFAKEFAKEFAKE", secret: str = "x"
) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def test_under_moto_server_gamelift_is_answered_with_iam_enforced(server: str) -> None:
    """moto_server has no backend for GameLift: the layer answers every request signed for
    `gamelift`, and moto's IAM enforcement (the drill's) applies as to any service."""
    fleet = create_fleet(client_of(server, "gamelift"))
    code, _ = error_of(
        client_of(server, "gamelift").update_fleet_capacity,
        FleetId=fleet["FleetId"],
        DesiredInstances=0,
    )
    assert code == "InvalidFleetStatusException"  # NEW for 600 s
    iam = client_of(server, "iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(
        UserName="reader",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "gamelift:DescribeFleetCapacity", "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    request = urllib.request.Request(
        f"{server}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).close()

    reader = client_of(server, "gamelift", key["AccessKeyId"], key["SecretAccessKey"])
    [capacity] = reader.describe_fleet_capacity()["FleetCapacity"]
    code, message = error_of(
        reader.stop_fleet_actions, FleetId=fleet["FleetId"], Actions=["AUTO_SCALING"]
    )

    assert capacity["FleetId"] == fleet["FleetId"]
    assert code == "AccessDeniedException"
    assert "gamelift:StopFleetActions" in message
