"""The schedule at every phase, modelled: its mean, from the one phase run for real.

Running the guard at 3,000 phases would take hours; the model needs only the rule and one
measured figure. Rule (the guard's): a tick stops every running instance if there are more than
the limit; after a trip the incident stays open, so later ticks stop whatever launched since.
Figure: how long after its tick a tripping run's stop requests go out, the real worst-phase
runs' mean. Checked against the real runs at the worst phase (the report prints both rows).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import accumulate

from bench.fast_trip_model.billing import MINIMUM_S
from bench.fast_trip_model.guard_run import GuardRun
from bench.fast_trip_model.outcome import Outcome
from bench.fast_trip_model.scenario import Scenario
from bench.fast_trip_model.schedule import PERIOD

PHASE_SAMPLES = 3000  # phases for the schedule's mean: one per 0.1 s of the period


def mean_stop_offset(runs: Sequence[GuardRun]) -> float:
    """Seconds from a tick to its stop requests, per stopped instance, in the real runs."""
    offsets = [moment - run.start for run in runs for moment, ids in run.stops for _ in ids]
    return sum(offsets) / len(offsets)


def model_schedule(scenario: Scenario, phase: float, offset: float) -> Outcome:
    """The schedule at one phase, each tripping tick's stops `offset` seconds after it.

    Same rule as the guard: a tick stops every running instance if there are more than the
    limit. Launches are in time order, so the running ones are always [lowest unstopped, launched).
    """
    times = [scenario.launch_time(i) for i in range(scenario.instances)]
    prefix = [0.0, *accumulate(times)]
    crossing = times[scenario.crossing]
    low, tick, runs, instance_seconds, billed, billed_minimum = 0, phase, 0, 0.0, 0.0, 0.0
    trip_at: float | None = None
    while True:
        high = bisect.bisect_right(times, tick)  # launched by the tick
        runs += 1
        if high - low > scenario.limit:
            stop = tick + offset
            trip_at = stop if trip_at is None else trip_at
            instance_seconds += stop * (high - low) - (prefix[high] - prefix[low])
            # billed: only those running by the stop (launched before stop - pending)
            ran = bisect.bisect_right(times, stop - scenario.pending_seconds, low, high)
            billed += (stop - scenario.pending_seconds) * (ran - low) - (prefix[ran] - prefix[low])
            # with the minimum: those running longer than it by the stop bill their time, every
            # other start (even one still pending at the stop: it is stopped once running) bills it
            over = bisect.bisect_right(
                times, stop - scenario.pending_seconds - MINIMUM_S, low, high
            )
            billed_minimum += (stop - scenario.pending_seconds) * (over - low) - (
                prefix[over] - prefix[low]
            )
            billed_minimum += MINIMUM_S * (high - over)
            low = high
        if tick >= times[-1]:
            break
        tick += PERIOD
    after = len(times) - scenario.crossing - 1
    return Outcome(
        first_stop=None if trip_at is None else trip_at - crossing,
        instance_seconds=instance_seconds,
        billed_seconds=billed,
        billed_minimum_seconds=billed_minimum,
        stopped=low,
        left_running=len(times) - low,
        trip_at=trip_at,
        launched_after_crossing=after,
        unstopped_after_crossing=min(after, len(times) - low),
        runs=runs,
    )


def model_phases(scenario: Scenario, offset: float) -> list[Outcome]:
    """The schedule at PHASE_SAMPLES evenly spaced phases (midpoints of 0.1 s slices of 300 s)."""
    return [
        model_schedule(scenario, (k + 0.5) * PERIOD / PHASE_SAMPLES, offset)
        for k in range(PHASE_SAMPLES)
    ]
