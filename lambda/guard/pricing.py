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

SageMaker's ml.* instances are priced from SageMaker's own offer (ServiceCode AmazonSageMaker), not
as the EC2 type they run on: its products are productFamily "ML Instance", named by
`instanceName` ("ml.t3.medium"), with the component that bills in `platoinstancetype`
("Notebook", "Hosting", "Training", "Processing", "BatchTransform", ...); a notebook's
ml.t3.medium lists about 0.05 USD/h in us-east-1 where its 2 vCPUs at the unpriced rate would
weigh 2 (attributes: AWS's SageMaker pricing sample filters productFamily "ML Instance",
instanceName and platoinstancetype "Hosting"; vantage-sh/ec2instances.info sagemaker.py lists
the platoinstancetype values; docs/services-research.md, "Pricing"). A key's third part is
therefore the EC2 tenancy for an EC2 type and the SageMaker component for an ml.* type.

Fargate (Linux/x86) bills per vCPU-hour and per GB-hour of memory, priced from ECS's offer
(ServiceCode AmazonECS): usagetype "<region prefix>-Fargate-vCPU-Hours:perCPU" and
"<region prefix>-Fargate-GB-Hours" (ARM, Spot and Windows have their own usage types, left
out), unit "hours" (infracost-style estimates and price scrapers agree on these names; the
prefix differs by region, so the query matches on `usagetype` CONTAINS "Fargate" and the answer
is read by suffix: docs/services-research.md, "Pricing"). Its keys are (FARGATE_VCPU, region,
FARGATE) and (FARGATE_GB, region, FARGATE).

Cache: per Lambda execution environment (module level), each (type, region, tenancy or
component) for PRICE_MAX_AGE_S (24 h): a price may be a day stale. AWS changes on-demand prices
rarely and announces them. If a refresh fails, the older price is used and the report says how
old it is. A key the Price List does not list is cached as "no price" for the same time.
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
EC2 = "AmazonEC2"
SAGEMAKER = "AmazonSageMaker"
ML_PREFIX = "ml."  # SageMaker's instance types: ml.<EC2 type>
ML_FAMILY = "ML Instance"  # SageMaker's productFamily for instance-hours
HOURLY_UNITS = ("Hrs", "hours")  # EC2 and SageMaker say "Hrs", ECS's Fargate "hours"

ECS = "AmazonECS"
FARGATE = "Fargate"  # a Fargate key's third part (and the ECS modules' PRICE_COMPONENT)
FARGATE_VCPU = "Fargate-vCPU-Hours:perCPU"  # usagetype after the region prefix, x86 on demand
FARGATE_GB = "Fargate-GB-Hours"
FARGATE_RATES = (FARGATE_VCPU, FARGATE_GB)
# A region lists some ten Fargate usage types (x86, ARM, Spot, Windows, storage): this many
# regions a call keep the answer within one page.
FARGATE_REGIONS_PER_CALL = 8

# (instance type, region, Price List tenancy) for EC2, (ml.* type, region, SageMaker
# platoinstancetype) for SageMaker, (FARGATE_VCPU or FARGATE_GB, region, FARGATE) for Fargate.
Key = tuple[str, str, str]


