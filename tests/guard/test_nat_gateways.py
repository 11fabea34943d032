"""NAT gateways (issue 21): counted (no vCPUs, no price of their own: they never make a run
degraded), left running by default, deleted only where `halt:` names them, recorded first on
the Elastic IP the delete keeps (on the subnet for a private gateway); restore makes nothing
again."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from guard import nat_gateways
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.service_capacity import Running
from guard.service_names import resolve_halt
from guard.settings import Action, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "NAT gateway"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)


def subnet() -> str:
    vpc = ec2().create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(ec2().create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"])


def public_gateway(subnet_id: str) -> tuple[str, str]:
    """(gateway id, its Elastic IP's allocation id)."""
    allocation = ec2().allocate_address(Domain="vpc")["AllocationId"]
    made = ec2().create_nat_gateway(SubnetId=subnet_id, AllocationId=allocation)["NatGateway"]
    return made["NatGatewayId"], allocation


def state(gateway: str) -> str:
    [found] = ec2().describe_nat_gateways(NatGatewayIds=[gateway])["NatGateways"]
    return str(found["State"])


def address_tags(allocation: str) -> dict[str, str]:
    [address] = ec2().describe_addresses(AllocationIds=[allocation])["Addresses"]
    return {t["Key"]: t["Value"] for t in address.get("Tags", [])}


def subnet_tags(subnet_id: str) -> dict[str, str]:
    [found] = ec2().describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    return {t["Key"]: t["Value"] for t in found.get("Tags", [])}


def trip(inbox: Any, clients: Any, halt: list[str]) -> Any:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=2, MaxCount=2, InstanceType="t3.micro"
    )
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=resolve_halt(halt))
    return chosen, run_guard(chosen, Invocation(), clients, ACCOUNT)


def test_billing_gateways_are_counted_with_no_vcpus_and_deleted_ones_are_not(strict):
    where = subnet()
    kept, _ = public_gateway(where)
    gone, _ = public_gateway(where)
    ec2().delete_nat_gateway(NatGatewayId=gone)

    [found] = nat_gateways.count(ec2(), REGION)

    assert (found.name, found.state, found.vcpus, found.usd_per_hour) == (
        kept,
        "available",
        0.0,
        None,
    )


def test_a_gateway_weighs_nothing_and_never_makes_a_dollar_limited_run_degraded(
    strict, inbox, clients
):
    public_gateway(subnet())
    limits = WeightedLimits(vcpus=4, usd_per_hour=1.0)

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=limits),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.verdict == "ok", report.reason
    assert report.services == {KIND: {REGION: 1}}
    assert report.burn["price_errors"] == {} and report.burn["unweighed"] == {}
    assert (report.burn["vcpus"], report.burn["usd_per_hour"]) == (0, 0.0)


def test_by_default_a_trip_leaves_gateways_running(strict, inbox, clients):
    gateway, _ = public_gateway(subnet())

    _, report = trip(inbox, clients, ["reversible"])

    assert report.services_kept == {KIND: [f"{REGION}/{gateway}"]}
    assert state(gateway) == "available"


def test_named_in_halt_a_gateway_is_recorded_on_its_elastic_ip_then_deleted_ip_kept(
    strict, inbox, clients
):
    where = subnet()
    gateway, allocation = public_gateway(where)
    made: list[str] = []
    client = clients.client("ec2", REGION)
    for call in ("CreateTags", "DeleteNatGateway"):
        client.meta.events.register(
            f"before-call.ec2.{call}", lambda call=call, **_: made.append(call)
        )

    chosen, report = trip(inbox, clients, ["nat-gateways"])

    assert report.services_halted == {KIND: [f"{REGION}/{gateway}"]}
    assert made == ["CreateTags", "DeleteNatGateway"]
    assert state(gateway) == "deleted"
    record = address_tags(allocation)[f"runawaytrain:nat-gateway:{gateway}"]
    assert record.startswith(f"incident={report.incident} mode=zonal vpc=vpc-")
    assert f" subnet={where} connectivity=public allocation={allocation} " in record
    [address] = ec2().describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert "AssociationId" not in address  # kept, free to give to a new gateway
    body = inbox.messages()[0]["Message"]
    assert f"Stopped 1 {KIND}(s): {REGION}/{gateway}" in body
    assert "Not made again by restore: the tag runawaytrain:nat-gateway:<id>" in body

    restored = run_restore(chosen, RESTORE, clients, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert state(gateway) == "deleted"
    assert f"runawaytrain:nat-gateway:{gateway}" in address_tags(allocation)  # for a person


def test_a_private_gateway_is_recorded_on_its_subnet(strict, inbox, clients):
    where = subnet()
    made = ec2().create_nat_gateway(SubnetId=where, ConnectivityType="private")["NatGateway"]
    gateway = made["NatGatewayId"]

    _, report = trip(inbox, clients, ["nat-gateways"])

    assert report.services_halted == {KIND: [f"{REGION}/{gateway}"]}
    record = subnet_tags(where)[f"runawaytrain:nat-gateway:{gateway}"]
    assert "connectivity=private private-ip=" in record


def test_a_record_that_cannot_be_written_leaves_the_gateway_running(strict, inbox, clients):
    gateway, allocation = public_gateway(subnet())

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params["Resources"] == [allocation]:  # the EC2 halt's own tags go through
            raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "Tag")

    clients.client("ec2", REGION).meta.events.register(
        "before-parameter-build.ec2.CreateTags", refuse
    )

    _, report = trip(inbox, clients, ["nat-gateways"])

    assert report.services_halted == {}
    assert report.stopped  # the EC2 halt tagged and stopped its instances
    assert state(gateway) == "available"
    assert any(
        f"{KIND} {gateway} not deleted: its record could not be written" in e
        for e in report.action_errors
    )


