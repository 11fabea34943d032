"""Every guard run ends with one heartbeat on the payer's bus, after the halt and the mail; a bus
that refuses never stops the guard, and a guard with bad settings sends nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from guard.clients import ClientFactory
from guard.handler import handler
from guard.settings import SettingsError
from tests.guard.conftest import HOME, FakeContext, instance_states

BUS = "runawaytrain-payer"
BUS_ARN = f"arn:aws:events:{HOME}:{DEFAULT_ACCOUNT_ID}:event-bus/{BUS}"


@pytest.fixture
def payer_bus(aws: None) -> Any:
    """The payer's bus, here in the guard's own account (the payer's guard reports to its own
    bus), with a rule putting every heartbeat on a queue the test reads."""
    events = boto3.client("events", region_name=HOME)
    sqs = boto3.client("sqs", region_name=HOME)
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="heartbeats")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="heartbeats",
        EventBusName=BUS,
        EventPattern=json.dumps({"detail-type": ["Guard Heartbeat"]}),
    )
    events.put_targets(Rule="heartbeats", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def test_a_quiet_run_reports_what_the_watchdog_needs(launch, guard_env, payer_bus) -> None:
    launch(HOME, 2)
    guard_env(ec2limit=4, payer_bus=BUS_ARN, account_name="prod")

    handler({}, FakeContext())

    (event,) = payer_bus()
    # EventBridge adds `account` (the sender) to every event; moto's SQS target leaves it out.
    assert event["source"] == "runawaytrain.guard"
    detail = event["detail"]
    assert {k: detail[k] for k in ("account_name", "verdict", "count", "limit")} == {
        "account_name": "prod",
        "verdict": "ok",
        "count": 2,
        "limit": 4,
    }
    assert (detail["degraded"], detail["errors"], detail["switched_off"]) == (False, 0, "")


def test_a_trip_reports_after_the_halt_and_the_mail(
    launch, guard_env, payer_bus, shared: ClientFactory
) -> None:
    ids = launch(HOME, 3)
    guard_env(ec2limit=1, payer_bus=BUS_ARN)
    calls: list[str] = []
    shared.session.events.register(
        "before-call", lambda event_name, **_: calls.append(event_name.split(".")[-1])
    )

    report = handler({}, FakeContext())["report"]

    (event,) = payer_bus()
    assert event["detail"]["verdict"] == "trip"
    assert event["detail"]["incident"] == report["incident"]
    assert set(instance_states(HOME, ids).values()) == {"stopped"}
    assert calls.index("PutEvents") > max(calls.index("StopInstances"), calls.index("Publish"))
    assert calls.count("PutEvents") == 1


def test_a_bus_that_refuses_never_stops_the_guard(launch, guard_env, inbox, aws) -> None:
    ids = launch(HOME, 3)
    missing = BUS_ARN.replace(BUS, "no-such-bus")
    guard_env(ec2limit=1, payer_bus=missing)

    report = handler({}, FakeContext())["report"]

    assert report["tripped"] is True
    assert set(instance_states(HOME, ids).values()) == {"stopped"}
    assert report["notified"] is True and len(inbox.messages()) == 1
    assert "ResourceNotFoundException" in report["heartbeat_error"]
    assert report["action_errors"] == []  # the mail already went; the watchdog will notice


def test_a_switched_off_guard_says_so(guard_env, payer_bus) -> None:
    guard_env(ec2limit=4, payer_bus=BUS_ARN, envaction="pass")

    assert handler({}, FakeContext())["report"]["verdict"] == "void"

    (event,) = payer_bus()
    assert event["detail"]["switched_off"] == "envaction=pass"


def test_a_restore_reports_too(launch, guard_env, payer_bus) -> None:
    launch(HOME, 3)
    guard_env(ec2limit=1, payer_bus=BUS_ARN)
    incident = handler({}, FakeContext())["report"]["incident"]
    payer_bus()

    handler({"action": "restore", "incident": incident}, FakeContext())

    (event,) = payer_bus()
    assert event["detail"]["verdict"] == "restore"


def test_bad_settings_send_nothing(guard_env, payer_bus) -> None:
    guard_env(ec2limit="four", payer_bus=BUS_ARN)

    with pytest.raises(SettingsError):
        handler({}, FakeContext())

    assert payer_bus() == []
