"""Regions the census cannot see, remembered from run to run so that nobody can blind it. Pure.

EC2 throttles API requests per account and per Region, with one token bucket per API action
that every caller in the account draws from: the console, the CLI, the guard, and a leaked key's
own script alike; past the bucket, calls fail with `RequestLimitExceeded` (EC2 API Reference,
"Request throttling for the Amazon EC2 API",
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/throttling.html). Whoever may call
DescribeInstanceStatus in a Region can keep its bucket empty; the guard retries throttling 10
times with backoff (clients.py), and then that Region is not counted. One such run is DEGRADED;
this module makes sure a Region kept dark is neither mailed every run nor ignored for ever.

    blind        a Region the census could not count this run: throttled after retries, refused,
                 unreachable (census.region_errors), or closed by an SCP after the guard counted
                 capacity in it (`blind_closed`). `(region list)` (DescribeRegions failed) is
                 blind the same way; it holds nothing, so it never trips.
    incident     starts when a Region goes blind, ends when every Region is counted again. Each
                 blind Region is told in one mail (the first that reaches the topic); a Region
                 that goes blind later is told in a new mail; a run whose only news is Regions
                 already told is still DEGRADED (report, log, heartbeat) but mails nothing.
    held         what the Region held at its last good count (pending + running EC2 instances,
                 last_run.py keeps the counts), plus the launches events reported there while it
                 was blind (fast trip: a key that blinds an empty Region and then launches there
                 still leaves a trace).
    trip         the run on which a Region that held something has been blind for
                 `blind_runs_to_trip` runs in a row trips the breaker (decision.py,
                 TripReason.REGION_BLIND): it halts what it can see everywhere else, refuses
                 launches, locks out and quarantines as any trip does, and the mail says which
                 Region, for how many runs, holding what. Once per blindness: the trip's launch
                 block, lockout and quarantine hold until restore, and once the Region can be
                 counted again its instances count as any others (over the limit, they trip and
                 are stopped under the incident, if it is still open).

The memory rides in the last-run record (last_run.py); a missing or garbled record is an empty
memory: every failing Region is then newly blind (mailed) and holds nothing known (no trip).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

# Three runs: the guard already retried each blind Region's calls 10 times with backoff
# (clients.py), so one blind run means its bucket stayed empty for the whole retry window, and
# two in a row can still be one bad spell (a deploy or inventory tool describing in a loop for
# some minutes, an EC2 API event in one Region). Three scheduled runs (10+ minutes at the
# default 5-minute schedule) of a bucket kept empty through every retry is not what a client
# that backs off as AWS asks does; and it bounds what runs unseen to about three schedule
# intervals (15 minutes by default) before everything else in the account is halted.
DEFAULT_BLIND_RUNS_TO_TRIP = 3
SINCE_FORMAT = "%Y-%m-%dT%H:%MZ"  # UTC to the minute: the record keeps one per blind Region


@dataclass(frozen=True)
class BlindRegion:
    since: str  # when its first blind run ran (UTC, SINCE_FORMAT)
    runs: int  # blind runs in a row, this one included
    held: int = 0  # pending + running EC2 instances at its last good count
    launched: int = 0  # launches events reported there since it went blind
    told: bool = False  # a mail of this incident named it

    @property
    def holds(self) -> int:
        """What the guard knows is (or was put) there and can no longer see."""
        return self.held + self.launched

    def to_record(self) -> list[Any]:
        """Compact: the last-run record is one 4 KB parameter (last_run.py)."""
        return [self.since, self.runs, self.held, self.launched, self.told]

    @classmethod
    def from_record(cls, raw: object) -> BlindRegion | None:
        if not isinstance(raw, list) or len(raw) != 5:
            return None
        since, runs, held, launched, told = raw
        if not (isinstance(since, str) and isinstance(told, bool)):
            return None
        if not all(type(n) is int and n >= 0 for n in (runs, held, launched)):
            return None
        try:
            datetime.strptime(since, SINCE_FORMAT)
        except ValueError:
            return None
        return cls(since, runs, held, launched, told)


@dataclass(frozen=True)
class Memory:
    """What the last run left: its nonzero counts by Region, and the Regions it could not see."""

    counts: Mapping[str, int]
    blind: Mapping[str, BlindRegion]


def read_memory(record: Mapping[str, Any] | None) -> Memory:
    """The memory in a last-run record; whatever is missing or garbled is forgotten (an empty
    memory: failing Regions are newly blind and hold nothing known)."""
    record = record or {}
    counts = record.get("counts")
    blind = record.get("blind")
    kept_counts = {
        region: n
        for region, n in (counts.items() if isinstance(counts, dict) else ())
        if isinstance(region, str) and type(n) is int and n > 0
    }
    kept_blind = {}
    for region, raw in blind.items() if isinstance(blind, dict) else ():
        found = BlindRegion.from_record(raw)
        if isinstance(region, str) and found is not None:
            kept_blind[region] = found
    return Memory(kept_counts, kept_blind)


def blind_closed(
    closed: Mapping[str, str], memory: Memory
) -> tuple[dict[str, str], dict[str, str]]:
    """(Regions closed on purpose, closed Regions that blind the guard).

    An SCP that closes a Region is the payer's decision (census.py), but SCP management can be
    delegated to a member account (Organizations User Guide, "Delegated administrator for AWS
    Organizations"), an SCP can name the guard's role alone, and an SCP stops nothing that
    already runs. So a Region closed after the guard counted capacity in it (or while it was
    blind holding some) is blind like a throttled one; a closed Region that held nothing stays
    quietly closed, as before."""
    quiet, blinding = {}, {}
    for region, why in closed.items():
        before = memory.blind.get(region)
        held = before.holds if before else memory.counts.get(region, 0)
        if held:
            blinding[region] = f"closed by a service control policy since it held capacity: {why}"
        else:
            quiet[region] = why
    return quiet, blinding


def track_blindness(
    memory: Memory, failed: Iterable[str], launched: Mapping[str, int], now: datetime
) -> dict[str, BlindRegion]:
    """This run's blind Regions: `failed` (not counted this run) continued from the memory or
    newly blind; `launched`: launch events this run's prompt reported, by Region."""
    blind = {}
    for region in sorted(set(failed)):
        before = memory.blind.get(region)
        if before is None:
            blind[region] = BlindRegion(
                now.astimezone(UTC).strftime(SINCE_FORMAT),
                1,
                held=memory.counts.get(region, 0),
                launched=launched.get(region, 0),
            )
        else:
            blind[region] = replace(
                before, runs=before.runs + 1, launched=before.launched + launched.get(region, 0)
            )
    return blind


def untold(blind: Mapping[str, BlindRegion]) -> list[str]:
    """The blind Regions no mail of this incident named yet."""
    return sorted(region for region, found in blind.items() if not found.told)


def after_mail(blind: Mapping[str, BlindRegion], mailed: bool) -> dict[str, BlindRegion]:
    """The blind Regions to remember once this run's mail reached the topic (or did not)."""
    return {region: replace(found, told=found.told or mailed) for region, found in blind.items()}


def to_record(blind: Mapping[str, BlindRegion]) -> dict[str, list[Any]]:
    return {region: found.to_record() for region, found in sorted(blind.items())}


def describe_blind(region: str, found: BlindRegion) -> str:
    """ "eu-west-1: not counted for 3 runs in a row since 2026-11-26T03:00Z; it held 2
    instance(s) at its last count" (+ launches reported since)."""
    text = f"{region}: not counted for {found.runs} run(s) in a row since {found.since}; "
    if not found.holds:
        return text + "nothing known to run there"
    text += f"it held {found.held} pending/running instance(s) at its last count"
    if found.launched:
        text += f", and {found.launched} launch(es) were reported there since"
    return text
