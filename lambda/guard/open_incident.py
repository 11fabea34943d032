"""The open incident: after a trip the breaker stays tripped until restore (or LATCH of quiet).

Without it, a script that keeps launching after a trip would get a fresh incident (and a fresh
restore to run) for every batch of launches, and the last few launches (no more than the limit)
would keep running. So an enforce-mode trip records its incident in one SSM parameter; while it
is open, every run that finds instances pending or running stops them under the same incident,
and restore closes it. An incident nobody restores closes itself LATCH after its last trip, so a
forgotten incident cannot keep an account unusable.

IAM: ssm:GetParameter, ssm:PutParameter, ssm:DeleteParameter on this one parameter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.ledger import TIER  # room even where the standard quota is full
from guard.logs import get_logger

LOG = get_logger("open_incident")

PARAMETER = "/runawaytrain/guard/open-incident"
# An hour without a trip: long enough to cover a script that pauses between launch waves,
# short enough that an incident nobody restored does not block the account for the night.
LATCH = timedelta(hours=1)


@dataclass(frozen=True)
class OpenIncident:
    incident: str
    last_trip: datetime


def read_open_incident(ssm: Any, now: datetime) -> tuple[OpenIncident | None, str | None]:
    """(the open incident or None, an error to report or None). A failed read is reported and
    the run goes on with the limit alone: the count still protects the account."""
    try:
        value = ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None, None
        return None, describe_error(error)
    except BotoCoreError as error:
        return None, describe_error(error)
    try:
        record = json.loads(value)
        found = OpenIncident(str(record["incident"]), datetime.fromisoformat(record["last_trip"]))
    except (ValueError, KeyError, TypeError):
        found = None
    if found is None or found.last_trip.tzinfo is None:  # a time without a zone is not ours
        return None, f"{PARAMETER} holds {value[:100]!r}, not an open-incident record"
    if now - found.last_trip > LATCH:
        return None, None
    return found, None


def record_trip(ssm: Any, incident: str, now: datetime) -> str | None:
    """Open (or extend) `incident`; returns an error to report, or None."""
    value = json.dumps({"incident": incident, "last_trip": now.isoformat()})
    try:
        ssm.put_parameter(Name=PARAMETER, Value=value, Type="String", Overwrite=True, Tier=TIER)
    except (ClientError, BotoCoreError) as error:
        LOG.error("open_incident_not_recorded", extra={"error": describe_error(error)})
        return describe_error(error)
    return None


def close_incident(ssm: Any, incident: str) -> str | None:
    """Close `incident` if it is the open one; returns what the restore report should add."""
    try:
        value = ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
        other = _incident_in(value)
        if other not in (incident, None):  # None: unreadable, nothing worth keeping
            return (
                f"incident {other} is still open: what it finds launching, including instances "
                "started now, is stopped under it until it is restored too"
            )
        ssm.delete_parameter(Name=PARAMETER)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        return f"could not close the open incident ({PARAMETER}): {describe_error(error)}"
    except BotoCoreError as error:
        return f"could not close the open incident ({PARAMETER}): {describe_error(error)}"
    return "the breaker is reset (the incident is no longer open)"


def _incident_in(value: str) -> str | None:
    try:
        record = json.loads(value)
    except ValueError:
        return None
    return str(record["incident"]) if isinstance(record, dict) and "incident" in record else None
