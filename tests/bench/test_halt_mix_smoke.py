"""bench/halt_mix.py at a tiny size, no latency: the mix is what it says, and ends as it should."""

from __future__ import annotations

from bench.halt_mix import EXPECTED_END, run_wait0, run_waiting


def test_pending_at_the_trip_are_left_tagged_then_stopped_by_the_next_run() -> None:
    run = run_wait0(40, 0.0, 15.0, follow_up=True)
    assert sum(len(ids) for ids in run.report.still_pending.values()) == 4
    assert run.ends is not None
    assert all(EXPECTED_END[kind] == state for kind, state in run.ends)
    assert sum(run.ends.values()) == 40


def test_the_wait_stops_the_pending_ones_in_the_same_run() -> None:
    run = run_waiting(40, 0.0, 15.0)
    assert not run.report.still_pending
    # waited on the virtual clock, not for real: the clock runs with the wall too, so a loaded
    # machine needs fewer polls to reach the 15 s of pending (a run once took 5.7 s + 2 polls)
    assert run.virtual >= 15.0 and run.virtual - run.wall >= 5.0
    assert run.ends is not None
    assert all(EXPECTED_END[kind] == state for kind, state in run.ends)
