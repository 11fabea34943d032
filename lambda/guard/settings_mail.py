"""The one mail that says a guard stopped reading its settings from the store (settings_store.py).

Sent by the first run that falls back (to the last-known-good copy or the template's defaults)
when that run mails nothing else; a run that mails anyway carries the same news in its
"Settings:" line (notify.py). Pure.
"""

from __future__ import annotations

from guard.notify import SUBJECT_MAX
from guard.report import Report
from guard.settings_store import PARAMETER


def compose_fallback_subject(report: Report) -> str:
    label = report.account + (f" ({report.account_name})" if report.account_name else "")
    head = f"runawaytrain SETTINGS FALLBACK {label}: settings store unreadable"
    ascii_only = head.encode("ascii", "replace").decode("ascii")
    return ascii_only if len(ascii_only) <= SUBJECT_MAX else ascii_only[: SUBJECT_MAX - 3] + "..."


def compose_fallback_body(report: Report) -> str:
    return "\n".join(
        [
            f"The guard of account {report.account} could not use its settings document and "
            "runs on other settings until it can.",
            "",
            f"Settings: {report.settings_source}",
            "",
            "It keeps guarding: each run tries the store again, and this mail is sent once, not "
            "every run. Check that the payer's settings publisher runs (its log group) and that "
            f"this account is in the organisation; the copy it uses is in {PARAMETER}.",
            "",
            f"This run: {report.verdict} ({report.reason}).",
        ]
    )
