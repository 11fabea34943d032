"""Launch events delivered in an SQS batch: the fast trip's prompt. Pure parsing.

Each region's EventBridge rule forwards the events that announce capacity (launch_events.py: an
EC2 instance entering `pending`, a SageMaker notebook or endpoint starting, an ECS task placed,
...) to the home region, where they wait in an SQS queue; Lambda's event source mapping hands
the guard one batch per batching window:

    {"Records": [{"messageId": "...", "eventSource": "aws:sqs",
                  "body": "<the EventBridge event as JSON, unchanged>"}, ...]}

The EventBridge event (Amazon EC2 User Guide, "EC2 instance state-change events"):

    {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
     "region": "eu-west-2", "time": "2026-11-26T12:00:00Z",
     "detail": {"instance-id": "i-0123456789abcdef0", "state": "pending"}}

and the same envelope around another service's detail (SageMaker's is the resource's Describe*
output: {"EndpointName": ..., "EndpointArn": ..., "EndpointStatus": "Creating", ...}).

Events are only a prompt: the guard then runs the same full census as the schedule, because
the count is the truth (events can arrive late, twice, or out of order). A record that is not a
launch event, or one whose fields are not what AWS documents, is ignored, with its reason kept
so the handler can log it; nothing in a record can make the parsing fail.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from guard.launch_events import EC2_INSTANCE, LaunchEvent, launch_event_of
from guard.settings import REGION_PATTERN

SQS_EVENT_SOURCE = "aws:sqs"
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_REGION = re.compile(REGION_PATTERN)


@dataclass(frozen=True)
class IgnoredRecord:
    message_id: str
    reason: str


@dataclass(frozen=True)
class LaunchPrompt:
    """The launches one batch reported, and what in it was not a launch."""

    by_region: dict[str, int] = field(default_factory=dict)  # launches of every kind
    instances: tuple[str, ...] = ()  # the EC2 instances launched
    first_event: str = ""  # the earliest event time in the batch (ISO 8601, from EventBridge)
    ignored: tuple[IgnoredRecord, ...] = ()
    by_kind: dict[str, int] = field(default_factory=dict)  # LaunchEvent.what -> launches

    @property
    def launches(self) -> int:
        return sum(self.by_region.values())

    def describe(self) -> str:
        """One line for the report: "3 EC2 launch event(s) (eu-west-2: 2, us-east-1: 1), ..."
        or, where other services launched, "4 launch event(s) (EC2 instance: 1, SageMaker
        endpoint: 3; eu-west-2: 4), ..."."""
        if not self.launches:
            return f"an SQS batch with no launch event ({len(self.ignored)} ignored)"
        regions = ", ".join(f"{region}: {n}" for region, n in sorted(self.by_region.items()))
        if set(self.by_kind) <= {EC2_INSTANCE.what}:
            text = f"{self.launches} EC2 launch event(s) ({regions})"
        else:
            kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.by_kind.items()))
            text = f"{self.launches} launch event(s) ({kinds}; {regions})"
        text += f", the first at {self.first_event}"
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
    by_kind: Counter[str] = Counter()
    # Insertion-ordered sets: an event delivered twice (or sent twice: SageMaker) counts once.
    instances: dict[str, None] = {}
    seen: set[tuple[str, str, str]] = set()
    times: list[str] = []
    ignored: list[IgnoredRecord] = []
    for index, record in enumerate(records):
        message_id = _message_id(record, index)
        launch = _launch_in(record)
        if isinstance(launch, str):
            ignored.append(IgnoredRecord(message_id, launch))
            continue
        row, region, resource, state, time = launch
        if (row.what, resource, state) in seen:
            continue
        seen.add((row.what, resource, state))
        if row is EC2_INSTANCE:
            instances[resource] = None
        by_region[region] += 1
        by_kind[row.what] += 1
        times.append(time)
    return LaunchPrompt(
        by_region=dict(by_region),
        instances=tuple(instances),
        first_event=min(times, default=""),  # ISO 8601 UTC strings sort by time
        ignored=tuple(ignored),
        by_kind=dict(by_kind),
    )


def _message_id(record: object, index: int) -> str:
    if isinstance(record, dict) and isinstance(record.get("messageId"), str):
        return str(record["messageId"])
    return f"record {index}"


def _launch_in(record: object) -> tuple[LaunchEvent, str, str, str, str] | str:
    """(row, region, resource, state, time) of a launch event, or why the record is not one."""
    event = _event_in(record)
    if isinstance(event, str):
        return event
    row = launch_event_of(event.get("source"), event.get("detail-type"))
    if row is None:
        return (
            f"not a launch event (source {event.get('source')!r}, "
            f"detail-type {event.get('detail-type')!r})"
        )
    detail = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    for name, states in ((row.state_field, row.states), *row.also):
        if detail.get(name) not in states:
            return f"{name} {_shown(detail.get(name))} is not a launch"
    resource, region = detail.get(row.id_field), event.get("region")
    if row is EC2_INSTANCE and not (isinstance(resource, str) and _INSTANCE_ID.match(resource)):
        return f"instance-id {_shown(resource)} is not an instance id"
    if not isinstance(resource, str) or not resource:
        resource = _first_resource(event)  # still a launch: deduplicated by what names it
    if not isinstance(region, str) or not _REGION.match(region):
        return f"region {_shown(region)} is not a region name"
    time = event.get("time")
    state = str(detail[row.state_field])
    return row, region, resource, state, time if isinstance(time, str) else ""


def _shown(value: object) -> str:
    """A field's value for a log line: its repr, cut short (a record may carry anything)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _first_resource(event: dict[str, Any]) -> str:
    resources = event.get("resources")
    if isinstance(resources, list) and resources and isinstance(resources[0], str):
        return resources[0]
    return json.dumps(event.get("id"), default=str)


def _event_in(record: object) -> dict[str, Any] | str:
    """The EventBridge event an SQS record carries, or why it carries none."""
    if not isinstance(record, dict) or record.get("eventSource") != SQS_EVENT_SOURCE:
        return "not an SQS record"
    try:
        event = json.loads(record.get("body") or "")
    except (TypeError, ValueError):
        return "body is not JSON"
    if not isinstance(event, dict):
        return "body is not a JSON object"
    return event
