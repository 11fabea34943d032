"""A fresh emulated account for one path: moto, strict, on a virtual clock, the guard wired in.

Each path (every fast-path repeat, the schedule) gets its own, so no path sees another's
instances, incident or clients. The guard is configured as the CDK stack would configure it
(environment variables) and its clients reach AWS through the bench's latency hook; both are
undone afterwards, because the smoke test runs this in the same process as the guard's own tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from bench.fast_trip_model.guard_run import CallRecorder, GuardRun, invoke_guard
from bench.fast_trip_model.runaway_script import RunawayScript
from bench.fast_trip_model.scenario import HOME, Scenario
from bench.vclock import VirtualClock
from guard import handler as guard_handler
from guard.clients import ClientFactory
from strict_aws import strict_aws


@dataclass
class Account:
    """One emulated account on the virtual clock: the script's launches, and the guard's runs."""

    script: RunawayScript
    recorder: CallRecorder
    clock: VirtualClock

    def invoke(self, event: dict[str, Any], start: float, events: int | None) -> GuardRun:
        """One real guard run at virtual time `start`, after every launch due by then."""
        self.script.launch_until(start)
        return invoke_guard(event, start, events, self.recorder, self.clock)


def guard_environment(scenario: Scenario, topic: str) -> dict[str, str]:
    """What the CDK stack would set (no `regions`: the census counts every enabled region)."""
    return {
        "ec2limit": str(scenario.limit),
        "snstopic": topic,
        "mode": "enforce",
        "lockout": "none",
        "envaction": "proceed",
        "account_name": "fast-trip-bench",
    }


@contextmanager
def environment(values: dict[str, str], unset: Sequence[str]) -> Iterator[None]:
    """`values` set and `unset` removed for the block, the previous environment restored after
    (the smoke test runs this in the same process as the guard's own tests)."""
    names = [*values, *unset]
    saved = {name: os.environ.get(name) for name in names}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def emulated_account(scenario: Scenario) -> Iterator[Account]:
    """A fresh moto account, strict, on a virtual clock, with the guard's environment set and
    its clients hooked."""
    clock = VirtualClock()
    with mock_aws(), strict_aws(pending_seconds=scenario.pending_seconds, clock=clock):
        topic = boto3.client("sns", region_name=HOME).create_topic(Name="bench")["TopicArn"]
        recorder = CallRecorder(scenario.latency, clock)
        # The handler keeps one ClientFactory per execution environment; seeding it is how the
        # latency hook reaches the guard's clients (a warm Lambda reuses it across runs too).
        guard_handler._SHARED[:] = [ClientFactory(recorder.session())]
        try:
            with environment(guard_environment(scenario, topic), unset=["regions"]):
                yield Account(RunawayScript(scenario, clock), recorder, clock)
        finally:
            guard_handler._SHARED.clear()
