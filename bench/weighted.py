"""Benchmark: what do the weighted limits (vCPUs, GPUs, USD/h) add to a guard run?

1000 instances over the 17 default regions (instance n in region n % 17, of type n % 30: every one
of 30 types runs in every region), under the strict-AWS layer, whose Price List lists all 30 types
in all 17 regions. A botocore hook sleeps `--latency` (100 ms) before every AWS call and counts
calls by operation. Limits are set high, so nothing trips: the run is census + weighing + decision,
which is what a weighted limit changes (a trip then halts exactly as it does with ec2_limit only).

Four timed runs per repeat, each in a fresh account:
- cold: a new session, clients made inside the run, empty type and price caches (a cold start);
- warm: clients made and caches filled by an earlier run in the same execution environment.
Each as count only (ec2_limit) and weighted (max_vcpus + max_gpus + max_usd_per_hour).

Targets (issue 15): weighted minus count only, warm, <= 0.3 s; no call per instance (calls by
operation are printed; at most one extra round trip when cold). The weighted census reads
DescribeInstanceImageMetadata where the count-only one reads DescribeInstanceStatus (one call a
region a page either way; the strict layer emulates it, moto has none).

    .venv/bin/python bench/weighted.py
    .venv/bin/python bench/weighted.py --instances 170 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.emulated_aws import ALL_LISTED_REGIONS, DEFAULT_REGIONS, LatencyInjector, emulated
from guard import pricing, weights
from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.settings import Settings, WeightedLimits

AMI = "ami-12c6146b"
# 30 current types, GPU and not, as a research account might run them (moto knows them all).
TYPES = (
    "t3.micro", "t3.large", "t4g.medium", "m5.large", "m5.xlarge", "m6i.2xlarge", "m7i.4xlarge",
    "c5.xlarge", "c6i.8xlarge", "c7g.16xlarge", "r5.large", "r6i.4xlarge", "r7g.8xlarge",
    "i4i.2xlarge", "x2iedn.xlarge", "z1d.large", "g4dn.xlarge", "g4dn.12xlarge", "g5.xlarge",
    "g5.48xlarge", "g6.xlarge", "g6e.xlarge", "trn1.2xlarge", "p4d.24xlarge", "p5.48xlarge",
    "inf1.xlarge", "inf2.48xlarge", "trn1.32xlarge", "f2.12xlarge", "dl2q.24xlarge",
)  # fmt: skip
LIMITS = WeightedLimits(vcpus=10**7, gpus=10**6, usd_per_hour=10.0**7)


@dataclass
class Timed:
    wall: float
    calls: Counter[str]


def populate(instances: int, layer: object) -> str:
    """Launch the fleet and list every type's price; returns the topic ARN."""
    groups: Counter[tuple[str, str]] = Counter(
        (DEFAULT_REGIONS[n % len(DEFAULT_REGIONS)], TYPES[n % len(TYPES)]) for n in range(instances)
    )
    for (region, instance_type), count in groups.items():
        boto3.client("ec2", region_name=region).run_instances(
            ImageId=AMI, MinCount=count, MaxCount=count, InstanceType=instance_type
        )
    for index, instance_type in enumerate(TYPES):
        for region in DEFAULT_REGIONS:
            layer.prices.set_price(instance_type, region, 0.01 * (index + 1))  # type: ignore[attr-defined]
    return boto3.client("sns", region_name="us-east-1").create_topic(Name="bench")["TopicArn"]


def timed_run(instances: int, latency: float, *, weighted: bool, warm: bool) -> Timed:
    with emulated(strict=True) as layer:
        topic = populate(instances, layer)
        limits = LIMITS if weighted else WeightedLimits()
        settings = Settings(ec2limit=10**6, snstopic=topic, weighted=limits)
        weights.clear_cache()
        pricing.clear_cache()
        injector = LatencyInjector(0.0)
        clients = ClientFactory(injector.session())
        if warm:  # an earlier run in this execution environment: clients made, caches filled
            run_guard(settings, Invocation(), clients, "123456789012")
            for region in ALL_LISTED_REGIONS:
                clients.client("ec2", region)
            injector.calls.clear()
        injector.latency = latency
        start = time.perf_counter()
        report = run_guard(settings, Invocation(), clients, "123456789012")
        wall = time.perf_counter() - start
        assert report.verdict == "ok" and report.count == instances, report.summary()
        if weighted:
            assert report.burn is not None and not report.burn["price_errors"], report.burn
        return Timed(wall, injector.calls)


def best_of(repeats: int, **kwargs: object) -> Timed:
    return min((timed_run(**kwargs) for _ in range(repeats)), key=lambda t: t.wall)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per call (0.1)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args(argv)
    timed_run(17, 0.0, weighted=True, warm=False)  # load botocore's models once, untimed
    print(
        f"{args.instances} instances, 17 regions, {len(TYPES)} types, "
        f"{args.latency * 1000:.0f} ms per call, strict-AWS layer; best of {args.repeats}"
    )
    print(f"{'':>6} {'count only s':>12} {'weighted s':>10} {'added s':>8}")
    for warm in (False, True):
        label = "warm" if warm else "cold"
        base = best_of(args.repeats, instances=args.instances, latency=args.latency,
                       weighted=False, warm=warm)  # fmt: skip
        heavy = best_of(args.repeats, instances=args.instances, latency=args.latency,
                        weighted=True, warm=warm)  # fmt: skip
        print(f"{label:>6} {base.wall:>12.3f} {heavy.wall:>10.3f} {heavy.wall - base.wall:>8.3f}")
        for name, run in (("count only", base), ("weighted", heavy)):
            print(f"{'':>6} {name} calls: {dict(sorted(run.calls.items()))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
