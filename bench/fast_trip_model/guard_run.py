"""One real guard run (`guard.handler.handler`), its StopInstances requests on the virtual clock.

The guard's code runs unchanged, with the event Lambda would pass; what the bench adds is timing.
A botocore hook sleeps the scenario's latency before every AWS call and stamps each StopInstances
request with the virtual time of the thread that issues it (the guard halts regions in parallel
threads, each on its own time). The handler's pending wait sleeps on the virtual clock, never for
real, so a run starting at T ends at T + its measured wall time + its longest per-region wait.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from typing import Any

import boto3

from bench.emulated_aws import LatencyInjector
from bench.fast_trip_model.scenario import ACCOUNT, HOME
from bench.vclock import VirtualClock
from guard import handler as guard_handler

FUNCTION_ARN = f"arn:aws:lambda:{HOME}:{ACCOUNT}:function:runawaytrain-guard"
LAMBDA_TIMEOUT_MS = 300_000  # runawaytrain_stack/guard.py TIMEOUT, remaining at a run's start


@dataclass
class GuardRun:
    start: float  # virtual seconds
    wall: float  # measured seconds
    waited: float  # virtual seconds: the longest per-region wait for pending instances
    events: int | None  # launch events in the batch (None: a scheduled run)
    count: int
    verdict: str
    trigger: str
    incident: str | None
    stops: list[tuple[float, tuple[str, ...]]]  # (virtual time of the request, its instance ids)
    calls: Counter[str]
    still_pending: int = 0  # left pending when the run's wait ended: the next run stops them
    throttled: bool = False

    @property
    def end(self) -> float:
        return self.start + self.wall + self.waited

    @property
    def stopped(self) -> int:
        return sum(len(ids) for _, ids in self.stops)


class CallRecorder(LatencyInjector):
    """bench/emulated_aws.py's latency injector (sleeps before every guard call, counts calls),
    that also notes each StopInstances request's time and ids, thread-safely (the guard calls
    from a thread pool)."""

    def __init__(self, latency: float, clock: VirtualClock) -> None:
        super().__init__(latency)
        self.clock = clock
        self.stops: list[tuple[float, tuple[str, ...]]] = []
        self._asked = threading.local()

    def before_stop(self, params: dict[str, Any], **_: Any) -> None:
        # before-parameter-build: the moment the guard asks, on the calling region thread's
        # virtual time; after-call keeps it for the ids AWS accepted (a refused request stops
        # nothing).
        self._asked.at = self.clock()

    def after_stop(self, parsed: dict[str, Any], **_: Any) -> None:
        ids = tuple(change["InstanceId"] for change in parsed.get("StoppingInstances", []))
        if ids:
            with self._lock:
                self.stops.append((self._asked.at, ids))

    def session(self) -> boto3.session.Session:
        session = boto3.session.Session(region_name=HOME)
        session.events.register("before-call", self)
        session.events.register("before-parameter-build.ec2.StopInstances", self.before_stop)
        session.events.register("after-call.ec2.StopInstances", self.after_stop)
        return session

    def take(self) -> tuple[Counter[str], list[tuple[float, tuple[str, ...]]]]:
        with self._lock:
            taken = self.calls, self.stops
            self.calls, self.stops = Counter(), []
        return taken


@dataclass
class FakeContext:
    """What the guard reads from the Lambda context object."""

    aws_request_id: str
    invoked_function_arn: str = FUNCTION_ARN
    function_name: str = "runawaytrain-guard"

    def get_remaining_time_in_millis(self) -> int:
        return LAMBDA_TIMEOUT_MS


@contextmanager
def waits_on(clock: VirtualClock) -> Iterator[None]:
    """The handler's call to run_guard, given `sleep=clock.sleep` (the handler takes no sleep:
    in Lambda the pending wait is real time)."""
    real = guard_handler.run_guard

    def run_guard(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **kwargs, sleep=clock.sleep)

    guard_handler.run_guard = run_guard  # type: ignore[assignment]
    try:
        yield
    finally:
        guard_handler.run_guard = real  # type: ignore[assignment]


def invoke_guard(
    event: dict[str, Any],
    start: float,
    events: int | None,
    recorder: CallRecorder,
    clock: VirtualClock,
) -> GuardRun:
    """One real guard run at virtual time `start`, its StopInstances mapped onto the clock."""
    recorder.take()  # drop anything recorded outside a run
    context = FakeContext(aws_request_id=f"bench-{uuid.uuid4()}")
    with clock.run(start), waits_on(clock):
        began = time.perf_counter()
        with redirect_stdout(io.StringIO()):  # the guard's JSON log lines: not for the table
            response = guard_handler.handler(event, context)
        wall = time.perf_counter() - began
        waited = clock.max_slept
    calls, stops = recorder.take()
    report = response["report"]
    return GuardRun(
        start=start,
        wall=wall,
        waited=waited,
        events=events,
        count=report["count"],
        verdict=report["verdict"],
        trigger=report["trigger"],
        incident=report["incident"],
        stops=stops,
        calls=calls,
        still_pending=sum(len(ids) for ids in report.get("still_pending", {}).values()),
    )
