"""NAT gateways: counted; deleted at a trip only where `halt:` names them, their Elastic IPs kept;
never created again by restore (irreversible).

A NAT gateway bills every hour it exists, whatever passes through it, and has no stop: the only
halt is DeleteNatGateway. "Deleting a public NAT gateway disassociates its Elastic IP address,
but does not release the address from your account. Deleting a NAT gateway does not delete any
NAT gateway routes in your route tables" (EC2 API Reference, DeleteNatGateway). A person can
make it again (CreateNatGateway with the same subnet and allocation) but it is a new gateway
with a new id, and its routes must be pointed at it: so the kind is irreversible, halted only
where `halt:` names it, and restore gives nothing back.

Record, then change: before the delete, a tag naming the gateway (`runawaytrain:nat-gateway:<id>`
= "incident=... mode=zonal|regional vpc=... subnet=... connectivity=... allocation=...
private-ip=...", and for a regional gateway its auto-provision-zones, auto-scaling-ips, zone=...
and route-table; EC2 CreateTags) goes on what the delete keeps: a zonal public gateway's first
Elastic IP, a zonal private gateway's subnet, a regional gateway's VPC (a regional gateway has no
subnet, "a single NAT Gateway that works across multiple availability zones", and its Elastic IPs
may be ones AWS allocated itself, AutoProvisionZones / AutoScalingIps, botocore model ec2
NatGateway: UNCERTAIN whether the delete releases those, so the VPC, which it certainly keeps).
A record longer than one tag value (256 characters) is split over numbered tags (<key>:2, ...,
at most MAX_PARTS), never cut. That record is what a person reads to make it again; restore
leaves it. If the record cannot be written the gateway is not deleted (the next run tries
again); if AWS refuses the delete, the record is taken off (a timeout keeps it: the delete may
have happened). Only `available` gateways are deleted: a `pending` one waits for the next run
while the incident is open (AWS does not say a pending gateway can be deleted).

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

from guard.census import describe_error, refused
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
REGIONAL = "regional"  # AvailabilityMode: zonal | regional (botocore model ec2, NatGateway)
# EC2 tags: value up to 256 characters, 50 a resource (EC2 User Guide, "Tag restrictions").
TAG_VALUE_MAX = 256
MAX_PARTS = 4  # a record longer than this many values is refused, never cut
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


def record_of(gateway: dict[str, Any], incident: str) -> tuple[str, list[str]]:
    """(resource to tag, tag values in order): a regional gateway's record goes on its VPC, a
    zonal one's on its first Elastic IP, else (a private gateway) on its subnet. The values: the
    record cut at spaces into values of at most TAG_VALUE_MAX characters."""
    addresses = gateway.get("NatGatewayAddresses", [])
    allocations = [a["AllocationId"] for a in addresses if a.get("AllocationId")]
    private = [a["PrivateIp"] for a in addresses if a.get("PrivateIp")]
    regional = gateway.get("AvailabilityMode") == REGIONAL
    fields = [
        f"incident={incident}",
        f"mode={gateway.get('AvailabilityMode', 'zonal')}",
        f"vpc={gateway.get('VpcId') or '-'}",
        f"subnet={gateway.get('SubnetId') or '-'}",
        f"connectivity={gateway.get('ConnectivityType', 'public')}",
        *[f"allocation={allocation}" for allocation in allocations],
        *[f"private-ip={ip}" for ip in private],
    ]
    if regional:
        zones = sorted({a["AvailabilityZone"] for a in addresses if a.get("AvailabilityZone")})
        fields += [
            f"auto-provision-zones={gateway.get('AutoProvisionZones') or '-'}",
            f"auto-scaling-ips={gateway.get('AutoScalingIps') or '-'}",
            *[f"zone={zone}" for zone in zones],
            f"route-table={gateway.get('RouteTableId') or '-'}",
        ]
    if regional:
        resource = gateway.get("VpcId", "")
    else:
        resource = allocations[0] if allocations else gateway.get("SubnetId", "")
    return resource, split_value(" ".join(fields))


def split_value(value: str) -> list[str]:
    """`value` cut at spaces into pieces of at most TAG_VALUE_MAX characters (each word is one
    field=value, far shorter; joined with spaces they are the record again)."""
    pieces: list[str] = []
    for word in value.split(" "):
        if pieces and len(pieces[-1]) + 1 + len(word) <= TAG_VALUE_MAX:
            pieces[-1] += " " + word
        else:
            pieces.append(word)
    return pieces


def record_keys(gateway_id: str, parts: int) -> list[str]:
    """runawaytrain:nat-gateway:<id>, then <key>:2, <key>:3, ... for a record in parts."""
    key = RECORD_PREFIX + gateway_id
    return [key if part == 1 else f"{key}:{part}" for part in range(1, parts + 1)]


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
            resource, values = record_of(gateway, incident)
            if not resource or len(values) > MAX_PARTS:
                outcome.errors.append(
                    f"{where} not deleted: its record does not fit ({len(values)} tag values, "
                    f"{MAX_PARTS} at most) or has nowhere to go (no Elastic IP, subnet or VPC); "
                    "delete it by hand once you have noted its configuration"
                )
                continue
            keys = record_keys(item.name, len(values))
            ec2.create_tags(
                Resources=[resource],
                Tags=[{"Key": k, "Value": v} for k, v in zip(keys, values, strict=True)],
            )
        except (ClientError, BotoCoreError, KeyError, ValueError) as error:
            outcome.errors.append(
                f"{where} not deleted: its record could not be written: {describe_error(error)}"
            )
            continue
        try:
            ec2.delete_nat_gateway(NatGatewayId=item.name)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: deleting: {describe_error(error)}")
            if not refused(error):
                continue  # a timeout may come after the delete: the record stays
            try:  # no record of a delete that did not happen
                ec2.delete_tags(Resources=[resource], Tags=[{"Key": key} for key in keys])
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
