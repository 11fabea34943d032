"""On-demand list prices per hour of instance types, from the AWS Price List Query API.

What is priced: Linux, no pre-installed software, no licence, capacity status "Used" (an instance
running, not an unused reservation), in the instance's region, shared tenancy: the light census
call (DescribeInstanceImageMetadata) does not say tenancy or market, so a dedicated instance is
priced at the shared rate (its dedicated premium and per-region fee are not counted), and a Spot
instance at the on-demand price: an upper bound (the Price List has no Spot prices: Billing User
Guide, "Calling AWS services and prices using the AWS Price List"). Queries take a tenancy, so
pricing dedicated instances needs only the census to say which they are. Nothing here knows
discounts, Savings Plans, Reserved Instances, EBS volumes, data transfer or Windows/RHEL licences.

Calls: pricing:GetProducts (no resource-level permissions), served from us-east-1 (also
eu-central-1 and ap-south-1; the endpoint is unrelated to the priced region). Billing User Guide,
"Using the AWS Price List Query API" (https://docs.aws.amazon.com/awsaccountbilling/latest/
aboutv2/using-pelong.html). The same page sets the quota: a token bucket of 10 GetProducts, refilled
at 5 a second, per account: so at most 10 calls at once. Each call asks for several types in
several regions with ANY_OF filters (comma-separated values, at most 1024 characters: AWS Billing
and Cost Management API Reference, pricing Filter), at most 100 products a page (GetProducts
MaxResults), planned so one page holds the answer: one round trip, cold.

Response: `PriceList` is a list of JSON *strings*, one product each (botocore model pricing
2017-10-15, PriceListJsonItems of SynthesizedJsonPriceListJsonItem); a product holds
product.attributes (instanceType, regionCode, tenancy, ...) and terms.OnDemand.<offer>.
priceDimensions.<rate>.pricePerUnit.USD per unit "Hrs".

Cache: per Lambda execution environment (module level), each (type, region, tenancy) for
PRICE_MAX_AGE_S (24 h): a price may be a day stale. AWS changes on-demand prices rarely and
announces them. If a refresh fails, the older price is used and the report says how old it is.
A (type, region, tenancy) the Price List does not list is cached as "no price" for the same time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from guard.census import describe_error
from guard.logs import get_logger
from guard.parallel import map_in_parallel

LOG = get_logger("pricing")

PRICING_REGION = "us-east-1"
PRICE_MAX_AGE_S = 24 * 3600
MAX_RESULTS = 100  # GetProducts MaxResults upper bound (botocore model: GetProductsMaxResults)
FILTER_VALUE_MAX = 1024  # Filter.Value length limit (AWS Billing and Cost Management API Ref.)
PARALLEL_CALLS = 10  # the GetProducts token bucket size (Billing User Guide, quotas)
SHARED = "Shared"  # the Price List's tenancy attribute for default-tenancy instances
# Bare-metal types (*.metal) are filed under their own product family: without it they would
# find no price and count at the fallback rate (aws/aws-parallelcluster#1292,
# infracost/infracost#3471).
PRODUCT_FAMILIES = ("Compute Instance", "Compute Instance (bare metal)")
FIXED_FILTERS = (
    ("operatingSystem", "Linux"),
    ("preInstalledSw", "NA"),
    ("licenseModel", "No License required"),
    ("capacitystatus", "Used"),
)

Key = tuple[str, str, str]  # (instance type, region, Price List tenancy)


@dataclass
class PriceBook:
    """What the Price List said for the keys asked: a price, or no price found (None)."""

    prices: dict[Key, float | None] = field(default_factory=dict)
    errors: dict[Key, str] = field(default_factory=dict)  # the lookup failed: unknown
    stale: dict[Key, float] = field(default_factory=dict)  # served from an older cache: age s


_CACHE: dict[Key, tuple[float | None, float]] = {}  # key -> (price or None, fetched at)
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every price (tests and benches: a cold execution environment)."""
    with _LOCK:
        _CACHE.clear()


