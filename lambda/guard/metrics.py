"""The guard's metrics: what one run measured, as CloudWatch embedded metric format (EMF) lines.

Pure except `emit`, which prints. EMF is a JSON log line whose `_aws.CloudWatchMetrics` names the
namespace, dimensions and metrics; CloudWatch Logs turns it into metric datapoints with no
PutMetricData call and no IAM beyond writing the log (CloudWatch User Guide, "Specification:
Embedded metric format"; on Lambda, "writing JSON to standard out in the embedded metric format
is sufficient"). Each line must be one JSON object and each document one log event, so every
document is one line.

Cost decides the shape: every metric name x dimension-value combination is one billed custom
metric, so the dimensions are few and bounded (the spec's note on high-cardinality dimensions):
`Account` (the account id) on everything, plus `Service` (one of service_names.KINDS, a closed
list) on the capacity of other services, only for kinds that run. A value not measured this run
is left out rather than sent as 0 (a weighted total without its limit, a trip that did not
happen): a metric with no datapoint in an hour is not billed for it (docs/metrics.md).

Used twice with the same code: the guard prints its own run's documents in its account (handler),
and the payer's watchdog prints them again in the payer from the heartbeat's `metrics`
(lambda/watchdog/fleet_metrics.py), so the payer's dashboard reads the payer's own metrics.
`documents` re-checks what it is given: a heartbeat is data from another account.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guard.report import Report
from guard.service_names import KINDS

NAMESPACE = "runawaytrain"
ACCOUNT = "Account"
SERVICE = "Service"
# Units are CloudWatch's (CloudWatch API Reference, MetricDatum "Unit").
COUNT, SECONDS, PERCENT, NONE = "Count", "Seconds", "Percent", "None"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    meaning: str  # docs/metrics.md repeats it


INSTANCES = MetricSpec("Instances", COUNT, "pending + running EC2 instances counted")
INSTANCE_LIMIT = MetricSpec("InstanceLimit", COUNT, "ec2limit in force")
VCPUS = MetricSpec("VCpus", COUNT, "vCPUs of what runs (weighed; with max_vcpus set)")
VCPU_LIMIT = MetricSpec("VCpuLimit", COUNT, "max_vcpus in force")
GPUS = MetricSpec("Gpus", COUNT, "GPUs/accelerators of what runs (with max_gpus set)")
GPU_LIMIT = MetricSpec("GpuLimit", COUNT, "max_gpus in force")
# USD has no CloudWatch unit: None, and the name says what it is.
USD_PER_HOUR = MetricSpec("UsdPerHour", NONE, "list-price burn, USD/h (with max_usd_per_hour)")
USD_PER_HOUR_LIMIT = MetricSpec("UsdPerHourLimit", NONE, "max_usd_per_hour in force")
LIMIT_USED = MetricSpec(
    "LimitUsedPercent", PERCENT, "the highest share of any limit in force (100: at the limit)"
)
DEGRADED_REGIONS = MetricSpec("DegradedRegions", COUNT, "Regions that could not be counted")
TRIPS = MetricSpec("Trips", COUNT, "1 per enforce-mode run that tripped (and acted)")
RESTORES = MetricSpec("Restores", COUNT, "1 per restore run of the guard function")
RUN_SECONDS = MetricSpec("RunSeconds", SECONDS, "the run, start to the heartbeat")
HALT_SECONDS = MetricSpec(
    "HaltSeconds", SECONDS, "a trip: from the decision to the answer to its last stop request"
)
AWS_CALLS = MetricSpec("AwsCalls", COUNT, "AWS API calls the run made (retries not counted)")
ACCOUNT_METRICS: tuple[MetricSpec, ...] = (
    INSTANCES,
    INSTANCE_LIMIT,
    VCPUS,
    VCPU_LIMIT,
    GPUS,
    GPU_LIMIT,
    USD_PER_HOUR,
    USD_PER_HOUR_LIMIT,
    LIMIT_USED,
    DEGRADED_REGIONS,
    TRIPS,
    RESTORES,
    RUN_SECONDS,
    HALT_SECONDS,
    AWS_CALLS,
)
# One document per kind that runs, dimensions [Account, Service].
SERVICE_CAPACITY = MetricSpec(
    "ServiceCapacity", COUNT, "capacity of one kind outside EC2 counted (instances, nodes, ...)"
)
ACCOUNT_DIMENSIONS: tuple[str, ...] = (ACCOUNT,)
SERVICE_DIMENSIONS: tuple[str, ...] = (ACCOUNT, SERVICE)


def measure(report: Report, *, run_seconds: float, aws_calls: int) -> dict[str, Any]:
    """What the run measured, compact (the heartbeat carries it): {"values": {name: number},
    "services": {kind: count}}. A restore run measures only itself."""
    values: dict[str, float] = {RUN_SECONDS.name: round(run_seconds, 3), AWS_CALLS.name: aws_calls}
    if report.restore is not None:
        return {"values": {RESTORES.name: 1, **values}, "services": {}}
    values[INSTANCES.name] = report.count
    values[DEGRADED_REGIONS.name] = len(report.region_errors)
    shares = []
    if report.limit is not None:
        values[INSTANCE_LIMIT.name] = report.limit
        shares.append(_share(report.count, report.limit))
    for used, limit, burn_key, limit_key in _weighted():
        weighed = (report.burn or {}).get(burn_key)
        ceiling = (report.burn or {}).get("limits", {}).get(limit_key)
        if weighed is None or ceiling is None:
            continue  # not weighed, or no such limit: nothing to compare
        values[used.name] = weighed
        values[limit.name] = ceiling
        shares.append(_share(weighed, ceiling))
    shares = [share for share in shares if share is not None]
    if shares:
        values[LIMIT_USED.name] = round(max(shares), 2)
    if report.tripped and report.mode == "enforce":
        values[TRIPS.name] = 1
        if report.halt_seconds is not None:
            values[HALT_SECONDS.name] = round(report.halt_seconds, 3)
    services = {kind: sum(by_region.values()) for kind, by_region in report.services.items()}
    return {"values": values, "services": {k: n for k, n in sorted(services.items()) if n}}


def _weighted() -> tuple[tuple[MetricSpec, MetricSpec, str, str], ...]:
    """(metric, its limit, key in report.burn, key in report.burn["limits"]) (weigh.burn_report)."""
    return (
        (VCPUS, VCPU_LIMIT, "vcpus", "vcpus"),
        (GPUS, GPU_LIMIT, "accelerators", "gpus"),
        (USD_PER_HOUR, USD_PER_HOUR_LIMIT, "usd_per_hour", "usd_per_hour"),
    )


def _share(used: float, limit: float) -> float | None:
    """Percent of `limit` in use; a limit of 0 has no share (anything at all trips it)."""
    return 100.0 * used / limit if limit > 0 else None


def documents(account: str, measured: Any, timestamp_ms: int) -> list[dict[str, Any]]:
    """The EMF documents for `measured` (measure's shape): one with dimension Account, and one
    per kind of other capacity (Account, Service). Unknown names, kinds outside the closed list
    and non-numbers are dropped: each would be a new billed metric, or an invalid document."""
    if not isinstance(measured, Mapping) or not account:
        return []
    values = measured.get("values")
    values = values if isinstance(values, Mapping) else {}
    kept = [
        (spec, values[spec.name])
        for spec in ACCOUNT_METRICS
        if spec.name in values and _number(values[spec.name])
    ]
    found = []
    if kept:
        found.append(_document(timestamp_ms, {ACCOUNT: account}, kept))
    services = measured.get("services")
    services = services if isinstance(services, Mapping) else {}
    for kind in sorted(k for k in services if k in KINDS and _number(services[k])):
        found.append(
            _document(
                timestamp_ms,
                {ACCOUNT: account, SERVICE: kind},
                [(SERVICE_CAPACITY, services[kind])],
            )
        )
    return found


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _document(
    timestamp_ms: int, dimensions: Mapping[str, str], metrics: Iterable[tuple[MetricSpec, float]]
) -> dict[str, Any]:
    metrics = list(metrics)
    return {
        "_aws": {
            "Timestamp": int(timestamp_ms),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": spec.name, "Unit": spec.unit} for spec, _ in metrics],
                }
            ],
        },
        **dimensions,
        **{spec.name: value for spec, value in metrics},
    }


def emit(found: list[dict[str, Any]]) -> None:
    """One write, one line per document (each line is one log event on Lambda)."""
    if found:
        sys.stdout.write("".join(json.dumps(document) + "\n" for document in found))
