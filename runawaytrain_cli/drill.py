"""`runawaytrain drill`: deploy the fleet into a local AWS emulator, trip it, undo it.

1. start moto_server on a free loopback port (stopped at the end, whatever happens);
2. bootstrap every account of the fleet in it and run the real `npx cdk deploy --all`; check
   the fast-trip route (Region rules, the guard's queue poller, launch events reach the queue);
3. seed: one sub-account over its limit in 3 regions with IAM users holding keys, one quiet;
4. read each deployed guard back (environment, role), assume the role and run the guard's code
   with exactly that environment and those credentials, IAM enforcement on (the tripped
   account's run is prompted by the launch events drained from its fast-trip queue);
5. show per account what was counted, stopped, locked and mailed (an SQS queue on each topic);
6. restore the tripped account: users work again, instances run again;
7. a summary of every check; exit status 1 if any failed.

Nothing reaches real AWS: every client talks to the emulator on loopback with fake keys.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger, parse_invocation
from guard.settings import Action, Mode, Settings, SettingsError
from runawaytrain_cli.drill_checks import (
    Progress,
    check_restore,
    check_trip,
    show_guards,
    show_summary,
)
from runawaytrain_cli.drill_emulator import (
    GAPS_FILLED,
    Emulator,
    EmulatorError,
    EmulatorSession,
    bootstrap,
)
from runawaytrain_cli.drill_fast_trip import check_fast_trip, list_region_stacks
from runawaytrain_cli.drill_scenario import (
    DrillError,
    DrillResult,
    Guard,
    choose_scenario,
    describe_capacity,
    launch_pending,
    seed,
)
from runawaytrain_cli.drill_watchdog import check_watchdog
from runawaytrain_stack.bootstrap import list_bootstrap_environments
from runawaytrain_stack.config import Account, ConfigError, Fleet, load_fleet

ROOT = Path(__file__).resolve().parent.parent  # where cdk.json and app.py live
DEFAULT_FLEET_FILE = Path("accounts.yaml")
DEPLOY_TIMEOUT_S = 600
BILLING_BUS = "runawaytrain-billing-trips"
# What moto's CloudFormation accepts but does not create (checked against the emulator below):
# the drill says so instead of pretending the stacks are complete.
NOT_EMULATED = {
    "AWS::CloudWatch::Alarm": "moto's CloudFormation skips it (billing alarms)",
    "AWS::SNS::Subscription": "moto's CloudFormation skips it (the drill subscribes SQS itself)",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "drill",
        help="deploy the fleet into a local AWS emulator, trip one account, restore it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "accounts",
        nargs="?",
        type=Path,
        default=DEFAULT_FLEET_FILE,
        help="the fleet file (default: accounts.yaml)",
    )
    parser.set_defaults(func=run_drill_command)


def run_drill_command(args: argparse.Namespace) -> int:
    try:
        result = run_drill(args.accounts)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    except (DrillError, EmulatorError, SettingsError, ClientError, BotoCoreError) as error:
        # SettingsError: the deployed guard's environment is wrong (a variable the stack forgot).
        print(f"drill failed: {error}", file=sys.stderr)
        return 1
    return 0 if result.ok else 1


def run_drill(
    fleet_file: Path,
    *,
    out: Callable[[str], None] = print,
    drop_statements: Sequence[str] = (),
    workdir_parent: Path | None = None,
) -> DrillResult:
    """The whole drill; `drop_statements` removes those Sids from the tripped guard's role first
    (to prove the IAM check can fail). The emulator and the work directory never outlive it."""
    fleet = load_fleet(fleet_file)
    progress = Progress(out)
    workdir = Path(tempfile.mkdtemp(prefix="runawaytrain-drill-", dir=workdir_parent))
    try:
        with Emulator(workdir / "moto.log") as emulator:
            assert emulator.process is not None
            progress(f"emulator: moto_server pid {emulator.process.pid} on {emulator.endpoint}")
            return _drill(
                fleet,
                fleet_file=fleet_file,
                emulator=emulator,
                workdir=workdir,
                progress=progress,
                drop_statements=drop_statements,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _drill(
    fleet: Fleet,
    *,
    fleet_file: Path,
    emulator: Emulator,
    workdir: Path,
    progress: Progress,
    drop_statements: Sequence[str],
) -> DrillResult:
    result = DrillResult()
    tripped, quiet = choose_scenario(fleet)
    result.tripped, result.quiet = tripped.name, quiet.name if quiet else ""
    dry_run = next((a for a in fleet.sub_accounts if a.mode is Mode.DRY_RUN), None)
    result.dry_run = dry_run.name if dry_run else ""
    for account in fleet.accounts:
        for environment in list_bootstrap_environments(fleet, account):
            region = environment.rsplit("/", 1)[1]
            bootstrap(emulator.operator(account.id, region), account.id, region)
    progress(f"bootstrap: {len(fleet.accounts)} account(s) (asset bucket + version parameter)")
    deploy(emulator, fleet_file, workdir, progress, list_region_stacks(fleet))
    result.not_emulated = report_not_emulated(emulator, fleet, workdir, progress)
    for account in fleet.accounts:
        result.guards[account.name] = read_guard(emulator, account)
        subscribe_inbox(emulator, result.guards[account.name])
    progress(f"read back {len(result.guards)} guard(s): environment, role; SQS on each topic")
    check_fast_trip(emulator, fleet, result, tripped, progress)
    users = seed(emulator, tripped, quiet, result)
    progress(
        f"seeded: {tripped.name} {len(result.seeded[tripped.name])} instance(s) "
        f"(limit {tripped.ec2_limit}), users {', '.join(users)}"
        + (f"; {quiet.name} {len(result.seeded[quiet.name])} (quiet)" if quiet else "")
        + (
            f"; {result.dry_run} {len(result.seeded[result.dry_run])} (dry-run, over its limit)"
            if result.dry_run
            else ""
        )
    )
    progress(f"seeded: {tripped.name} {describe_capacity(result.capacity)}")
    for guard in result.guards.values():
        prepare_role_for_emulator(emulator, guard)
    progress(
        "IAM: moto checks actions, not resources or conditions: each deployed Allow statement "
        'is widened to Resource "*" for the run (actions and Deny statements as deployed)'
    )
    for sid in drop_statements:
        drop_role_statement(emulator, result.guards[tripped.name], sid)
        progress(f"removed statement {sid} from {tripped.name}'s guard role")
    run_guards(emulator, result, progress)
    show_guards(result, progress.out)
    check_watchdog(emulator, fleet, result, progress, workdir)
    check_trip(emulator, result, tripped, quiet, users)
    restore_tripped(emulator, result, result.guards[tripped.name], progress)
    check_restore(emulator, result, tripped, users)
    show_summary(result, progress)
    return result


def deploy(
    emulator: Emulator,
    fleet_file: Path,
    workdir: Path,
    progress: Progress,
    region_stacks: Mapping[str, str] | None = None,
) -> None:
    """The real CDK CLI, `cdk deploy --all`, into the emulator: a line per finished guard or
    billing stack, and one counting the fast-trip Region stacks (`region_stacks`: stack name
    -> account name), up to 16 per account."""
    region_stacks = region_stacks or {}
    regional: dict[str, int] = {}
    npx = shutil.which("npx")
    if npx is None:
        raise DrillError("npx not found: install Node 20+ and run `npm ci` in the repository")
    env = emulator.cli_environment()
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # app.py's python3
    command = [
        npx,
        "cdk",
        "deploy",
        "--all",
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
        "deploy: npx cdk deploy --all (synth + a guard stack per account, its fast-trip Region "
        "stacks, the billing stack)"
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
    lines += GAPS_FILLED
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
    missing_rules = [
        account.name
        for account in fleet.budgeted_accounts
        if not _billing_rule_exists(emulator.operator(account.id, account.home_region), account)
    ]
    if missing_rules:
        lines.append(
            f"AWS::Events::Rule x{len(missing_rules)} on the bus {BILLING_BUS}: moto's "
            "CloudFormation fails to create a rule whose EventBusName is a reference (accounts "
            + ", ".join(missing_rules)
            + "); the billing route is covered by the stack tests"
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


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def prepare_role_for_emulator(emulator: Emulator, guard: Guard) -> None:
    """moto checks actions but hardly resources or conditions: it evaluates a request against
    the resource "*" (IAM role actions excepted: those get the role's ARN), so an Allow narrowed
    to ARNs never matches, and it turns an Allow whose condition keys it does not supply into a
    Deny. So each Allow statement of the deployed role is widened to Resource "*" without
    conditions; actions, Deny statements and everything the statements leave out stay exactly
    as deployed (the Deny on /runawaytrain/ roles is checked: see check_own_role_protected).
    Resource and condition narrowing are covered by the stack's assertion tests."""
    iam = emulator.operator(guard.account.id, guard.account.home_region).client("iam")
    name = _role_name(guard.role_arn)
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = _policy_document(iam, name, policy)
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                statement["Resource"] = "*"
                statement.pop("Condition", None)
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document))


