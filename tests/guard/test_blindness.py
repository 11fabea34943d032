"""Throttling cannot blind the census (issue 22, item 8): a Region kept uncountable is DEGRADED
every run, mailed once per Region going blind, and trips the breaker once it has been blind for
`blind_runs_to_trip` runs while it held instances (blindness.py).

Throttling is injected as botocore raises it once its retries are spent: a ClientError
`RequestLimitExceeded` from DescribeInstanceStatus in one Region (EC2 API Reference, "Request
throttling for the Amazon EC2 API"); the retries themselves are test_faults.py's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.blindness import BlindRegion, Memory, read_memory, to_record
from guard.follow_up import Held, Pace
from guard.handler import run_guard
from guard.invocation import Invocation, Trigger
from guard.last_run import PARAMETER, read_last_run, summarize, write_last_run
from guard.launches import LaunchPrompt
from guard.report import Report
from guard.settings import Settings
from tests.guard.conftest import HOME, instance_states

ACCOUNT = "123456789012"
T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
THROTTLED = ClientError(
    {"Error": {"Code": "RequestLimitExceeded", "Message": "Request limit exceeded."}},
    "DescribeInstanceStatus",
)
SCP_DENIED = ClientError(
    {
        "Error": {
            "Code": "UnauthorizedOperation",
            "Message": "You are not authorized to perform this operation. User: "
            "arn:aws:sts::123456789012:assumed-role/runawaytrain-guard/x is not authorized to "
            "perform: ec2:DescribeInstanceStatus with an explicit deny in a service control "
            "policy",
        }
    },
    "DescribeInstanceStatus",
)


class Blinder:
    """Makes the census fail in chosen Regions, run by run (throttled unless told otherwise)."""

    def __init__(self, clients: Any) -> None:
        self.failing: dict[str, Exception] = {}
        self.clients = clients
        self.hooked: set[str] = set()

    def blind(self, *regions: str, error: Exception = THROTTLED) -> None:
        for region in regions:
            self.failing[region] = error
            if region not in self.hooked:
                self.hooked.add(region)
                self.clients.client("ec2", region).meta.events.register(
                    "before-call.ec2.DescribeInstanceStatus", self._hook(region)
                )

    def see(self, *regions: str) -> None:
        for region in regions:
            self.failing.pop(region, None)

    def _hook(self, region: str) -> Any:
        def hook(**_: Any) -> None:
            if region in self.failing:
                raise self.failing[region]

        return hook


@pytest.fixture
def blinder(clients) -> Blinder:
    return Blinder(clients)


class Runs:
    """run_guard on a clock that advances one schedule interval per run."""

    def __init__(self, clients: Any, settings: Settings) -> None:
        self.clients = clients
        self.settings = settings
        self.number = 0

    def __call__(self, invocation: Invocation | None = None) -> Any:
        now = T0 + timedelta(minutes=self.settings.schedule_minutes * self.number)
        self.number += 1
        return run_guard(self.settings, invocation or Invocation(), self.clients, ACCOUNT, now=now)


def subjects(inbox) -> list[str]:
    return [mail["Subject"] for mail in inbox.messages()]


def test_a_throttled_region_is_degraded_every_run_but_mailed_once_per_blindness(
    launch, inbox, clients, blinder
):
    launch("us-east-1", 1)
    run = Runs(clients, Settings(ec2limit=4, snstopic=inbox.topic_arn))
    assert run().verdict == "ok"  # eu-west-1 counted: empty
    blinder.blind("eu-west-1")

    first = run()
    assert first.verdict == "degraded"
    assert first.region_errors == {"eu-west-1": "RequestLimitExceeded: Request limit exceeded."}
    [mail] = inbox.messages()
    assert "DEGRADED" in mail["Subject"]
    assert "eu-west-1: not counted for 1 run(s) in a row" in mail["Message"]
    assert "mailed once per Region going blind" in mail["Message"]

    second = run()
    assert second.verdict == "degraded"  # the report, the log and the heartbeat still say so
    assert "eu-west-1" in second.reason
    assert second.blind["eu-west-1"]["runs"] == 2
    assert (second.notified, subjects(inbox)) == (False, [])

    blinder.see("eu-west-1")
    assert run().verdict == "ok"  # counted again: the incident ends
    assert subjects(inbox) == []
    assert read_last_run(boto3.client("ssm", region_name=HOME))["blind"] == {}

    blinder.blind("eu-west-1")  # a new incident of blindness: a new mail
    assert run().verdict == "degraded"
    assert [s[:29] for s in subjects(inbox)] == ["runawaytrain DEGRADED 1234567"]


def test_a_new_region_going_blind_is_mailed_and_only_it_is_news(launch, inbox, clients, blinder):
    run = Runs(clients, Settings(ec2limit=4, snstopic=inbox.topic_arn))
    run()
    blinder.blind("eu-west-1")
    run()
    assert len(subjects(inbox)) == 1

    blinder.blind("ap-southeast-2")
    second = run()
    [mail] = inbox.messages()
    assert set(second.region_errors) == {"eu-west-1", "ap-southeast-2"}
    assert "ap-southeast-2: not counted for 1 run(s) in a row" in mail["Message"]
    assert "eu-west-1: not counted for 2 run(s) in a row" in mail["Message"]

    run()
    assert subjects(inbox) == []
    blinder.see("ap-southeast-2")  # one Region back, the other still blind: nothing new
    assert run().verdict == "degraded"
    assert subjects(inbox) == []
    blinder.blind("ap-southeast-2")  # back to blind: news again
    run()
    assert len(subjects(inbox)) == 1


@pytest.mark.parametrize("runs_to_trip", [3, 2])
def test_a_region_that_held_instances_and_stays_blind_trips_on_run_n(
    launch, inbox, clients, blinder, runs_to_trip
):
    held = launch("eu-west-1", 2)
    seen = launch("us-east-1", 1)
    settings = Settings(ec2limit=4, snstopic=inbox.topic_arn, blind_runs_to_trip=runs_to_trip)
    run = Runs(clients, settings)
    assert run().verdict == "ok"  # the last good count: 2 in eu-west-1
    blinder.blind("eu-west-1")

    before = [run() for _ in range(runs_to_trip - 1)]
    assert [r.verdict for r in before] == ["degraded"] * (runs_to_trip - 1)
    assert not any(r.tripped for r in before)
    assert len(subjects(inbox)) == 1  # the blindness, once

    tripped = run()

    assert tripped.tripped is True
    assert tripped.trip_reasons == ["region-blind"]
    assert (
        f"eu-west-1: not counted for {runs_to_trip} run(s) in a row since 2026-12-07T03:"
        in tripped.reason
    )
    assert "it held 2 pending/running instance(s) at its last count" in tripped.reason
    assert tripped.stopped == seen  # what it can see everywhere else is halted
    assert set(instance_states("us-east-1", seen).values()) == {"stopped"}
    assert set(instance_states("eu-west-1", held).values()) == {"running"}  # unseen
    [mail] = inbox.messages()
    assert mail["Subject"].startswith("runawaytrain TRIPPED 123456789012")
    assert "region blind" in mail["Subject"]
    assert "it held 2 pending/running instance(s) at its last count" in mail["Message"]

    after = run()  # once per blindness: still blind, told, tripped already
    assert (after.verdict, after.tripped, subjects(inbox)) == ("degraded", False, [])

    hidden = launch("eu-west-1", 3)  # what the blindness hid
    blinder.see("eu-west-1")  # seen again: counted, over the limit, stopped under the incident
    seen_again = run()
    assert seen_again.tripped is True
    assert seen_again.incident == tripped.incident
    assert set(instance_states("eu-west-1", held + hidden).values()) == {"stopped"}


def test_a_blind_region_that_held_nothing_never_trips(launch, inbox, clients, blinder):
    run = Runs(clients, Settings(ec2limit=4, snstopic=inbox.topic_arn, blind_runs_to_trip=2))
    run()
    blinder.blind("eu-west-1")
    assert [run().verdict for _ in range(4)] == ["degraded"] * 4
    assert len(subjects(inbox)) == 1


def test_launches_reported_in_a_blind_region_count_as_held(launch, inbox, clients, blinder):
    """A key that blinds an empty Region and launches there still leaves launch events."""
    run = Runs(clients, Settings(ec2limit=4, snstopic=inbox.topic_arn, blind_runs_to_trip=2))
    run()
    blinder.blind("eu-west-1")
    run()
    events = Invocation(
        trigger=Trigger.LAUNCH_EVENT,
        launches=LaunchPrompt(by_region={"eu-west-1": 3}, instances=("i-0a", "i-0b", "i-0c")),
    )

    report = run(events)

    assert report.trip_reasons == ["region-blind"]
    assert "3 launch(es) were reported there since" in report.reason


def test_a_region_closed_by_an_scp_after_it_held_instances_is_blind(
    launch, inbox, clients, blinder
):
    launch("eu-west-1", 1)
    run = Runs(clients, Settings(ec2limit=4, snstopic=inbox.topic_arn, blind_runs_to_trip=2))
    run()
    blinder.blind("eu-west-1", "ap-southeast-2", error=SCP_DENIED)

    first = run()

    assert first.verdict == "degraded"
    assert set(first.region_errors) == {"eu-west-1"}  # it held one: blind
    assert (
        "closed by a service control policy since it held capacity"
        in (first.region_errors["eu-west-1"])
    )
    assert set(first.closed_regions) == {"ap-southeast-2"}  # held nothing: quietly closed
    assert len(subjects(inbox)) == 1
    assert run().trip_reasons == ["region-blind"]


@pytest.mark.parametrize(
    "stored",
    [
        None,  # the first run after the deploy
        "not json",
        '{"blind": {"eu-west-1": ["yesterday", -1, "2"]}, "counts": [1]}',
        '{"blind": "x", "counts": {"eu-west-1": "7"}}',
    ],
)
def test_a_missing_or_garbled_record_is_an_empty_memory(launch, inbox, clients, blinder, stored):
    launch("eu-west-1", 2)
    ssm = boto3.client("ssm", region_name=HOME)
    if stored is not None:
        ssm.put_parameter(Name=PARAMETER, Value=stored, Type="String")
    blinder.blind("eu-west-1")
    run = Runs(clients, Settings(ec2limit=4, snstopic=inbox.topic_arn, blind_runs_to_trip=1))

    report = run()

    assert report.verdict == "degraded"  # held nothing known: no trip
    assert report.blind["eu-west-1"]["runs"] == 1
    assert len(subjects(inbox)) == 1  # newly blind: mailed
    assert read_last_run(ssm)["blind"] == {"eu-west-1": ["2026-12-07T03:00Z", 1, 0, 0, True]}


@pytest.mark.parametrize(
    ("record", "counts", "blind"),
    [
        (None, {}, {}),
        ({}, {}, {}),
        ({"counts": {"eu-west-1": 2, "us-east-1": 0}}, {"eu-west-1": 2}, {}),
        ({"counts": {"eu-west-1": True, "sa-east-1": -3, "x": "2"}}, {}, {}),
        (
            {"blind": {"eu-west-1": ["2026-12-07T03:00Z", 2, 1, 0, True]}},
            {},
            {"eu-west-1": BlindRegion("2026-12-07T03:00Z", 2, 1, 0, True)},
        ),
        ({"blind": {"eu-west-1": ["2026-12-07T03:00Z", 2, 1, 0]}}, {}, {}),
        ({"blind": {"eu-west-1": ["noon", 2, 1, 0, True]}}, {}, {}),
        ({"blind": {"eu-west-1": ["2026-12-07T03:00Z", 2, 1, 0, 1]}}, {}, {}),
        ({"blind": ["eu-west-1"]}, {}, {}),
    ],
)
def test_read_memory_forgets_whatever_is_garbled(record, counts, blind):
    assert read_memory(record) == Memory(counts, blind)


@pytest.mark.parametrize("counted", [0, 20, 40])
def test_the_record_fits_a_standard_parameter_with_every_region_blind_or_counted(aws, counted):
    # Every EC2 Region botocore knows (34 in 2026), and 6 more to come.
    known = boto3.session.Session().get_available_regions("ec2")
    regions = [*known, *(f"xx-future-{n}" for n in range(40 - len(known)))]
    report = Report(
        account=ACCOUNT,
        mode="enforce",
        limit=4,
        verdict="degraded",
        reason="x" * 500,
        trigger="schedule",
        by_region={region: 9999 for region in regions[:counted]},
        region_errors={region: "RequestLimitExceeded: " + "y" * 200 for region in regions},
        notify_error="z" * 500,
    )
    blind = {region: BlindRegion("2026-12-07T03:00Z", 9999, 9999, 999, True) for region in regions}
    blind = dict(list(blind.items())[counted:])
    pace = Pace("20261207T030000Z-abcdef", T0, Held(since=T0.isoformat(), runs=99, stopped=999))

    record = summarize(report, T0, open_incident=None, schedule_minutes=5, pace=pace, blind=blind)
    ssm = boto3.client("ssm", region_name=HOME)
    assert write_last_run(ssm, record) is None
    assert read_last_run(ssm)["blind"] == to_record(blind)
