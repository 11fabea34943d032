"""The drill's middle steps: seed the scenario, run every deployed guard's code under its deployed
role with IAM enforcement on, check the trip, restore the tripped account and check that."""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger, parse_invocation
from guard.metrics import measure
from guard.settings import Action, Settings
from runawaytrain_cli.drill.checks import check_restore, check_trip, show_guards
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.launch_probe import seed_launcher
from runawaytrain_cli.drill.metrics import check_restore_metrics, check_trip_metrics
from runawaytrain_cli.drill.queues import drain_bodies
from runawaytrain_cli.drill.scenario import (
    DrillContext,
    DrillError,
    DrillResult,
    Guard,
    Progress,
    describe_capacity,
    launch_pending,
    seed,
)


def step_seed(drill: DrillContext) -> None:
    """Instances (and users) over the limit in the target account, a quiet one under it; the
    deployed roles made readable to moto's IAM check."""
    result, emulator = drill.result, drill.emulator
    drill.users = seed(emulator, drill.tripped, drill.quiet, result)
    if drill.tripped is not None:
        seed_launcher(emulator, drill.tripped)
    said = []
    if drill.tripped is not None:
        tripped = drill.tripped
        said.append(
            f"{tripped.name} {len(result.seeded[tripped.name])} instance(s) "
            f"(limit {tripped.ec2_limit}), users {', '.join(drill.users)}"
        )
    if drill.quiet is not None:
        said.append(f"{drill.quiet.name} {len(result.seeded[drill.quiet.name])} (quiet)")
    if result.dry_run:
        said.append(
            f"{result.dry_run} {len(result.seeded[result.dry_run])} (dry-run, over its limit)"
        )
    drill.progress(f"seeded: {'; '.join(said)}")
    if result.capacity is not None and drill.tripped is not None:
        drill.progress(f"seeded: {drill.tripped.name} {describe_capacity(result.capacity)}")
    target = result.guards[result.target].account
    seeded = len(result.seeded[target.name])
    result.check(
        f"{target.name}: seeded over its limit ({seeded} instances, limit {target.ec2_limit})",
        seeded > target.ec2_limit,
        "the scenario would not trip",
    )
    for guard in result.guards.values():
        prepare_role_for_emulator(emulator, guard)
    drill.progress(
        "IAM: moto checks actions, not resources or conditions: each deployed Allow statement "
        'is widened to Resource "*" for the run (actions and Deny statements as deployed)'
    )
    for sid in drill.drop_statements:
        drop_role_statement(emulator, result.guards[result.target], sid)
        drill.progress(f"removed statement {sid} from {result.target}'s guard role")


def step_trip(drill: DrillContext) -> None:
    """Every guard runs once (the target first, on the fast trip's launch events); what each
    counted, did and mailed is shown, then checked against the emulator."""
    run_guards(drill.emulator, drill.result, drill.progress)
    show_guards(drill.result, drill.progress.out)
    check_trip(drill.emulator, drill.result, drill.tripped, drill.users)
    check_trip_metrics(drill.result, drill.progress)


def step_restore(drill: DrillContext) -> None:
    """The tripped account restored by the guard's own restore, under its deployed role."""
    if drill.tripped is None:
        drill.result.skip(
            "restore undid the incident",
            "no account is in enforce mode: a dry-run trip changes nothing, so nothing to undo",
        )
        return
    restore_tripped(
        drill.emulator, drill.result, drill.result.guards[drill.tripped.name], drill.progress
    )
    check_restore(drill.emulator, drill.result, drill.tripped, drill.users)
    check_restore_metrics(drill.result, drill.tripped.name, drill.progress)


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
    for document, write in _role_documents(iam, _role_name(guard.role_arn)):
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                statement["Resource"] = "*"
                statement.pop("Condition", None)
        write(document)


def _role_documents(
    iam: Any, role: str
) -> Iterator[tuple[dict[str, Any], Callable[[dict[str, Any]], None]]]:
    """Each permissions policy of `role`, with what writes a changed copy back: its inline
    policies, then its managed ones (the guard's: runawaytrain_stack/guard.py), each as a new
    default version."""
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:

        def put(document: dict[str, Any], policy: str = policy) -> None:
            iam.put_role_policy(
                RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document)
            )

        yield _policy_document(iam, role, policy), put
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        stored = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]

        def new_version(document: dict[str, Any], arn: str = arn) -> None:
            iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
            )

        yield _parse_document(stored["Document"]), new_version


def _policy_document(iam: Any, role: str, policy: str) -> dict[str, Any]:
    """An inline role policy; moto's CloudFormation stores it as a Python repr, not JSON."""
    return _parse_document(iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"])


def _parse_document(document: Any) -> dict[str, Any]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            document = ast.literal_eval(document)
    return dict(document)


def drop_role_statement(emulator: Emulator, guard: Guard, sid: str) -> None:
    iam = emulator.operator(guard.account.id, guard.account.home_region).client("iam")
    name = _role_name(guard.role_arn)
    for document, write in _role_documents(iam, name):
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        if len(kept) != len(document["Statement"]):
            document["Statement"] = kept
            write(document)
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
    if result.tripped and result.capacity is not None:
        launch_pending(emulator, result.guards[result.tripped].account, result)
    emulator.set_iam_enforcement(True)
    try:  # the target account first, while the tripped one's last launch is still pending
        for name, guard in sorted(result.guards.items(), key=lambda g: g[0] != result.target):
            settings = Settings.from_env(guard.environment)
            invocation = Invocation()  # the schedule's prompt
            sleep = None
            if name == result.tripped and result.capacity is not None:
                sleep = result.capacity.sleep  # counts the wait for the pending launch
            if name == result.target and result.launch_batch is not None:
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
    return drain_bodies(sqs, guard.queue_url)


def restore_tripped(
    emulator: Emulator, result: DrillResult, guard: Guard, progress: Progress
) -> None:
    clients = guard_clients(emulator, guard)
    invocation = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
    emulator.set_iam_enforcement(True)
    started, calls = time.monotonic(), clients.calls
    try:
        result.restore = run_restore(
            Settings.from_env(guard.environment), invocation, clients, guard.account.id
        )
    finally:
        emulator.set_iam_enforcement(False)
    # What the handler's restore branch does after run_restore (guard/handler.py): its metrics.
    result.restore.metrics = measure(
        result.restore, run_seconds=time.monotonic() - started, aws_calls=clients.calls - calls
    )
    progress(f"restore {guard.account.name}: {result.restore.reason}")
