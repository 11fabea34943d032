"""Benchmark: how fast does the breaker stop 17 / 170 / 1000 instances over 17 regions?

Runs the guard's real `run_guard` in moto with a fixed latency injected into every AWS call
(a botocore `before-call` hook that sleeps), a seed-style baseline (regions one after
another, one StopInstances call per instance), and Cloud Custodian's `stop` policy Region after
Region (bench/custodian.py; needs c7n, a dev-only install) on the same account. Prints API calls
and wall time; `lead` is Cloud Custodian's wall over the guard's.
moto runs under the strict-AWS layer (the strict_aws package) unless `--lenient`; here
every instance is launched long before the trip, so all are running and stoppable.

    .venv/bin/python bench/halt.py            # 0 ms and 100 ms, 17/170/1000 instances
    .venv/bin/python bench/halt.py --sizes 17 --latencies 0.05
    .venv/bin/python bench/halt.py --mix      # pending / Spot / stop-protected mix: halt_mix.py

Targets (issue 2): <= 2 EC2 calls per region + 1 per extra page/chunk (ASG and tagging calls
counted apart); at 1000 instances wall(100 ms) - wall(0 ms) <= 0.8 s; >= 50x the baseline.
Targets (issue 20), 1000 instances, 17 Regions, warm: guard wall <= 2.5 s at 100 ms per call and
<= 1.5 s at 0 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench import halt_mix
from bench.custodian import C7N_INSTALL, custodian_available, stop_with_custodian
from bench.emulated_aws import ALL_LISTED_REGIONS, DEFAULT_REGIONS, LatencyInjector, emulated
from guard.census import list_enabled_regions
from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.settings import Settings


@dataclass
class Run:
    wall: float
    calls: Counter[str]

    @property
    def ec2_core_calls(self) -> int:
        core = (op for op in self.calls if op.startswith("ec2.") and op != "ec2.CreateTags")
        return sum(self.calls[op] for op in core)


STRICT = [True]  # moto under the strict-AWS layer; main() clears it for --lenient


@contextmanager
def account_with(instances: int) -> Iterator[str]:
    """A fresh emulated account with `instances` spread round-robin over the default regions
    (strict: pending for 0 s, so running before the trip)."""
    with emulated(strict=STRICT[0]):
        per_region = Counter(DEFAULT_REGIONS[n % len(DEFAULT_REGIONS)] for n in range(instances))
        for region, count in per_region.items():
            boto3.client("ec2", region_name=region).run_instances(
                ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro"
            )
        sns = boto3.client("sns", region_name="us-east-1")
        yield sns.create_topic(Name="bench")["TopicArn"]


def best_of(repeats: int, runner: Any, *args: Any) -> Run:
    """The fastest of `repeats` runs: noise (GC, the other core) only ever adds time."""
    return min((runner(*args) for _ in range(repeats)), key=lambda run: run.wall)


def run_breaker(instances: int, latency: float, warm: bool = False) -> Run:
    """The guard's trip. Cold: a new session, every client created inside the timed run (a
    Lambda cold start). Warm: clients already made, as in a reused execution environment."""
    with account_with(instances) as topic:
        injector = LatencyInjector(latency)
        clients = ClientFactory(injector.session())
        if warm:
            for region in ALL_LISTED_REGIONS:
                clients.client("ec2", region)
                clients.client("autoscaling", region)
                clients.client("sagemaker", region)  # services.py counts beside EC2
            clients.client("sns", "us-east-1")
            clients.client("ssm", "us-east-1")  # the open-incident parameter
        settings = Settings(ec2limit=4, snstopic=topic)
        start = time.perf_counter()
        report = run_guard(settings, Invocation(), clients, "123456789012")
        wall = time.perf_counter() - start
        assert len(report.stopped) == instances, report.summary()
        return Run(wall, injector.calls)


def run_over_regions(instances: int, latency: float, stop: Any) -> Run:
    """A peer's halt, timed on a fresh account: `stop(session, regions, injector)` -> how many
    it stopped; the same enabled-region list as the guard, so only the halt's shape differs."""
    with account_with(instances):
        injector = LatencyInjector(latency)
        session = injector.session()
        start = time.perf_counter()
        ec2 = session.client("ec2", region_name="us-east-1")
        regions = list_enabled_regions(ec2, session.get_partition_for_region)
        stopped = stop(session, regions, injector)
        wall = time.perf_counter() - start
        assert stopped == instances, f"stopped {stopped} of {instances}"
        return Run(wall, injector.calls)


