"""The drill's first step: bootstrap every account in the emulator, run the real `cdk deploy --all`,
say what the emulator did not create, and read each deployed guard back (environment, role, an
SQS inbox on its topic)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from botocore.exceptions import ClientError

from runawaytrain_cli.drill.emulator import (
    GAPS_FILLED,
    Emulator,
    EmulatorSession,
    bootstrap,
)
from runawaytrain_cli.drill.fast_trip import list_region_stacks
from runawaytrain_cli.drill.metrics import check_dashboard
from runawaytrain_cli.drill.quarantine import NOT_EMULATED as QUARANTINE_NOT_EMULATED
from runawaytrain_cli.drill.scenario import DrillContext, DrillError, Guard, Progress
from runawaytrain_stack.bootstrap import list_bootstrap_environments
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.names import list_account_stacks

ROOT = Path(__file__).resolve().parents[2]  # where cdk.json and app.py live
DEPLOY_TIMEOUT_S = 600
BILLING_BUS = "runawaytrain-billing-trips"
# What moto's CloudFormation accepts but does not create (checked against the emulator below):
# the drill says so instead of pretending the stacks are complete.
NOT_EMULATED = {
    "AWS::CloudWatch::Alarm": "moto's CloudFormation skips it (billing alarms)",
    "AWS::SNS::Subscription": "moto's CloudFormation skips it (the drill subscribes SQS itself)",
    "AWS::Organizations::Policy": "moto's CloudFormation skips it (the drill creates the SCPs "
    "from the stack's own builders)",
}


def step_deploy(drill: DrillContext) -> None:
    """Bootstrap, `cdk deploy --all`, and every guard read back."""
    fleet, emulator, result = drill.fleet, drill.emulator, drill.result
    for account in fleet.accounts:
        for environment in list_bootstrap_environments(fleet, account):
            region = environment.rsplit("/", 1)[1]
            bootstrap(emulator.operator(account.id, region), account.id, region)
    drill.progress(
        f"bootstrap: {len(fleet.accounts)} account(s) (asset bucket + version parameter)"
    )
    deployed = deploy(
        emulator, drill.fleet_file, drill.workdir, drill.progress, list_region_stacks(fleet)
    )
    expected = sorted(s for a in fleet.accounts for s in list_account_stacks(fleet, a))
    missing = sorted(set(expected) - set(deployed))
    result.check_over(
        f"every stack of the fleet deployed ({len(expected)}: guards, fast-trip Regions, billing)",
        expected,
        not missing,
        f"not deployed: {', '.join(missing)}",
    )
    result.not_emulated = report_not_emulated(emulator, fleet, drill.workdir, drill.progress)
    without_rule = [
        a.name
        for a in fleet.budgeted_accounts
        if not _billing_rule_exists(emulator.operator(a.id, a.home_region), a)
    ]
    billing = f"the billing rule on {BILLING_BUS} deployed in every budgeted account"
    if fleet.budgeted_accounts:
        result.check(billing, not without_rule, f"missing in {', '.join(without_rule)}")
    else:
        result.skip(billing, "no account has monthly_budget_usd")
    check_dashboard(drill)
    for account in fleet.accounts:
        result.guards[account.name] = read_guard(emulator, account)
        subscribe_inbox(emulator, result.guards[account.name])
    drill.progress(f"read back {len(result.guards)} guard(s): environment, role; SQS on each topic")


def deploy(
    emulator: Emulator,
    fleet_file: Path,
    workdir: Path,
    progress: Progress,
    region_stacks: Mapping[str, str] | None = None,
    *,
    stacks: Sequence[str] = (),
) -> list[str]:
    """The real CDK CLI, `cdk deploy --all` (or `--exclusively` of `stacks`), into the
    emulator: a line per finished guard or billing stack, and one counting the fast-trip Region
    stacks (`region_stacks`: stack name -> account name), up to 16 per account. Returns the
    stacks the CLI reported deployed."""
    region_stacks = region_stacks or {}
    regional: dict[str, int] = {}
    deployed: list[str] = []
    npx = shutil.which("npx")
    if npx is None:
        raise DrillError("npx not found: install Node 20+ and run `npm ci` in the repository")
    env = emulator.cli_environment()
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # app.py's python3
    command = [
        npx,
        "cdk",
        "deploy",
        *(["--exclusively", *stacks] if stacks else ["--all"]),
        "--require-approval",
        "never",
        "--no-notices",
        "--concurrency",
        "8",
        "--progress",
        "events",
        "--output",
        str(workdir / "cdk.out"),
        "--context",
        f"accounts={fleet_file.resolve()}",
    ]
    progress(
        f"deploy: npx cdk deploy --exclusively {' '.join(stacks)}"
        if stacks
        else "deploy: npx cdk deploy --all (synth + a guard stack per account, its fast-trip "
        "Region stacks, the billing stack)"
    )
    log_path = workdir / "cdk-deploy.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group: npx, node and app.py end together
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                log.write(line)
                if line.startswith("\N{WHITE HEAVY CHECK MARK}"):
                    stack = line.strip()[1:].strip()
                    deployed.append(stack)
                    if stack in region_stacks:
                        account = region_stacks[stack]
                        regional[account] = regional.get(account, 0) + 1
                    else:
                        progress(f"deploy: {stack} deployed")
            code = process.wait(timeout=DEPLOY_TIMEOUT_S)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    if regional:
        counts = ", ".join(f"{name} {n}" for name, n in regional.items())
        progress(f"deploy: and {sum(regional.values())} fast-trip Region stacks ({counts})")
    if code != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-25:])
        raise DrillError(f"`cdk deploy --all` failed with exit status {code}:\n{tail}")
    return deployed


def report_not_emulated(
    emulator: Emulator, fleet: Fleet, workdir: Path, progress: Progress
) -> list[str]:
    """Resources in the templates the emulator did not create: said plainly, never hidden."""
    counts: dict[str, int] = {}
    for template in (workdir / "cdk.out").glob("*.template.json"):
        resources = json.loads(template.read_text())["Resources"]
        for resource in resources.values():
            if resource["Type"] in NOT_EMULATED:
                counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    lines = [f"{kind} x{n}: {NOT_EMULATED[kind]}" for kind, n in sorted(counts.items())]
    lines += [*GAPS_FILLED, QUARANTINE_NOT_EMULATED]
    missing_schedules = [
        account.name
        for account in fleet.accounts
        if not _schedule_exists(emulator.operator(account.id, account.home_region), account)
    ]
    if missing_schedules:
        lines.append(
            f"AWS::Scheduler::Schedule x{len(missing_schedules)}: not created by moto's "
            "CloudFormation (accounts " + ", ".join(missing_schedules) + "); the drill invokes "
            "the guard's code directly"
        )
    for line in lines:
        progress(f"not emulated: {line}")
    return lines


def _billing_rule_exists(session: EmulatorSession, account: Account) -> bool:
    events = session.client("events", region_name=account.home_region)
    try:
        return bool(events.list_rules(EventBusName=BILLING_BUS)["Rules"])
    except ClientError:
        return False


def _schedule_exists(session: EmulatorSession, account: Account) -> bool:
    try:
        session.client("scheduler", region_name=account.home_region).get_schedule(
            Name="runawaytrain-guard"
        )
    except ClientError:
        return False
    return True


def read_guard(emulator: Emulator, account: Account) -> Guard:
    """The guard function as deployed: found by its stack's name prefix, read with GetFunction."""
    session = emulator.operator(account.id, account.home_region)
    lam = session.client("lambda", region_name=account.home_region)
    prefix = f"runawaytrain-guard-{account.name}-Guard"
    names = [
        function["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate()
        for function in page["Functions"]
        if function["FunctionName"].startswith(prefix)
    ]
    if len(names) != 1:
        raise DrillError(
            f"expected one guard function {prefix}* in {account.id}/{account.home_region}, "
            f"found {names}"
        )
    config = lam.get_function_configuration(FunctionName=names[0])
    return Guard(
        account=account,
        function=names[0],
        role_arn=config["Role"],
        environment=dict(config.get("Environment", {}).get("Variables", {})),
    )


def subscribe_inbox(emulator: Emulator, guard: Guard) -> None:
    """An SQS queue on the guard's topic: what the notify list would receive (emails can't be
    confirmed in an emulator, and moto's CloudFormation skips the email subscriptions anyway)."""
    topic = guard.environment.get("snstopic", "")
    region = topic.split(":")[3] if topic.count(":") >= 5 else guard.account.home_region
    session = emulator.operator(guard.account.id, region)
    sqs = session.client("sqs", region_name=region)
    guard.queue_region = region
    guard.queue_url = sqs.create_queue(QueueName=f"drill-inbox-{guard.account.name}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=guard.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    if topic:
        session.client("sns", region_name=region).subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=queue_arn
        )
