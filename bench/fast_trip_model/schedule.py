"""The scheduled path, run for real at its worst phase: the baseline the fast path is judged by.

The guard runs every PERIOD seconds whatever happens. Its worst phase is the one whose previous
tick ran just before the launch that crossed the limit: the crossing waits a whole period.
"""

from __future__ import annotations

from bench.fast_trip_model.account import Account
from bench.fast_trip_model.guard_run import GuardRun
from bench.fast_trip_model.scenario import Scenario

SCHEDULE_INPUT = {"trigger": "schedule"}  # what runawaytrain_stack/schedule.py sends
PERIOD = 300.0  # the schedule's rate, seconds
EPSILON = 1e-6  # "just before": the worst phase's previous tick misses the crossing launch


def worst_phase(scenario: Scenario) -> float:
    """The first tick of the phase whose previous tick ran just before the crossing launch."""
    return (scenario.launch_time(scenario.crossing) - EPSILON) % PERIOD


def run_schedule(scenario: Scenario, account: Account, phase: float) -> list[GuardRun]:
    """Ticks at phase + k * 300 s until the first tick after the script's last launch."""
    last_launch = scenario.launch_time(scenario.instances - 1)
    runs = []
    tick = phase
    while True:
        runs.append(account.invoke(SCHEDULE_INPUT, tick, None))
        if tick >= last_launch:  # nothing launches later: further ticks change nothing
            return runs
        tick += PERIOD