def _policy_document(iam: Any, role: str, policy: str) -> dict[str, Any]:
    """An inline role policy; moto's CloudFormation stores it as a Python repr, not JSON."""
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            document = ast.literal_eval(document)
    return dict(document)


def drop_role_statement(emulator: Emulator, guard: Guard, sid: str) -> None:
    iam = emulator.operator(guard.account.id, guard.account.home_region).client("iam")
    name = _role_name(guard.role_arn)
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = _policy_document(iam, name, policy)
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        if len(kept) != len(document["Statement"]):
            document["Statement"] = kept
            iam.put_role_policy(
                RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document)
            )
            return
    raise DrillError(f"no statement {sid!r} in the role {name}")


def guard_clients(emulator: Emulator, guard: Guard) -> ClientFactory:
    """The deployed role's credentials (assumed while enforcement is still off)."""
    region = guard.account.home_region
    session = emulator.assume(
        guard.role_arn, region, via=emulator.operator(guard.account.id, region)
    )
    return ClientFactory(session)


def run_guards(emulator: Emulator, result: DrillResult, progress: Progress) -> None:
    factories = {name: guard_clients(emulator, guard) for name, guard in result.guards.items()}
    launch_pending(emulator, result.guards[result.tripped].account, result)
    emulator.set_iam_enforcement(True)
    try:  # the tripped account first, while its last launch is still pending
        for name, guard in sorted(result.guards.items(), key=lambda g: g[0] != result.tripped):
            settings = Settings.from_env(guard.environment)
            invocation = Invocation()  # the schedule's prompt
            sleep = None
            if name == result.tripped and result.capacity is not None:
                sleep = result.capacity.sleep  # counts the wait for the pending launch
            if name == result.tripped and result.launch_batch is not None:
                invocation = parse_invocation(result.launch_batch)  # the fast trip's prompt
            guard.report = run_guard(
                settings, invocation, factories[name], guard.account.id, guard.function, sleep=sleep
            )
            progress(f"guard {name}: {guard.report.summary()}")
        for name, guard in result.guards.items():
            check_own_role_protected(result, guard, factories[name])
    finally:
        emulator.set_iam_enforcement(False)
    for guard in result.guards.values():
        guard.mail = read_inbox(emulator, guard)


