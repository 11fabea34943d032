"""bench/fast_trip_model/billing.py: EC2's one-minute minimum per start, and the launch block's
refusals, on hand-made stop times (no emulator)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.fast_trip_model.billing import MINIMUM_S, billed_with_minimum, block_launches
from bench.fast_trip_model.scenario import Scenario

# 10 launches, one a second; each running 15 s after its launch.
SCENARIO = Scenario(
    instances=10,
    rate=1.0,
    limit=2,
    latency=0.0,
    window=0.5,
    delivery=1.0,
    cross_delivery=1.5,
    retry_delay=1.0,
    pending_seconds=15.0,
)


def running_at(index: int) -> float:
    return SCENARIO.launch_time(index) + SCENARIO.pending_seconds


def test_a_stop_seconds_after_running_still_bills_the_minute() -> None:
    stops = {i: running_at(i) + 5.0 for i in range(10)}
    assert billed_with_minimum(SCENARIO, stops) == pytest.approx(10 * MINIMUM_S)


def test_a_longer_run_bills_its_own_time() -> None:
    stops = {0: running_at(0) + 100.0, 1: running_at(1) + 30.0}
    assert billed_with_minimum(SCENARIO, stops) == pytest.approx(100.0 + MINIMUM_S)


def test_launches_at_or_after_the_block_are_refused_and_never_billed() -> None:
    script = replace(SCENARIO, instances=40)  # launches at t = 0..39
    # The guard tripped at t = 16 and stops instances 0..2 a second after they run.
    stops = {i: running_at(i) + 1.0 for i in range(3)}

    blocked = block_launches(script, stops, tripped_at=16.0, delay=2.0)

    assert blocked.block_at == pytest.approx(18.0)
    assert blocked.refused == 22  # launches at t = 18..39
    assert blocked.left_running == 15  # t = 3..17: launched before the block, never stopped here
    assert blocked.billed_minimum_seconds == pytest.approx(3 * MINIMUM_S)
    later = block_launches(script, stops, tripped_at=16.0, delay=10.0)
    assert (later.block_at, later.refused) == (pytest.approx(26.0), 14)
