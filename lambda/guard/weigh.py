"""Weigh a census for the weighted limits: type weights and prices, looked up side by side.

Both lookups depend only on the types the census found, so they run at once: with cold caches
one round trip after the census, with warm caches none. Prices are asked only when
max_usd_per_hour is set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from guard.burn import Burn, ec2_type_of, service_price_parts, weigh_burn
from guard.census import UNKNOWN_TYPE, Census
from guard.clients import ClientFactory
from guard.logs import get_logger
from guard.pricing import PRICING_REGION, SHARED, Key, look_up_prices
from guard.service_capacity import Running
from guard.services import ec2_typed, price_components
from guard.settings import WeightedLimits
from guard.weights import weigh_types

LOG = get_logger("weigh")


def weigh_census(
    census: Census,
    limits: WeightedLimits,
    ec2_for: Callable[[str], Any],
    pricing: Callable[[], Any],
    *,
    workers: int,
    now: float | None = None,
    others: Sequence[Running] = (),
) -> Burn:
    """`others`: capacity outside EC2 (services.py), weighed by the EC2 type it runs on and,
    where its module names a Price List component (SageMaker, Fargate), priced from the Price
    List in the same lookup as the EC2 types: no call more when the cache holds them."""
    components = price_components()
    where: dict[str, set[str]] = {}
    keys: set[Key] = set()
    not_ec2: dict[str, str] = {}  # a service's own type whose vCPUs it does not know: unweighed
    for item in others:
        if not item.count:
            continue  # weighed by another census (a node group's instances: EC2's)
        # Capacity billed by the vCPU has no type to describe, nor has capacity the service
        # prices itself (a Bedrock model id is no EC2 type: DescribeInstanceTypes would refuse
        # the call, and with it the region's real types).
        if item.usd_per_hour is not None or not item.instance_type:
            pass
        elif item.vcpus is None and not ec2_typed(item):
            not_ec2[item.instance_type] = f"not an EC2 type; vCPUs of this {item.kind} unknown"
        elif item.vcpus is None:  # one that names its vCPUs is weighed
            where.setdefault(ec2_type_of(item.instance_type), set()).add(item.region)
        parts = service_price_parts(item, components.get(item.kind))
        keys.update(key for key, _ in parts)
    for region, found in census.instances.items():
        for instance in found:
            if instance.instance_type == UNKNOWN_TYPE:
                continue  # nothing to look up: weighed as unknown below
            where.setdefault(instance.instance_type, set()).add(region)
            keys.add((instance.instance_type, region, SHARED))
    with ThreadPoolExecutor(1) as pool:
        pricing_done = (
            pool.submit(look_up_prices, keys, pricing, time.time() if now is None else now)
            if limits.usd_per_hour is not None and keys
            else None
        )
        weights, errors = weigh_types(where, ec2_for, workers)
        book = pricing_done.result() if pricing_done is not None else None
    errors = {**errors, **not_ec2}
    if census.untyped_regions:
        errors = {**errors, UNKNOWN_TYPE: describe_untyped(census.untyped_regions)}
    if limits.usd_per_hour is not None and book is None:
        book = look_up_prices((), pricing, 0.0)  # nothing runs: an empty, asked-for book
    burn = weigh_burn(census.instances, weights, errors, book, others, components=components)
    LOG.info(
        "weighed",
        extra={
            "vcpus": burn.vcpus,
            "accelerators": burn.accelerators,
            "usd_per_hour": burn.usd_per_hour,
            "types_unweighed": sorted(burn.unweighed),
            "prices_unknown": sorted(burn.price_errors),
        },
    )
    return burn


def describe_untyped(untyped_regions: Mapping[str, str]) -> str:
    """Why some instances weigh as unknown: the regions whose types could not be read."""
    return "types not read in " + "; ".join(
        f"{region} ({error})" for region, error in sorted(untyped_regions.items())
    )


def weigh_for(
    limits: WeightedLimits,
    census: Census,
    clients: ClientFactory,
    workers: int,
    others: Sequence[Running] = (),
) -> Burn | None:
    """The census weighed with the guard's own clients; None (no call) when no weighted limit
    is set."""
    if not limits.any:
        return None
    return weigh_census(
        census,
        limits,
        lambda region: clients.client("ec2", region),
        lambda: clients.client("pricing", PRICING_REGION),
        workers=workers,
        others=others,
    )


def burn_report(burn: Burn | None, limits: WeightedLimits) -> dict[str, Any] | None:
    """The report's `burn`: totals, lines and what could not be weighed, with the limits."""
    if burn is None:
        return None
    return {**burn.to_dict(), "limits": asdict(limits)}
