"""What `runawaytrain status` reads, one function per concern; each only reads.

Each returns a short text for the table; AWS failures are raised to the caller, which turns
them into one line per account (status.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from guard.last_run import PARAMETER as LAST_RUN_PARAMETER
from guard.open_incident import read_open_incident
from runawaytrain_stack.names import QUARANTINE_STATE_PATH, SCHEDULE_NAME

# SNS lists an unconfirmed subscription with this in place of its ARN, and delivers nothing to
# it (Amazon SNS API Reference, ListSubscriptionsByTopic / Subscription; SNS Developer Guide,
# "Email notifications").
PENDING = "PendingConfirmation"
# A guard is overdue when its last recorded run is older than this many schedule intervals: one
# interval is normal, a second allows for a late or retried tick (schedule.py).
OVERDUE_INTERVALS = 2


def _not_found(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


def read_last_run(ssm: Any) -> dict[str, Any] | None:
    try:
        value = ssm.get_parameter(Name=LAST_RUN_PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if _not_found(error, "ParameterNotFound"):
            return None
        raise
    record = json.loads(value)
    return record if isinstance(record, dict) else None


def describe_last_run(
    record: dict[str, Any] | None, now: datetime, minutes: int
) -> tuple[str, str]:
    """(last run, overdue) cells."""
    if record is None:
        return (
            "never recorded",
            f"OVERDUE (no run recorded; rule: {OVERDUE_INTERVALS} x {minutes} min)",
        )
    when = datetime.fromisoformat(record["time"])
    age = now - when
    limit = "-" if record.get("limit") is None else record["limit"]
    text = f"{when:%Y-%m-%d %H:%M}Z {record['verdict']} {record['count']}/{limit}"
    if record.get("degraded"):
        text += f" ({len(record['degraded'])} region(s) not counted)"
    if age > timedelta(minutes=OVERDUE_INTERVALS * minutes):
        late = f"OVERDUE ({int(age.total_seconds() // 60)} min ago; rule: "
        return text, f"{late}{OVERDUE_INTERVALS} x {minutes} min)"
    return text, "no"


def describe_open_incident(ssm: Any, now: datetime) -> str:
    found, error = read_open_incident(ssm, now)
    if error is not None:
        raise RuntimeError(error)
    return found.incident if found else "none"


def describe_quarantine(payer_ssm: Any, account_id: str) -> str:
    """The payer's record (lambda/quarantine/handler.py), read with the payer's credentials."""
    try:
        value = payer_ssm.get_parameter(Name=f"{QUARANTINE_STATE_PATH}{account_id}")
    except ClientError as error:
        if _not_found(error, "ParameterNotFound"):
            return "never"
        raise
    record = json.loads(value["Parameter"]["Value"])
    return f"{record['state']} {record.get('at', '')[:16]}".strip()


def describe_subscriptions(sns: Any, topic_arn: str) -> str:
    if not topic_arn:  # a stack deployed before the topic was an output, or an emulator's
        return "unknown (the guard stack outputs no topic: redeploy it)"
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    subscriptions = [s for page in pages for s in page["Subscriptions"]]
    pending = [s["Endpoint"] for s in subscriptions if s["SubscriptionArn"] == PENDING]
    confirmed = len(subscriptions) - len(pending)
    text = f"{confirmed} confirmed"
    if pending:
        text += f", {len(pending)} PENDING ({', '.join(pending)})"
    return text


def describe_schedule(scheduler: Any) -> tuple[str, int | None]:
    """(cell, minutes of its rate) from EventBridge Scheduler GetSchedule."""
    try:
        schedule = scheduler.get_schedule(Name=SCHEDULE_NAME)
    except ClientError as error:
        if _not_found(error, "ResourceNotFoundException"):
            return "MISSING", None
        raise
    expression = schedule.get("ScheduleExpression", "")
    minutes = _rate_minutes(expression)
    state = "enabled" if schedule.get("State") == "ENABLED" else "DISABLED"
    return f"{state} {expression}", minutes


def _rate_minutes(expression: str) -> int | None:
    """`rate(5 minutes)` -> 5 (Scheduler's rate expressions: minute(s), hour(s), day(s))."""
    if not expression.startswith("rate(") or not expression.endswith(")"):
        return None
    value, _, unit = expression[5:-1].partition(" ")
    factor = {"minute": 1, "hour": 60, "day": 1440}.get(unit.rstrip("s"))
    return int(value) * factor if factor and value.isdigit() else None


def fast_trip_present(cloudformation: Any, stack_name: str) -> bool:
    """One watched Region: its fast-trip stack's rule exists and is complete."""
    try:
        resource = cloudformation.describe_stack_resource(
            StackName=stack_name, LogicalResourceId="ForwardLaunches"
        )["StackResourceDetail"]
    except ClientError as error:
        if _not_found(error, "ValidationError"):
            return False
        raise
    return bool(resource["ResourceStatus"].endswith("_COMPLETE"))


def describe_fast_trip(present: dict[str, bool]) -> str:
    """`present`: Region -> fast_trip_present there (the Regions are read at once: status.py)."""
    missing = sorted(region for region, found in present.items() if not found)
    text = f"{len(present) - len(missing)}/{len(present)} regions"
    return text + (f", MISSING {' '.join(missing)}" if missing else "")
