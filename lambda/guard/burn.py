"""What the pending + running instances weigh now: vCPUs, accelerators, dollars an hour. Pure.

The census (types, regions), the type weights (weights.py) and the price book (pricing.py) in;
totals and one line per (type, region, tenancy) out, dearest first, for the decision and the mail.

A type with no price in the Price List counts UNPRICED_USD_PER_VCPU_HOUR per vCPU: never zero,
and above the on-demand Linux rate per vCPU of every instance type we know of (the dearest,
GPU types such as p5.48xlarge, list about 0.5 USD per vCPU-hour in us-east-1; other regions run
up to ~1.6x that). A price that could not be looked up at all (the Price List API failed and no
older price is cached) is not guessed: the dollar total is then a lower bound, and the decision
says the dollar limit could not be fully checked (degraded) unless what is known already exceeds
it. The same holds for vCPUs and accelerators of a type DescribeInstanceTypes did not answer for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from guard.census import Instance
from guard.pricing import FARGATE, FARGATE_GB, FARGATE_VCPU, ML_PREFIX, SHARED, Key, PriceBook
from guard.service_capacity import Running
from guard.weights import TypeWeight

UNPRICED_USD_PER_VCPU_HOUR = 1.0
DB_PREFIX = "db."  # RDS DB instance classes: db.<EC2 type> (db.r6g.large runs on an r6g.large)


class PriceSource:
    LIST = "list"  # the Price List's on-demand price
    STALE = "stale"  # the Price List's price from an older cache (a refresh failed)
    UNPRICED = "unpriced"  # the Price List has no price: UNPRICED_USD_PER_VCPU_HOUR per vCPU
    SERVICE = "service"  # the service's own price (Running.usd_per_hour), not the Price List
    UNKNOWN = "unknown"  # no price could be looked up: not counted (a lower bound)
    NOT_ASKED = "not-asked"  # no dollar limit set: prices were not looked up


@dataclass(frozen=True)
class BurnLine:
    instance_type: str
    region: str
    tenancy: str  # Price List tenancy: Shared (the census does not read tenancy: README)
    count: int
    vcpus_each: float | None  # None: the type could not be described
    accelerators_each: int | None
    accelerator_names: str
    usd_each: float | None  # None: unknown or not asked
    price_source: str

    @property
    def usd(self) -> float:
        return (self.usd_each or 0.0) * self.count


@dataclass(frozen=True)
class Burn:
    vcpus: float  # of the instances whose type was described: a lower bound if `unweighed`
    accelerators: int
    usd_per_hour: float  # of the instances priced (or counted by the unpriced rule)
    lines: tuple[BurnLine, ...] = ()  # dearest first (then most vCPUs)
    unweighed: dict[str, str] = field(default_factory=dict)  # type -> why it is not described
    price_errors: dict[str, str] = field(default_factory=dict)  # "type region" -> why no price
    prices_asked: bool = False

    @property
    def unweighed_instances(self) -> int:
        return sum(line.count for line in self.lines if line.vcpus_each is None)

    @property
    def unpriced_instances(self) -> int:
        """Instances whose dollars are not in the total (a lower bound)."""
        return sum(line.count for line in self.lines if line.usd_each is None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ec2_type_of(instance_type: str) -> str:
    """The EC2 instance type a service's instance runs on: SageMaker's ml.p3.2xlarge is a
    p3.2xlarge (same vCPUs and accelerators; SageMaker bills its own, higher, rate), an RDS
    db.r6g.large an r6g.large ("DB instance classes", RDS User Guide, lists each with the vCPUs
    and memory of that EC2 type)."""
    return instance_type.removeprefix(ML_PREFIX).removeprefix(DB_PREFIX)


def weigh_burn(
    instances: Mapping[str, Iterable[Instance]],
    weights: Mapping[str, TypeWeight],
    weight_errors: Mapping[str, str],
    book: PriceBook | None,
    others: Iterable[Running] = (),
    *,
    components: Mapping[str, str] | None = None,
) -> Burn:
    """Totals and lines for the census `instances` (region -> instances) and the capacity of
    other services (`others`), each of which weighs as the EC2 type it runs on. A SageMaker
    instance whose kind names its Price List component (`components`: kind -> component, from
    each module's PRICE_COMPONENT) is priced at SageMaker's list price, and a Fargate task at
    Fargate's vCPU-hour and GB-hour rates (service_price_parts), with EC2's fallbacks:
    no price listed, the unpriced rate per vCPU; the lookup failed, an older price, else
    unknown. Any other capacity, priced, counts the unpriced rate per vCPU: the unpriced rate
    lies above every on-demand rate per vCPU (a SageMaker ml.p3.2xlarge, 8 vCPUs, weighs 8 USD/h
    where SageMaker lists about 3.8 in us-east-1: the breaker trips early, never late)."""
    components = components or {}
    others = list(others)  # read twice: own-priced lines, then the Price List's groups
    groups: Counter[tuple[str, str, str]] = Counter()
    for region, found in instances.items():
        for instance in found:
            groups[instance.instance_type, region, SHARED] += 1
    lines = _own_priced(others)
    price_errors: dict[str, str] = {}
    service_groups, parts_of, by_vcpus = _service_groups(others, components)
    for (instance_type, region, kind), count in service_groups.items():
        weight = by_vcpus.get(instance_type) or weights.get(ec2_type_of(instance_type))
        parts = parts_of[instance_type, region, kind]
        usd_each, source = _parts_price(parts, weight, book)
        if source == PriceSource.UNKNOWN:
            failed = [
                book.errors[key] for key, _ in parts if book is not None and key in book.errors
            ]
            price_errors[f"{instance_type} {region}"] = (
                failed[0] if failed else "no list price, and its vCPUs are unknown"
            )
        lines.append(_line((instance_type, region, kind), count, weight, (usd_each, source)))
    for key, count in groups.items():
        instance_type, region, _ = key
        weight = weights.get(instance_type)
        usd_each, source = _price(key, weight, book)
        if book is not None and source == PriceSource.UNKNOWN:
            price_errors[f"{instance_type} {region}"] = book.errors.get(
                key, "no list price, and its vCPUs are unknown"
            )
        lines.append(_line(key, count, weight, (usd_each, source)))
    lines.sort(key=lambda line: (-line.usd, -(line.vcpus_each or 0) * line.count, line.region))
    return Burn(
        vcpus=sum((line.vcpus_each or 0) * line.count for line in lines),
        accelerators=sum((line.accelerators_each or 0) * line.count for line in lines),
        usd_per_hour=round(sum(line.usd for line in lines), 4),
        lines=tuple(lines),
        unweighed={
            t: weight_errors.get(ec2_type_of(t), "not described")
            for t in sorted(
                {key[0] for key in groups} - set(weights)
                | {
                    key[0]
                    for key in service_groups
                    if ec2_type_of(key[0]) not in weights and key[0] not in by_vcpus
                }
            )
        },
        price_errors=price_errors,
        prices_asked=book is not None,
    )


def _own_priced(others: Iterable[Running]) -> list[BurnLine]:
    """The lines of the capacity the service itself prices (Running.usd_per_hour)."""
    return [
        _own_priced_line(item) for item in others if item.count and item.usd_per_hour is not None
    ]


ServiceGroup = tuple[str, str, str]  # (type, or "2 vCPU, 4 GiB", region, kind)


def _service_groups(
    others: Iterable[Running], components: Mapping[str, str]
) -> tuple[Counter[ServiceGroup], dict[ServiceGroup, PriceParts], dict[str, TypeWeight]]:
    """The capacity the Price List prices, grouped: how many of each group, what one costs
    (Price List keys and quantities), and what a type billed by the vCPU weighs."""
    groups: Counter[ServiceGroup] = Counter()
    parts_of: dict[ServiceGroup, PriceParts] = {}
    by_vcpus: dict[str, TypeWeight] = {}  # what a service billed by the vCPU weighs ("2 vCPU")
    for item in others:
        if not item.count or item.usd_per_hour is not None:
            continue  # weighed by another census (a node group's EC2 instances), or own-priced
        instance_type = item.instance_type
        if item.vcpus is not None:  # billed by the vCPU, or a type EC2 does not know (Redshift)
            if not instance_type:
                instance_type = f"{item.vcpus:g} vCPU"
                if item.memory_gib is not None:
                    instance_type += f", {item.memory_gib:g} GiB"
            by_vcpus[instance_type] = TypeWeight(vcpus=item.vcpus, accelerators=0)
        group = (instance_type, item.region, item.kind)
        groups[group] += item.count
        parts_of[group] = service_price_parts(item, components.get(item.kind))
    return groups, parts_of, by_vcpus


def _own_priced_line(item: Running) -> BurnLine:
    """A line for capacity whose price the service itself gives (Running.usd_per_hour): its
    vCPUs where it has any, no accelerators."""
    return BurnLine(
        instance_type=item.instance_type or item.kind,
        region=item.region,
        tenancy=item.kind,
        count=item.count,
        vcpus_each=item.vcpus or 0.0,
        accelerators_each=0,
        accelerator_names="",
        usd_each=item.usd_per_hour,
        price_source=PriceSource.SERVICE,
    )


def _line(
    key: tuple[str, str, str],
    count: int,
    weight: TypeWeight | None,
    priced: tuple[float | None, str],
) -> BurnLine:
    """One line: (type, region, tenancy or kind), how many, their weight, (USD each, source)."""
    instance_type, region, tenancy = key
    return BurnLine(
        instance_type=instance_type,
        region=region,
        tenancy=tenancy,
        count=count,
        vcpus_each=None if weight is None else weight.vcpus,
        accelerators_each=None if weight is None else weight.accelerators,
        accelerator_names="" if weight is None else weight.accelerator_names,
        usd_each=priced[0],
        price_source=priced[1],
    )


PriceParts = tuple[tuple[Key, float], ...]  # (Price List key, quantity) summed to a price


def service_price_parts(item: Running, component: str | None) -> PriceParts:
    """What one of a service's `item` costs, as Price List keys times quantities: a SageMaker
    instance, one (ml.* type, region, component); a Fargate task, its vCPUs times the vCPU-hour
    rate plus its GiB times the GB-hour rate. Empty where the module names no component: the
    unpriced rate per vCPU."""
    if component == FARGATE and item.vcpus is not None and item.memory_gib is not None:
        return (
            ((FARGATE_VCPU, item.region, FARGATE), item.vcpus),
            ((FARGATE_GB, item.region, FARGATE), item.memory_gib),
        )
    if component is not None and item.instance_type.startswith(ML_PREFIX):
        return (((item.instance_type, item.region, component), 1.0),)
    return ()


def _parts_price(
    parts: PriceParts, weight: TypeWeight | None, book: PriceBook | None
) -> tuple[float | None, str]:
    """As _price, for a price made of parts: listed only if every part is; one the Price List
    does not list, the unpriced rate per vCPU; one that could not be looked up, unknown."""
    if book is None or not parts:
        return _service_price(weight, book)
    if not all(key in book.prices for key, _ in parts):
        return None, PriceSource.UNKNOWN
    prices = [(book.prices[key], quantity) for key, quantity in parts]
    if all(price is not None for price, _ in prices):
        stale = any(key in book.stale for key, _ in parts)
        usd = sum((price or 0.0) * quantity for price, quantity in prices)
        return usd, PriceSource.STALE if stale else PriceSource.LIST
    if weight is not None:
        return weight.vcpus * UNPRICED_USD_PER_VCPU_HOUR, PriceSource.UNPRICED
    return None, PriceSource.UNKNOWN


def _service_price(weight: TypeWeight | None, book: PriceBook | None) -> tuple[float | None, str]:
    if book is None:
        return None, PriceSource.NOT_ASKED
    if weight is None:
        return None, PriceSource.UNKNOWN
    return weight.vcpus * UNPRICED_USD_PER_VCPU_HOUR, PriceSource.UNPRICED


def _price(
    key: tuple[str, str, str], weight: TypeWeight | None, book: PriceBook | None
) -> tuple[float | None, str]:
    if book is None:
        return None, PriceSource.NOT_ASKED
    if key in book.prices and book.prices[key] is not None:
        source = PriceSource.STALE if key in book.stale else PriceSource.LIST
        return book.prices[key], source
    if key in book.prices and weight is not None:  # the Price List has no price for it
        return weight.vcpus * UNPRICED_USD_PER_VCPU_HOUR, PriceSource.UNPRICED
    return None, PriceSource.UNKNOWN
