"""bench/fast_trip.py's output: the setup, each path's runs, the summary, the targets.

Apart from the model (bench/fast_trip_model/) so that the figures can be read by a test or
another report without printing, and the tables changed without touching the simulation.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from bench.fast_trip_model.billing import (
    BLOCK_DELAYS_S,
    MINIMUM_S,
    STATED_DELAY_S,
    Blocked,
    block_launches,
)
from bench.fast_trip_model.guard_run import GuardRun
from bench.fast_trip_model.outcome import Outcome, mean_of
from bench.fast_trip_model.phase_model import PHASE_SAMPLES
from bench.fast_trip_model.scenario import HOME, REGIONS, Scenario
from bench.fast_trip_model.schedule import PERIOD, worst_phase
from bench.fast_trip_model.simulation import FastRepeat, Results


def print_runs(title: str, runs: Sequence[GuardRun]) -> None:
    print(f"\n{title}")
    print(
        f"  {'start s':>8} {'events':>6} {'census':>6} {'verdict':>8} {'stopped':>7} "
        f"{'pending':>7} {'wall s':>6} {'waited s':>8} {'1st stop +s':>11} {'calls':>5}  note"
    )
    for run in runs:
        first = min((moment for moment, _ in run.stops), default=None)
        first_text = "-" if first is None else f"{first - run.start:.3f}"
        events = "-" if run.events is None else str(run.events)
        note = "throttled, retried after the previous run" if run.throttled else ""
        print(
            f"  {run.start:>8.2f} {events:>6} {run.count:>6} {run.verdict:>8} {run.stopped:>7} "
            f"{run.still_pending:>7} {run.wall:>6.2f} {run.waited:>8.0f} {first_text:>11} "
            f"{sum(run.calls.values()):>5}  {note}"
        )


def print_summary(rows: Sequence[tuple[str, Outcome]]) -> None:
    print(
        f"\n{'path':<32} {'1st stop after crossing':>23} {'instance-s':>11} {'billed-s':>9} "
        f"{'stopped':>7} {'left running':>12} {'runs':>5} {'incidents':>9} {'emails':>6}"
    )
    for name, outcome in rows:
        first = "never" if outcome.first_stop is None else f"{outcome.first_stop:.2f} s"
        incidents = str(outcome.incidents) if outcome.incidents else "-"
        emails = str(outcome.notifications) if outcome.notifications else "-"
        print(
            f"{name:<32} {first:>23} {outcome.instance_seconds:>11,.0f} "
            f"{outcome.billed_seconds:>9,.0f} {outcome.stopped:>7} "
            f"{outcome.left_running:>12} {outcome.runs:>5} {incidents:>9} {emails:>6}"
        )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_targets(fast: Outcome, worst: Outcome, mean: Outcome, ends: Counter[str]) -> None:
    print("\ntargets (fast path: each measure at its worst over the repeats)")
    first = fast.first_stop
    print(
        f"  {verdict(first is not None and first <= 15)} first stop "
        f"{'never' if first is None else f'{first:.2f} s'} after the crossing launch "
        "(target <= 15 s)"
    )
    for name, base in (("worst phase", worst), ("mean phase", mean)):
        share = fast.instance_seconds / base.instance_seconds if base.instance_seconds else math.inf
        print(
            f"  {verdict(share <= 0.05)} instance-seconds {fast.instance_seconds:,.0f} = "
            f"{share:.2%} of the schedule's {name} {base.instance_seconds:,.0f} (target <= 5%)"
        )
    for name, base in (("worst phase", worst), ("mean phase", mean)):
        share = fast.billed_seconds / base.billed_seconds if base.billed_seconds else math.inf
        judged = verdict(share <= 0.05) if name == "mean phase" else "(info)"
        print(
            f"  {judged} instance-seconds after pending (billed, no minimum) "
            f"{fast.billed_seconds:,.0f} = {share:.2%} of the schedule's {name} "
            f"{base.billed_seconds:,.0f}"
            + (" (target (a) of issue 20: <= 5%)" if judged != "(info)" else "")
        )
    print(
        f"  (info) billed with the {MINIMUM_S:.0f} s minimum per start, no launch block: "
        f"{fast.billed_minimum_seconds:,.0f} = "
        f"{fast.billed_minimum_seconds / mean.billed_minimum_seconds:.2%} of the schedule's mean "
        f"phase {mean.billed_minimum_seconds:,.0f}"
    )
    print(
        f"  {verdict(fast.unstopped_after_crossing == 0)} instances launched after the crossing "
        f"one: {fast.launched_after_crossing}, of which never stopped: "
        f"{fast.unstopped_after_crossing} (target 0)"
    )
    states = ", ".join(f"{state} {n}" for state, n in sorted(ends.items()))
    print(f"  fast path, every repeat: instance states in moto at the end: {states}")


def print_launch_block(scenario: Scenario, repeats: Sequence[FastRepeat], mean: Outcome) -> None:
    """Target (b): billed seconds with the minimum, the launch block modelled (billing.py), at
    the stated delay and the sensitivity delays; each at its worst over the repeats."""
    print(
        "\nlaunch block (modelled: launches at or after the tripping run's end + delay are "
        f"refused; stated delay {STATED_DELAY_S:g} s, an assumption: AWS publishes no IAM "
        "propagation time)"
    )
    print(
        f"  {'delay s':>7} {'billed-s (60 s min)':>19} {'of schedule mean':>16} {'refused':>7} "
        f"{'left running':>12}"
    )
    base = mean.billed_minimum_seconds
    stated: Blocked | None = None
    for delay in BLOCK_DELAYS_S:
        worst = max(
            (
                block_launches(scenario, repeat.stop_time, tripped_at(repeat.runs), delay)
                for repeat in repeats
            ),
            key=lambda blocked: blocked.billed_minimum_seconds,
        )
        stated = worst if delay == STATED_DELAY_S else stated
        print(
            f"  {delay:>7g} {worst.billed_minimum_seconds:>19,.0f} "
            f"{worst.billed_minimum_seconds / base:>16.2%} {worst.refused:>7} "
            f"{worst.left_running:>12}"
        )
    assert stated is not None
    share = stated.billed_minimum_seconds / base
    print(
        f"  {verdict(share <= 0.10)} billed seconds with the minimum and the block at "
        f"{STATED_DELAY_S:g} s: {share:.2%} of the schedule's mean (target <= 10%)"
    )


def tripped_at(runs: Sequence[GuardRun]) -> float:
    """When the first tripping run had done its own work (start + measured wall; billing.py)."""
    first = next(run for run in runs if run.verdict == "trip")
    return first.start + first.wall


def worst_fast(repeats: Sequence[FastRepeat]) -> Outcome:
    """Each measure at its worst over the repeats: the targets are judged on the slowest."""
    outcomes = [repeat.outcome for repeat in repeats]
    firsts = [outcome.first_stop for outcome in outcomes]
    return replace(
        max(outcomes, key=lambda outcome: outcome.unstopped_after_crossing),
        first_stop=None if None in firsts else max(first or 0.0 for first in firsts),
        instance_seconds=max(outcome.instance_seconds for outcome in outcomes),
        billed_seconds=max(outcome.billed_seconds for outcome in outcomes),
        billed_minimum_seconds=max(outcome.billed_minimum_seconds for outcome in outcomes),
    )


def describe(scenario: Scenario) -> None:
    crossing = scenario.launch_time(scenario.crossing)
    last = scenario.launch_time(scenario.instances - 1)
    print(
        f"fast_trip: {scenario.instances} instances at {scenario.rate:g}/s (t = 0..{last:.1f} s) "
        f"round-robin over {', '.join(REGIONS)} (home {HOME}); limit {scenario.limit}; "
        f"lockout none"
    )
    print(
        f"guard: guard.handler.handler in moto, {scenario.latency * 1000:.0f} ms before every "
        f"AWS call; census: every region moto lists as enabled; strict-AWS layer, launches "
        f"pending {scenario.pending_seconds:g} s (virtual clock), the guard's pending wait on it"
    )
    print(
        f"assumed: launch event visible in the home queue {scenario.delivery:g} s after the "
        f"launch (same region), {scenario.cross_delivery:g} s (cross-region); batching window "
        f"{scenario.window:g} s; batch size {scenario.batch_size}; reserved concurrency 1, a "
        f"throttled batch retried {scenario.retry_delay:g} s after the run ends; schedule every "
        f"{PERIOD:.0f} s"
    )
    print(
        f"crossing launch: instance #{scenario.crossing + 1} at t = {crossing:.2f} s "
        f"({scenario.region_of(scenario.crossing)})"
    )


def report(scenario: Scenario, results: Results) -> None:
    assert results.schedule_worst and results.schedule_worst_model
    mean = mean_of(results.schedule_phases)
    leaving = sum(1 for o in results.schedule_phases if o.left_running) / PHASE_SAMPLES
    triggers = sorted({run.trigger for repeat in results.fast for run in repeat.runs})
    print_runs(
        f"fast path, first repeat (guard trigger: {', '.join(triggers)})", results.fast[0].runs
    )
    phase = worst_phase(scenario)
    print_runs(
        f"scheduled path, worst phase: ticks at {phase:.2f} s + k * 300 s", results.schedule_runs
    )
    rows = [(f"fast, repeat {n + 1}", repeat.outcome) for n, repeat in enumerate(results.fast)]
    rows += [
        ("schedule, worst phase (real)", results.schedule_worst),
        ("schedule, worst phase (model)", results.schedule_worst_model),
        (f"schedule, mean of {PHASE_SAMPLES} phases", mean),
    ]
    print_summary(rows)
    print(
        f"  model: each tripping tick's stop requests {results.offset:.3f} s after the tick "
        "(the real worst-phase runs' mean); mean rows are averages, rounded"
    )
    print(f"  schedule: {leaving:.1%} of phases leave some instances running (<= the limit)")
    first = results.fast[0].outcome
    if first.trip_at is not None:
        print(
            f"  fast path, repeat 1: first stop request at t = {first.trip_at:.2f} s; "
            f"{first.throttled} throttled invocation(s)"
        )
    ends = sum((repeat.end_states for repeat in results.fast), Counter())
    print_targets(worst_fast(results.fast), results.schedule_worst, mean, ends)
    print_launch_block(scenario, results.fast, mean)
