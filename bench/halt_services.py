"""Benchmark: how long does the halt of a mixed account take, where every kind of capacity the
guard counts (EC2 instances and lambda/guard/services.py MODULES) holds 100 items?

The account (bench/service_seeds.py): `--items` of each of the 20 kinds outside EC2 and as many
EC2 instances, 70% in us-east-1 and the rest in us-west-2, eu-west-1, eu-central-1 and
ap-northeast-1, in moto under the strict-AWS layer (which emulates what moto lacks: GameLift,
Lightsail, Lambda provisioned concurrency, Studio apps...). The guard's EC2 limit is 0 and
`halt: [all]`, so the run trips and halts every kind the halt acts on, the irreversible ones too;
the report-only kinds (Bedrock tokens, Lightsail, OpenSearch) are counted and reported. A
botocore hook sleeps `--latency` (100 ms) before every AWS call, ledger writes included; clients
warm.

Prints, per kind: items counted and halted; calls of the census (and its slowest Region's count,
in seconds) and of the trip (the halt's, its ledger writes among them, also shown apart); and the
second, from the start of the trip, of its last change request. Then the halt's wall time (trip
start to its last change request, with the process's CPU meanwhile) and the whole run's.

How the emulator answers (`--emulator`, as in bench/services.py):
- `replay` (the default): an untimed run against moto first (same account, same clock, so the
  same incident id); the timed run gets the answers recorded then to the same requests
  (bench/emulated_aws.py Replay), before the halt changed anything, so it times the guard's own
  work and the latency, not moto's CPU, which inline competes with the guard's threads for the
  interpreter lock. A request not in the recording (a ledger parameter's time-ordered name, a
  tag write whose body differs) is asked of moto, in the state the first trip left, and counted
  by operation.
- `inline`: moto answers the timed run itself (an upper bound: moto's CPU included).

Target (issue 21): the halt of a mixed account (100 items per service) stays under 10 s at
100 ms per call.

    .venv/bin/python bench/halt_services.py                 # 100 items, replay: a few minutes
    .venv/bin/python bench/halt_services.py --emulator inline
    .venv/bin/python bench/halt_services.py --items 10 --latency 0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.call_tally import Tally, attributed
from bench.emulated_aws import ALL_LISTED_REGIONS, LatencyInjector, Replay, emulated
from bench.service_seeds import ACCOUNT, seed_instances, seed_services
from guard import services
from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.report import Report
from guard.service_names import ALL, KINDS, resolve_halt
from guard.settings import Settings

TARGET_S = 10.0
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # one incident id for the recorded and timed runs
EC2 = "EC2 instances"


@dataclass
class Run:
    wall: float  # the whole run: census, decision, halt, mail
    halt: float  # the trip's start to its last change request
    tally: Tally
    report: Report
    missed: Counter[str]  # requests the recording lacked (replay), by operation
    census: float  # the run's start to the trip's
    after: float  # the trip's end to the run's (the mail, the records)


def clients_for(session: boto3.session.Session) -> ClientFactory:
    clients = ClientFactory(session)
    names = {"ec2", "autoscaling", "ssm", "sns", "iam", "sts", "events", "cloudwatch"}
    names |= {m.SERVICE for m in services.MODULES}
    names |= {s for m in services.MODULES for s in getattr(m, "EXTRA_SERVICES", ())}
    for region in ALL_LISTED_REGIONS:  # warm: clients made before timing
        for name in names:
            clients.client(name, region)
    return clients


def timed_trip(items: int, latency: float, emulator: str) -> Run:
    with emulated(strict=True, pending_seconds=0.0):
        seed_services(items)
        seed_instances(items)
        topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="bench")
        injector = LatencyInjector(latency)
        session = injector.session()
        replay = Replay() if emulator == "replay" else None
        if replay is not None:  # before any client: each copies the session's handlers
            session.events.register_first("before-send", replay)
        tally = Tally()
        session.events.register("after-call", tally)
        clients = clients_for(session)
        settings = Settings(ec2limit=0, snstopic=topic["TopicArn"], halt=resolve_halt([ALL]))
        if replay is not None:  # recorded, untimed: the same trip, answered by moto
            injector.latency = 0.0
            with attributed(Tally(), services.MODULES):
                run_guard(settings, Invocation(), clients, ACCOUNT, now=NOW)
            injector.latency = latency
            snapshot_and_reset(tally)
        with attributed(tally, services.MODULES), replay.replaying() if replay else nullcontext():
            start = time.perf_counter()
            report = run_guard(settings, Invocation(), clients, ACCOUNT, now=NOW)
            end = time.perf_counter()
        assert report.verdict == "trip", report.summary()
        assert tally.trip_started is not None and tally.trip_ended is not None
        return Run(
            wall=end - start,
            halt=tally.last_change(),
            tally=tally,
            report=report,
            missed=replay.missed_by if replay else Counter(),
            census=tally.trip_started - start,
            after=end - tally.trip_ended,
        )


def snapshot_and_reset(tally: Tally) -> None:
    tally.calls.clear()
    tally.items.clear()
    tally.count_s.clear()
    tally.trip_started = tally.trip_ended = None


def print_run(run: Run, items: int) -> bool:
    report, rows = run.report, run.tally.by_kind()
    halting = resolve_halt([ALL])
    print(
        f"  {'kind':34} {'items':>5} {'halted':>6} {'census':>6} {'count s':>7} "
        f"{'trip':>5} {'ledger':>6}  done s  recorded s"
    )
    shown = [(m.KIND, m.NAME) for m in services.MODULES] + [(EC2, "")]
    shown += [(kind, "") for kind in sorted(rows) if kind not in {k for k, _ in shown}]
    complete = True
    for kind, name in shown:
        row = rows.get(kind, {"census": 0, "halt": 0, "ledger": 0, "done": 0.0, "recorded": 0.0})
        if kind == EC2:
            counted, halted = report.count, len(report.stopped)
        else:
            counted = run.tally.items.get(kind, 0)
            halted = len(report.services_halted.get(kind, []))
        acts = name in halting and KINDS.get(name) is not None and kind not in REPORT_ONLY
        note = "" if name == "" or acts else "  (report only)"
        if acts or kind == EC2:
            complete &= counted >= items and halted == counted
        print(
            f"  {kind:34} {counted or '':>5} {halted or '':>6} {int(row['census']):>6} "
            f"{run.tally.count_s.get(kind, 0.0):7.2f} {int(row['halt']):>5} "
            f"{int(row['ledger']) or '':>6}  "
            f"{row['done']:6.2f}  {row['recorded']:10.2f}{note}"
        )
    census = sum(int(r["census"]) for r in rows.values())
    trip = sum(int(r["halt"]) for r in rows.values())
    ledger = sum(int(r["ledger"]) for r in rows.values())
    print(f"  {'total':34} {'':>5} {'':>6} {census:>6} {'':>7} {trip:>5} {ledger:>6}")
    return complete


# Kinds the halt counts and reports but never changes (their modules' halt makes no call):
# the mail says what each burns and how to stop it by hand.
REPORT_ONLY = {
    "Bedrock tokens",
    "Lightsail instance",
    "Lightsail database",
    "OpenSearch domain",
    "SageMaker HyperPod cluster",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100, help="per kind of capacity")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--emulator", choices=("replay", "inline"), default="replay")
    args = parser.parse_args()
    timed_trip(2, 0.0, "inline")  # warm-up: botocore loads its models once
    runs = [timed_trip(args.items, args.latency, args.emulator) for _ in range(args.repeats)]
    run = min(runs, key=lambda r: r.halt)
    print(
        f"{len(services.MODULES)} kinds outside EC2 x {args.items} items + {args.items} EC2 "
        f"instances, 5 Regions (70% us-east-1), halt: [all], "
        f"{args.latency * 1000:.0f} ms per call, warm, emulator {args.emulator}, "
        f"best of {args.repeats}"
    )
    complete = print_run(run, args.items)
    report_only = [e for e in run.report.action_errors if any(k in e for k in REPORT_ONLY)]
    errors = [e for e in run.report.action_errors if e not in report_only]
    print(
        f"  halt: trip start to last change request  {run.halt:.3f} s "
        f"(the process's CPU during the trip: {run.tally.trip_cpu:.3f} s)"
    )
    print(f"  trip start to last ledger write (values)  {run.tally.last_change(ledger=True):.3f} s")
    print(
        f"  whole run  {run.wall:.3f} s (census + decision {run.census:.3f} s, trip "
        f"{run.wall - run.census - run.after:.3f} s, mail + records {run.after:.3f} s)"
    )
    if run.missed:
        print(
            f"  ({sum(run.missed.values())} requests not in the recording were asked of moto: "
            f"{dict(run.missed.most_common(6))})"
        )
    print(f"  report-only kinds reported: {len(report_only)}; errors: {errors[:3] or 'none'}")
    ok = run.halt < TARGET_S and complete and not errors
    verdict = "PASS" if ok else "MISS"
    print(f"  {verdict} (target: halt < {TARGET_S} s, every item halted; issue 21)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
