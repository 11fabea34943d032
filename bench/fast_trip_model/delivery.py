"""The fast path's delivery: launch events from the queue to the guard, as Lambda's poller would.

Instance i's launch event is readable in the home queue at its scenario's `visible_time`. One
poller: a batch opens at the first visible unconsumed event and invokes the guard `window`
seconds later with every visible unconsumed event (at most `batch_size`; sooner if that many are
waiting). Reserved concurrency 1: an invoke while a run is in progress is throttled and retried
`retry_delay` after that run ends. Kept apart from the guard run itself because these rules are
assumptions about AWS (the docstring of bench/fast_trip.py says which), the guard's run is not.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.fast_trip_model.account import Account
from bench.fast_trip_model.guard_run import GuardRun
from bench.fast_trip_model.scenario import ACCOUNT, HOME, Scenario

QUEUE_ARN = f"arn:aws:sqs:{HOME}:{ACCOUNT}:runawaytrain-launches"
CLOCK_ZERO = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # virtual t = 0, for event timestamps


def launch_event(scenario: Scenario, index: int, instance_id: str) -> dict[str, Any]:
    """The EventBridge "EC2 Instance State-change Notification" for a launch (state pending)."""
    region = scenario.region_of(index)
    moment = CLOCK_ZERO + timedelta(seconds=scenario.launch_time(index))
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": ACCOUNT,
        "time": f"{moment:%Y-%m-%dT%H:%M:%SZ}",
        "region": region,
        "resources": [f"arn:aws:ec2:{region}:{ACCOUNT}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": "pending"},
    }


def sqs_batch(scenario: Scenario, id_of: dict[int, str], indices: Sequence[int]) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping passes: one record per queued launch event."""
    records = [
        {
            "messageId": str(uuid.uuid4()),
            "eventSource": "aws:sqs",
            "eventSourceARN": QUEUE_ARN,
            "awsRegion": HOME,
            "body": json.dumps(launch_event(scenario, index, id_of[index])),
        }
        for index in indices
    ]
    return {"Records": records}


def run_fast_path(scenario: Scenario, account: Account) -> list[GuardRun]:
    """Batches from the queue until every launch event has been handed to a run."""
    queue = deque(sorted(range(scenario.instances), key=scenario.visible_time))
    busy_until = -math.inf
    runs: list[GuardRun] = []
    while queue:
        invoke_at = scenario.visible_time(queue[0]) + scenario.window
        if len(queue) >= scenario.batch_size:  # a full batch goes before the window closes
            invoke_at = min(invoke_at, scenario.visible_time(queue[scenario.batch_size - 1]))
        throttled = invoke_at < busy_until
        if throttled:  # reserved concurrency 1: the poller retries once the run has ended
            invoke_at = busy_until + scenario.retry_delay
        batch = []
        while queue and len(batch) < scenario.batch_size:
            if scenario.visible_time(queue[0]) > invoke_at:
                break
            batch.append(queue.popleft())
        account.script.launch_until(invoke_at)  # the batch's instances must exist to have ids
        event = sqs_batch(scenario, account.script.id_of, batch)
        run = account.invoke(event, invoke_at, len(batch))
        run.throttled = throttled
        busy_until = run.end
        runs.append(run)
    return runs
