"""The drill's fast-trip checks: the deployed route from EC2 launches to the guard's queue.

Read back from the emulator after `cdk deploy --all`: every watched Region's rule forwards
launches to the home Region's bus with the forwarder role, and the guard's event source mapping
polls the queue in batches. Then, for the tripped account, a launch event is put on a default
bus in another Region and in the home Region, the way EC2 would, and both must arrive on the
queue unchanged. What the emulator does not do is said, not hidden (see NOT_EMULATED).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from runawaytrain_cli.drill.emulator import Emulator, EmulatorSession
from runawaytrain_cli.drill.queues import drain_queue
from runawaytrain_cli.drill.scenario import DrillContext, DrillResult
from runawaytrain_cli.fleet_file import plural
from runawaytrain_stack.fleet_model import Account, Fleet, list_fast_trip_regions
from runawaytrain_stack.names import (
    FAST_TRIP_BUS_NAME,
    FAST_TRIP_FORWARDER_ROLE_NAME,
    ROLE_PATH,
    name_fast_trip_stack,
)

NOT_EMULATED = [
    "fast trip: moto's event source mapping does not invoke the guard (the drill reads the "
    "queue itself), and moto delivers rule targets without checking the forwarder role or the "
    "queue policy; both are covered by the stack tests",
    "fast trip: EC2 in moto emits no state-change events; the drill puts the event EC2 would "
    "(moto also rewrites a forwarded event's `region` to the receiving Region)",
]
LAUNCHED = "i-0f0a57c0de0fa57f0"  # the instance id in the drill's launch events


def list_region_stacks(fleet: Fleet) -> dict[str, str]:
    """Fast-trip Region stack name -> account name, for every account of the fleet."""
    return {
        name_fast_trip_stack(account, region): account.name
        for account in fleet.accounts
        for region in list_fast_trip_regions(account)
        if region != account.home_region
    }


def step_fast_trip(drill: DrillContext) -> None:
    """Every account's rules and queue poller; launches reach the target account's queue."""
    target = drill.result.guards[drill.result.target].account
    check_fast_trip(drill.emulator, drill.fleet, drill.result, target, drill.progress)


def check_fast_trip(
    emulator: Emulator,
    fleet: Fleet,
    result: DrillResult,
    tripped: Account,
    progress: Callable[[str], None],
) -> None:
    # The construct module loads the CDK (and Node): only when the drill runs, never for the
    # operator commands that share this CLI (restore must work without Node).
    from runawaytrain_stack.fast_trip import BATCH_SIZE, MAX_BATCHING_WINDOW_S

    queues: dict[str, str] = {}
    for account in fleet.accounts:
        if not account.fast_trip:
            result.skip(f"{account.name}: fast trip", "fast_trip: false in accounts.yaml")
            continue
        # One session per account (an AssumeRole each): clients for every Region come from it.
        session = emulator.operator(account.id, account.home_region)
        others = [r for r in list_fast_trip_regions(account) if r != account.home_region]
        forwarded = f"{account.name}: launches in other Regions forwarded to {account.home_region}"
        if not others:
            result.skip(forwarded, "it watches only its home Region (regions: in accounts.yaml)")
        else:
            missing = [r for r in others if not _forwards_launches(session, account, r)]
            result.check(
                f"{account.name}: launches in {plural(len(others), 'other Region')} forwarded "
                f"to {account.home_region}",
                not missing,
                f"no forwarding rule in {', '.join(missing)}",
            )
        mapping = _read_poller(session, account, result.guards[account.name].function)
        expected = (BATCH_SIZE, MAX_BATCHING_WINDOW_S, 2, "Enabled")
        found = (
            mapping.get("BatchSize"),
            mapping.get("MaximumBatchingWindowInSeconds"),
            mapping.get("ScalingConfig", {}).get("MaximumConcurrency"),
            mapping.get("State"),
        )
        result.check(
            f"{account.name}: the guard polls its fast-trip queue in batches",
            found == expected,
            "found batch size {}, window {} s, concurrency {}, {}; expected {}".format(
                *found, "batch size {}, window {} s, concurrency {}, {}".format(*expected)
            ),
        )
        queues[account.name] = str(mapping.get("EventSourceArn", ""))
    if not queues:
        result.skip("launch events reach the guard's queue", "fast_trip: false in every account")
        return
    progress(f"fast trip: read back the rules and queue pollers of {len(queues)} account(s)")
    if tripped.name in queues:
        session = emulator.operator(tripped.id, tripped.home_region)
        _check_route(session, result, tripped, queues[tripped.name], progress)
    else:
        result.skip(
            f"{tripped.name}: launch events reach the guard's queue",
            "its fast_trip is false: the schedule prompts its run",
        )
    for line in NOT_EMULATED:
        result.not_emulated.append(line)
        progress(f"not emulated: {line}")


def _forwards_launches(session: EmulatorSession, account: Account, region: str) -> bool:
    """Some rule on the Region's default bus targets the home bus with the forwarder role (the
    emulator's partition is aws)."""
    events = session.client("events", region_name=region)
    bus = f"arn:aws:events:{account.home_region}:{account.id}:event-bus/{FAST_TRIP_BUS_NAME}"
    role = f"arn:aws:iam::{account.id}:role{ROLE_PATH}{FAST_TRIP_FORWARDER_ROLE_NAME}"
    for rule in events.list_rules()["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        if any(t["Arn"] == bus and t.get("RoleArn") == role for t in targets):
            return True
    return False


def _read_poller(session: EmulatorSession, account: Account, function: str) -> dict[str, Any]:
    lam = session.client("lambda", region_name=account.home_region)
    found = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    return found[0] if len(found) == 1 else {}


def _check_route(
    session: EmulatorSession,
    result: DrillResult,
    account: Account,
    queue_arn: str,
    progress: Callable[[str], None],
) -> None:
    """A launch in another Region and one at home both reach the queue, bodies unchanged."""
    from runawaytrain_stack.fast_trip import LAUNCH_DETAIL_TYPE, LAUNCH_SOURCE, LAUNCH_STATE

    home = account.home_region
    regions = [r for r in list_fast_trip_regions(account) if r != home][:1]
    if home in list_fast_trip_regions(account):
        regions.append(home)
    event = {
        "Source": LAUNCH_SOURCE,
        "DetailType": LAUNCH_DETAIL_TYPE,
        "Detail": json.dumps({"instance-id": LAUNCHED, "state": LAUNCH_STATE}),
    }
    for region in regions:
        events = session.client("events", region_name=region)
        events.put_events(Entries=[event])  # moto accepts an aws.* source; AWS would not
    messages = _drain(session, account, queue_arn)
    bodies = [json.loads(message["Body"]) for message in messages]
    launches = [
        body
        for body in bodies
        if body.get("source") == LAUNCH_SOURCE
        and body.get("detail-type") == LAUNCH_DETAIL_TYPE
        and body.get("detail") == {"instance-id": LAUNCHED, "state": LAUNCH_STATE}
    ]
    where = " and ".join(regions)
    result.check(
        f"{account.name}: launch events in {where} reach the guard's queue unchanged",
        len(launches) == len(bodies) == len(regions),
        f"{len(bodies)} message(s) on the queue, {len(launches)} of them the launch event",
    )
    progress(f"fast trip: {account.name}: launches put in {where}, {len(bodies)} queued")
    # What Lambda's poller would invoke the guard with: the account's trip runs on this batch.
    result.launch_batch = as_lambda_event(messages, queue_arn)


def as_lambda_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """SQS messages as Lambda's SQS event source mapping delivers them to the function."""
    region = queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else ""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def _drain(session: EmulatorSession, account: Account, queue_arn: str) -> list[dict[str, Any]]:
    sqs = session.client("sqs", region_name=account.home_region)
    try:
        url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
    except ClientError:
        return []
    return drain_queue(sqs, url)
