"""The drill's watchdog step: a quiet account's guard schedule is disabled; the payer's watchdog,
its clock moved past 3 of that account's intervals, mails the payer's list once, naming the
account and "schedule disabled". Then its notify list is unsubscribed and its billing bus loses
the payer's permission: one mail each, no repeat (watchdog_wiring.py).

Run with the watchdog's deployed role and, through it, the member's deployed reader role (its
trust policy enforced by the strict layer). What the emulator cannot do is done in the open and
said under "not emulated":
- the payer's heartbeat rule targets the watchdog function, and the emulator invokes no Lambda
  target: the drill hands the watchdog the heartbeat each guard composed (its report), as the
  heartbeat rule would;
- moto's CloudFormation does not create AWS::Scheduler::Schedule: the drill creates the quiet
  account's schedule as a stand-in, then disables it as an administrator would;
- the other guards keep running in real life while the clock moves on; the drill replays their
  last heartbeats at the moved clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from guard.payer_events import HEARTBEAT, SOURCE
from runawaytrain_cli.drill.checks import Progress
from runawaytrain_cli.drill.emulator import Emulator, EmulatorSession
from runawaytrain_cli.drill.queues import drain_bodies
from runawaytrain_cli.drill.scenario import DrillContext, DrillError, DrillResult, Guard
from runawaytrain_cli.drill.watchdog_wiring import check_tampering, stand_in_wiring
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import (
    PAYER_STACK_NAME,
    ROLE_PATH,
    SCHEDULE_NAME,
    SCHEDULER_ROLE_NAME,
)
from watchdog.handler import Settings, check, record
from watchdog.health import OVERDUE_INTERVALS

FUNCTION_PREFIX = f"{PAYER_STACK_NAME}-WatchdogFunction"
NOT_EMULATED = (
    "the payer's heartbeat rule: moto invokes no Lambda target, so the drill hands each guard's "
    "heartbeat (from its report) to the watchdog's code as that rule would",
    "watchdog: run with IAM enforcement off (moto refuses the reader role's cross-account "
    "session although its policy allows the calls); the reader role's trust policy is enforced, "
    "both roles' actions are checked by the stack tests",
)


def check_watchdog(
    emulator: Emulator, fleet: Fleet, result: DrillResult, progress: Progress
) -> None:
    """After the guards ran: disable the quiet account's schedule, move the watchdog's clock past
    3 intervals, run its check, expect exactly one mail naming that account."""
    if not fleet.sub_accounts or not result.quiet:
        return
    quiet = result.guards[result.quiet]
    region = fleet.payer.home_region
    operator = emulator.operator(fleet.payer.id, region)
    settings, watchdog = _prepare(emulator, fleet, quiet)
    inbox = _subscribe(operator, region, settings.topic_arn)
    wiring = stand_in_wiring(emulator, quiet)
    stand_ins = list(wiring.stand_ins)
    now = datetime.now(UTC)
    _replay(watchdog, settings, result.guards.values(), at=None)
    _run_check(emulator, watchdog, settings, now)
    _drain(operator, region, inbox)  # the guards' own reports: not this step's news
    if _disable_schedule(emulator, quiet):
        stand_ins.append(
            f"AWS::Scheduler::Schedule: the drill created {quiet.account.name}'s "
            f"{SCHEDULE_NAME} as a stand-in (moto's CloudFormation does not), then disabled it"
        )
    for line in [*stand_ins, *NOT_EMULATED]:
        result.not_emulated.append(line)
        progress(f"not emulated: {line}")
    later = now + timedelta(minutes=OVERDUE_INTERVALS * quiet.account.schedule_minutes + 1)
    others = [g for g in result.guards.values() if g is not quiet]
    _replay(watchdog, settings, others, at=later)  # their schedules kept running
    # IAM enforcement stays off: moto's enforcement refuses the reader role's cross-account
    # session (403) although its policy allows each call. The reader role's trust is enforced
    # (strict_aws/sts.py); both roles' actions are checked by tests/stack/test_watchdog_stack.py.
    outcome = _run_check(emulator, watchdog, settings, later)
    mails = _drain(operator, region, inbox)
    label = f"{quiet.account.name} ({quiet.account.id})"
    naming = [m for m in mails if label in m["Subject"]]
    progress(
        f"watchdog: {quiet.account.name}'s schedule disabled, clock +{later - now}; check mailed "
        + (
            ", ".join(f"{k} ({v})" for k, v in sorted(outcome.get("mailed", {}).items()))
            or "nothing"
        )
    )
    for mail in naming:
        for line in mail["Message"].splitlines():
            if line.startswith("- "):
                progress(f"watchdog mail: {line}")
    result.check(
        f"watchdog: one mail to the payer naming {quiet.account.name}",
        len(naming) == 1,
        f"{len(naming)} mail(s): {[m['Subject'] for m in mails]}",
    )
    result.check(
        "watchdog: the mail says schedule disabled",
        any("schedule disabled" in m["Message"] for m in naming),
        naming[0]["Message"][:300] if naming else "no mail",
    )
    again = _run_check(emulator, watchdog, settings, later + timedelta(minutes=1))
    result.check(
        "watchdog: no repeat mail while nothing changed",
        not again.get("mailed") and not _drain(operator, region, inbox),
        str(again),
    )
    check_tampering(
        emulator,
        quiet,
        wiring,
        run=lambda at: _run_check(emulator, watchdog, settings, at),
        drain=lambda: _drain(operator, region, inbox),
        at=later + timedelta(minutes=2),
        result=result,
        progress=progress,
    )


def _prepare(emulator: Emulator, fleet: Fleet, quiet: Guard) -> tuple[Settings, EmulatorSession]:
    """The deployed watchdog's settings and a session with its role, roles widened for moto."""
    payer = fleet.payer
    operator = emulator.operator(payer.id, payer.home_region)
    config = _find_watchdog(operator, payer.home_region)
    if config is None:
        raise DrillError(
            f"no watchdog function {FUNCTION_PREFIX}* in {payer.id}/{payer.home_region}: "
            f"{PAYER_STACK_NAME} was not deployed whole (see cdk-deploy.log)"
        )
    settings = Settings.from_env(config["Environment"]["Variables"])
    reader = next(a for a in settings.accounts if a.id == quiet.account.id)
    _widen(emulator, payer.id, payer.home_region, config["Role"])
    _widen(emulator, quiet.account.id, quiet.account.home_region, settings.reader_role_arn(reader))
    watchdog = emulator.assume(config["Role"], payer.home_region, via=operator)
    return settings, watchdog