def stop_one_by_one(session: Any, regions: list[str], _: LatencyInjector) -> int:
    """The seed's shape: one region after another, one StopInstances call per instance."""
    stopped = 0
    for region in regions:
        client = session.client("ec2", region_name=region)
        for page in client.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        ):
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    client.stop_instances(InstanceIds=[instance["InstanceId"]])
                    stopped += 1
    return stopped


def run_baseline(instances: int, latency: float) -> Run:
    return run_over_regions(instances, latency, stop_one_by_one)


def run_custodian(instances: int, latency: float) -> Run:
    """Cloud Custodian's `stop`, Region after Region (bench/custodian.py), on the same account."""
    return run_over_regions(
        instances,
        latency,
        lambda _, regions, injector: stop_with_custodian(regions, injector, "123456789012"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[17, 170, 1000])
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--no-custodian",
        action="store_true",
        help="skip Cloud Custodian's stop (bench/custodian.py)",
    )
    parser.add_argument(
        "--lenient", action="store_true", help="plain moto, without the strict-AWS layer"
    )
    parser.add_argument(
        "--mix", action="store_true", help="the pending/Spot/stop-protected mix (halt_mix.py)"
    )
    parser.add_argument(
        "--warm", action="store_true", help="clients made before timing (a warm Lambda)"
    )
    args, rest = parser.parse_known_args()
    if args.mix:
        return halt_mix.main([*rest, *(["--lenient"] if args.lenient else [])])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    STRICT[0] = not args.lenient

    header = (
        f"{'instances':>9} {'latency':>8} {'wall s':>7} {'EC2 calls':>9} {'(core)':>6} "
        f"{'ASG+tag':>7} {'all calls':>9} {'baseline s':>10} {'base calls':>10} {'speed-up':>8}"
        f" {'c7n s':>7} {'c7n calls':>9} {'lead':>6}"
    )
    custodian = not args.no_custodian and custodian_available()
    if not args.no_custodian and not custodian:
        print(f"Cloud Custodian not installed, its columns left out: {C7N_INSTALL}")
    print(
        f"guard clients: {'warm (made before timing)' if args.warm else 'cold (made in the run)'}; "
        f"moto: {'lenient' if args.lenient else 'strict-AWS layer'}"
    )
    print(header)
    walls: dict[tuple[int, float], float] = {}
    run_breaker(17, 0.0)  # warm-up: botocore loads and caches the service models once
    if custodian:
        run_custodian(17, 0.0)  # the same for c7n (its resource registry and schema)
    for size in args.sizes:
        for latency in args.latencies:
            run = best_of(args.repeats, run_breaker, size, latency, args.warm)
            walls[size, latency] = run.wall
            ec2_calls = sum(n for op, n in run.calls.items() if op.startswith("ec2."))
            side_calls = run.calls["ec2.CreateTags"] + sum(
                n for op, n in run.calls.items() if op.startswith("autoscaling.")
            )
            base_text = ""
            if not args.no_baseline:
                base = best_of(1, run_baseline, size, latency)
                base_text = (
                    f"{base.wall:>10.2f} {sum(base.calls.values()):>10} "
                    f"{base.wall / run.wall:>7.0f}x"
                )
            if custodian:
                peer = best_of(args.repeats, run_custodian, size, latency)
                base_text += (
                    f" {peer.wall:>7.2f} {sum(peer.calls.values()):>9} "
                    f"{peer.wall / run.wall:>5.1f}x"
                )
            print(
                f"{size:>9} {latency * 1000:>6.0f}ms {run.wall:>7.3f} {ec2_calls:>9} "
                f"{run.ec2_core_calls:>6} {side_calls:>7} {sum(run.calls.values()):>9} {base_text}",
                flush=True,
            )
            print(f"{'':>9} calls: {dict(sorted(run.calls.items()))}", flush=True)
    if 0.0 in args.latencies:
        for size in args.sizes:
            for latency in args.latencies:
                if latency:
                    added = walls[size, latency] - walls[size, 0.0]
                    ms = latency * 1000
                    print(f"latency added at {size} instances, {ms:.0f} ms/call: {added:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
