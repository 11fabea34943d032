"""Which guards are overdue or unhealthy, and whether to mail: pure, no AWS.

Given the fleet (from the payer stack's environment), each account's last heartbeat, what the
watchdog remembers having mailed, and the time, it decides per account one of: nothing, one
alert, one "recovered" mail. Every branch is a table test in tests/watchdog/test_health.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

# An account is overdue when its guard has not reported for this many of its schedule intervals:
# one missed tick is a late or throttled run (Scheduler retries, reserved concurrency 1), three
# are a guard that is not running.
OVERDUE_INTERVALS = 3


@dataclass(frozen=True)
class WatchedAccount:
    """One guard the watchdog watches, as accounts.yaml configures it."""

    id: str
    name: str
    schedule_minutes: int
    ec2_limit: int
    home_region: str
    stack: str  # the guard stack's name

    @property
    def allowance(self) -> timedelta:
        return timedelta(minutes=OVERDUE_INTERVALS * self.schedule_minutes)


@dataclass(frozen=True)
class Heartbeat:
    """The last heartbeat recorded for an account (lambda/guard/heartbeat.py composes it)."""

    time: datetime  # when EventBridge received it
    verdict: str
    degraded: bool = False
    degraded_why: str = ""
    errors: int = 0
    first_error: str = ""
    switched_off: str = ""  # "envaction=pass" while the guard is switched off
    incident: str | None = None
    count: int | None = None
    limit: int | None = None

    @classmethod
    def from_record(cls, time: datetime, detail: dict[str, Any]) -> Heartbeat:
        """Fields the guard sent; a field it did not send reads as "nothing wrong" except the
        verdict, which the mail shows as sent."""
        return cls(
            time=time,
            verdict=str(detail.get("verdict", "?")),
            degraded=bool(detail.get("degraded", False)),
            degraded_why=str(detail.get("degraded_why", "")),
            errors=_whole(detail.get("errors")),
            first_error=str(detail.get("first_error", "")),
            switched_off=str(detail.get("switched_off", "")),
            incident=detail.get("incident") or None,
            count=detail.get("count"),
            limit=detail.get("limit"),
        )


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class Problem(Enum):
    """What is wrong with a guard, in the words of the mail."""

    NEVER_REPORTED = "no heartbeat since the watchdog started watching"
    OVERDUE = "no heartbeat"
    SWITCHED_OFF = "switched off"
    DEGRADED = "degraded"
    ERRORS = "reports errors"


@dataclass(frozen=True)
class Health:
    account: WatchedAccount
    problems: tuple[Problem, ...]
    heartbeat: Heartbeat | None
    silent_for: timedelta | None  # since the last heartbeat (or since watching), when overdue

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def key(self) -> str:
        """What was mailed, remembered so the same state is not mailed again."""
        return ",".join(problem.name for problem in self.problems)


def assess(
    account: WatchedAccount, heartbeat: Heartbeat | None, watching_since: datetime, now: datetime
) -> Health:
    """Overdue (silent for more than 3 intervals) or unhealthy (its last report is degraded,
    has errors, or says the guard is switched off). An overdue guard's older report is not
    judged again: what it said is in the mail, and the silence is the news."""
    last = heartbeat.time if heartbeat is not None else watching_since
    silent = now - last
    if silent > account.allowance:
        problem = Problem.OVERDUE if heartbeat is not None else Problem.NEVER_REPORTED
        return Health(account, (problem,), heartbeat, silent)
    if heartbeat is None:
        return Health(account, (), None, None)
    problems = []
    if heartbeat.switched_off:
        problems.append(Problem.SWITCHED_OFF)
    if heartbeat.degraded:
        problems.append(Problem.DEGRADED)
    if heartbeat.errors:
        problems.append(Problem.ERRORS)
    return Health(account, tuple(problems), heartbeat, None)


class Step(Enum):
    NOTHING = "nothing"  # healthy and nothing mailed, or unhealthy and already mailed
    ALERT = "alert"  # newly unhealthy (or unhealthy in a new way): one mail
    RECOVERED = "recovered"  # healthy again after an alert: one mail


@dataclass(frozen=True)
class AlertState:
    """What the watchdog remembers per account (an SSM parameter, records.py)."""

    watching_since: datetime  # first check that saw the account: the clock of a guard never heard
    alerted: str = ""  # Health.key last mailed; empty: nothing outstanding
    findings: tuple[str, ...] = ()  # tampering.Finding keys mailed and still present


def next_step(health: Health, state: AlertState) -> tuple[Step, AlertState]:
    """One mail per change: a new problem set alerts, the same one stays quiet, healthy after an
    alert sends "recovered"."""
    if health.healthy:
        if state.alerted:
            return Step.RECOVERED, replace(state, alerted="")
        return Step.NOTHING, state
    if health.key == state.alerted:
        return Step.NOTHING, state
    return Step.ALERT, replace(state, alerted=health.key)


SILENT = (Problem.OVERDUE, Problem.NEVER_REPORTED)


def count_unhealthy(healths: list[Health]) -> tuple[int, int]:
    """(guards silent for 3 intervals or never heard, guards whose last heartbeat is unhealthy):
    the fleet's health for the dashboard (metrics.py)."""
    silent = sum(1 for h in healths if any(p in SILENT for p in h.problems))
    return silent, sum(1 for h in healths if h.problems) - silent
