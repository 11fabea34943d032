"""Benchmark: how long does `runawaytrain status` take for a 100-account fleet?

The fleet: the payer and 99 members, every one with the guard's state in moto under the
strict-AWS layer: the guard stack (CloudFormation, with its notify topic: one confirmed
subscription, one pending), the schedule, the last-run record written by the guard's own code
(guard.last_run summarize + write_last_run, each account its own count, limit and a degraded
Region), an open incident in every tenth account (guard.open_incident.record_trip), the payer's
quarantine record of each member; fast trip on in the 16 other default Regions (with
`--fast-trip`, each such Region's stack is deployed with its rule `ForwardLaunches`, and status
reads them all: 16 more calls per account; without, the fleet's table reads none). The operator is
an IAM user of the payer; each member has the operator role trusting the payer, so every
AssumeRole is evaluated against a trust policy (strict_aws/sts.py), as AWS does.

The run is the CLI's own: `runawaytrain status --config <fleet>` in this process (its output
checked: every account read, each row its own count/limit). A botocore hook on every boto3
session sleeps `--latency` (100 ms) before every AWS call; answers are replayed from an untimed
recording run (bench/emulated_aws.py Replay), so moto's own CPU is not in the timed run.
Each timed run starts from a fresh CLI session (the models are parsed again, as in a new
process); Python's start-up and imports are not timed.

Target (issue 24): <= 15 s at 100 ms per call for 100 accounts.

    .venv/bin/python bench/status.py
    .venv/bin/python bench/status.py --concurrency 8 --repeats 1
    .venv/bin/python bench/status.py --concurrency 0   # the command without --concurrency
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from bench.emulated_aws import DEFAULT_REGIONS, LatencyInjector, Replay, emulated
from guard.last_run import summarize, write_last_run
from guard.open_incident import record_trip
from guard.report import Report
from runawaytrain_cli.main import main as cli

TARGET_S = 15.0
PAYER = "100000000000"
HOME = "us-east-1"
ROLE = "OrganizationAccountAccessRole"
TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "GuardFunctionName": {"Value": "runawaytrain-guard-fn"},
        "NotifyTopicArn": {"Value": {"Ref": "Topic"}},
    },
}


def account_ids(size: int) -> list[str]:
    return [PAYER, *(f"{100000000001 + n}" for n in range(size - 1))]


def fleet_yaml(ids: list[str]) -> str:
    lines = [f'payer: {{id: "{PAYER}", name: payer, notify: [ops@example.com], ec2_limit: 2}}']
    lines.append("accounts:")
    for n, account in enumerate(ids[1:], start=1):
        lines.append(
            f'  - {{id: "{account}", name: team{n}, notify: [ops@example.com], ec2_limit: {n}}}'
        )
    return "\n".join(lines) + "\n"


def credentials_of(sts: Any, account: str) -> dict[str, str]:
    """Set-up as an administrator: moto's default keys stand for one (strict_aws/sts.py)."""
    role = f"arn:aws:iam::{account}:role/{ROLE}"
    return dict(sts.assume_role(RoleArn=role, RoleSessionName="setup")["Credentials"])


FAST_TRIP_TEMPLATE = {
    "Resources": {
        "ForwardLaunches": {
            "Type": "AWS::Events::Rule",
            "Properties": {"EventPattern": {"source": ["aws.ec2"]}, "State": "ENABLED"},
        }
    }
}


