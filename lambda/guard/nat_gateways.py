"""NAT gateways: counted; deleted at a trip only where `halt:` names them, their Elastic IPs kept;
never created again by restore (irreversible).

A NAT gateway bills every hour it exists, whatever passes through it, and has no stop: the only
halt is DeleteNatGateway. "Deleting a public NAT gateway disassociates its Elastic IP address,
but does not release the address from your account. Deleting a NAT gateway does not delete any
NAT gateway routes in your route tables" (EC2 API Reference, DeleteNatGateway). A person can
make it again (CreateNatGateway with the same subnet and allocation) but it is a new gateway
with a new id, and its routes must be pointed at it: so the kind is irreversible, halted only
where `halt:` names it, and restore gives nothing back.

Record, then change: before the delete, the gateway's addresses get a tag naming it
(`runawaytrain:nat-gateway:<id>` = "incident=... subnet=... connectivity=... allocations=...
private-ip=...", EC2 CreateTags): on its Elastic IP (kept by the delete) for a public gateway,
on its subnet for a private one (no Elastic IP). That tag is what a person reads to make it
again; restore leaves it. If the record cannot be written the gateway is not deleted (the next
run tries again); if the delete fails, the record is taken off. Only `available` gateways are
deleted: a `pending` one waits for the next run while the incident is open (AWS does not say a
pending gateway can be deleted).

Weight: a NAT gateway has no vCPUs and is not in EC2's instance prices. It is counted with
vcpus 0 and no price of its own (usd_per_hour None): burn.py weighs it at the unpriced rate per
vCPU, 0 USD/h, never as unknown, so it does not make a run degraded where its real price
(about 0.045 USD/h plus data processed, a Price List product of family "NAT Gateway") is not
looked up. It trips nothing by dollars; it is in the census, the mail and `halt:`.

IAM: ec2:DescribeNatGateways (no resource-level permissions); ec2:DeleteNatGateway
(natgateway ARNs); ec2:CreateTags / ec2:DeleteTags on elastic-ip and subnet ARNs, runawaytrain:
keys only (Service Authorization Reference, "Actions defined by Amazon EC2").
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.incident import TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("nat_gateways")

SERVICE = "ec2"
KIND = "NAT gateway"
NAME = "nat-gateways"
# NatGateway State values that bill (deleting, deleted and failed do not).
BILLING = ("pending", "available")
DELETABLE = "available"
RECORD_PREFIX = f"{TAG_PREFIX}nat-gateway:"  # + the gateway id
PAGE_SIZE = 1000  # DescribeNatGateways MaxResults upper bound
STOP_KEEPS = (
    "Deleted (only where halt: names nat-gateways); its Elastic IP is kept. Not made again by "
    "restore: the tag runawaytrain:nat-gateway:<id> on the Elastic IP (a private gateway: on "
    "its subnet) names its subnet and addresses: CreateNatGateway with them, then point the "
    "route tables' routes to the old id at the new one."
)


def count(ec2: Any, region: str) -> list[Running]:
    """The gateways of the region that bill now: one filtered listing."""
    pages = ec2.get_paginator("describe_nat_gateways").paginate(
        Filters=[{"Name": "state", "Values": list(BILLING)}],
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    return [
        Running(
            kind=KIND,
            region=region,
            name=gateway["NatGatewayId"],
            arn="",
            instance_type="",
            state=gateway["State"],
            vcpus=0.0,
        )
        for page in pages
        for gateway in page["NatGateways"]
        if gateway["State"] in BILLING
    ]


def record_of(gateway: dict[str, Any], incident: str) -> tuple[str, str]:
    """(resource to tag, tag value): the gateway's first Elastic IP, or its subnet."""
    addresses = gateway.get("NatGatewayAddresses", [])
    allocations = [a["AllocationId"] for a in addresses if a.get("AllocationId")]
    private = [a["PrivateIp"] for a in addresses if a.get("PrivateIp")]
    value = (
        f"incident={incident} subnet={gateway['SubnetId']} "
        f"connectivity={gateway.get('ConnectivityType', 'public')} "
        f"allocations={','.join(allocations) or '-'} private-ip={','.join(private) or '-'}"
    )
    return (allocations[0] if allocations else gateway["SubnetId"]), value[:256]


def halt(ec2: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Record, then delete, every available gateway in `found`; pending ones wait."""
    outcome = ServiceHalt()
    for item in found:
        if item.state != DELETABLE:
            outcome.waiting.append(item)
            continue
        where = f"{item.region}: {KIND} {item.name}"
        try:
            [gateway] = ec2.describe_nat_gateways(NatGatewayIds=[item.name])["NatGateways"]
            resource, value = record_of(gateway, incident)
            key = RECORD_PREFIX + item.name
            ec2.create_tags(Resources=[resource], Tags=[{"Key": key, "Value": value}])
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{where} not deleted: its record could not be written: {describe_error(error)}"
            )
            continue
        try:
            ec2.delete_nat_gateway(NatGatewayId=item.name)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: deleting: {describe_error(error)}")
            try:  # no record of a delete that did not happen
                ec2.delete_tags(Resources=[resource], Tags=[{"Key": key}])
            except (ClientError, BotoCoreError) as untag_error:
                outcome.errors.append(
                    f"{where}: untagging {resource}: {describe_error(untag_error)}"
                )
            continue
        outcome.halted.append(item)
        LOG.info("nat_gateway_deleted", extra={"region": item.region, "nat_gateway": item.name})
    return outcome


def restore(
    ec2: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: a deleted gateway is not made again (its record stays for a person)."""
    return ServiceRestore()
