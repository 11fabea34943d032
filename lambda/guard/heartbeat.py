"""The guard's heartbeat: one "Guard Heartbeat" event on the payer's bus at the end of every run.

The payer's watchdog (lambda/watchdog) records the last one per account and mails the payer's
notify list when an account's heartbeats stop for 3 schedule intervals or say something is
wrong. Sent last, after the halt and the mail: it never delays either, and a failure to send is
logged and kept in the report, never raised (a guard that cannot reach the payer must still guard
its own account; the watchdog then finds it overdue). A run that fails before it can report (bad
settings) sends nothing, which the watchdog also finds.

IAM: events:PutEvents on the payer's bus (permissions.py PAYER_ACTIONS).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from guard.clients import ClientFactory
from guard.logs import get_logger
from guard.payer_events import HEARTBEAT, send_to_payer
from guard.report import Report
from guard.settings import Settings

LOG = get_logger("heartbeat")
# The watchdog mails this text; a long region error list would only repeat the guard's own mail.
WHY_MAX_CHARS = 300


def compose_heartbeat(
    report: Report, *, open_incident: str | None, switched_off: str, now: datetime
) -> dict[str, Any]:
    """What the watchdog needs to judge the run (pure). `switched_off` names a standing override
    (`envaction=pass`), empty when none."""
    errors = len(report.action_errors) + len(report.lockout_errors)
    if report.notify_error is not None:
        errors += 1  # the account's own list was not told: the payer's must be
    degraded = report.verdict == "degraded"
    why = ""
    if report.region_errors:
        why = f"{len(report.region_errors)} region(s) not counted: " + ", ".join(
            sorted(report.region_errors)
        )
    return {
        "account_name": report.account_name,
        "verdict": report.verdict,
        "trigger": report.trigger,
        "mode": report.mode,
        "count": report.count,
        "limit": report.limit,
        "degraded": degraded,
        "degraded_why": why[:WHY_MAX_CHARS],
        "errors": errors,
        "region_errors": len(report.region_errors),
        "first_error": _first_error(report)[:WHY_MAX_CHARS],
        "switched_off": switched_off,
        "incident": open_incident,
        "time": now.astimezone(UTC).isoformat(timespec="seconds"),
        # The run's numbers (metrics.measure), which the watchdog prints as EMF in the payer:
        # a fixed set of names and at most one count per kind of other capacity, about 1 KB
        # (an event may be 256 KB: EventBridge API Reference, PutEvents).
        "metrics": report.metrics,
    }


def _first_error(report: Report) -> str:
    if report.action_errors:
        return report.action_errors[0]
    if report.lockout_errors:
        principal, error = sorted(report.lockout_errors.items())[0]
        return f"lockout of {principal}: {error}"
    if report.notify_error is not None:
        return f"mail to the notify list: {report.notify_error}"
    return ""


def send_heartbeat(
    report: Report,
    settings: Settings,
    clients: ClientFactory,
    *,
    open_incident: str | None = None,
    switched_off: str = "",
) -> None:
    """Puts the heartbeat on the payer's bus (none configured: nothing to do). Never raises:
    the outcome is `report.heartbeat` (what was sent) and `report.heartbeat_error`."""
    if not settings.payer_bus:
        return
    detail = compose_heartbeat(
        report, open_incident=open_incident, switched_off=switched_off, now=datetime.now(UTC)
    )
    report.heartbeat = detail
    try:
        events = clients.client("events", settings.payer_bus.split(":")[3])
        report.heartbeat_error = send_to_payer(events, settings.payer_bus, HEARTBEAT, detail)
    except Exception as error:  # whatever broke, the run's result stands
        report.heartbeat_error = f"{type(error).__name__}: {error}"
    if report.heartbeat_error is not None:
        LOG.error("heartbeat_failed", extra={"error": report.heartbeat_error})
