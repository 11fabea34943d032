"""The breaker's decision: pure, total, and free of AWS. Counts and settings in, verdict out.

Every branch is a table test in tests/guard/test_decision.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from guard.blindness import DEFAULT_BLIND_RUNS_TO_TRIP, BlindRegion, describe_blind
from guard.burn import Burn
from guard.invocation import Invocation, Trigger
from guard.settings import Action, WeightedLimits

NO_WEIGHTED_LIMITS = WeightedLimits()


class Verdict(Enum):
    OK = "ok"  # under the limit, everything counted: nothing to do, nobody told
    TRIP = "trip"  # stop everything, tell the notify list
    VOID = "void"  # an override said pass: touch nothing
    DEGRADED = "degraded"  # under the limit as far as we know, but some regions were not counted
    RESTORE = "restore"  # an operator asked to undo an incident: no census, no trip
    IGNORED = "ignored"  # a batch of events with no EC2 launch in it: nothing to count for


class TripReason(Enum):
    INSTANCE_LIMIT = "instance-limit"
    BILLING_ALARM = "billing-alarm"
    SPEND_RATE = "spend-rate"
    INCIDENT_OPEN = "incident-open"  # instances found while the last trip's incident is open
    VCPU_LIMIT = "vcpu-limit"  # the instances' vCPUs add up to more than max_vcpus
    GPU_LIMIT = "gpu-limit"  # their GPUs/accelerators add up to more than max_gpus
    USD_LIMIT = "usd-limit"  # their on-demand price per hour is more than max_usd_per_hour
    # A Region that held capacity could not be counted for blind_runs_to_trip runs in a row
    # (throttled, refused, closed: blindness.py); what can be seen everywhere else is halted.
    REGION_BLIND = "region-blind"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str  # one sentence a person reads at 3 a.m.
    trip_reasons: tuple[TripReason, ...] = ()
    # DEGRADED only by Regions an earlier mail of this blindness incident named: not mailed again.
    already_told: bool = False


def finishes_open_incident(decision: Decision, open_incident: str | None, enforce: bool) -> bool:
    """While an incident is open, an enforce run that does not trip (a trip finishes it itself)
    and is not voided finishes what the incident left unfinished: a lockout left `partial` by a
    failed step. Instances it tagged while pending are carried over by the count itself."""
    return (
        open_incident is not None and enforce and decision.verdict in (Verdict.OK, Verdict.DEGRADED)
    )


def decide_override(invocation: Invocation, env_action: Action) -> Decision | None:
    """VOID when the event or the environment says pass, RESTORE when the event asks for it;
    None means go on and count. `envaction=pass` does not block a restore: pausing the breaker
    and then undoing an incident is the usual order."""
    if invocation.action is Action.RESTORE:
        which = invocation.incident or "the most recent incident"
        return Decision(Verdict.RESTORE, f"restore of {which} requested by the invocation event")
    if invocation.action is Action.PASS:
        return Decision(Verdict.VOID, "voided by the invocation event (action: pass)")
    if env_action is Action.PASS:
        return Decision(Verdict.VOID, "voided by the environment (envaction=pass)")
    launches = invocation.launches
    if (
        invocation.trigger is Trigger.LAUNCH_EVENT
        and launches is not None
        and not launches.launches
    ):
        return Decision(Verdict.IGNORED, f"ignored {launches.describe()}")
    return None


def decide(
    count: int,
    limit: int,
    failed_regions: Sequence[str],
    invocation: Invocation,
    *,
    open_incident: str | None = None,
    launched_active: int = 0,
    burn: Burn | None = None,
    limits: WeightedLimits = NO_WEIGHTED_LIMITS,
    blind: Mapping[str, BlindRegion] | None = None,
    blind_runs_to_trip: int = DEFAULT_BLIND_RUNS_TO_TRIP,
) -> Decision:
    """Trip when the count is strictly above the limit, a billing alarm fired, the payer's
    spend watcher reported a burn rate over the account's limit, or launch events name
    instances (`launched_active` of them still pending/running) launched while an earlier trip's
    incident is still open (a tripped breaker stays tripped).

    The weighted limits (vCPUs, accelerators, dollars an hour, each optional) trip the same way,
    strictly above. Regions that could not be counted, and types or prices that could not be
    looked up, never hide a trip (fail closed): if what was counted is already over a limit, the
    breaker trips; if not, the run is DEGRADED so someone is told.

    `blind`: the Regions not counted this run with what the guard remembers of them
    (blindness.py). The run on which one that held capacity reaches `blind_runs_to_trip` runs
    in a row trips (REGION_BLIND); a DEGRADED run whose uncounted Regions were all named by an
    earlier mail of the incident is `already_told`.
    """
    blind = blind or {}
    reasons: list[TripReason] = []
    sentences: list[str] = []
    if count > limit:
        reasons.append(TripReason.INSTANCE_LIMIT)
        sentences.append(f"{count} pending/running EC2 instances exceed the limit of {limit}")
    elif launched_active and open_incident is not None:
        reasons.append(TripReason.INCIDENT_OPEN)
        sentences.append(
            f"{launched_active} EC2 instance(s) launched while incident {open_incident} is open "
            "(the breaker stays tripped until that incident is restored or an hour passes "
            "without a trip)"
        )
    if invocation.trigger is Trigger.BILLING_ALARM:
        reasons.append(TripReason.BILLING_ALARM)
        sentences.append(f"billing alarm {invocation.alarm_name} is in ALARM")
    if invocation.trigger is Trigger.SPEND_RATE and invocation.spend is not None:
        reasons.append(TripReason.SPEND_RATE)
        sentences.append(_spend_sentence(invocation))
    for region, found in sorted(blind.items()):
        if found.holds and found.runs == blind_runs_to_trip:
            reasons.append(TripReason.REGION_BLIND)
            sentences.append(
                describe_blind(region, found)
                + f" (blind_runs_to_trip {blind_runs_to_trip}: whoever can drain its EC2 request "
                "bucket can hide what runs there)"
            )
    reasons = list(dict.fromkeys(reasons))
    weighed = _weighed_limits(burn, limits) if burn is not None else []
    unchecked = []
    for reason, total, over, sentence, unknown in weighed:
        if over:
            reasons.append(reason)
            sentences.append(sentence)
        elif unknown:
            unchecked.append(f"{total} (limit not fully checked: {unknown})")
    uncounted = ""
    if failed_regions:
        uncounted = f"; {len(failed_regions)} region(s) could not be counted: " + ", ".join(
            sorted(failed_regions)
        )
    uncounted += "".join(f"; {text}" for text in unchecked)
    if reasons:
        return Decision(Verdict.TRIP, "; ".join(sentences) + uncounted, tuple(reasons))
    totals = "".join(f", {total}" for _, total, _, _, unknown in weighed if not unknown)
    if failed_regions or unchecked:
        told = {region for region, found in blind.items() if found.told}
        return Decision(
            Verdict.DEGRADED,
            f"counted {count} pending/running EC2 instances (limit {limit}){totals} but"
            + uncounted.removeprefix(";"),
            already_told=not unchecked and set(failed_regions) <= told,
        )
    return Decision(Verdict.OK, f"{count} pending/running EC2 instances, limit {limit}{totals}")


# (reason, "what was counted (limit)", over the limit?, the trip sentence, why it is incomplete)
_Weighed = tuple[TripReason, str, bool, str, str]


def _weighed_limits(burn: Burn, limits: WeightedLimits) -> list[_Weighed]:
    """Each weighted limit set, strictly-above; what could not be weighed makes it incomplete."""
    found: list[_Weighed] = []
    unweighed = burn.unweighed_instances
    missing_types = f"{unweighed} instance(s) of a type EC2 did not describe" if unweighed else ""
    if limits.vcpus is not None:
        found.append(
            (
                TripReason.VCPU_LIMIT,
                f"{burn.vcpus} vCPUs (limit {limits.vcpus})",
                burn.vcpus > limits.vcpus,
                f"{burn.vcpus} vCPUs of pending/running instances exceed the limit of "
                f"{limits.vcpus}",
                missing_types,
            )
        )
    if limits.gpus is not None:
        found.append(
            (
                TripReason.GPU_LIMIT,
                f"{burn.accelerators} GPUs/accelerators (limit {limits.gpus})",
                burn.accelerators > limits.gpus,
                f"{burn.accelerators} GPUs/accelerators of pending/running instances exceed the "
                f"limit of {limits.gpus}",
                missing_types,
            )
        )
    if limits.usd_per_hour is not None:
        unpriced = burn.unpriced_instances
        found.append(
            (
                TripReason.USD_LIMIT,
                f"about {burn.usd_per_hour:,.2f} USD/h (limit {limits.usd_per_hour:,.2f})",
                burn.usd_per_hour > limits.usd_per_hour,
                f"pending/running instances burn about {burn.usd_per_hour:,.2f} USD/h at "
                f"on-demand list prices, over the limit of {limits.usd_per_hour:,.2f} USD/h",
                f"no price could be looked up for {unpriced} instance(s)" if unpriced else "",
            )
        )
    return found


def _usd(value: float | None) -> str:
    return "an unreported amount" if value is None else f"${value:,.2f}"


def _spend_sentence(invocation: Invocation) -> str:
    spend = invocation.spend
    assert spend is not None
    return (
        f"spend over the 24 h of Cost and Usage Report data up to {spend.newest_data} was "
        f"{_usd(spend.spend_24h_usd)}, over the limit of {_usd(spend.limit_usd)} per day "
        f"(CUR delivery {spend.delivery}; CUR data lags by hours)"
    )
