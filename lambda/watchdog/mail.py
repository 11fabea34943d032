"""The watchdog's mails to the payer's notify list (pure composition, one publish).

Published without the `account` message attribute, so only the payer's list receives them
(payer_stack.py: members' subscriptions filter on it): a switched-off guard is the payer's news.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.health import Health, Heartbeat, Problem, WatchedAccount
from watchdog.tampering import Finding

# SNS Subject: at most 100 printable ASCII characters, no line breaks (SNS API Reference, Publish).
SUBJECT_MAX = 100


def _label(health: Health) -> str:
    return f"{health.account.name} ({health.account.id})"


def _subject(text: str) -> str:
    return text.encode("ascii", "replace").decode()[:SUBJECT_MAX]


def _last_report(beat: Heartbeat | None) -> str:
    if beat is None:
        return "Last heartbeat: none recorded."
    line = f"Last heartbeat: {beat.time.isoformat(timespec='seconds')}, verdict {beat.verdict}"
    if beat.count is not None:
        line += f", {beat.count} instance(s) counted (limit {beat.limit})"
    if beat.incident:
        line += f", open incident {beat.incident}"
    return line + "."


def _minutes(health: Health) -> str:
    assert health.silent_for is not None
    return f"{int(health.silent_for.total_seconds() // 60)} minutes"


def compose_alert(health: Health, findings: list[str]) -> tuple[str, str]:
    account = health.account
    beat = health.heartbeat
    what = {
        Problem.OVERDUE: lambda: (
            f"has not reported for {_minutes(health)} (allowed: 3 "
            f"intervals of {account.schedule_minutes} min)"
        ),
        Problem.NEVER_REPORTED: lambda: (
            f"has not reported in the {_minutes(health)} since the watchdog started watching it"
        ),
        Problem.SWITCHED_OFF: lambda: f"reports it is switched off ({beat.switched_off})",
        Problem.DEGRADED: lambda: f"reports it is degraded: {beat.degraded_why or 'no detail'}",
        Problem.ERRORS: lambda: f"reports {beat.errors} error(s), first: {beat.first_error}",
    }
    lines = [
        f"The runawaytrain guard of account {_label(health)} "
        + "; ".join(what[problem]() for problem in health.problems)
        + ".",
        "",
        _last_report(beat),
        "",
        "What the watchdog found inside the account (read-only role runawaytrain-watchdog-reader):",
        *(f"- {finding}" for finding in findings),
        "",
        "Until this is fixed, nothing may stop a runaway in this account. Redeploy its guard "
        f"stack ({account.stack}) with `cdk deploy`, or fix what is listed above. The watchdog "
        "mails once now and once when the guard reports healthy again.",
    ]
    kind = "silent" if Problem.OVERDUE in health.problems else "unhealthy"
    if Problem.NEVER_REPORTED in health.problems:
        kind = "never reported"
    return _subject(f"runawaytrain watchdog: guard of {_label(health)} {kind}"), "\n".join(lines)


def compose_recovered(health: Health, now: datetime) -> tuple[str, str]:
    body = (
        f"The runawaytrain guard of account {_label(health)} reports healthy again "
        f"(checked {now.isoformat(timespec='seconds')}).\n\n{_last_report(health.heartbeat)}"
    )
    return _subject(f"runawaytrain watchdog: guard of {_label(health)} recovered"), body


def publish(sns: Any, topic_arn: str, subject: str, body: str) -> str | None:
    """Returns what failed, or None; never raises AWS errors (the next check tries again)."""
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=body)
    except (ClientError, BotoCoreError) as error:
        return f"{type(error).__name__}: {error}"
    return None


def compose_tampering(
    account: WatchedAccount, new: list[Finding], still: list[Finding]
) -> tuple[str, str]:
    """One mail for the findings new at this check; those mailed before and still present are
    listed under them, not mailed again on their own."""
    label = f"{account.name} ({account.id})"
    lines = [
        f"The watchdog found the mail path or the trip wiring of account {label}'s guard changed "
        f"from what its stack ({account.stack}) deployed:",
        *(f"- {finding.text}" for finding in new),
    ]
    if still:
        lines += ["", "Mailed before and still so:", *(f"- {f.text}" for f in still)]
    lines += [
        "",
        "Nobody but the deploy and the guard may change these (the guard-protection SCP, where "
        "it can name them); a change means someone with administrator access in the account, "
        "or the payer's own operators. Put back what is listed (a redeploy does not: "
        "CloudFormation changes only what its template changes). The watchdog mails each "
        "finding once, and again if it clears and comes back.",
    ]
    return _subject(f"runawaytrain watchdog: guard of {label} tampered with"), "\n".join(lines)
