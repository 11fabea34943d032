"""The numbers `status` shows per account, from a last-run record (pure: no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guard.last_run import summarize
from guard.report import Report
from runawaytrain_cli.status_numbers import account_numbers, format_numbers
from runawaytrain_stack.fleet_model import Account

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ACCOUNT = Account(id="222222222222", name="genomics", notify=("a@example.com",), ec2_limit=4,
                  max_vcpus=64, max_usd_per_hour=10.0)  # fmt: skip
RECORD = {"time": "2026-12-07T08:48:00+00:00", "verdict": "ok", "count": 3, "limit": 4}
WEIGHED = {"vcpus": 48.0, "accelerators": 2, "usd_per_hour": 7.5,
           "limits": {"vcpus": 32, "gpus": 4, "usd_per_hour": 8.0}}  # fmt: skip
SIX_BLIND = [f"r{n}: Throttling" for n in range(5)] + ["..."]


@pytest.mark.parametrize(
    ("record", "incident", "cells"),
    [
        (None, None, ["-", "-/64", "-", "-/10.00", "never recorded", "none", "none"]),
        (RECORD, None, ["3/4", "-/64", "-", "-/10.00", "12 min ago (ok)", "none", "none"]),
        # the weighed totals, with the limits the guard applied (not accounts.yaml's)
        ({**RECORD, "burn": WEIGHED}, "inc-1",
         ["3/4", "48/32", "2/4", "7.50/8.00", "12 min ago (ok)", "none", "inc-1"]),
        ({**RECORD, "degraded": SIX_BLIND}, None,
         ["3/4", "-/64", "-", "-/10.00", "12 min ago (ok)", "r0 r1 r2 r3 r4 ...", "none"]),
    ],
)  # fmt: skip
def test_the_numbers_of_a_record(record, incident, cells) -> None:
    assert format_numbers(account_numbers(record, ACCOUNT, incident, NOW)) == cells


def test_the_json_numbers_are_numbers() -> None:
    numbers = account_numbers({**RECORD, "burn": WEIGHED}, ACCOUNT, None, NOW)
    assert (numbers["Instances"], numbers["InstancesLimit"]) == (3, 4)
    assert (numbers["Vcpus"], numbers["Gpus"], numbers["UsdPerHour"]) == (48.0, 2, 7.5)
    assert numbers["LastRunAgeSeconds"] == 720


def test_a_weighed_runs_record_shows_its_numbers() -> None:
    """The record the guard writes (last_run.summarize) after a weighed run, as status reads it:
    vCPUs, GPUs and USD/h with the limits the run applied, not '-'."""
    line = {"instance_type": "p4d.24xlarge", "region": "us-east-1", "count": 1}
    report = Report(account=ACCOUNT.id, mode="enforce", limit=4, verdict="ok", reason="",
                    trigger="schedule", count=3,
                    burn={**WEIGHED, "lines": [line] * 200, "unweighed": {}})  # fmt: skip
    record = summarize(report, NOW, open_incident=None, schedule_minutes=5, pace=None)

    cells = format_numbers(account_numbers(record, ACCOUNT, None, NOW))

    assert cells[:4] == ["3/4", "48/32", "2/4", "7.50/8.00"]
    assert "lines" not in record["burn"]  # the record's 4 KB keeps only the totals
