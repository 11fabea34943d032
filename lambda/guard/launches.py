"""EC2 launch events delivered in an SQS batch: the fast trip's prompt. Pure parsing.

Each region's EventBridge rule forwards "EC2 Instance State-change Notification" events with
state `pending` to the home region, where they wait in an SQS queue; Lambda's event source
mapping hands the guard one batch per batching window:

    {"Records": [{"messageId": "...", "eventSource": "aws:sqs",
                  "body": "<the EventBridge event as JSON, unchanged>"}, ...]}

The EventBridge event (Amazon EC2 User Guide, "EC2 instance state-change events"):

    {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
     "region": "eu-west-2", "time": "2026-11-26T12:00:00Z",
     "detail": {"instance-id": "i-0123456789abcdef0", "state": "pending"}}

Events are only a prompt: the guard then runs the same full census as the schedule, because
the count is the truth (events can arrive late, twice, or out of order). A record that is not a
launch event is ignored, with its reason kept so the handler can log it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from guard.settings import REGION_PATTERN

SQS_EVENT_SOURCE = "aws:sqs"
EC2_SOURCE = "aws.ec2"
STATE_CHANGE = "EC2 Instance State-change Notification"
LAUNCH_STATE = "pending"
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_REGION = re.compile(REGION_PATTERN)


@dataclass(frozen=True)
class IgnoredRecord:
    message_id: str
    reason: str


@dataclass(frozen=True)
class LaunchPrompt:
    """The launches one batch reported, and what in it was not a launch."""

    by_region: dict[str, int] = field(default_factory=dict)
    instances: tuple[str, ...] = ()
    first_event: str = ""  # the earliest event time in the batch (ISO 8601, from EventBridge)
    ignored: tuple[IgnoredRecord, ...] = ()

    @property
    def launches(self) -> int:
        return sum(self.by_region.values())

    def describe(self) -> str:
        """One line for the report: "3 EC2 launch events (eu-west-2: 2, us-east-1: 1), ..."."""
        if not self.launches:
            return f"an SQS batch with no EC2 launch event ({len(self.ignored)} ignored)"
        regions = ", ".join(f"{region}: {n}" for region, n in sorted(self.by_region.items()))
        text = f"{self.launches} EC2 launch event(s) ({regions}), the first at {self.first_event}"
        if self.ignored:
            text += f"; {len(self.ignored)} other record(s) ignored"
        return text


def is_sqs_batch(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and isinstance(records[0], dict)
        and records[0].get("eventSource") == SQS_EVENT_SOURCE
    )


def parse_launch_batch(records: Sequence[object]) -> LaunchPrompt:
    by_region: Counter[str] = Counter()
    instances: dict[str, None] = {}  # insertion-ordered set: an event delivered twice counts once
    times: list[str] = []
    ignored: list[IgnoredRecord] = []
    for index, record in enumerate(records):
        message_id = _message_id(record, index)
        launch = _launch_in(record)
        if isinstance(launch, str):
            ignored.append(IgnoredRecord(message_id, launch))
            continue
        region, instance, time = launch
        if instance in instances:
            continue
        instances[instance] = None
        by_region[region] += 1
        times.append(time)
    return LaunchPrompt(
        by_region=dict(by_region),
        instances=tuple(instances),
        first_event=min(times, default=""),  # ISO 8601 UTC strings sort by time
        ignored=tuple(ignored),
    )


def _message_id(record: object, index: int) -> str:
    if isinstance(record, dict) and isinstance(record.get("messageId"), str):
        return str(record["messageId"])
    return f"record {index}"


def _launch_in(record: object) -> tuple[str, str, str] | str:
    """(region, instance id, time) of a launch event, or why the record is not one."""
    event = _event_in(record)
    if isinstance(event, str):
        return event
    detail = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    state, instance, region = detail.get("state"), detail.get("instance-id"), event.get("region")
    if state != LAUNCH_STATE:
        return f"state {state!r} is not a launch"
    if not isinstance(instance, str) or not _INSTANCE_ID.match(instance):
        return f"instance-id {instance!r} is not an instance id"
    if not isinstance(region, str) or not _REGION.match(region):
        return f"region {region!r} is not a region name"
    time = event.get("time")
    return region, instance, time if isinstance(time, str) else ""


def _event_in(record: object) -> dict[str, Any] | str:
    """The EC2 state-change event an SQS record carries, or why it carries none."""
    if not isinstance(record, dict) or record.get("eventSource") != SQS_EVENT_SOURCE:
        return "not an SQS record"
    try:
        event = json.loads(record.get("body") or "")
    except (TypeError, ValueError):
        return "body is not JSON"
    if not isinstance(event, dict):
        return "body is not a JSON object"
    if event.get("source") != EC2_SOURCE or event.get("detail-type") != STATE_CHANGE:
        return f"not an EC2 state-change event (source {event.get('source')!r})"
    return event
