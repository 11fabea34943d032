"""bench/fast_trip.py's model at a tiny size, no latency: the simulation keeps its invariants.

No timing is asserted; this only catches the bench drifting from the guard (the SQS event's
shape, the handler's response, the seeded client factory) or from its own bookkeeping.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.fast_trip_model.outcome import mean_of
from bench.fast_trip_model.scenario import Scenario
from bench.fast_trip_model.simulation import Results, simulate
from bench.fast_trip_report import describe, report

SCENARIO = Scenario(
    instances=30,
    rate=10.0,
    limit=2,
    latency=0.0,
    window=0.5,
    delivery=1.0,
    cross_delivery=1.5,
    retry_delay=1.0,
    pending_seconds=15.0,
)


@pytest.fixture(scope="module")
def results() -> Results:
    return simulate(SCENARIO, repeats=1)


def test_every_launch_event_reaches_exactly_one_fast_run(results: Results) -> None:
    runs = results.fast[0].runs
    assert sum(run.events or 0 for run in runs) == SCENARIO.instances
    assert {run.trigger for run in runs} == {"launch-event"}


def test_no_instance_is_stopped_twice_and_only_trips_stop(results: Results) -> None:
    for runs in (results.fast[0].runs, results.schedule_runs):
        stopped = Counter(i for run in runs for _, ids in run.stops for i in ids)
        assert set(stopped.values()) <= {1}
        assert all(run.stopped == 0 for run in runs if run.verdict != "trip")
        assert all(run.stopped == run.count for run in runs if run.verdict == "trip")


def test_fast_path_stops_every_launch_under_one_incident(results: Results) -> None:
    """Launches after the trip are stopped even below the limit: the incident stays open."""
    outcome = results.fast[0].outcome
    assert (outcome.stopped, outcome.left_running) == (SCENARIO.instances, 0)
    assert outcome.incidents == 1
    assert outcome.first_stop is not None and outcome.first_stop > 0


def test_worst_phase_misses_the_crossing_then_stops_all_at_once(results: Results) -> None:
    first, second = results.schedule_runs
    assert (first.count, first.verdict) == (SCENARIO.limit, "ok")
    assert (second.count, second.stopped) == (SCENARIO.instances, SCENARIO.instances)


def test_schedule_model_agrees_with_the_real_worst_phase(results: Results) -> None:
    real, model = results.schedule_worst, results.schedule_worst_model
    assert real is not None and model is not None
    assert (model.stopped, model.left_running, model.runs) == (
        real.stopped,
        real.left_running,
        real.runs,
    )
    assert mean_of(results.schedule_phases).stopped <= SCENARIO.instances


def test_no_stop_before_an_instance_leaves_pending(results: Results) -> None:
    """The strict layer refuses to stop a pending instance; the guard's wait runs on the bench's
    virtual clock, so every accepted stop comes at or after launch + pending_seconds:
    instance-seconds - billed seconds = sum(min(stop - launch, pending)) = stopped * pending."""
    first = results.fast[0]
    outcome = first.outcome
    floor = outcome.stopped * SCENARIO.pending_seconds
    assert outcome.instance_seconds - outcome.billed_seconds == pytest.approx(floor)
    assert first.runs[0].waited > 0  # everything was still pending at the first trip
    assert all(run.still_pending == 0 for run in first.runs)
    assert first.end_states == Counter({"stopped": SCENARIO.instances})


def test_report_prints_each_path_and_the_targets(
    results: Results, capsys: pytest.CaptureFixture[str]
) -> None:
    describe(SCENARIO)
    report(SCENARIO, results)
    out = capsys.readouterr().out
    for line in ("fast, repeat 1", "schedule, worst phase (real)", "schedule, mean of 3000 phases"):
        assert line in out
    assert "instances launched after the crossing one: 27, of which never stopped: 0" in out