def _find_watchdog(operator: EmulatorSession, region: str) -> dict[str, Any] | None:
    lam = operator.client("lambda", region_name=region)
    for page in lam.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            if function["FunctionName"].startswith(FUNCTION_PREFIX):
                return dict(lam.get_function_configuration(FunctionName=function["FunctionName"]))
    return None


def _subscribe(operator: EmulatorSession, region: str, topic_arn: str) -> str:
    """An SQS queue on the payer's topic: the payer's inbox."""
    sqs = operator.client("sqs", region_name=region)
    url = str(sqs.create_queue(QueueName="drill-inbox-payer-watchdog")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    operator.client("sns", region_name=region).subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn
    )
    return url


def _drain(operator: EmulatorSession, region: str, url: str) -> list[dict[str, Any]]:
    return drain_bodies(operator.client("sqs", region_name=region), url)


def _widen(emulator: Emulator, account: str, region: str, role_arn: str) -> None:
    """As the drill does for the guards' roles (trip.py prepare_role_for_emulator): moto matches
    actions against Resource "*" only, so each Allow is widened to it, actions as deployed."""
    from runawaytrain_cli.drill.trip import _policy_document

    iam = emulator.operator(account, region).client("iam")
    name = role_arn.rsplit("/", 1)[-1]
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = _policy_document(iam, name, policy)
        for statement in document["Statement"]:
            if statement["Effect"] == "Allow":
                statement["Resource"] = "*"
                statement.pop("Condition", None)
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(document))


def _replay(
    watchdog: EmulatorSession, settings: Settings, guards: Any, at: datetime | None
) -> None:
    ssm = watchdog.client("ssm", region_name=_region(settings))
    for guard in guards:
        detail = guard.report.heartbeat if guard.report is not None else None
        if not detail:
            continue
        event = {
            "source": SOURCE,
            "detail-type": HEARTBEAT,
            "account": guard.account.id,  # EventBridge sets it to the sender
            "time": (at.isoformat() if at is not None else detail["time"]),
            "detail": detail,
        }
        record(event, settings, ssm, now=at or datetime.now(UTC))


def _region(settings: Settings) -> str:
    return settings.topic_arn.split(":")[3]


def _run_check(
    emulator: Emulator, watchdog: EmulatorSession, settings: Settings, now: datetime
) -> dict[str, Any]:
    region = _region(settings)
    return check(
        settings,
        ssm=watchdog.client("ssm", region_name=region),
        sns=watchdog.client("sns", region_name=region),
        assume=lambda role_arn, home: emulator.assume(role_arn, home, via=watchdog),
        now=now,
    )


def _disable_schedule(emulator: Emulator, guard: Guard) -> bool:
    """Disables the guard's schedule; returns whether the drill had to create it first."""
    account = guard.account
    scheduler = emulator.operator(account.id, account.home_region).client(
        "scheduler", region_name=account.home_region
    )
    target = {
        "Arn": f"arn:aws:lambda:{account.home_region}:{account.id}:function:{guard.function}",
        "RoleArn": f"arn:aws:iam::{account.id}:role{ROLE_PATH}{SCHEDULER_ROLE_NAME}",
        "Input": json.dumps({"trigger": "schedule"}),
    }
    created = False
    try:
        scheduler.get_schedule(Name=SCHEDULE_NAME)
    except ClientError:
        scheduler.create_schedule(
            Name=SCHEDULE_NAME,
            ScheduleExpression=f"rate({account.schedule_minutes} minutes)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )
        created = True
    scheduler.update_schedule(
        Name=SCHEDULE_NAME,
        ScheduleExpression=f"rate({account.schedule_minutes} minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        State="DISABLED",
    )
    return created


def step_watchdog(drill: DrillContext) -> None:
    """One guard's schedule disabled: after 3 intervals the payer's list gets one mail."""
    check_watchdog(drill.emulator, drill.fleet, drill.result, drill.progress)
