"""Count, halt and restore the capacity that bills outside EC2, every region at once, one
module per kind of capacity (service_capacity.py says what each module offers).

A region where a service refuses by a service control policy, or that botocore's endpoint data
does not list for it, is closed for that service, not degraded: the EC2 census says the same of
a region an SCP closes (census.py). Any other failure is a region not counted: the run is
degraded (mailed) unless what was counted trips it anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from guard import (
    batch_environments,
    batch_jobs,
    bedrock_tokens,
    ecs_services,
    ecs_tasks,
    eks_nodegroups,
    gamelift_fleets,
    lambda_functions,
    lambda_provisioned,
    lightsail_databases,
    lightsail_instances,
    nat_gateways,
    opensearch_domains,
    rds_databases,
    redshift_clusters,
    sagemaker_apps,
    sagemaker_clusters,
    sagemaker_endpoints,
    sagemaker_jobs,
    sagemaker_notebooks,
)
from guard.census import closed_by_policy, describe_error
from guard.clients import MAX_POOL_CONNECTIONS
from guard.ledger import Ledger, Records, capture
from guard.logs import get_logger
from guard.parallel import map_in_parallel
from guard.service_capacity import PartialCountError, Running, ServiceHalt, ServiceRestore
from guard.service_names import DEFAULT_HALT, KINDS

LOG = get_logger("services")

MODULES: tuple[ModuleType, ...] = (
    sagemaker_notebooks,
    batch_environments,
    batch_jobs,
    eks_nodegroups,
    ecs_services,
    ecs_tasks,
    rds_databases,
    lambda_functions,
    sagemaker_endpoints,
    sagemaker_jobs,
    sagemaker_clusters,
    redshift_clusters,
    gamelift_fleets,
    bedrock_tokens,
    lightsail_instances,
    lightsail_databases,
    opensearch_domains,
    nat_gateways,
    lambda_provisioned,
    sagemaker_apps,
)
MODULE_OF = {module.KIND: module for module in MODULES}
assert {module.NAME for module in MODULES} == set(KINDS), "service_names.KINDS names each module"
ClientFor = Callable[[str, str], Any]  # (boto3 service, region) -> client
# The census asks every kind in every region: 11 kinds x 20 regions, each a short chain of
# calls (list, then describe), network-bound. 32 threads made it wait in line: 599 calls took
# 1.9 s at 100 ms each (bench/services.py); this many finish in the length of the longest chain.
CENSUS_WORKERS = 160
KNOWN_BY = "ec2"  # a region botocore lists for EC2 is one its endpoint data knows
# Within one count, a kind's per-item calls (a describe per endpoint, node group, job...) run
# at once too (parallel.map_items, on a pool of its own shared by every count).
# A trip on a mixed account halts hundreds of items, each a few calls: as many at once.
HALT_WORKERS = 160
# Each client keeps a connection per thread that may call it at once (clients.py).
assert HALT_WORKERS <= MAX_POOL_CONNECTIONS, "a client's pool holds every halt thread"


def price_components() -> dict[str, str]:
    """Kind -> its Price List component, for the modules that name one (PRICE_COMPONENT:
    SageMaker's platoinstancetype, pricing.py); the others weigh at the unpriced rate."""
    return {
        module.KIND: module.PRICE_COMPONENT
        for module in MODULES
        if getattr(module, "PRICE_COMPONENT", None)
    }


def ec2_typed(item: Running) -> bool:
    """Whether an item's instance type is EC2's: not for a kind with EC2_TYPES = False, nor for
    one its module's is_ec2_type refuses (OpenSearch's UltraWarm and OR1 nodes)."""
    module = MODULE_OF.get(item.kind)
    if not getattr(module, "EC2_TYPES", True):
        return False
    is_ec2_type = getattr(module, "is_ec2_type", None)
    return is_ec2_type is None or bool(is_ec2_type(item.instance_type))


def client_of(module: ModuleType, region: str, client_for: ClientFor) -> Any:
    """What the module's count, halt and restore are given: its SERVICE's client or, for a
    module that also names EXTRA_SERVICES (ECS services and Application Auto Scaling), a
    {service: client} of them all."""
    extra = getattr(module, "EXTRA_SERVICES", ())
    if not extra:
        return client_for(module.SERVICE, region)
    return {service: client_for(service, region) for service in (module.SERVICE, *extra)}


@dataclass(frozen=True)
class ServiceCensus:
    running: tuple[Running, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)  # "KIND in region" -> why
    closed: Mapping[str, str] = field(default_factory=dict)  # "KIND in region" -> why

    def counts(self) -> dict[str, dict[str, int]]:
        """{kind: {region: instances}} of what runs."""
        counts: dict[str, dict[str, int]] = {}
        for found in self.running:
            by_region = counts.setdefault(found.kind, {})
            by_region[found.region] = by_region.get(found.region, 0) + found.count
        return counts


def count_services(
    regions: Iterable[str],
    client_for: ClientFor,
    workers: int,
    offered_in: Callable[[str], Collection[str]],
) -> ServiceCensus:
    """`offered_in(service)`: the regions botocore's endpoint data lists for it; in a region
    that data knows (it lists EC2 there) but not for the service, the service is closed, not
    asked. A region newer than the runtime's botocore is asked all the same: closing it would
    leave whatever runs there uncounted, unsaid (a connection error there is a failure like
    any other: DNS, a VPC with no route to the service)."""
    regions = list(regions)
    known = set(offered_in(KNOWN_BY))
    closed: dict[str, str] = {}
    pairs = []
    for module in MODULES:
        offered = set(offered_in(module.SERVICE))
        for region in regions:
            if region in offered or region not in known:
                pairs.append((module, region))
            else:
                closed[f"{module.KIND} in {region}"] = "not offered in this region"

    def count_one(pair: tuple[ModuleType, str]) -> tuple[str, list[Running] | Exception]:
        module, region = pair
        where = f"{module.KIND} in {region}"
        try:
            return where, module.count(client_of(module, region, client_for), region)
        except Exception as error:  # one failing region or service never stops the others
            return where, error

    running: list[Running] = []
    errors: dict[str, str] = {}
    for where, result in map_in_parallel(count_one, pairs, workers):
        if isinstance(result, PartialCountError):  # what was counted counts; the region degraded
            running += result.running
            errors[where] = str(result)
            LOG.error("service_count_partial", extra={"where": where, "error": errors[where]})
        elif isinstance(result, Exception) and closed_by_policy(result):
            closed[where] = describe_error(result)
        elif isinstance(result, Exception):
            errors[where] = describe_error(result)
            LOG.error("service_count_failed", extra={"where": where, "error": errors[where]})
        else:
            running += result
    census = ServiceCensus(tuple(running), errors, closed)
    LOG.info("services_counted", extra={"counts": census.counts(), "failed": sorted(errors)})
    return census


def halt_services(
    running: Iterable[Running],
    ledger: Ledger,
    client_for: ClientFor,
    workers: int,
    halting: Collection[str] = DEFAULT_HALT,
) -> ServiceHalt:
    """Each kind's `halt` on what it counted, every item at once (a halt is a few calls per
    item, and a mixed account holds hundreds); a kind whose name `halting` (the `halt:`
    setting) lacks is kept running and reported. The Runnings of one piece of capacity, one
    ARN (an endpoint's variants on two instance types, an Aurora cluster's instances), go to
    one call: two would halt it twice, and the second, refused, would undo the first's record.
    The calls of kinds that share an ARN (a function's throttle and its provisioned concurrency)
    run one after the other, a module with HALT_FIRST first: AWS refuses a reservation below the
    function's provisioned concurrency (lambda_provisioned.py), and two halts tagging one
    resource at once could take each other's incident tag off.

    Record first (ledger.py): each (kind, Region) batch's names and ARNs are written to the
    incident's record, one write per batch, all batches at once, before any of its items is
    halted; a batch whose write fails is not halted. The `runawaytrain:` tags each module writes
    as it halts (its prior values) are captured from its own calls and written once its batch is
    done (a module with EAGER_RECORD: each before its change, a refused write failing that tag
    write): restore takes them from there, never from the tags."""
    incident = ledger.incident
    items: dict[tuple[str, str], list[Running]] = {}
    kept: list[Running] = []
    for found in running:
        if MODULE_OF[found.kind].NAME in halting:
            items.setdefault((found.kind, found.arn or found.key), []).append(found)
        else:
            kept.append(found)
    batches: dict[tuple[str, str], list[list[Running]]] = {}
    for item in items.values():
        batches.setdefault((item[0].kind, item[0].region), []).append(item)

    def record(batch: tuple[str, str]) -> tuple[tuple[str, str], str | None]:
        kind, region = batch
        ids = [i for item in batches[batch] for r in item for i in (r.name, r.arn) if i]
        return batch, ledger.write(region, MODULE_OF[kind].NAME, ids)

    outcome = ServiceHalt(kept=kept)
    recorded: list[tuple[str, str]] = []
    for batch, error in map_in_parallel(record, list(batches), workers):
        if error is None:
            recorded.append(batch)
            continue
        names = sorted(r.name for item in batches[batch] for r in item[:1])
        outcome.errors.append(
            f"{batch[1]}: {batch[0]}: not halted: recording {names} in the incident's record "
            f"failed ({error})"
        )
    captured: dict[tuple[str, str], dict[str, dict[str, str]]] = {b: {} for b in recorded}
    lock = threading.Lock()

    def eager_recorder(batch: tuple[str, str]) -> Callable[[dict[str, dict[str, str]]], Any]:
        kind, region = batch
        return lambda values: ledger.write(region, MODULE_OF[kind].NAME, [], values)

    def halt_one(job: tuple[tuple[str, str], list[Running]]) -> ServiceHalt:
        batch, item = job
        module = MODULE_OF[item[0].kind]
        try:
            client = client_of(module, item[0].region, client_for)
            if getattr(module, "EAGER_RECORD", False):  # each item's values recorded first
                client = capture(client, {}, lock, write=eager_recorder(batch))
            else:
                client = capture(client, captured[batch], lock)
            return module.halt(client, item, incident)
        except Exception as error:  # one item failing never ends the trip (no mail, no report)
            return ServiceHalt(
                errors=[
                    f"{item[0].region}: {item[0].kind} {item[0].name}: "
                    f"not halted: {describe_error(error)}"
                ]
            )

    chains: dict[tuple[str, str], list[tuple[tuple[str, str], list[Running]]]] = {}
    for batch in recorded:
        for item in batches[batch]:
            key = ("", item[0].arn) if item[0].arn else (item[0].kind, item[0].key)
            chains.setdefault(key, []).append((batch, item))

    def halt_chain(chain: list[tuple[tuple[str, str], list[Running]]]) -> ServiceHalt:
        done = ServiceHalt()
        for job in sorted(
            chain, key=lambda job: not getattr(MODULE_OF[job[1][0].kind], "HALT_FIRST", False)
        ):
            done.merge(halt_one(job))
        return done

    for halted in map_in_parallel(halt_chain, list(chains.values()), workers):
        outcome.merge(halted)

    def record_values(batch: tuple[str, str]) -> str | None:
        kind, region = batch
        error = ledger.write(region, MODULE_OF[kind].NAME, [], captured[batch])
        if error is None:
            return None
        return (
            f"{region}: {kind}: recording what {sorted(captured[batch])} were before failed "
            f"({error}): restore will leave them halted (it never takes values from tags, which "
            "anyone may write); their tags say what they were: check them and put them back by "
            "hand"
        )

    with_values = [batch for batch in recorded if captured[batch]]
    outcome.errors += [e for e in map_in_parallel(record_values, with_values, workers) if e]
    return outcome


def restore_services(
    regions: Iterable[str],
    incident: str,
    client_for: ClientFor,
    *,
    dry_run: bool,
    restart: bool,
    workers: int,
    records: Mapping[str, Records],
) -> ServiceRestore:
    """Each kind's `restore` of `incident` in every region, all at once; `restart`: start what
    the incident stopped (restore --restart-instances), as for EC2 instances. Every kind, the
    `halt:` setting aside: one changed since the trip must not leave its halt in place.
    `records`: the incident's record by Region (ledger.py); each module restores only what its
    kind's record vouches for, and what it left alone is said in `refused`. A Region whose
    record could not be read is not restored."""
    pairs = [(module, region) for module in MODULES for region in regions if region in records]

    def restore_one(pair: tuple[ModuleType, str]) -> ServiceRestore:
        module, region = pair
        record = records[region].of(
            module.NAME, values_expected=getattr(module, "PRIOR_VALUES", True)
        )
        try:
            client = client_of(module, region, client_for)
            restored = module.restore(
                client, region, incident, dry_run=dry_run, restart=restart, record=record
            )
        except Exception as error:  # listing failed: said, never fatal to the rest
            restored = ServiceRestore()
            if not closed_by_policy(error):
                restored.errors[f"{module.KIND} in {region}"] = describe_error(error)
        restored.refused.update(
            {f"{module.KIND} {region}/{i}": w for i, w in record.refused.items()}
        )
        restored.warnings.update(
            {f"{module.KIND} {region}/{i}": w for i, w in record.warnings.items()}
        )
        return restored

    outcome = ServiceRestore()
    for restored in map_in_parallel(restore_one, pairs, workers):
        outcome.merge(restored)
    return outcome
