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

    .venv/bin/python bench/services.py
    .venv/bin/python bench/services.py --instances 170 --repeats 1
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.emulated_aws import ALL_LISTED_REGIONS, DEFAULT_REGIONS, LatencyInjector, emulated
from guard import services
from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.settings import Settings
from runawaytrain_cli.drill.services import SEEDS

TARGET_S = 1.0
ACCOUNT = "123456789012"


@contextmanager
def account(instances: int) -> Iterator[str]:
    with emulated(strict=True):
        per_region = Counter(DEFAULT_REGIONS[n % len(DEFAULT_REGIONS)] for n in range(instances))
        for region, count in per_region.items():
            boto3.client("ec2", region_name=region).run_instances(
                ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro"
            )
        session = boto3.session.Session()
        for region in DEFAULT_REGIONS:
            for seeded in SEEDS:
                seeded.create(session, region, ACCOUNT, seeded.name)
        yield boto3.client("sns", region_name="us-east-1").create_topic(Name="bench")["TopicArn"]


def timed_run(instances: int, latency: float, with_services: bool) -> tuple[float, Counter[str]]:
    modules = services.MODULES
    services.MODULES = modules if with_services else ()
    try:
        with account(instances) as topic:
            injector = LatencyInjector(latency)
            clients = ClientFactory(injector.session())
            names = {"ec2", "autoscaling"} | {m.SERVICE for m in modules}
            names |= {s for m in modules for s in getattr(m, "EXTRA_SERVICES", ())}
            for region in ALL_LISTED_REGIONS:  # warm: clients made before timing
                for name in names:
                    clients.client(name, region)
            clients.client("sns", "us-east-1")
            clients.client("ssm", "us-east-1")
            settings = Settings(ec2limit=instances + 1, snstopic=topic)
            start = time.perf_counter()
            report = run_guard(settings, Invocation(), clients, ACCOUNT)
            wall = time.perf_counter() - start
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
    args = parser.parse_args()
    timed_run(17, 0.0, True)  # warm-up: botocore loads its models once
    ec2_only, full = [], []
    calls: dict[bool, Counter[str]] = {}
    for _ in range(args.repeats):
        for with_services, walls in ((False, ec2_only), (True, full)):
            wall, calls[with_services] = timed_run(args.instances, args.latency, with_services)
            walls.append(wall)
    added = min(full) - min(ec2_only)
    print(
        f"{args.instances} instances, 17 regions + {len(services.MODULES)} service kind(s), "
        f"{args.latency * 1000:.0f} ms per call, warm, best of {args.repeats}"
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
