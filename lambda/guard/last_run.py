"""The guard's own record of its last run: what `runawaytrain status` shows, and the mail pace.

One SSM parameter in the home Region, overwritten at the end of every run (after the halt and the
mail, so it never delays either): when, what prompted it, the verdict, the count against the
limit, the regions it could not count (in short), the open incident, whether it mailed, the
follow-up mail pace of the incident (follow_up.py), every Region it counted (regions.py counts
those should DescribeRegions fail), the instances it counted in each (nonzero only), and the
Regions it could not count with how long and holding what (blindness.py), and the run's
weighed totals with their limits (`burn`, only when weighed: the lines stay in the mail, the 4 KB
record keeps only what `status --numbers` shows). Reading or writing it
can fail: that is logged, and the run goes on (the pace then mails rather than holds; the
blindness memory starts again: failing Regions are mailed as newly blind).

IAM: ssm:GetParameter, ssm:PutParameter on this one parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.blindness import BlindRegion, to_record
from guard.census import REGION_LIST, describe_error
from guard.follow_up import Pace
from guard.ledger import TIER  # room even where the standard quota is full
from guard.logs import get_logger
from guard.report import Report

LOG = get_logger("last_run")

PARAMETER = "/runawaytrain/guard/last-run"
# A standard parameter holds at most 4 KB (SSM API Reference, PutParameter "Value").
VALUE_MAX = 4096
DEGRADED_SHOWN = 5
TEXT_MAX = 120


def read_last_run(ssm: Any) -> dict[str, Any] | None:
    """The recorded last run, or None (never recorded, or unreadable: logged)."""
    try:
        value = ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            LOG.error("last_run_unreadable", extra={"error": describe_error(error)})
        return None
    except BotoCoreError as error:
        LOG.error("last_run_unreadable", extra={"error": describe_error(error)})
        return None
    try:
        record = json.loads(value)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        LOG.error("last_run_unreadable", extra={"error": f"not a record: {value[:100]!r}"})
        return None
    return record


def recorded_pace(record: dict[str, Any] | None) -> Pace | None:
    return Pace.from_dict(record.get("follow_up")) if record else None


def summarize(
    report: Report,
    now: datetime,
    *,
    open_incident: str | None,
    schedule_minutes: int,
    pace: Pace | None,
    blind: Mapping[str, BlindRegion] | None = None,
) -> dict[str, Any]:
    """The record of this run: small, every field a fact `status` shows."""
    degraded = [
        f"{region}: {error}"[:TEXT_MAX] for region, error in sorted(report.region_errors.items())
    ]
    return {
        "time": now.isoformat(timespec="seconds"),
        "trigger": report.trigger,
        "verdict": report.verdict,
        "mode": report.mode,
        "reason": report.reason[:TEXT_MAX],
        "count": report.count,
        "limit": report.limit,
        "degraded": degraded[:DEGRADED_SHOWN] + (["..."] if len(degraded) > DEGRADED_SHOWN else []),
        "incident": open_incident,
        "mailed": report.notified,
        "mail_error": (report.notify_error or "")[:TEXT_MAX] or None,
        "schedule_minutes": schedule_minutes,
        "follow_up": pace.to_dict() if pace else None,
        # What regions.py counts should DescribeRegions fail in a later run.
        "regions": sorted(counted_regions(report)),
        # Each Region's last good count and the Regions not counted: blindness.py.
        "counts": {region: n for region, n in sorted(report.by_region.items()) if n},
        "blind": to_record(blind or {}),
        "burn": burn_totals(report.burn),
    }


BURN_TOTALS = ("vcpus", "accelerators", "usd_per_hour", "limits")


def burn_totals(burn: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The report's `burn` (weigh.burn_report) without its per-type lines and errors: the totals
    and the limits applied, a few dozen bytes whatever runs (the lines could fill the record)."""
    if not burn:
        return None
    return {key: burn[key] for key in BURN_TOTALS if key in burn}


def counted_regions(report: Report) -> set[str]:
    """Every Region this run counted or tried to: listed, failed, or closed by an SCP."""
    tried = {*report.by_region, *report.region_errors, *report.closed_regions}
    return tried - {REGION_LIST}


def write_last_run(ssm: Any, record: dict[str, Any]) -> str | None:
    """Overwrite the record; returns the error (also logged), or None."""
    value = json.dumps(record, separators=(",", ":"))
    if len(value.encode()) > VALUE_MAX and (record.get("follow_up") or {}).get("held"):
        record["follow_up"]["held"]["stopped_ids"] = {}  # the counts stay; the tag lists the ids
        value = json.dumps(record, separators=(",", ":"))
    if len(value.encode()) > VALUE_MAX:  # every Region blind: the errors are in the log
        record["degraded"] = ["(too long for the record: see the run's log)"]
        value = json.dumps(record, separators=(",", ":"))
    try:
        ssm.put_parameter(Name=PARAMETER, Value=value, Type="String", Overwrite=True, Tier=TIER)
    except (ClientError, BotoCoreError) as error:
        LOG.error("last_run_not_recorded", extra={"error": describe_error(error)})
        return describe_error(error)
    return None
