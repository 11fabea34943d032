"""The numbers `runawaytrain status` shows per account, as the payer's dashboard will: pure.

Taken from what the guard recorded at the end of its last census run (lambda/guard/last_run.py),
never from a new census: the count of pending + running capacity against the instance limit
the guard applied, the age of that run, the Regions it could not count, and the open incident
(the guard's open-incident parameter, read beside it). vCPUs, GPUs and USD/h are shown when the
record carries the run's weighed totals (`burn`: {vcpus, accelerators, usd_per_hour}, as in the
report's `burn`, lambda/guard/weigh.py burn_report, kept by last_run.burn_totals); a run that
weighed nothing leaves them None ("-"), with the limits of accounts.yaml.

The names follow the guard's metrics (Instances, Vcpus, Gpus, UsdPerHour, each with its Limit)
so the JSON reads like the dashboard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from runawaytrain_stack.fleet_model import Account

MORE = "..."  # last_run.summarize: more degraded Regions than it keeps


def account_numbers(
    record: dict[str, Any] | None, account: Account, open_incident: str | None, now: datetime
) -> dict[str, Any]:
    """The dashboard's numbers for one account; None where nothing was recorded."""
    record = record or {}
    burn = record.get("burn") if isinstance(record.get("burn"), dict) else {}
    recorded_limits = burn.get("limits") if isinstance(burn.get("limits"), dict) else {}
    degraded = [str(entry) for entry in record.get("degraded") or []]
    age = None
    if record.get("time"):
        age = int((now - datetime.fromisoformat(record["time"])).total_seconds())
    return {
        "Instances": record.get("count"),
        "InstancesLimit": record.get("limit"),
        "Vcpus": burn.get("vcpus"),
        "VcpusLimit": recorded_limits.get("vcpus", account.max_vcpus),
        "Gpus": burn.get("accelerators"),
        "GpusLimit": recorded_limits.get("gpus", account.max_gpus),
        "UsdPerHour": burn.get("usd_per_hour"),
        "UsdPerHourLimit": recorded_limits.get("usd_per_hour", account.max_usd_per_hour),
        "LastRunAgeSeconds": age,
        "Verdict": record.get("verdict"),
        # "region: error" entries; MORE when the record kept only the first few.
        "DegradedRegions": [entry.partition(":")[0] for entry in degraded if entry != MORE],
        "DegradedRegionsTruncated": MORE in degraded,
        "OpenIncident": open_incident,
    }


COLUMNS = (
    "account",
    "name",
    "instances",
    "vcpus",
    "gpus",
    "usd/h",
    "last run",
    "degraded regions",
    "open incident",
)


def format_numbers(numbers: dict[str, Any]) -> list[str]:
    """The cells after account and name (COLUMNS[2:])."""
    degraded = " ".join(numbers["DegradedRegions"]) + (
        " ..." if numbers["DegradedRegionsTruncated"] else ""
    )
    return [
        _against(numbers["Instances"], numbers["InstancesLimit"]),
        _against(numbers["Vcpus"], numbers["VcpusLimit"]),
        _against(numbers["Gpus"], numbers["GpusLimit"]),
        _against(numbers["UsdPerHour"], numbers["UsdPerHourLimit"], money=True),
        _age(numbers["LastRunAgeSeconds"], numbers["Verdict"]),
        degraded or "none",
        numbers["OpenIncident"] or "none",
    ]


def _against(value: Any, limit: Any, *, money: bool = False) -> str:
    if value is None and limit is None:
        return "-"

    def shown(number: Any) -> str:
        if number is None:
            return "-"
        return f"{number:.2f}" if money else f"{number:g}"

    return f"{shown(value)}/{shown(limit)}"


def _age(seconds: int | None, verdict: str | None) -> str:
    if seconds is None:
        return "never recorded"
    minutes = max(0, seconds) // 60
    age = f"{minutes} min ago" if minutes < 120 else f"{minutes // 60} h ago"
    return f"{age} ({verdict})" if verdict else age
