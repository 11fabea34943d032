"""A runaway that keeps launching gets one mail per schedule interval, not one per run, and the
next mail carries every run in between (follow_up.py); each run's report still has everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.last_run import read_last_run
from guard.settings import Settings
from tests.guard.conftest import HOME

REGION = "eu-west-1"
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_a_burst_of_20_trips_in_100_s_mails_once_and_the_next_mail_carries_the_19_others(
    launch, inbox
):
    settings = Settings(ec2limit=0, snstopic=inbox.topic_arn, schedule_minutes=5)
    clients = ClientFactory(boto3.session.Session(region_name=HOME))
    launched, reports = [], []
    for run in range(20):  # one launch and one fast-trip run every 5 s
        launched += launch(REGION, 1)
        now = T0 + timedelta(seconds=5 * run)
        reports.append(run_guard(settings, Invocation(), clients, "123456789012", now=now))

    burst_mails = inbox.messages()
    assert [mail["Subject"][:33] for mail in burst_mails] == ["runawaytrain TRIPPED 123456789012"]
    assert {report.incident for report in reports} == {reports[0].incident}
    # Nothing lost from the reports: every run stopped its launch and says so.
    assert sorted(id_ for report in reports for id_ in report.stopped) == sorted(launched)
    assert [report.notified for report in reports] == [True] + [False] * 19

    # The next run after the interval finds nothing new, and mails what was held.
    after = run_guard(
        settings, Invocation(), clients, "123456789012", now=T0 + timedelta(minutes=5, seconds=1)
    )

    assert after.verdict == "ok"
    [digest] = inbox.messages()
    assert digest["Subject"].startswith("runawaytrain TRIPPED AGAIN 123456789012")
    body = digest["Message"]
    assert "19 more run(s) tripped again, the first at 2026-11-26T03:00:05Z" in body
    assert "stopped 19 instance(s)" in body
    assert all(id_ in body for id_ in launched[1:])
    assert f"--incident {reports[0].incident}" in body
    record = read_last_run(boto3.client("ssm", region_name=HOME))
    assert record["follow_up"]["held"] is None
    assert record["incident"] == reports[0].incident


def test_the_next_trip_after_the_interval_mails_and_carries_the_held_runs(launch, inbox):
    settings = Settings(ec2limit=0, snstopic=inbox.topic_arn, schedule_minutes=5)
    clients = ClientFactory(boto3.session.Session(region_name=HOME))
    for seconds in (0, 30, 60, 400):
        launch(REGION, 1)
        run_guard(settings, Invocation(), clients, "1" * 12, now=T0 + timedelta(seconds=seconds))

    mails = inbox.messages()
    assert len(mails) == 2
    assert mails[1]["Subject"].startswith("runawaytrain TRIPPED AGAIN")
    assert "2 more run(s) tripped again" in mails[1]["Message"]
    record = read_last_run(boto3.client("ssm", region_name=HOME))
    assert record["verdict"] == "trip"
    assert record["count"] == 1 and record["limit"] == 0
    assert record["mailed"] is True
    assert record["time"] == (T0 + timedelta(seconds=400)).isoformat()
