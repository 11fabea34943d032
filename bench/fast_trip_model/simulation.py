"""The runs one bench invocation makes: the fast path `repeats` times, the schedule once.

Each in a fresh account, so no path inherits another's instances or open incident. The fast
path is repeated because its figures depend on measured wall time (noise); the schedule runs
once at its worst phase, and its mean over phases is modelled from that run (phase_model.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.fast_trip_model.account import emulated_account
from bench.fast_trip_model.delivery import run_fast_path
from bench.fast_trip_model.guard_run import GuardRun
from bench.fast_trip_model.outcome import Outcome, outcome_of, stop_times
from bench.fast_trip_model.phase_model import mean_stop_offset, model_phases, model_schedule
from bench.fast_trip_model.scenario import Scenario
from bench.fast_trip_model.schedule import run_schedule, worst_phase


@dataclass
class FastRepeat:
    runs: list[GuardRun]
    outcome: Outcome
    end_states: Counter[str] = field(default_factory=Counter)  # moto's states after the last run
    stop_time: dict[int, float] = field(default_factory=dict)  # launch index -> stop request


@dataclass
class Results:
    fast: list[FastRepeat] = field(default_factory=list)
    schedule_runs: list[GuardRun] = field(default_factory=list)
    schedule_worst: Outcome | None = None
    schedule_worst_model: Outcome | None = None
    schedule_phases: list[Outcome] = field(default_factory=list)
    offset: float = 0.0


def simulate(scenario: Scenario, repeats: int) -> Results:
    results = Results()
    for _ in range(repeats):
        with emulated_account(scenario) as account:
            runs = run_fast_path(scenario, account)
            index_of = account.script.index_of
            outcome = outcome_of(scenario, runs, index_of)
            stopped = stop_times(runs, index_of)
            results.fast.append(FastRepeat(runs, outcome, account.script.end_states(), stopped))
    with emulated_account(scenario) as account:
        phase = worst_phase(scenario)
        runs = run_schedule(scenario, account, phase)
        results.schedule_runs = runs
        results.schedule_worst = outcome_of(scenario, runs, account.script.index_of)
    results.offset = mean_stop_offset(results.schedule_runs)
    # The model at the worst phase, against the real runs there: checks the model itself.
    results.schedule_worst_model = model_schedule(scenario, phase, results.offset)
    results.schedule_phases = model_phases(scenario, results.offset)
    return results