def test_a_delete_aws_refuses_takes_the_record_off_again(strict, inbox, clients):
    gateway, allocation = public_gateway(subnet())

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "later"}}, "Delete")

    clients.client("ec2", REGION).meta.events.register("before-call.ec2.DeleteNatGateway", refuse)

    _, report = trip(inbox, clients, ["nat-gateways"])

    assert report.services_halted == {}
    assert state(gateway) == "available"
    assert f"runawaytrain:nat-gateway:{gateway}" not in address_tags(allocation)
    assert any(f"{KIND} {gateway}: deleting: InternalError" in e for e in report.action_errors)


class FakeEc2:
    """Just the three calls the halt makes, for gateway shapes moto cannot make (a regional
    gateway, one with many addresses): botocore model ec2, NatGateway."""

    def __init__(self, gateway: dict[str, Any]) -> None:
        self.gateway, self.tags, self.deleted = gateway, {}, []

    def describe_nat_gateways(self, **_: Any) -> dict[str, Any]:
        return {"NatGateways": [self.gateway]}

    def create_tags(self, **call: Any) -> None:
        for resource in call["Resources"]:
            self.tags.setdefault(resource, {}).update({t["Key"]: t["Value"] for t in call["Tags"]})

    def delete_nat_gateway(self, **call: Any) -> None:
        self.deleted.append(call["NatGatewayId"])


def available(gateway_id: str) -> list[Running]:
    return [
        Running(
            kind=KIND,
            region=REGION,
            name=gateway_id,
            arn="",
            instance_type="",
            state="available",
            vcpus=0.0,
        )
    ]


def test_a_regional_gateway_is_recorded_on_its_vpc_with_its_zones_then_deleted():
    """A regional gateway has no SubnetId (its addresses name their zones): recorded on its
    VPC, with its mode, zone settings, zones and route table."""
    gateway = {
        "NatGatewayId": "nat-0regional",
        "VpcId": "vpc-1",
        "State": "available",
        "ConnectivityType": "public",
        "AvailabilityMode": "regional",
        "AutoProvisionZones": "enabled",
        "AutoScalingIps": "enabled",
        "RouteTableId": "rtb-9",
        "NatGatewayAddresses": [
            {
                "AllocationId": "eipalloc-a",
                "PrivateIp": "10.0.1.5",
                "AvailabilityZone": "eu-west-1a",
            },
            {
                "AllocationId": "eipalloc-b",
                "PrivateIp": "10.0.2.5",
                "AvailabilityZone": "eu-west-1b",
            },
        ],
    }
    fake = FakeEc2(gateway)

    outcome = nat_gateways.halt(fake, available("nat-0regional"), "inc-1")

    assert outcome.errors == [] and fake.deleted == ["nat-0regional"]
    record = fake.tags["vpc-1"]["runawaytrain:nat-gateway:nat-0regional"]
    assert record == (
        "incident=inc-1 mode=regional vpc=vpc-1 subnet=- connectivity=public "
        "allocation=eipalloc-a allocation=eipalloc-b private-ip=10.0.1.5 private-ip=10.0.2.5 "
        "auto-provision-zones=enabled auto-scaling-ips=enabled zone=eu-west-1a zone=eu-west-1b "
        "route-table=rtb-9"
    )


def test_a_record_longer_than_a_tag_value_is_split_never_cut():
    """Twelve addresses make a record of over 256 characters: numbered tags hold all of it."""
    addresses = [
        {"AllocationId": f"eipalloc-0123456789abcde{i:02d}", "PrivateIp": f"10.0.0.{i}"}
        for i in range(12)
    ]
    fake = FakeEc2(
        {
            "NatGatewayId": "nat-0many",
            "VpcId": "vpc-1",
            "SubnetId": "subnet-1",
            "State": "available",
            "NatGatewayAddresses": addresses,
        }
    )

    outcome = nat_gateways.halt(fake, available("nat-0many"), "inc-1")

    assert outcome.errors == [] and fake.deleted == ["nat-0many"]
    tags = fake.tags["eipalloc-0123456789abcde00"]
    keys = nat_gateways.record_keys("nat-0many", len(tags))
    assert len(tags) > 1 and sorted(tags) == sorted(keys)
    assert keys[:2] == [
        "runawaytrain:nat-gateway:nat-0many",
        "runawaytrain:nat-gateway:nat-0many:2",
    ]
    assert all(len(value) <= 256 for value in tags.values())
    whole = " ".join(tags[key] for key in keys)
    assert all(f"allocation={a['AllocationId']}" in whole for a in addresses)
    assert whole.endswith("private-ip=10.0.0.11")


def test_a_timeout_after_the_delete_keeps_the_record(strict, inbox, clients):
    """A read timeout after AWS deleted the gateway: the record stays for a person."""
    gateway, allocation = public_gateway(subnet())

    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://ec2.eu-west-1.amazonaws.com")

    clients.client("ec2", REGION).meta.events.register("after-call.ec2.DeleteNatGateway", timeout)

    _, report = trip(inbox, clients, ["nat-gateways"])

    assert state(gateway) == "deleted"
    assert any(f"{KIND} {gateway}: deleting: ReadTimeoutError" in e for e in report.action_errors)
    assert f"runawaytrain:nat-gateway:{gateway}" in address_tags(allocation)
