"""What EC2 bills for the runaway script's launches, with its one-minute minimum, and what
refusing the launches themselves (the launch block) saves.

EC2 bills Linux on-demand instances per second from `running`, but at least 60 s each time an
instance starts (EC2 User Guide, "Amazon EC2 billing and purchasing options": "billed in one-second
increments, with a minimum of 60 seconds"; the same minimum applies to each StartInstances /
RunInstances, so a stop 5 s after `running` still bills a minute). However fast the guard stops a
script that keeps launching, each late launch costs that minute: only refusing the launch avoids
it.

The launch block (the guard's deny on launch actions, attached at the trip) is modelled, not run:
moto in-process evaluates no IAM policy for the script's calls. Every launch the script makes at
or after `trip + delay` is refused (never exists, never billed); every earlier one runs as in the
real runs. The delay stands for IAM's propagation: AWS publishes no figure ("Changes that I make
are not always immediately visible", IAM User Guide, Troubleshoot IAM: changes are eventually
consistent); STATED_DELAY_S is an assumption, and BLOCK_DELAYS_S the sensitivity run around it.
The trip time is the end of the tripping run's own work (its start + its measured wall time,
without its virtual waits for pending instances): the guard attaches the block beside the halt,
after the census and the decision, so no later than that. Its first stop request can come much
later: a launch is pending for `pending_seconds` and AWS refuses to stop it until it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bench.fast_trip_model.scenario import Scenario

MINIMUM_S = 60.0
STATED_DELAY_S = 10.0
BLOCK_DELAYS_S = (2.0, 10.0, 30.0)


def billed_with_minimum(
    scenario: Scenario, stop_time: Mapping[int, float], launched_before: float | None = None
) -> float:
    """Billed seconds of the stopped instances, each at least MINIMUM_S; with `launched_before`
    only those launched before that time (the others were refused)."""
    total = 0.0
    for index, stop in stop_time.items():
        launched = scenario.launch_time(index)
        if launched_before is not None and launched >= launched_before:
            continue
        total += max(MINIMUM_S, stop - (launched + scenario.pending_seconds))
    return total


@dataclass(frozen=True)
class Blocked:
    """The fast path's billing had the launch block taken effect `delay` seconds after the trip."""

    delay: float
    block_at: float  # virtual time the block takes effect
    billed_minimum_seconds: float
    refused: int  # launches the block refused (never billed)
    left_running: int  # launched before the block, never stopped


def block_launches(
    scenario: Scenario, stop_time: Mapping[int, float], tripped_at: float, delay: float
) -> Blocked:
    """`tripped_at`: when the tripping run had attached the block (see above)."""
    block_at = tripped_at + delay
    accepted = [i for i in range(scenario.instances) if scenario.launch_time(i) < block_at]
    return Blocked(
        delay=delay,
        block_at=block_at,
        billed_minimum_seconds=billed_with_minimum(scenario, stop_time, block_at),
        refused=scenario.instances - len(accepted),
        left_running=sum(1 for i in accepted if i not in stop_time),
    )
