"""What a path achieved: the measures the targets are judged on, from its runs or its model.

Instance-seconds run from each launch to its stop request (the target's measure); billed seconds
from the end of pending to the stop request (EC2 bills from `running`; EC2 User Guide, "Instance
state changes"), and the same with EC2's minimum of 60 s each time an instance starts (billing.py).
Anything never stopped is reported as left running, not counted in any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.fast_trip_model.billing import billed_with_minimum
from bench.fast_trip_model.guard_run import GuardRun
from bench.fast_trip_model.scenario import Scenario


@dataclass(frozen=True)
class Outcome:
    first_stop: float | None  # seconds from the crossing launch to the first stop request
    instance_seconds: float  # over stopped instances: stop request - launch
    billed_seconds: float  # over stopped instances: stop request - end of pending (if later)
    billed_minimum_seconds: float  # the same, each start billed at least MINIMUM_S (billing.py)
    stopped: int
    left_running: int  # never stopped: a run counted them, but no more than the limit
    trip_at: float | None  # virtual time of the first stop request
    launched_after_crossing: int
    unstopped_after_crossing: int
    runs: int
    throttled: int = 0
    incidents: int = 0
    notifications: int = 0


def stop_times(runs: Sequence[GuardRun], index_of: dict[str, int]) -> dict[int, float]:
    """Launch index -> the virtual time of the first stop request naming that instance."""
    stop_time: dict[int, float] = {}
    for run in runs:
        for moment, ids in run.stops:
            for instance_id in ids:
                stop_time.setdefault(index_of[instance_id], moment)
    return stop_time


def outcome_of(scenario: Scenario, runs: Sequence[GuardRun], index_of: dict[str, int]) -> Outcome:
    """The measures of real runs; `index_of` maps each instance id to its launch index."""
    stop_time = stop_times(runs, index_of)
    trip_at = min(stop_time.values(), default=None)
    crossing = scenario.launch_time(scenario.crossing)
    after = range(scenario.crossing + 1, scenario.instances)
    running_at = {i: scenario.launch_time(i) + scenario.pending_seconds for i in stop_time}
    return Outcome(
        first_stop=None if trip_at is None else trip_at - crossing,
        instance_seconds=sum(t - scenario.launch_time(i) for i, t in stop_time.items()),
        billed_seconds=sum(max(0.0, t - running_at[i]) for i, t in stop_time.items()),
        billed_minimum_seconds=billed_with_minimum(scenario, stop_time),
        stopped=len(stop_time),
        left_running=scenario.instances - len(stop_time),
        trip_at=trip_at,
        launched_after_crossing=len(after),
        unstopped_after_crossing=sum(1 for i in after if i not in stop_time),
        runs=len(runs),
        throttled=sum(run.throttled for run in runs),
        incidents=len({run.incident for run in runs if run.incident}),
        notifications=sum(run.calls["sns.Publish"] for run in runs),
    )


def mean_of(outcomes: Sequence[Outcome]) -> Outcome:
    """Every measure averaged over the phases (counts rounded)."""
    n = len(outcomes)
    firsts = [o.first_stop for o in outcomes if o.first_stop is not None]
    return Outcome(
        first_stop=sum(firsts) / len(firsts) if firsts else None,
        instance_seconds=sum(o.instance_seconds for o in outcomes) / n,
        billed_seconds=sum(o.billed_seconds for o in outcomes) / n,
        billed_minimum_seconds=sum(o.billed_minimum_seconds for o in outcomes) / n,
        stopped=round(sum(o.stopped for o in outcomes) / n),
        left_running=round(sum(o.left_running for o in outcomes) / n),
        trip_at=None,
        launched_after_crossing=round(sum(o.launched_after_crossing for o in outcomes) / n),
        unstopped_after_crossing=round(sum(o.unstopped_after_crossing for o in outcomes) / n),
        runs=round(sum(o.runs for o in outcomes) / n),
    )
