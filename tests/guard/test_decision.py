"""The decision is pure: every branch as a table, no AWS."""

from __future__ import annotations

import pytest

from guard.blindness import BlindRegion
from guard.burn import Burn, BurnLine
from guard.decision import (
    Decision,
    TripReason,
    Verdict,
    decide,
    decide_override,
    finishes_open_incident,
)
from guard.invocation import Invocation, SpendRate, Trigger
from guard.launches import IgnoredRecord, LaunchPrompt
from guard.settings import Action, WeightedLimits

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


def burn_of(vcpus=0, gpus=0, usd=0.0, *, unweighed=0, unpriced=0) -> Burn:
    """A Burn with these totals; `unweighed`/`unpriced` instances whose weight/price is unknown."""
    lines = [BurnLine("p4d.24xlarge", "us-east-1", "Shared", 1, 96, 8, "8 NVIDIA A100", 1.0, "")]
    if unweighed:
        lines.append(BurnLine("x9.huge", "eu-west-1", "Shared", unweighed, None, None, "", 1, ""))
    if unpriced:
        lines.append(BurnLine("t3.micro", "eu-west-1", "Shared", unpriced, 2, 0, "", None, ""))
    return Burn(vcpus=vcpus, accelerators=gpus, usd_per_hour=usd, lines=tuple(lines))


LIMITS = WeightedLimits(vcpus=64, gpus=8, usd_per_hour=40.0)


@pytest.mark.parametrize(
    ("burn", "limits", "failed", "verdict", "reasons"),
    [
        # Each limit trips strictly above, not at equality, whatever the instance count (1 of 10).
        (burn_of(64, 8, 40.0), LIMITS, (), Verdict.OK, ()),
        (burn_of(65, 8, 40.0), LIMITS, (), Verdict.TRIP, (TripReason.VCPU_LIMIT,)),
        (burn_of(64, 9, 40.0), LIMITS, (), Verdict.TRIP, (TripReason.GPU_LIMIT,)),
        (burn_of(64, 8, 40.01), LIMITS, (), Verdict.TRIP, (TripReason.USD_LIMIT,)),
        (
            burn_of(96, 16, 65.5),
            LIMITS,
            (),
            Verdict.TRIP,
            (TripReason.VCPU_LIMIT, TripReason.GPU_LIMIT, TripReason.USD_LIMIT),
        ),
        # An unset limit is never checked.
        (burn_of(999, 99, 999.0), WeightedLimits(gpus=99), (), Verdict.OK, ()),
        (burn_of(0, 1, 0.0), WeightedLimits(gpus=0), (), Verdict.TRIP, (TripReason.GPU_LIMIT,)),
        # What could not be weighed or priced never hides a trip, and never passes silently.
        (burn_of(10, 2, 41.0, unpriced=3), LIMITS, (), Verdict.TRIP, (TripReason.USD_LIMIT,)),
        (burn_of(10, 2, 5.0, unpriced=3), LIMITS, (), Verdict.DEGRADED, ()),
        (burn_of(10, 9, 5.0, unweighed=2), LIMITS, (), Verdict.TRIP, (TripReason.GPU_LIMIT,)),
        (burn_of(10, 2, 5.0, unweighed=2), LIMITS, (), Verdict.DEGRADED, ()),
        (burn_of(10, 2, 5.0, unpriced=3), WeightedLimits(gpus=8), (), Verdict.OK, ()),
        (burn_of(10, 2, 5.0), LIMITS, ("eu-west-1",), Verdict.DEGRADED, ()),
        (burn_of(10, 20, 5.0), LIMITS, ("eu-west-1",), Verdict.TRIP, (TripReason.GPU_LIMIT,)),
    ],
)
def test_decide_weighted_limits(burn, limits, failed, verdict, reasons):
    decision = decide(1, 10, failed, SCHEDULED, burn=burn, limits=limits)
    assert decision.verdict is verdict
    assert decision.trip_reasons == reasons


def test_weighted_trip_and_degraded_reasons_give_the_figures():
    tripped = decide(1, 10, (), SCHEDULED, burn=burn_of(64, 16, 65.5), limits=LIMITS)
    assert "16 GPUs/accelerators of pending/running instances exceed the limit of 8" in (
        tripped.reason
    )
    assert "about 65.50 USD/h at on-demand list prices, over the limit of 40.00 USD/h" in (
        tripped.reason
    )
    degraded = decide(1, 10, (), SCHEDULED, burn=burn_of(2, 0, 1.0, unpriced=3), limits=LIMITS)
    assert degraded.reason == (
        "counted 1 pending/running EC2 instances (limit 10), 2 vCPUs (limit 64), "
        "0 GPUs/accelerators (limit 8) but about 1.00 USD/h (limit 40.00) (limit not fully "
        "checked: no price could be looked up for 3 instance(s))"
    )


