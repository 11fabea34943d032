"""The drill's view of the fleet's metrics: the embedded metric format (EMF) lines each guard's
run printed in its log, and the payer's dashboard `runawaytrain-fleet` after the deploy.

The drill runs the guard's code in-process (run_guard / run_restore, trip.py), not through the
Lambda handler, so nothing reaches a CloudWatch log: the lines are what the handler's own
`emit_metrics` prints for the run's report (its restore branch measures the run first; the drill
does the same, trip.restore_tripped), captured from stdout. Each line is checked minimally
against the structure the specification requires (the full validator is tests/emf_spec.py, which
the drill may not import): CloudWatch User Guide, "Specification: Embedded metric format".
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from typing import Any

from botocore.exceptions import ClientError

from guard.handler import emit_metrics
from guard.metrics import HALT_SECONDS, RESTORES, TRIPS
from guard.report import Report
from runawaytrain_cli.drill.scenario import DrillContext, DrillResult, Progress
from runawaytrain_stack.names import FLEET_DASHBOARD_NAME

# CloudWatch API Reference, MetricDatum "Unit": the units EMF accepts (the spec's schema pattern).
_SIZES = ("Kilo", "Mega", "Giga", "Tera")
_AMOUNTS = ["Bytes", "Bits", *(f"{size}{base}" for base in ("bytes", "bits") for size in _SIZES)]
UNITS = frozenset(
    [
        *_AMOUNTS,
        *(f"{amount}/Second" for amount in _AMOUNTS),
        *("Seconds", "Microseconds", "Milliseconds", "Percent", "Count", "Count/Second", "None"),
    ]
)


def emitted(report: Report | None) -> list[dict[str, Any]]:
    """The EMF documents the handler prints for `report`, one per line, parsed back."""
    if report is None:
        return []
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        emit_metrics(report)
    return [json.loads(line) for line in printed.getvalue().splitlines() if line.strip()]


def problems(document: Any) -> list[str]:
    """What keeps `document` from being a valid EMF document (minimal: the structure only)."""
    aws = document.get("_aws") if isinstance(document, dict) else None
    if not isinstance(aws, dict):
        return ["no _aws object"]
    found = []
    if not isinstance(aws.get("Timestamp"), int) or isinstance(aws.get("Timestamp"), bool):
        found.append("Timestamp is not an integer")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*found, "no CloudWatchMetrics"]
    for directive in directives:
        if not isinstance(directive, dict) or not directive.get("Namespace"):
            found.append("a directive without Namespace")
            continue
        for dimension_set in directive.get("Dimensions") or [None]:
            if not isinstance(dimension_set, list):
                found.append("Dimensions is not a list of lists")
                continue
            found += [
                f"dimension {key} has no string value"
                for key in dimension_set
                if not isinstance(document.get(key), str)
            ]
        for metric in directive.get("Metrics") or [None]:
            name = metric.get("Name") if isinstance(metric, dict) else None
            value = document.get(name) if isinstance(name, str) else None
            if not isinstance(value, int | float) or isinstance(value, bool):
                found.append(f"metric {name} has no number")
            elif not math.isfinite(value):
                found.append(f"metric {name} is not finite")
            if isinstance(metric, dict) and metric.get("Unit", "None") not in UNITS:
                found.append(f"metric {name} has unit {metric.get('Unit')!r}")
    return found


def values(documents: list[dict[str, Any]]) -> dict[str, float]:
    """{metric name: value} over the account's documents (a service's capacity keyed by kind)."""
    found: dict[str, float] = {}
    for document in documents:
        service = document.get("Service")
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                name = metric["Name"] + (f"[{service}]" if service else "")
                found[name] = document.get(metric["Name"])
    return found


def describe(documents: list[dict[str, Any]]) -> str:
    """`name=value unit` for every metric, compact."""
    units = {
        metric["Name"]: metric.get("Unit", "None")
        for document in documents
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", [])
        for metric in directive.get("Metrics", [])
    }
    return ", ".join(
        f"{name}={value:g} {units.get(name.split('[')[0], 'None')}"
        for name, value in values(documents).items()
    )


def check_trip_metrics(result: DrillResult, progress: Progress) -> None:
    """Each guard's EMF from its trip-step run, shown; the tripped run carries Trips=1 and its
    halt latency, no other run a trip; every document valid."""
    every: list[dict[str, Any]] = []
    for name, guard in result.guards.items():
        documents = emitted(guard.report)
        every += documents
        progress(f"metrics {name}: {describe(documents) or 'none emitted'}")
        if name != result.tripped:
            result.check(
                f"{name}: its run emitted no Trips",
                TRIPS.name not in values(documents),
                describe(documents),
            )
            continue
        found = values(documents)
        result.check(
            f"{name}: the trip run emitted Trips=1 and HaltSeconds",
            found.get(TRIPS.name) == 1 and HALT_SECONDS.name in found,
            describe(documents) or "no metrics emitted",
        )
    if not result.tripped:
        result.skip("the trip run emitted Trips=1", "no account is in enforce mode")
    _check_valid(result, every, "trip")


def check_restore_metrics(result: DrillResult, account: str, progress: Progress) -> None:
    documents = emitted(result.restore)
    progress(f"metrics {account} (restore): {describe(documents) or 'none emitted'}")
    result.check(
        f"{account}: the restore run emitted Restores=1",
        values(documents).get(RESTORES.name) == 1,
        describe(documents) or "no metrics emitted",
    )
    _check_valid(result, documents, "restore")


def _check_valid(result: DrillResult, documents: list[dict[str, Any]], run: str) -> None:
    wrong = [f"{d.get('Account')}: {p}" for d in documents for p in problems(d)]
    result.check_over(
        f"every EMF document of the {run} run valid ({len(documents)})",
        documents,
        not wrong,
        "; ".join(wrong) or "no documents emitted",
    )


def check_dashboard(drill: DrillContext) -> None:
    """The payer's dashboard as deployed (GetDashboard), with its widgets."""
    payer = drill.fleet.payer
    cloudwatch = drill.emulator.operator(payer.id, payer.home_region).client(
        "cloudwatch", region_name=payer.home_region
    )
    name = f"the payer's dashboard {FLEET_DASHBOARD_NAME} deployed"
    try:
        body = json.loads(
            cloudwatch.get_dashboard(DashboardName=FLEET_DASHBOARD_NAME)["DashboardBody"]
        )
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        drill.result.check(name, False, f"GetDashboard in {payer.id}/{payer.home_region}: {code}")
        return
    widgets = [w for w in body.get("widgets", []) if isinstance(w, dict)]
    titles = [str(w.get("properties", {}).get("title", "")) for w in widgets]
    drill.progress(
        f"dashboard: {FLEET_DASHBOARD_NAME} in {payer.id}/{payer.home_region}, "
        f"{len(widgets)} widget(s): " + "; ".join(t for t in titles[:6] if t) + " ..."
    )
    drill.result.check(f"{name} ({len(widgets)} widgets)", bool(widgets), "no widgets")
