"""Benchmark: what does counting the services beside EC2 (lambda/guard/services.py) add to a
guard run?

1000 EC2 instances over the 17 default regions and, in each, one of every drill seed outside EC2
(runawaytrain_cli/drill/services.py: a notebook, an endpoint, an ECS service, a Batch
environment with its job, a Lambda function, an RDS database), under the strict-AWS layer,
limits high so nothing trips: the run is the census and the decision.
A botocore hook sleeps `--latency` (100 ms) before every AWS call. Clients warm (made before
timing, as in a reused execution environment). Each repeat times a run with every service
module (services.MODULES) and one with none, each in a fresh account, alternated; best of
`--repeats`.

Target (issue 21): the full census adds <= 1.0 s to the EC2-only census at 100 ms per call.

How the emulator answers (`--emulator`):
- `replay` (the default, the target's measure): moto in the guard's process answers an untimed
  run first; the timed run gets the recorded answers to the same requests (bench/emulated_aws.py
  Replay). The guard still signs, sends and parses every call and waits the latency, as in
  Lambda, while the emulator's own work costs nothing, as AWS's costs a Lambda nothing.
- `inline`: moto answers the timed run itself. Each emulated call costs about 1 ms of CPU
  (moto and the strict layer: half a call's CPU) in the guard's process, competing with its
  threads for the one interpreter lock: it measures the emulator as much as the guard.
- `process`: the drill's moto_server in a process of its own. On a 2-core machine its single
  process answers every call in turn, and HTTP on loopback costs more than the in-process
  stub: the slowest of the three, for the record.

    .venv/bin/python bench/services.py
    .venv/bin/python bench/services.py --instances 170 --repeats 1 --emulator inline
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.emulated_aws import (
    ALL_LISTED_REGIONS,
    DEFAULT_REGIONS,
    LatencyInjector,
    Replay,
    emulated,
)
from guard import services
from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.settings import Settings
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.services import SEEDS

TARGET_S = 1.0
ACCOUNT = "123456789012"


def seed(session: Any, instances: int) -> str:
    """The account: `instances` EC2 instances over the default regions, every drill seed in
    each; returns the mail topic."""
    per_region = Counter(DEFAULT_REGIONS[n % len(DEFAULT_REGIONS)] for n in range(instances))
    for region, count in per_region.items():
        session.client("ec2", region_name=region).run_instances(
            ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro"
        )
    for region in DEFAULT_REGIONS:
        for seeded in SEEDS:
            seeded.create(session, region, ACCOUNT, seeded.name)
    return str(
        session.client("sns", region_name="us-east-1").create_topic(Name="bench")["TopicArn"]
    )


@contextmanager
def account(instances: int, emulator: str) -> Iterator[tuple[str, Any]]:
    """A fresh account (its topic, and a session on its emulator), inline or in a process."""
    if emulator in ("inline", "replay"):
        with emulated(strict=True):
            yield seed(boto3.session.Session(region_name="us-east-1"), instances), None
        return
    with TemporaryDirectory() as scratch, Emulator(Path(scratch) / "emulator.log", 0.0) as server:
        session = server.session("us-east-1")
        yield seed(session, instances), server


def timed_run(
    instances: int, latency: float, with_services: bool, emulator: str
) -> tuple[float, Counter[str]]:
    modules = services.MODULES
    services.MODULES = modules if with_services else ()
    try:
        with account(instances, emulator) as (topic, server):
            injector = LatencyInjector(latency)
            session = injector.session() if server is None else server.session("us-east-1")
            if server is not None:
                session.events.register("before-call", injector)
            replay = Replay() if emulator == "replay" else None
            if replay is not None:  # before any client: each copies the session's handlers
                session.events.register_first("before-send", replay)
            clients = ClientFactory(session)
            names = {"ec2", "autoscaling"} | {m.SERVICE for m in modules}
            names |= {s for m in modules for s in getattr(m, "EXTRA_SERVICES", ())}
            for region in ALL_LISTED_REGIONS:  # warm: clients made before timing
                for name in names:
                    clients.client(name, region)
            clients.client("sns", "us-east-1")
            clients.client("ssm", "us-east-1")
            settings = Settings(ec2limit=instances + 1, snstopic=topic)
            if replay is not None:
                injector.latency, latency = 0.0, injector.latency
                run_guard(settings, Invocation(), clients, ACCOUNT)  # recorded, untimed
                injector.latency = latency
                injector.calls.clear()
            with replay.replaying() if replay else nullcontext():
                start = time.perf_counter()
                report = run_guard(settings, Invocation(), clients, ACCOUNT)
                wall = time.perf_counter() - start
            if replay is not None and replay.missed:
                print(f"  ({replay.missed} calls not in the recording were asked of moto)")
            assert report.verdict == "ok", report.summary()
            seeded = {seed.kind for seed in SEEDS}
            expected = seeded if with_services else set()
            assert seeded & set(report.services) == expected, report.services
            assert not report.service_errors, report.service_errors
            return wall, injector.calls
    finally:
        services.MODULES = modules


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--emulator", choices=("replay", "inline", "process"), default="replay")
    args = parser.parse_args()
    timed_run(17, 0.0, True, args.emulator)  # warm-up: botocore loads its models once
    ec2_only, full = [], []
    calls: dict[bool, Counter[str]] = {}
    for _ in range(args.repeats):
        for with_services, walls in ((False, ec2_only), (True, full)):
            wall, calls[with_services] = timed_run(
                args.instances, args.latency, with_services, args.emulator
            )
            walls.append(wall)
    added = min(full) - min(ec2_only)
    print(
        f"{args.instances} instances, 17 regions + {len(services.MODULES)} service kind(s), "
        f"{args.latency * 1000:.0f} ms per call, warm, best of {args.repeats}, "
        f"emulator {args.emulator}"
    )
    print(f"  EC2-only census run   {min(ec2_only):.3f} s   {sum(calls[False].values())} calls")
    print(f"  full census run       {min(full):.3f} s   {sum(calls[True].values())} calls")
    extra = {op: n for op, n in calls[True].items() if op not in calls[False]}
    print(f"  calls added: {extra}")
    verdict = "PASS" if added <= TARGET_S else "MISS"
    print(f"  {verdict} the services add {added:.3f} s (target <= {TARGET_S} s, issue 21)")
    return 0 if added <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