@pytest.mark.parametrize(
    ("verdict", "open_incident", "enforce", "finishes"),
    [
        (Verdict.OK, "inc-1", True, True),  # quiet run, incident open: finish its lockout
        (Verdict.DEGRADED, "inc-1", True, True),  # a region uncounted changes nothing here
        (Verdict.TRIP, "inc-1", True, False),  # the trip finishes it itself
        (Verdict.VOID, "inc-1", True, False),  # pass touches nothing
        (Verdict.IGNORED, "inc-1", True, False),  # a batch without launches: no census
        (Verdict.RESTORE, "inc-1", True, False),  # restore undoes, never locks
        (Verdict.OK, None, True, False),  # no incident: nothing unfinished
        (Verdict.OK, "inc-1", False, False),  # dry-run changes nothing
    ],
)
def test_only_quiet_enforce_runs_of_an_open_incident_finish_it(
    verdict: Verdict, open_incident: str | None, enforce: bool, finishes: bool
) -> None:
    decision = Decision(verdict, "why")
    assert finishes_open_incident(decision, open_incident, enforce) is finishes


def blind_region(runs: int, held: int = 2, launched: int = 0, told: bool = True):
    return BlindRegion("2026-12-07T03:00Z", runs, held, launched, told)


@pytest.mark.parametrize(
    ("blind", "verdict", "reasons"),
    [
        ({"eu-west-1": blind_region(2)}, Verdict.DEGRADED, ()),  # N-1: not yet
        ({"eu-west-1": blind_region(3)}, Verdict.TRIP, (TripReason.REGION_BLIND,)),  # run N
        ({"eu-west-1": blind_region(4)}, Verdict.DEGRADED, ()),  # once per blindness
        ({"eu-west-1": blind_region(3, held=0)}, Verdict.DEGRADED, ()),  # nothing held
        (
            {"eu-west-1": blind_region(3, held=0, launched=1)},  # launched there while blind
            Verdict.TRIP,
            (TripReason.REGION_BLIND,),
        ),
        (
            {"eu-west-1": blind_region(3), "sa-east-1": blind_region(3)},
            Verdict.TRIP,
            (TripReason.REGION_BLIND,),
        ),
    ],
)
def test_a_region_blind_for_n_runs_while_it_held_capacity_trips(blind, verdict, reasons):
    decision = decide(1, 4, tuple(blind), SCHEDULED, blind=blind, blind_runs_to_trip=3)
    assert (decision.verdict, decision.trip_reasons) == (verdict, reasons)


def test_the_blind_trip_says_which_region_for_how_long_holding_what():
    blind = {"eu-west-1": blind_region(3, held=2, launched=1)}
    decision = decide(0, 4, ("eu-west-1",), SCHEDULED, blind=blind, blind_runs_to_trip=3)
    assert decision.reason.startswith(
        "eu-west-1: not counted for 3 run(s) in a row since 2026-12-07T03:00Z; it held 2 "
        "pending/running instance(s) at its last count, and 1 launch(es) were reported there "
        "since (blind_runs_to_trip 3: "
    )


@pytest.mark.parametrize(
    ("failed", "blind", "burn", "already_told"),
    [
        (("eu-west-1",), {"eu-west-1": blind_region(2, told=True)}, None, True),
        (("eu-west-1",), {"eu-west-1": blind_region(1, told=False)}, None, False),  # news
        (
            ("eu-west-1", "sa-east-1"),  # one told, one new: mailed
            {"eu-west-1": blind_region(2), "sa-east-1": blind_region(1, told=False)},
            None,
            False,
        ),
        # A service not counted is no Region's blindness: mailed as before.
        (("eu-west-1", "SageMaker in eu-west-1"), {"eu-west-1": blind_region(2)}, None, False),
    ],
)
def test_degraded_only_by_regions_already_told_is_not_news(failed, blind, burn, already_told):
    decision = decide(0, 4, failed, SCHEDULED, blind=blind, burn=burn)
    assert decision.verdict is Verdict.DEGRADED
    assert decision.already_told is already_told