def service_code_of(instance_type: str) -> str:
    """The Price List offer that prices `instance_type`: SageMaker's for ml.*, ECS's for the
    Fargate rates, else EC2's."""
    if instance_type in FARGATE_RATES:
        return ECS
    return SAGEMAKER if instance_type.startswith(ML_PREFIX) else EC2


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
    """One GetProducts: these types in these regions at one tenancy (EC2) or one component
    (SageMaker), from one offer (a page holds the answer)."""

    tenancy: str  # EC2: the tenancy; SageMaker: the component (platoinstancetype)
    types: tuple[str, ...]
    regions: tuple[str, ...]
    keys: tuple[Key, ...]
    service_code: str = EC2

    def filters(self) -> list[dict[str, str]]:
        if self.service_code == ECS:
            return [
                {"Type": "CONTAINS", "Field": "usagetype", "Value": FARGATE},
                {"Type": "ANY_OF", "Field": "regionCode", "Value": ",".join(self.regions)},
            ]
        if self.service_code == SAGEMAKER:
            exact = [("productFamily", ML_FAMILY), ("platoinstancetype", self.tenancy)]
            any_of = [("instanceName", self.types)]
        else:
            exact = [*FIXED_FILTERS, ("tenancy", self.tenancy)]
            any_of = [("productFamily", PRODUCT_FAMILIES), ("instanceType", self.types)]
        return [
            *({"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in exact),
            *(
                {"Type": "ANY_OF", "Field": f, "Value": ",".join(values)}
                for f, values in [*any_of, ("regionCode", self.regions)]
            ),
        ]

    def run(self, client: Any) -> dict[Key, float]:
        pages = client.get_paginator("get_products").paginate(
            ServiceCode=self.service_code,
            FormatVersion="aws_v1",
            Filters=self.filters(),
            PaginationConfig={"PageSize": MAX_RESULTS},
        )
        found: dict[Key, float] = {}
        for page in pages:
            for item in page.get("PriceList", []):
                priced = parse_product(item, self.service_code)
                if priced is not None:
                    key, usd = priced
                    found[key] = max(usd, found.get(key, 0.0))  # two SKUs: the dearer
        return found


def plan_queries(keys: Iterable[Key]) -> list[Query]:
    """Group keys into GetProducts calls whose whole answer fits one page: per offer and tenancy
    (or component), types are added to a call while (types x regions) <= 100 and each ANY_OF
    value <= 1024 chars."""
    queries = []
    by_class: dict[tuple[str, str], dict[str, set[str]]] = {}
    for instance_type, region, tenancy in keys:
        group = by_class.setdefault((service_code_of(instance_type), tenancy), {})
        group.setdefault(instance_type, set()).add(region)
    for (code, tenancy), regions_of in sorted(by_class.items()):
        if code == ECS:
            queries += _fargate_queries(tenancy, regions_of)
            continue
        types: list[str] = []
        regions: set[str] = set()
        for instance_type in sorted(regions_of, key=lambda t: (sorted(regions_of[t]), t)):
            union = regions | regions_of[instance_type]
            fits = (len(types) + 1) * len(union) <= MAX_RESULTS and all(
                len(",".join(values)) <= FILTER_VALUE_MAX
                for values in ([*types, instance_type], union)
            )
            if types and not fits:
                queries.append(_query((code, tenancy), types, regions, regions_of))
                types, union = [], set(regions_of[instance_type])
            types.append(instance_type)
            regions = union
        if types:
            queries.append(_query((code, tenancy), types, regions, regions_of))
    return queries


def _fargate_queries(tenancy: str, regions_of: dict[str, set[str]]) -> list[Query]:
    """Fargate's rates: every rate of FARGATE_REGIONS_PER_CALL regions a call."""
    regions = sorted(set().union(*regions_of.values()))
    queries = []
    for start in range(0, len(regions), FARGATE_REGIONS_PER_CALL):
        chunk = regions[start : start + FARGATE_REGIONS_PER_CALL]
        keys = tuple((rate, r, tenancy) for r in chunk for rate in sorted(regions_of))
        queries.append(Query(tenancy, tuple(sorted(regions_of)), tuple(chunk), keys, ECS))
    return queries


def _query(
    offer: tuple[str, str], types: list[str], regions: set[str], regions_of: dict[str, set[str]]
) -> Query:
    code, tenancy = offer
    keys = tuple((t, r, tenancy) for t in types for r in sorted(regions_of[t]))
    return Query(tenancy, tuple(types), tuple(sorted(regions)), keys, code)


def parse_product(item: str | dict[str, Any], service_code: str = EC2) -> tuple[Key, float] | None:
    """One PriceList entry (a JSON string) to ((type, region, tenancy or component), USD per
    hour)."""
    product = json.loads(item) if isinstance(item, str) else item
    attributes = product.get("product", {}).get("attributes", {})
    if service_code == ECS:
        usage = str(attributes.get("usagetype", ""))
        # After the region prefix ("USE1-", "EU-"); us-east-1's may have none.
        rate = usage if usage in FARGATE_RATES else usage.split("-", 1)[-1]
        named, last = (rate, FARGATE) if rate in FARGATE_RATES else (None, None)
    elif service_code == SAGEMAKER:
        named, last = attributes.get("instanceName"), attributes.get("platoinstancetype")
    else:
        named, last = attributes.get("instanceType"), attributes.get("tenancy")
    key = (named, attributes.get("regionCode"), last)
    if not all(isinstance(part, str) for part in key):
        return None
    hourly = [
        float(dimension["pricePerUnit"]["USD"])
        for term in product.get("terms", {}).get("OnDemand", {}).values()
        for dimension in term.get("priceDimensions", {}).values()
        if dimension.get("unit") in HOURLY_UNITS and "USD" in dimension.get("pricePerUnit", {})
    ]
    if not hourly:
        return None
    return (str(key[0]), str(key[1]), str(key[2])), max(hourly)
