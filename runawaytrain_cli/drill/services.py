"""The drill's capacity outside EC2 (issue 21): one of each kind the guard halts, seeded into the
tripped account's first region, read back from the emulator before the trip, after it and after
the restore. The trip must halt each (the report names it and the emulator shows it halted), and
the restore must give back exactly what the drill read before the trip.

Each kind is a `Seed`: how to create it, how to read what restore must give back (a snapshot,
compared whole), and what the snapshot looks like halted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_stack.fleet_model import Account

if TYPE_CHECKING:  # scenario seeds through this module
    from runawaytrain_cli.drill.scenario import DrillResult

SETTLE_S = 30.0  # for a seed to leave its starting state (the emulator's pending time, and margin)
Snapshot = dict[str, Any]


@dataclass(frozen=True)
class Seed:
    kind: str  # the guard module's KIND, as the report names it
    name: str  # the name the report gives it ("region/name" there)
    create: Callable[[Any, str, str, str], None]  # (operator session, region, account, name)
    read: Callable[[Any, str, str], Snapshot]  # (session, region, name): what restore gives back
    halted: Callable[[Snapshot], bool]  # the snapshot after the trip says it is halted
    settled: Callable[[Snapshot], bool] = lambda _: True  # ready to be tripped on
    # A snapshot after restore, as it will read once settled (a restarted notebook is Pending).
    as_restored: Callable[[Snapshot], Snapshot] = lambda snapshot: snapshot


def _create_notebook(session: Any, region: str, account: str, name: str) -> None:
    session.client("sagemaker", region_name=region).create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType="ml.t3.medium",
        RoleArn=f"arn:aws:iam::{account}:role/drill-notebook",
    )


def _read_notebook(session: Any, region: str, name: str) -> Snapshot:
    found = session.client("sagemaker", region_name=region).describe_notebook_instance(
        NotebookInstanceName=name
    )
    return {"status": found["NotebookInstanceStatus"], "type": found["InstanceType"]}


SEEDS: tuple[Seed, ...] = (
    Seed(
        "SageMaker notebook instance",
        "drill-notebook",
        _create_notebook,
        _read_notebook,
        # Started again, a notebook is Pending for a while: the restore check takes either.
        halted=lambda s: s["status"] in ("Stopping", "Stopped"),
        settled=lambda s: s["status"] == "InService",
        as_restored=lambda s: {**s, "status": "InService"} if s["status"] == "Pending" else s,
    ),
)


def seed_services(emulator: Emulator, account: Account, region: str) -> dict[str, Snapshot]:
    """Create one of each kind, wait until each is ready, and read it: {kind: snapshot}."""
    session = emulator.operator(account.id, region)
    for seed in SEEDS:
        seed.create(session, region, account.id, seed.name)
    before: dict[str, Snapshot] = {}
    deadline = time.monotonic() + SETTLE_S
    for seed in SEEDS:
        while True:
            before[seed.kind] = seed.read(session, region, seed.name)
            if seed.settled(before[seed.kind]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    return before


def check_services_trip(
    emulator: Emulator, result: DrillResult, account: Account, region: str
) -> None:
    report = result.guards[account.name].report
    assert report is not None and result.capacity is not None
    session = emulator.operator(account.id, region)
    for seed in SEEDS:
        halted = report.services_halted.get(seed.kind, [])
        now = seed.read(session, region, seed.name)
        result.check(
            f"{account.name}: {seed.kind} {seed.name} halted",
            f"{region}/{seed.name}" in halted and seed.halted(now),
            f"report: {', '.join(halted) or 'none'}; in the emulator: {now}",
        )


def check_services_restore(
    emulator: Emulator, result: DrillResult, account: Account, region: str
) -> None:
    assert result.capacity is not None
    restored = (result.restore.restore if result.restore else None) or {}
    session = emulator.operator(account.id, region)
    for seed in SEEDS:
        before = result.capacity.services_before.get(seed.kind, {})
        now = seed.as_restored(seed.read(session, region, seed.name))
        result.check(
            f"{account.name}: {seed.kind} {seed.name} back as before the trip",
            f"{region}/{seed.name}" in restored.get("services_restored", []) and now == before,
            f"before the trip {before}; now {now}",
        )
