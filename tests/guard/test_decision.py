"""The decision is pure: every branch as a table, no AWS."""

from __future__ import annotations

import pytest

from guard.decision import TripReason, Verdict, decide, decide_override
from guard.invocation import Invocation, SpendRate, Trigger
from guard.launches import IgnoredRecord, LaunchPrompt
from guard.settings import Action

SCHEDULED = Invocation()
BILLING = Invocation(trigger=Trigger.BILLING_ALARM, alarm_name="runawaytrain-billing-111111111111")
LAUNCHES = Invocation(
    trigger=Trigger.LAUNCH_EVENT,
    launches=LaunchPrompt(by_region={"eu-west-2": 3}, instances=("i-1", "i-2", "i-3")),
)
NO_LAUNCHES = Invocation(
    trigger=Trigger.LAUNCH_EVENT,
    launches=LaunchPrompt(ignored=(IgnoredRecord("m-1", "body is not JSON"),)),
)
SPEND = Invocation(
    trigger=Trigger.SPEND_RATE,
    spend=SpendRate(1234.5, 500.0, "2026-11-26T09:00:00+00:00", "20261126T090000Z"),
)


@pytest.mark.parametrize(
    ("count", "limit", "failed", "invocation", "verdict", "reasons"),
    [
        (0, 0, (), SCHEDULED, Verdict.OK, ()),
        (4, 4, (), SCHEDULED, Verdict.OK, ()),  # strictly greater trips, equal does not
        (5, 4, (), SCHEDULED, Verdict.TRIP, (TripReason.INSTANCE_LIMIT,)),
        (1, 0, (), SCHEDULED, Verdict.TRIP, (TripReason.INSTANCE_LIMIT,)),
        (0, 4, (), BILLING, Verdict.TRIP, (TripReason.BILLING_ALARM,)),
        (9, 4, (), BILLING, Verdict.TRIP, (TripReason.INSTANCE_LIMIT, TripReason.BILLING_ALARM)),
        (
            9,
            4,
            ("eu-west-1",),
            SCHEDULED,
            Verdict.TRIP,
            (TripReason.INSTANCE_LIMIT,),
        ),  # fail closed
        (2, 4, ("eu-west-1",), SCHEDULED, Verdict.DEGRADED, ()),
        (2, 4, ("eu-west-1",), BILLING, Verdict.TRIP, (TripReason.BILLING_ALARM,)),
        (0, 4, (), SPEND, Verdict.TRIP, (TripReason.SPEND_RATE,)),
        (9, 4, (), SPEND, Verdict.TRIP, (TripReason.INSTANCE_LIMIT, TripReason.SPEND_RATE)),
        (2, 4, ("eu-west-1",), SPEND, Verdict.TRIP, (TripReason.SPEND_RATE,)),
        # Launch events only prompt the census: the count alone decides.
        (4, 4, (), LAUNCHES, Verdict.OK, ()),
        (5, 4, (), LAUNCHES, Verdict.TRIP, (TripReason.INSTANCE_LIMIT,)),
        (2, 4, ("eu-west-1",), LAUNCHES, Verdict.DEGRADED, ()),
    ],
)
def test_decide(count, limit, failed, invocation, verdict, reasons):
    decision = decide(count, limit, failed, invocation)
    assert decision.verdict is verdict
    assert decision.trip_reasons == reasons


def test_reason_names_the_figures_and_the_uncounted_regions():
    decision = decide(9, 4, ("sa-east-1", "eu-west-1"), SCHEDULED)
    assert decision.reason == (
        "9 pending/running EC2 instances exceed the limit of 4; "
        "2 region(s) could not be counted: eu-west-1, sa-east-1"
    )
    degraded = decide(1, 4, ("eu-west-1",), SCHEDULED)
    assert degraded.reason == (
        "counted 1 pending/running EC2 instances (limit 4) but "
        "1 region(s) could not be counted: eu-west-1"
    )


def test_spend_reason_names_the_figures_and_the_data_age():
    assert decide(0, 4, (), SPEND).reason == (
        "spend over the 24 h of Cost and Usage Report data up to 2026-11-26T09:00:00+00:00 was "
        "$1,234.50, over the limit of $500.00 per day "
        "(CUR delivery 20261126T090000Z; CUR data lags by hours)"
    )


def test_billing_reason_names_the_alarm():
    assert "runawaytrain-billing-111111111111 is in ALARM" in decide(0, 4, (), BILLING).reason


@pytest.mark.parametrize(
    ("event_action", "env_action", "verdict"),
    [
        (Action.PROCEED, Action.PROCEED, None),
        (Action.PASS, Action.PROCEED, Verdict.VOID),
        (Action.PROCEED, Action.PASS, Verdict.VOID),
        (Action.PASS, Action.PASS, Verdict.VOID),
    ],
)
def test_overrides(event_action, env_action, verdict):
    decision = decide_override(Invocation(action=event_action), env_action)
    assert (decision and decision.verdict) == verdict


@pytest.mark.parametrize(
    ("invocation", "env_action", "verdict"),
    [
        (LAUNCHES, Action.PROCEED, None),
        (NO_LAUNCHES, Action.PROCEED, Verdict.IGNORED),
        (LAUNCHES, Action.PASS, Verdict.VOID),
        (NO_LAUNCHES, Action.PASS, Verdict.VOID),
    ],
)
def test_a_batch_without_a_launch_is_ignored_unless_voided(invocation, env_action, verdict):
    decision = decide_override(invocation, env_action)
    assert (decision and decision.verdict) == verdict


OPEN = "20261126T000000Z-abc123"


@pytest.mark.parametrize(
    ("count", "open_incident", "launched_active", "verdict", "reasons"),
    [
        (0, OPEN, 0, Verdict.OK, ()),
        (1, OPEN, 1, Verdict.TRIP, (TripReason.INCIDENT_OPEN,)),
        # Running, but not launched since: e.g. an instance the trip could not stop.
        (1, OPEN, 0, Verdict.OK, ()),
        (5, OPEN, 0, Verdict.TRIP, (TripReason.INSTANCE_LIMIT,)),
        (1, None, 1, Verdict.OK, ()),
    ],
)
def test_launches_while_an_incident_is_open_trip_below_the_limit(
    count, open_incident, launched_active, verdict, reasons
):
    decision = decide(
        count, 4, (), LAUNCHES, open_incident=open_incident, launched_active=launched_active
    )
    assert decision.verdict is verdict
    assert decision.trip_reasons == reasons