def look_up_prices(
    keys: Iterable[Key], pricing: Callable[[], Any], now: float, workers: int = PARALLEL_CALLS
) -> PriceBook:
    """Prices for `keys`, from the cache while fresh, else from GetProducts (`pricing()` makes
    the client, only when a call is needed)."""
    book = PriceBook()
    missing: list[Key] = []
    with _LOCK:
        for key in set(keys):
            cached = _CACHE.get(key)
            if cached is not None and now - cached[1] < PRICE_MAX_AGE_S:
                book.prices[key] = cached[0]
            else:
                missing.append(key)
    if not missing:
        return book
    client = pricing()

    def fetch(query: Query) -> tuple[Query, dict[Key, float] | str]:
        try:
            return query, query.run(client)
        except Exception as error:  # a failed lookup is reported (degraded), never fatal
            LOG.error("pricing_failed", extra={"error": describe_error(error)})
            return query, describe_error(error)

    for query, result in map_in_parallel(fetch, plan_queries(missing), min(workers, 10)):
        if isinstance(result, str):
            for key in query.keys:
                _serve_stale(book, key, result, now)
            continue
        answered = {key: result.get(key) for key in query.keys}
        book.prices.update(answered)
        with _LOCK:  # what the call answered beyond the keys asked is worth keeping too
            _CACHE.update({key: (price, now) for key, price in {**result, **answered}.items()})
    return book


def _serve_stale(book: PriceBook, key: Key, error: str, now: float) -> None:
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        book.errors[key] = error
    else:
        book.prices[key] = cached[0]
        book.stale[key] = now - cached[1]


@dataclass(frozen=True)
class Query:
    """One GetProducts: these types in these regions at one tenancy (a page holds the answer)."""

    tenancy: str
    types: tuple[str, ...]
    regions: tuple[str, ...]
    keys: tuple[Key, ...]

    def filters(self) -> list[dict[str, str]]:
        fixed = [*FIXED_FILTERS, ("tenancy", self.tenancy)]
        return [
            *({"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in fixed),
            {"Type": "ANY_OF", "Field": "productFamily", "Value": ",".join(PRODUCT_FAMILIES)},
            {"Type": "ANY_OF", "Field": "instanceType", "Value": ",".join(self.types)},
            {"Type": "ANY_OF", "Field": "regionCode", "Value": ",".join(self.regions)},
        ]

    def run(self, client: Any) -> dict[Key, float]:
        pages = client.get_paginator("get_products").paginate(
            ServiceCode="AmazonEC2",
            FormatVersion="aws_v1",
            Filters=self.filters(),
            PaginationConfig={"PageSize": MAX_RESULTS},
        )
        found: dict[Key, float] = {}
        for page in pages:
            for item in page.get("PriceList", []):
                priced = parse_product(item)
                if priced is not None:
                    key, usd = priced
                    found[key] = max(usd, found.get(key, 0.0))  # two SKUs: the dearer
        return found


def plan_queries(keys: Iterable[Key]) -> list[Query]:
    """Group keys into GetProducts calls whose whole answer fits one page: per tenancy, types
    are added to a call while (types x regions) <= 100 and each ANY_OF value <= 1024 chars."""
    queries = []
    by_tenancy: dict[str, dict[str, set[str]]] = {}
    for instance_type, region, tenancy in keys:
        by_tenancy.setdefault(tenancy, {}).setdefault(instance_type, set()).add(region)
    for tenancy, regions_of in sorted(by_tenancy.items()):
        types: list[str] = []
        regions: set[str] = set()
        for instance_type in sorted(regions_of, key=lambda t: (sorted(regions_of[t]), t)):
            union = regions | regions_of[instance_type]
            fits = (len(types) + 1) * len(union) <= MAX_RESULTS and all(
                len(",".join(values)) <= FILTER_VALUE_MAX
                for values in ([*types, instance_type], union)
            )
            if types and not fits:
                queries.append(_query(tenancy, types, regions, regions_of))
                types, union = [], set(regions_of[instance_type])
            types.append(instance_type)
            regions = union
        if types:
            queries.append(_query(tenancy, types, regions, regions_of))
    return queries


def _query(
    tenancy: str, types: list[str], regions: set[str], regions_of: dict[str, set[str]]
) -> Query:
    keys = tuple((t, r, tenancy) for t in types for r in sorted(regions_of[t]))
    return Query(tenancy, tuple(types), tuple(sorted(regions)), keys)


def parse_product(item: str | dict[str, Any]) -> tuple[Key, float] | None:
    """One PriceList entry (a JSON string) to ((type, region, tenancy), USD per hour)."""
    product = json.loads(item) if isinstance(item, str) else item
    attributes = product.get("product", {}).get("attributes", {})
    key = (attributes.get("instanceType"), attributes.get("regionCode"), attributes.get("tenancy"))
    if not all(isinstance(part, str) for part in key):
        return None
    hourly = [
        float(dimension["pricePerUnit"]["USD"])
        for term in product.get("terms", {}).get("OnDemand", {}).values()
        for dimension in term.get("priceDimensions", {}).values()
        if dimension.get("unit") == "Hrs" and "USD" in dimension.get("pricePerUnit", {})
    ]
    if not hourly:
        return None
    return (str(key[0]), str(key[1]), str(key[2])), max(hourly)
