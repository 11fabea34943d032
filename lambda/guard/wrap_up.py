"""The end of a census run: mail at the incident's pace, then record the run for `status`.

Runs after the halt, so nothing here can delay or block it; every failure is logged and the
record is written whatever the mail did.

IAM: that of last_run.py (and notify.py, through `publish`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from guard.blindness import BlindRegion, after_mail
from guard.follow_up import RULE, digest_report, next_pace, plan_mail
from guard.last_run import read_last_run, recorded_pace, summarize, write_last_run
from guard.logs import get_logger
from guard.report import Report

LOG = get_logger("wrap_up")


def mail_and_record(
    report: Report,
    ssm: Any,
    publish: Callable[[Report], None],
    *,
    now: datetime,
    open_incident: str | None,
    schedule_minutes: int,
    last_run: dict[str, Any] | None = None,
    blind: Mapping[str, BlindRegion] | None = None,
) -> None:
    """Publish what is due (`publish` sets the report's `notified`), then record the run.
    `last_run`: the record as read at the start of the run (read here when None); `blind`: the
    Regions not counted (blindness.py), remembered as told once this run's own mail is sent."""
    pace = recorded_pace(last_run if last_run is not None else read_last_run(ssm))
    plan = plan_mail(report, pace, now, timedelta(minutes=schedule_minutes))
    if plan.mail_report:
        report.held_back = plan.carried.to_dict() if plan.carried and not plan.digest else None
        publish(report)
    elif report.tripped:
        LOG.info("mail_held", extra={"incident": report.incident, "rule": RULE})
    digest_sent = False
    if plan.digest:
        digest = digest_report(report, plan)
        publish(digest)
        digest_sent = digest.notified
        LOG.info("held_runs_mailed", extra={"incident": plan.held_incident, "sent": digest_sent})
    paced = next_pace(plan, report, pace, now, report_sent=report.notified, digest_sent=digest_sent)
    incident = report.incident if report.tripped and report.mode == "enforce" else open_incident
    record = summarize(
        report,
        now,
        open_incident=incident,
        schedule_minutes=schedule_minutes,
        pace=paced,
        blind=after_mail(blind or {}, report.notified),
    )
    write_last_run(ssm, record)