def check_own_role_protected(result: DrillResult, guard: Guard, clients: ClientFactory) -> None:
    """The deployed role's Deny: the guard may not loosen its own role (enforcement on)."""
    iam = clients.client("iam", guard.account.home_region)
    try:
        iam.put_role_policy(
            RoleName=_role_name(guard.role_arn),
            PolicyName="drill-escalation",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        result.check(
            f"{guard.account.name}: guard cannot modify its own role", code == "AccessDenied", code
        )
        return
    result.check(f"{guard.account.name}: guard cannot modify its own role", False, "it could")


def read_inbox(emulator: Emulator, guard: Guard) -> list[dict[str, Any]]:
    region = guard.queue_region
    sqs = emulator.operator(guard.account.id, region).client("sqs", region_name=region)
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=guard.queue_url, MaxNumberOfMessages=10)
        if not batch.get("Messages"):
            return found
        for message in batch["Messages"]:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=guard.queue_url, ReceiptHandle=message["ReceiptHandle"])


def restore_tripped(
    emulator: Emulator, result: DrillResult, guard: Guard, progress: Progress
) -> None:
    clients = guard_clients(emulator, guard)
    invocation = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
    emulator.set_iam_enforcement(True)
    try:
        result.restore = run_restore(
            Settings.from_env(guard.environment), invocation, clients, guard.account.id
        )
    finally:
        emulator.set_iam_enforcement(False)
    progress(f"restore {guard.account.name}: {result.restore.reason}")
