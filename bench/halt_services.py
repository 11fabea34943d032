"""Benchmark: how long does a trip take on a mixed account, where every kind of capacity outside
EC2 the guard halts (services.MODULES) holds 100 items beside 100 EC2 instances?

The items are the drill's seeds (runawaytrain_cli/drill/services.py), 100 of each, spread over
the 17 default regions, under the strict-AWS layer; the guard's limit is 0, so the run trips
and halts everything. A botocore hook sleeps `--latency` (100 ms) before every AWS call; clients
warm. Times the whole run (census, decision, halt, mail): an upper bound on the halt's part.

Target (issue 21): the halt of a mixed account (100 items per service) stays under 10 s at
100 ms per call.

    .venv/bin/python bench/halt_services.py
    .venv/bin/python bench/halt_services.py --items 10 --latency 0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.emulated_aws import ALL_LISTED_REGIONS, DEFAULT_REGIONS, LatencyInjector, emulated
from guard import services
from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.service_names import ALL, resolve_halt
from guard.settings import Settings
from runawaytrain_cli.drill.services import SEEDS

ACCOUNT = "123456789012"
TARGET_S = 10.0


def seed(items: int) -> None:
    session = boto3.session.Session()
    for seeded in SEEDS:
        for n in range(items):
            region = DEFAULT_REGIONS[n % len(DEFAULT_REGIONS)]
            seeded.create(session, region, ACCOUNT, f"{seeded.name}-{n}")
    per_region = Counter(DEFAULT_REGIONS[n % len(DEFAULT_REGIONS)] for n in range(items))
    for region, count in per_region.items():
        boto3.client("ec2", region_name=region).run_instances(
            ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro"
        )


def timed_trip(items: int, latency: float) -> tuple[float, int, Counter[str], list[str]]:
    """(wall s, items halted outside EC2, calls by operation, errors)."""
    with emulated(strict=True, pending_seconds=0.0):
        seed(items)
        topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="bench")
        injector = LatencyInjector(latency)
        clients = ClientFactory(injector.session())
        names = {"ec2", "autoscaling", "ssm", "sns", "iam"}
        names |= {m.SERVICE for m in services.MODULES}
        names |= {s for m in services.MODULES for s in getattr(m, "EXTRA_SERVICES", ())}
        for region in ALL_LISTED_REGIONS:  # warm: clients made before timing
            for name in names:
                clients.client(name, region)
        settings = Settings(ec2limit=0, snstopic=topic["TopicArn"], halt=resolve_halt([ALL]))
        start = time.perf_counter()
        report = run_guard(settings, Invocation(), clients, ACCOUNT)
        wall = time.perf_counter() - start
        assert report.verdict == "trip", report.summary()
        halted = sum(len(report.services_halted.get(seeded.kind, [])) for seeded in SEEDS)
        return wall, halted, injector.calls, report.action_errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100, help="per kind of capacity")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    timed_trip(2, 0.0)  # warm-up: botocore loads its models once
    runs = [timed_trip(args.items, args.latency) for _ in range(args.repeats)]
    wall, halted, calls, errors = min(runs)
    kinds = len(SEEDS)
    print(
        f"{kinds} kind(s) outside EC2 x {args.items} items + {args.items} EC2 instances, "
        f"17 regions, {args.latency * 1000:.0f} ms per call, warm, best of {args.repeats}"
    )
    print(f"  trip run (census + halt + mail)  {wall:.3f} s   {sum(calls.values())} calls")
    print(f"  seeds halted outside EC2: {halted} of {kinds * args.items} (and what they run)")
    print(f"  errors: {errors[:3] or 'none'}")
    ok = wall < TARGET_S and halted == kinds * args.items and not errors
    print(f"  {'PASS' if ok else 'MISS'} (target < {TARGET_S} s, every item halted; issue 21)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
