"""Lightsail instances: counted with the price of their bundle, never stopped or deleted by the
guard: a trip reports them, with what they burn, for a person to act on.

A stop saves nothing: "Lightsail instances and managed databases incur charges until they are
deleted. These resources accrue charges even when they are in the stopped state" (Lightsail
Developer Guide, FAQ "Billing and account management"; docs/services-research.md, section 9).
The only halt that saves money is DeleteInstance, which loses the instance's disk and public IP
(an instance created again from a snapshot is a new instance with a new IP: API Reference,
CreateInstancesFromSnapshot, StartInstance). So the kind is irreversible and, even where `halt:`
names it, its halt changes nothing: each instance is an error in the mail ("not halted: snapshot
it, then delete it by hand") while the incident is open. Restore has nothing to give back.

Census: GetInstances (every state: a stopped instance bills as a running one), then, only if any,
GetBundles with includeInactive (an instance keeps a bundle AWS no longer offers) for the
bundle's monthly price and vCPUs; a bundle still unknown is looked for among the Lightsail for
Research bundles, which GetBundles lists only with appCategory "LfR" (API Reference,
GetBundles). Nothing running: one call a region.

Price: Running.usd_per_hour is the bundle's monthly price / HOURS_PER_MONTH. Lightsail bills
"the fixed hourly price, up to the maximum monthly plan cost", and the hourly prices AWS gives
are the monthly price over a 31-day month: "$0.0067 USD/hour ($5 USD/month)", "$0.0127 USD/hour
($9.50 USD/month)" (same FAQ): 5/744 = 0.00672, 9.5/744 = 0.01277 (730 hours would give 0.0068
and 0.0130). A bundle found nowhere is counted with no price and its hardware's vCPUs, so it
weighs the unpriced rate per vCPU (burn.py): never zero.

Lightsail is offered in some Regions only (botocore's endpoint data, which services.py reads):
elsewhere it is closed, not asked.

IAM: lightsail:GetInstances and lightsail:GetBundles (no resource-level permissions: Service
Authorization Reference, "Actions defined by Amazon Lightsail").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from guard.ledger import Record
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

SERVICE = "lightsail"
KIND = "Lightsail instance"
NAME = "lightsail-instances"
HOURS_PER_MONTH = 744  # a 31-day month: AWS's own hourly Lightsail prices (module docstring)
RESEARCH = "LfR"  # GetBundles appCategory of Lightsail for Research bundles
STOP_KEEPS = (
    "Not stopped or deleted by the guard: a stopped Lightsail instance bills as a running one, "
    "and deleting it loses its disk and public IP (snapshot it first)."
)

Bundles = dict[str, tuple[float, int]]  # bundleId -> (USD a month, vCPUs)


def bundles_of(lightsail: Any, operation: str, **asked: Any) -> Bundles:
    """Every bundle `operation` (get_bundles, get_relational_database_bundles) lists, retired
    ones too."""
    pages = lightsail.get_paginator(operation).paginate(includeInactive=True, **asked)
    return {
        bundle["bundleId"]: (float(bundle["price"]), int(bundle["cpuCount"]))
        for page in pages
        for bundle in page["bundles"]
    }


def priced(
    found: list[dict[str, Any]],
    bundle_key: str,
    look_up: list[Callable[[], Bundles]],
) -> Bundles:
    """The bundles of `found`, asking each look-up in turn only while one is still unknown."""
    known: Bundles = {}
    for look in look_up:
        if all(item[bundle_key] in known for item in found):
            break
        known.update(look())
    return known


def running(
    kind: str, region: str, item: dict[str, Any], *, bundle: str, bundles: Bundles, state: str
) -> Running:
    price, vcpus = bundles.get(bundle, (None, int(item.get("hardware", {}).get("cpuCount", 0))))
    return Running(
        kind=kind,
        region=region,
        name=item["name"],
        arn=item["arn"],
        instance_type=bundle,  # a Lightsail bundle, not an EC2 type: priced by the service
        state=state,
        vcpus=float(vcpus),
        usd_per_hour=None if price is None else price / HOURS_PER_MONTH,
    )


def count(lightsail: Any, region: str) -> list[Running]:
    """Every instance, whatever its state, priced by its bundle."""
    pages = lightsail.get_paginator("get_instances").paginate()
    instances = [instance for page in pages for instance in page["instances"]]
    if not instances:
        return []
    bundles = priced(
        instances,
        "bundleId",
        [
            lambda: bundles_of(lightsail, "get_bundles"),
            lambda: bundles_of(lightsail, "get_bundles", appCategory=RESEARCH),
        ],
    )
    return [
        running(KIND, region, i, bundle=i["bundleId"], bundles=bundles, state=i["state"]["name"])
        for i in instances
    ]


def halt(lightsail: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Nothing changed: each instance is reported for a person to snapshot and delete."""
    return ServiceHalt(
        errors=[
            f"{item.region}: {KIND} {item.name} ({item.instance_type}, "
            f"{_usd(item.usd_per_hour)}) not halted: a stopped instance still bills; snapshot "
            "it, then delete it by hand (DeleteInstance loses its disk and public IP)"
            for item in found
        ]
    )


def _usd(usd_per_hour: float | None) -> str:
    return "price unknown" if usd_per_hour is None else f"{usd_per_hour:.4f} USD/h"


def restore(
    lightsail: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: the guard never changed an instance."""
    return ServiceRestore()
