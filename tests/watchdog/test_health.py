"""The watchdog's decision, as tables: who is overdue or unhealthy, and when to mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchdog.health import (
    AlertState,
    Heartbeat,
    Problem,
    Step,
    WatchedAccount,
    assess,
    next_step,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PROD = WatchedAccount("222222222222", "prod", 5, 4, "us-east-1", "runawaytrain-guard-prod")


def beat(minutes_ago: float, **fields: object) -> Heartbeat:
    return Heartbeat(time=NOW - timedelta(minutes=minutes_ago), verdict="ok", **fields)


@pytest.mark.parametrize(
    ("heartbeat", "watching_for", "problems"),
    [
        (beat(1), 60, ()),
        (beat(15), 60, ()),  # exactly 3 intervals of 5 minutes: not yet
        (beat(15.1), 60, (Problem.OVERDUE,)),
        (beat(240), 60, (Problem.OVERDUE,)),
        (None, 15, ()),  # new to the watchdog: 3 intervals' grace
        (None, 16, (Problem.NEVER_REPORTED,)),
        (beat(1, degraded=True, degraded_why="1 region(s)"), 60, (Problem.DEGRADED,)),
        (beat(1, errors=2), 60, (Problem.ERRORS,)),
        (beat(1, switched_off="envaction=pass"), 60, (Problem.SWITCHED_OFF,)),
        (beat(1, degraded=True, errors=1), 60, (Problem.DEGRADED, Problem.ERRORS)),
        # Silent and last said degraded: the silence is what is mailed.
        (beat(30, degraded=True), 60, (Problem.OVERDUE,)),
    ],
)
def test_assess(heartbeat: Heartbeat | None, watching_for: int, problems: tuple) -> None:
    since = NOW - timedelta(minutes=watching_for)
    assert assess(PROD, heartbeat, since, NOW).problems == problems


def test_the_allowance_is_three_of_the_accounts_own_intervals() -> None:
    hourly = WatchedAccount("333333333333", "batch", 60, 0, "eu-west-1", "runawaytrain-guard-batch")
    assert assess(hourly, beat(179), NOW, NOW).healthy
    assert not assess(hourly, beat(181), NOW, NOW).healthy


SINCE = NOW - timedelta(days=1)
HEALTHY = assess(PROD, beat(1), SINCE, NOW)
SILENT = assess(PROD, beat(60), SINCE, NOW)
DEGRADED = assess(PROD, beat(1, degraded=True), SINCE, NOW)


@pytest.mark.parametrize(
    ("health", "alerted", "step", "remembered"),
    [
        (HEALTHY, "", Step.NOTHING, ""),
        (SILENT, "", Step.ALERT, "OVERDUE"),
        (SILENT, "OVERDUE", Step.NOTHING, "OVERDUE"),  # no repeat while it stays the same
        (DEGRADED, "OVERDUE", Step.ALERT, "DEGRADED"),  # a different problem is news
        (HEALTHY, "OVERDUE", Step.RECOVERED, ""),
        (HEALTHY, "DEGRADED", Step.RECOVERED, ""),
    ],
)
def test_next_step(health, alerted: str, step: Step, remembered: str) -> None:
    found, state = next_step(health, AlertState(SINCE, alerted))
    assert (found, state.alerted, state.watching_since) == (step, remembered, SINCE)
