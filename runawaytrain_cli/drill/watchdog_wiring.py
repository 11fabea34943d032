"""The drill's watchdog step, second half: the quiet account's notify list is unsubscribed, then
its billing bus loses the payer's permission; the payer's watchdog mails once for each, and not
again at the next check.

moto's CloudFormation creates no AWS::SNS::Subscription, AWS::Events::EventBusPolicy or
AWS::SQS::QueuePolicy, and keeps a key's KeyPolicy in a form its DescribeKey cannot read: before
the watchdog's first check the drill makes them as the deployed template says (the watchdog's own
resolver, watchdog/template.py, reads it), and says so under "not emulated".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from runawaytrain_cli.drill.checks import Progress
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.scenario import DrillResult, Guard
from runawaytrain_stack.names import name_guard_stack
from watchdog.template import Where, read_expected

TAMPERED = "tampered with"  # in the subject of the watchdog's tampering mail (watchdog/mail.py)
STILL = "Mailed before and still so:"  # heads its findings mailed before (watchdog/mail.py)


@dataclass
class Wiring:
    """What the drill made in the quiet account, to undo it as an insider would."""

    subscriptions: list[str] = field(default_factory=list)  # subscription ARNs
    buses: list[str] = field(default_factory=list)  # billing buses given their policy
    stand_ins: list[str] = field(default_factory=list)
    failed: str = ""  # why the stand-ins could not be made


def stand_in_wiring(emulator: Emulator, guard: Guard) -> Wiring:
    try:
        return _stand_in_wiring(emulator, guard)
    except (ClientError, BotoCoreError, ResponseParserError, ValueError, KeyError) as error:
        # An emulator answer botocore cannot parse (a 500 page: ResponseParserError, not a
        # BotoCoreError) included: nothing to compare with. moto_server answered
        # ListStackResources on a deployed guard stack so until strict_aws/cloudformation.py.
        return Wiring(failed=f"{type(error).__name__}: {str(error)[:160]}")


def _stand_in_wiring(emulator: Emulator, guard: Guard) -> Wiring:
    account = guard.account
    region = account.home_region
    session = emulator.operator(account.id, region)
    cloudformation = session.client("cloudformation", region_name=region)
    stack = name_guard_stack(account)
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        for r in page["StackResourceSummaries"]
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }
    body = cloudformation.get_template(StackName=stack)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else dict(body)
    expected = read_expected(template, physical, Where("aws", region, account.id))
    wiring = Wiring()
    if expected.topic_arn is not None:
        sns = session.client("sns", region_name=region)
        for email in expected.emails:
            arn = sns.subscribe(
                TopicArn=expected.topic_arn,
                Protocol="email",
                Endpoint=email,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            wiring.subscriptions.append(arn)
    events = session.client("events", region_name=region)
    for bus, statements in expected.bus_policies.items():
        policy = {"Version": "2012-10-17", "Statement": statements}
        events.put_permission(EventBusName=bus, Policy=json.dumps(policy))
        wiring.buses.append(bus)
    sqs = session.client("sqs", region_name=region)
    for url, statements in expected.queue_policies.items():
        policy = {"Version": "2012-10-17", "Statement": statements}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    if expected.key_id is not None:
        kms = session.client("kms", region_name=region)
        key = template["Resources"]
        (policy,) = [
            r["Properties"]["KeyPolicy"] for r in key.values() if r["Type"] == "AWS::KMS::Key"
        ]
        policy = json.loads(json.dumps(policy).replace('{"Ref": "AWS::Partition"}', '"aws"'))
        kms.put_key_policy(
            KeyId=expected.key_id, PolicyName="default", Policy=json.dumps(_joined(policy))
        )
    wiring.stand_ins.append(
        f"{account.name}'s notify subscriptions (pending, as AWS has them until confirmed), "
        "billing bus policy and fast-trip queue policy: moto's CloudFormation creates none; the "
        "drill makes them as the deployed template says, and puts the topic key's policy as text "
        "(moto keeps the template's object, which its DescribeKey cannot read)"
    )
    return wiring


def _joined(value: Any) -> Any:
    """Fn::Join of plain strings (the key policy's account root ARN) as its string."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return str(separator).join(str(p) for p in parts)
        return {k: _joined(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_joined(v) for v in value]
    return value


def check_tampering(
    emulator: Emulator,
    guard: Guard,
    wiring: Wiring,
    *,
    run: Any,  # (now) -> the check's outcome, the heartbeats of the others replayed
    drain: Any,  # () -> the payer inbox's new mails
    at: datetime,
    result: DrillResult,
    progress: Progress,
) -> None:
    account = guard.account
    session = emulator.operator(account.id, account.home_region)
    label = f"{account.name} ({account.id})"
    changes = [
        (
            "an unsubscribed notify list",
            "is not subscribed to the guard's topic",
            lambda: [
                session.client("sns", region_name=account.home_region).unsubscribe(
                    SubscriptionArn=arn
                )
                for arn in wiring.subscriptions
            ],
            bool(wiring.subscriptions),
        ),
        (
            "a removed billing-bus permission",
            "policy lost a statement the guard stack set",
            lambda: [
                session.client("events", region_name=account.home_region).remove_permission(
                    EventBusName=bus, RemoveAllPermissions=True
                )
                for bus in wiring.buses
            ],
            bool(wiring.buses),
        ),
    ]
    for number, (what, says, change, possible) in enumerate(changes, start=1):
        name = f"watchdog: {what} in {account.name} is mailed once"
        if wiring.failed:
            result.skip(name, f"the emulator could not list the guard stack: {wiring.failed}")
            continue
        if not possible:
            result.skip(name, f"{account.name}'s guard stack has none")
            continue
        change()
        run(at + timedelta(minutes=2 * number - 1))
        mails = [m for m in drain() if label in m["Subject"] and TAMPERED in m["Subject"]]
        # A tampering mail lists what is new, then what was mailed before and is still so
        # (watchdog/mail.py): only the new part counts as this change's mail.
        news = [m["Message"].partition(STILL)[0] for m in mails]
        for mail, new in zip(mails, news, strict=True):
            for line in new.splitlines():
                if line.startswith("- "):
                    progress(f"watchdog mail: {line}")
            still = [
                ln for ln in mail["Message"].partition(STILL)[2].splitlines() if ln[:2] == "- "
            ]
            if still:
                progress(f"watchdog mail: ({len(still)} mailed before and still so, not again)")
        earlier = [c[1] for c in changes[: number - 1]]
        result.check(
            name,
            len(mails) == 1 and says in news[0] and not any(e in news[0] for e in earlier),
            f"{len(mails)} mail(s): {[m['Message'][:300] for m in mails]}",
        )
        again = run(at + timedelta(minutes=2 * number))
        result.check(
            f"watchdog: {what}: no repeat at the next check",
            "tampering" not in again.get("mailed", {}).get(account.id, "") and not drain(),
            str(again),
        )
