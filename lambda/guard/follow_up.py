"""How often one incident mails: the pace of follow-up ("TRIPPED AGAIN") mails. Pure.

A script that keeps launching makes every fast-trip run trip again under the open incident;
mailing each run floods the people who must act (20 mails in 100 s were seen). The rule:

    At most one TRIPPED AGAIN mail per incident per schedule interval (`schedule_minutes`).
    A run that trips again sooner mails nothing; it is held, and the next mail of the incident
    carries every held run (how many, what they stopped, terminated, left pending or could not
    stop). That next mail is the next trip after the interval, or else the first run after the
    interval whatever it finds (a digest), so held runs reach the inbox within about two
    intervals even when the launches have stopped.

The first mail of an incident (TRIPPED), dry-run and DEGRADED mails, and the mail of a run that
finished a partial lockout, are never held. A DEGRADED run whose only news is Regions an earlier
mail of the same blindness incident named mails nothing (blindness.py: one mail per Region
going blind, not one per run it stays blind). A mail that
fails to publish is held like a skipped one, so the next run tries again. Nothing is lost from
the report or the log: every run returns and logs its whole report whether it mailed or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from guard.report import Report

RULE = (
    "at most one TRIPPED AGAIN mail per incident per schedule interval; the next one carries "
    "every run in between"
)
# Ids kept in the state for the digest; the incident tag lists them all (the SSM parameter
# holding the state is a standard one: 4 KB at most, SSM API Reference, PutParameter "Value").
HELD_IDS_MAX = 60


@dataclass(frozen=True)
class Held:
    """The runs that tripped again without a mail, summed up."""

    since: str  # when the first held run ran (UTC ISO-8601)
    runs: int = 0
    stopped: int = 0
    stopped_ids: dict[str, list[str]] = field(default_factory=dict)  # region -> some ids
    terminated: int = 0
    still_pending: int = 0
    not_stopped: int = 0
    errors: int = 0

    def add(self, report: Report) -> Held:
        ids = {region: list(found) for region, found in self.stopped_ids.items()}
        room = HELD_IDS_MAX - sum(len(found) for found in ids.values())
        for region, found in report.stopped_by_region.items():
            if room > 0 and found:
                ids.setdefault(region, []).extend(found[:room])
                room -= min(room, len(found))
        return replace(
            self,
            runs=self.runs + 1,
            stopped=self.stopped + len(report.stopped),
            stopped_ids=ids,
            terminated=self.terminated + sum(map(len, report.terminated_by_region.values())),
            still_pending=self.still_pending + sum(map(len, report.still_pending.values())),
            not_stopped=self.not_stopped + len(report.not_stopped),
            errors=self.errors + len(report.action_errors) + len(report.lockout_errors),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "runs": self.runs,
            "stopped": self.stopped,
            "stopped_ids": self.stopped_ids,
            "terminated": self.terminated,
            "still_pending": self.still_pending,
            "not_stopped": self.not_stopped,
            "errors": self.errors,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Held:
        return cls(
            since=str(raw["since"]),
            runs=int(raw["runs"]),
            stopped=int(raw["stopped"]),
            stopped_ids={str(k): [str(i) for i in v] for k, v in raw["stopped_ids"].items()},
            terminated=int(raw["terminated"]),
            still_pending=int(raw["still_pending"]),
            not_stopped=int(raw["not_stopped"]),
            errors=int(raw["errors"]),
        )


@dataclass(frozen=True)
class Pace:
    """One incident's mail state, kept between runs (in the last-run record, last_run.py)."""

    incident: str
    last_mail: datetime | None  # None: nothing of this incident reached the topic yet
    held: Held | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "last_mail": self.last_mail.isoformat() if self.last_mail else None,
            "held": self.held.to_dict() if self.held else None,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Pace | None:
        """The recorded pace, or None when there is none or it is unreadable (then mail)."""
        if not isinstance(raw, dict):
            return None
        try:
            last = raw.get("last_mail")
            held = raw.get("held")
            return cls(
                incident=str(raw["incident"]),
                last_mail=datetime.fromisoformat(last) if last else None,
                held=Held.from_dict(held) if held else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


@dataclass(frozen=True)
class MailPlan:
    mail_report: bool  # publish this run's own mail
    digest: bool  # publish a mail carrying only the held runs (this run mails nothing itself)
    carried: Held | None  # the held runs the mail carries
    held_incident: str | None = None  # whose held runs they are


def plan_mail(report: Report, pace: Pace | None, now: datetime, interval: timedelta) -> MailPlan:
    """What this run mails, given the incident's pace."""
    due = pace is None or pace.last_mail is None or now - pace.last_mail >= interval
    carried = pace.held if pace is not None else None
    held_incident = pace.incident if pace is not None else None
    if report.tripped and report.continues_incident:
        same = pace is not None and pace.incident == report.incident
        if same and not due:
            return MailPlan(False, False, None)
        return MailPlan(True, False, carried, held_incident)
    if report.verdict == "trip":  # a new incident's first mail, or a dry run's: carries any held
        return MailPlan(True, False, carried, held_incident)
    if report.lockout_finished and report.verdict == "ok":  # what it changed is always told
        return MailPlan(True, carried is not None and due, carried, held_incident)
    if report.verdict == "degraded" and not report.already_told:
        # Its own mail, and the held runs in a digest when due.
        return MailPlan(True, carried is not None and due, carried, held_incident)
    return MailPlan(False, carried is not None and due, carried, held_incident)


def digest_report(report: Report, plan: MailPlan) -> Report:
    """The mail that carries held runs when this run mails nothing of the incident itself."""
    held = plan.carried
    assert held is not None
    return Report(
        account=report.account,
        account_name=report.account_name,
        function=report.function,
        home_region=report.home_region,
        mode=report.mode,
        limit=report.limit,
        verdict="trip",
        reason=f"{held.runs} run(s) tripped again since {held.since[:19]}Z without a mail ({RULE})",
        trigger=report.trigger,
        tripped=True,
        continues_incident=True,
        count=report.count,
        by_region=report.by_region,
        incident=plan.held_incident,
        held_back=held.to_dict(),
    )


def describe_held(held: dict[str, Any]) -> list[str]:
    """The mail's lines for the held runs (`Held.to_dict()`)."""
    lines = [
        f"Since the last mail ({RULE}): {held['runs']} more run(s) tripped again, the first at "
        f"{held['since'][:19]}Z. Together they:",
        f"  stopped {held['stopped']} instance(s)",
    ]
    for region, ids in sorted(held["stopped_ids"].items()):
        lines.append(f"    {region}: {' '.join(ids)}")
    shown = sum(len(ids) for ids in held["stopped_ids"].values())
    if held["stopped"] > shown:
        lines.append(f"    ... and {held['stopped'] - shown} more, tagged with the incident")
    for key, words in (
        ("terminated", "terminated (one-time Spot)"),
        ("still_pending", "left pending (stopped by a later run)"),
        ("not_stopped", "could NOT stop"),
        ("errors", "met errors (see the log)"),
    ):
        if held[key]:
            lines.append(f"  {words}: {held[key]}")
    return lines


def next_pace(
    plan: MailPlan,
    report: Report,
    pace: Pace | None,
    now: datetime,
    *,
    report_sent: bool,
    digest_sent: bool,
) -> Pace | None:
    """The pace to record after the run mailed (or not) as planned."""
    carried_out = (plan.mail_report and report_sent and plan.carried is not None) or digest_sent
    if report.tripped and report.incident is not None:
        if plan.mail_report and report_sent:
            return Pace(report.incident, now)
        # Held (or failed to publish): add it to what the incident's next mail carries.
        base = pace if pace is not None and pace.incident == report.incident else None
        held = (base.held if base and base.held else None) or Held(since=now.isoformat())
        return Pace(report.incident, base.last_mail if base else None, held.add(report))
    if pace is None:
        return None
    if carried_out:
        return Pace(pace.incident, now)
    return pace