def seed(ids: list[str], fast_trip: bool) -> dict[str, str]:
    """Every account's guard state; returns the operator's keys (an IAM user of the payer)."""
    admin = boto3.session.Session(region_name=HOME)
    sts = admin.client("sts")
    now = datetime.now(UTC)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PAYER}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    payer_ssm = None
    for n, account in enumerate(ids):
        keys = credentials_of(sts, account)

        def client(service: str, region: str = HOME, keys: dict[str, str] = keys) -> Any:
            return admin.client(
                service,
                region_name=region,
                aws_access_key_id=keys["AccessKeyId"],
                aws_secret_access_key=keys["SecretAccessKey"],
                aws_session_token=keys["SessionToken"],
            )

        name = "payer" if account == PAYER else f"team{n}"
        if account == PAYER:
            payer_ssm = client("ssm")
        else:
            client("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        cloudformation = client("cloudformation")
        stack = f"runawaytrain-guard-{name}"
        cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(TEMPLATE))
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
        topic = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "NotifyTopicArn")
        sns = client("sns")
        for who in ("owner", "nobody-clicked"):
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=f"{who}@example.com")
        client("scheduler").create_schedule(
            Name="runawaytrain-guard",
            ScheduleExpression="rate(5 minutes)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": f"arn:aws:lambda:{HOME}:{account}:function:fn",
                "RoleArn": f"arn:aws:iam::{account}:role/r",
            },
        )
        for region in DEFAULT_REGIONS[1:] if fast_trip else ():
            client("cloudformation", region).create_stack(
                StackName=f"{stack}-{region}", TemplateBody=json.dumps(FAST_TRIP_TEMPLATE)
            )
        ssm = client("ssm")
        incident = f"20261207T0{n % 10}0000Z-bench{n:02d}" if n % 10 == 3 else None
        if incident:
            record_trip(ssm, incident, now - timedelta(minutes=2))
        write_last_run(ssm, summarize(last_run(account, n), now, open_incident=incident,
                                      schedule_minutes=5, pace=None))  # fmt: skip
        if account != PAYER and payer_ssm is not None:
            payer_ssm.put_parameter(
                Name=f"/runawaytrain/quarantine/{account}",
                Value=json.dumps({"state": "detached", "at": now.isoformat()}),
                Type="String",
            )
    payer = boto3.session.Session(region_name=HOME, **_keys(credentials_of(sts, PAYER)))
    iam = payer.client("iam")
    iam.create_user(UserName="operator")
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def _keys(credentials: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def last_run(account: str, n: int) -> Report:
    """What a guard run of account number `n` reports: n instances, limit n + 1."""
    return Report(
        account=account,
        mode="enforce",
        limit=n + 1,
        verdict="ok",
        reason=f"{n} pending + running, limit {n + 1}",
        trigger="schedule",
        count=n,
        by_region={"us-east-1": n},
        region_errors={"ap-south-1": "Throttling: rate exceeded"},
    )


@contextmanager
def hooked(operator: dict[str, str], injector: LatencyInjector, replay: Replay) -> Iterator[None]:
    """Every boto3 session made inside (the CLI's own among them) has the operator's keys, the
    latency hook and the replay; boto3's default session is made again with them too."""
    original = boto3.session.Session.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("aws_access_key_id"):
            kwargs.update(operator)
        original(self, *args, **kwargs)
        self.events.register("before-call", injector)
        self.events.register_first("before-send", replay)

    boto3.session.Session.__init__ = init  # type: ignore[method-assign]
    boto3.DEFAULT_SESSION = None
    try:
        yield
    finally:
        boto3.session.Session.__init__ = original  # type: ignore[method-assign]
        boto3.DEFAULT_SESSION = None


def run_status(config: Path, concurrency: int, fast_trip: bool) -> tuple[int, str]:
    args = ["status", "--config", str(config), *(["--fast-trip"] if fast_trip else [])]
    if concurrency:
        args += ["--concurrency", str(concurrency)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(args)
    return code, out.getvalue()


def check(output: str, ids: list[str], fast_trip: bool) -> None:
    """Every account in its row, in the fleet's order, with its own count/limit (and, read,
    its 16 fast-trip Regions)."""
    regions = "16/16 regions" if fast_trip else "16 regions (not read"
    rows = [line for line in output.splitlines() if line[:12].isdigit()]
    assert [row.split()[0] for row in rows] == ids, "rows not in the fleet's order"
    for n, row in enumerate(rows):
        assert "ERROR" not in row, row
        assert f" ok {n}/{n + 1} " in row and regions in row, row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=0, help="0: the command's default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fast-trip", action="store_true", help="status --fast-trip")
    args = parser.parse_args()
    ids = account_ids(args.accounts)
    with emulated(strict=True), TemporaryDirectory() as scratch:
        started = time.perf_counter()
        operator = seed(ids, args.fast_trip)
        seeded = time.perf_counter() - started
        config = Path(scratch) / "accounts.yaml"
        config.write_text(fleet_yaml(ids))
        injector, replay = LatencyInjector(0.0), Replay()
        with hooked(operator, injector, replay):
            code, output = run_status(config, args.concurrency, args.fast_trip)  # recorded, untimed
            assert code == 0, output
            check(output, ids, args.fast_trip)
            walls, cpus = [], []
            for _ in range(args.repeats):
                injector.latency = args.latency
                injector.calls.clear()
                with replay.replaying():
                    start, cpu = time.perf_counter(), time.process_time()
                    code, output = run_status(config, args.concurrency, args.fast_trip)
                    walls.append(time.perf_counter() - start)
                    cpus.append(time.process_time() - cpu)
                assert code == 0, output
                check(output, ids, args.fast_trip)
    calls = sum(injector.calls.values())
    print(
        f"{args.accounts} accounts (seeded in {seeded:.0f} s), {args.latency * 1000:.0f} ms per "
        f"call, concurrency {args.concurrency or 'default'}, best of {args.repeats}"
        + (", --fast-trip" if args.fast_trip else "")
    )
    print(f"  status      {min(walls):.2f} s   (all: {', '.join(f'{w:.2f}' for w in walls)})")
    # CPU: what the run costs the machine (the interpreter lock lets ~1 core of it run at once);
    # the load average: how many others shared the machine's cores meanwhile.
    print(f"  CPU         {min(cpus):.2f} s   load average {os.getloadavg()[0]:.1f}")
    print(f"  calls       {calls}: {dict(injector.calls.most_common(8))}")
    if replay.missed:
        print(f"  ({replay.missed} calls not in the recording were asked of moto)")
    verdict = "PASS" if min(walls) <= TARGET_S else "MISS"
    print(f"  {verdict} target <= {TARGET_S} s (issue 24)")
    return 0 if min(walls) <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
