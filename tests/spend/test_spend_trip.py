"""The receiving end: the guard, invoked with the spend watcher's event, trips under its limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from spend.burn import Burn, Overrun
from spend.watch import trip_event

from guard.handler import handler
from tests.guard.conftest import FakeContext, instance_states


def spend_event() -> dict[str, Any]:
    burn = Burn("20261126T090000Z", datetime(2026, 11, 26, 9, tzinfo=UTC), {}, 1)
    entry = trip_event(Overrun("123456789012", 1234.5, 500.0), burn)
    # What EventBridge delivers to the Lambda target: the entry's fields as an event envelope.
    return {
        "version": "0",
        "source": entry["Source"],
        "detail-type": entry["DetailType"],
        "account": "111111111111",
        "detail": json.loads(entry["Detail"]),
    }


def test_spend_event_trips_the_guard_under_its_instance_limit(
    launch: Any, guard_env: Any, inbox: Any
) -> None:
    ids = launch("us-east-1", 2)
    guard_env(ec2limit=9, regions="us-east-1")

    report = handler(spend_event(), FakeContext())["report"]

    assert report["tripped"] is True
    assert report["trip_reasons"] == ["spend-rate"]
    assert set(instance_states("us-east-1", ids).values()) == {"stopped"}
    (mail,) = inbox.messages()
    assert mail["Subject"].endswith("2 EC2 vs limit 9, spend rate")
    assert "$1,234.50, over the limit of $500.00 per day" in mail["Message"]
    assert "up to 2026-11-26T09:00:00+00:00" in mail["Message"]
