"""Strict Lightsail (emulated: moto has none, in-process and under moto_server), OpenSearch's
five-name DescribeDomains, and NAT gateway deletion keeping a disassociated Elastic IP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws

from strict_aws import StrictAWS, strict_aws
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import REGION, error_of
from tests.strict_aws.test_strict_aws import free_port


def lightsail(**extra: Any) -> Any:
    return boto3.client("lightsail", region_name=REGION, **extra)


def create(client: Any, names: list[str], bundle: str = "nano_3_0") -> Any:
    return client.create_instances(
        instanceNames=names,
        availabilityZone=f"{REGION}a",
        blueprintId="ubuntu_24_04",
        bundleId=bundle,
    )


def test_lightsail_instances_are_pending_then_running_and_stopped_ones_stay_listed(
    strict: StrictAWS, clock: FakeClock
) -> None:
    [operation] = create(lightsail(), ["web"])["operations"]
    assert (operation["operationType"], operation["status"]) == ("CreateInstance", "Started")
    [web] = lightsail().get_instances()["instances"]
    assert web["state"] == {"code": 0, "name": "pending"}
    assert (web["bundleId"], web["hardware"]["cpuCount"]) == ("nano_3_0", 2)
    assert web["arn"].startswith(f"arn:aws:lightsail:{REGION}:123456789012:Instance/")

    clock.now += 30
    assert lightsail().get_instances()["instances"][0]["state"]["name"] == "running"
    lightsail().stop_instance(instanceName="web")
    assert lightsail().get_instances()["instances"][0]["state"] == {"code": 80, "name": "stopped"}


def test_lightsail_refuses_a_name_in_use_an_inactive_bundle_and_another_regions_zone(
    strict: StrictAWS,
) -> None:
    create(lightsail(), ["web"])
    assert error_of(lambda: create(lightsail(), ["web"]))[0] == "InvalidInputException"
    assert error_of(lambda: create(lightsail(), ["new"], "nano_2_0"))[0] == "InvalidInputException"
    code, _ = error_of(
        lightsail().create_instances,
        instanceNames=["far"],
        availabilityZone="eu-west-1a",
        blueprintId="ubuntu_24_04",
        bundleId="nano_3_0",
    )
    assert code == "InvalidInputException"


def test_lightsail_pages_and_bundles_as_aws_lists_them(strict: StrictAWS) -> None:
    create(lightsail(), [f"web-{n}" for n in range(25)])
    first = lightsail().get_instances()
    second = lightsail().get_instances(pageToken=first["nextPageToken"])
    assert (len(first["instances"]), len(second["instances"])) == (20, 5)
    assert "nextPageToken" not in second

    active = {b["bundleId"]: b["price"] for b in lightsail().get_bundles()["bundles"]}
    every = {b["bundleId"] for b in lightsail().get_bundles(includeInactive=True)["bundles"]}
    assert active["nano_3_0"] == 5.0 and "nano_2_0" not in active
    assert "nano_2_0" in every
    assert lightsail().get_bundles(appCategory="LfR")["bundles"] == []


def test_lightsail_databases_are_creating_then_available(
    strict: StrictAWS, clock: FakeClock
) -> None:
    lightsail().create_relational_database(
        relationalDatabaseName="orders",
        relationalDatabaseBlueprintId="postgres_16",
        relationalDatabaseBundleId="micro_2_0",
        masterDatabaseName="app",
        masterUsername="admin",
    )
    [orders] = lightsail().get_relational_databases()["relationalDatabases"]
    assert (orders["state"], orders["relationalDatabaseBundleId"]) == ("creating", "micro_2_0")
    clock.now += 30
    assert lightsail().get_relational_databases()["relationalDatabases"][0]["state"] == "available"
    bundles = lightsail().get_relational_database_bundles()["bundles"]
    assert {b["bundleId"]: b["price"] for b in bundles}["large_ha_2_0"] == 230.0


def test_lightsail_state_goes_with_the_mock_and_the_layer() -> None:
    with mock_aws(), strict_aws():
        create(lightsail(), ["web"])
        assert len(lightsail().get_instances()["instances"]) == 1
    with mock_aws(), strict_aws():
        assert lightsail().get_instances()["instances"] == []
    with mock_aws():  # no layer: moto's own answer, Lightsail unknown
        code, _ = error_of(lightsail().get_instances)
        assert code == "404"


def test_lightsail_answers_under_moto_server() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "strict_aws", "-H", "127.0.0.1", "-p", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = lightsail(
            endpoint_url=f"http://127.0.0.1:{port}",
            config=Config(retries={"max_attempts": 1}),
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                assert client.get_instances()["instances"] == []
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        create(client, ["web"])
        [web] = client.get_instances()["instances"]
        assert (web["name"], web["state"]["name"]) == ("web", "running")
        assert error_of(lambda: create(client, ["web"]))[0] == "InvalidInputException"
    finally:
        server.terminate()
        server.wait(timeout=10)


def opensearch() -> Any:
    return boto3.client("opensearch", region_name=REGION)


def test_describe_domains_takes_one_to_five_names(strict: StrictAWS) -> None:
    names = [f"logs-{n}" for n in range(6)]
    for name in names:
        opensearch().create_domain(DomainName=name)

    assert len(opensearch().describe_domains(DomainNames=names[:5])["DomainStatusList"]) == 5
    code, message = error_of(opensearch().describe_domains, DomainNames=names)
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 5" in message


def test_a_deleted_nat_gateway_lets_go_of_its_elastic_ip_which_stays_allocated(
    strict: StrictAWS,
) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gateway = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert address.get("AssociationId")

    ec2.delete_nat_gateway(NatGatewayId=gateway["NatGatewayId"])

    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert "AssociationId" not in address  # disassociated, not released
    code, _ = error_of(ec2.delete_nat_gateway, NatGatewayId="nat-0123456789abcdef0")
    assert code == "NatGatewayNotFound"
