"""Every event shape the guard can be invoked with, parsed without AWS."""

from __future__ import annotations

import json

import pytest

from guard.invocation import Invocation, SpendRate, Trigger, parse_invocation
from guard.settings import Action

ALARM_DETAIL = {"alarmName": "runawaytrain-billing-222222222222", "state": {"value": "ALARM"}}


def eventbridge_alarm(state: str) -> dict:
    return {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {**ALARM_DETAIL, "state": {"value": state}},
    }


def spend_event(**detail: object) -> dict:
    return {"source": "runawaytrain.spend", "detail-type": "Spend Rate Exceeded", "detail": detail}


SPEND_DETAIL = {
    "account": "222222222222",
    "spend_24h_usd": 1234.5,
    "limit_usd": "500",
    "newest_data": "2026-11-26T09:00:00+00:00",
    "delivery": "20261126T090000Z",
}


def sns_alarm(state: str) -> dict:
    message = {"AlarmName": "monthly-budget", "NewStateValue": state}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (None, Invocation()),
        ("pass", Invocation()),
        ([{"action": "pass"}], Invocation()),
        ({}, Invocation()),
        ({"source": "aws.scheduler"}, Invocation()),
        ({"action": "pass"}, Invocation(Action.PASS, Trigger.OPERATOR)),
        ({"action": " Pass "}, Invocation(Action.PASS, Trigger.OPERATOR)),
        ({"action": "proceed"}, Invocation(Action.PROCEED, Trigger.OPERATOR)),
        ({"action": "halt"}, Invocation(Action.PROCEED, Trigger.OPERATOR, "halt")),
        ({"action": None}, Invocation(Action.PROCEED, Trigger.OPERATOR)),
        (
            eventbridge_alarm("ALARM"),
            Invocation(Action.PROCEED, Trigger.BILLING_ALARM, None, ALARM_DETAIL["alarmName"]),
        ),
        (eventbridge_alarm("OK"), Invocation()),
        (eventbridge_alarm("INSUFFICIENT_DATA"), Invocation()),
        (
            sns_alarm("ALARM"),
            Invocation(Action.PROCEED, Trigger.BILLING_ALARM, None, "monthly-budget"),
        ),
        (sns_alarm("OK"), Invocation()),
        (
            spend_event(**SPEND_DETAIL),
            Invocation(
                trigger=Trigger.SPEND_RATE,
                spend=SpendRate(1234.5, 500.0, SPEND_DETAIL["newest_data"], "20261126T090000Z"),
            ),
        ),
        (
            spend_event(spend_24h_usd="lots", limit_usd=True),
            Invocation(
                trigger=Trigger.SPEND_RATE, spend=SpendRate(None, None, "unknown", "unknown")
            ),
        ),
        (
            {"source": "runawaytrain.spend", "detail-type": "Other", "detail": SPEND_DETAIL},
            Invocation(),
        ),
        ({"Records": [{"Sns": {"Message": "not json"}}]}, Invocation()),
        ({"Records": []}, Invocation()),
        (
            {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change"},
            Invocation(),
        ),
    ],
)
def test_parse_invocation(event, expected):
    assert parse_invocation(event) == expected


def test_an_sqs_batch_is_a_launch_prompt_and_cannot_carry_an_action():
    body = {
        "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change Notification",
        "region": "eu-west-2",
        "time": "2026-11-26T12:00:00Z",
        "detail": {"instance-id": "i-0123456789abcdef0", "state": "pending"},
    }
    record = {"messageId": "m-1", "eventSource": "aws:sqs", "body": json.dumps(body)}

    invocation = parse_invocation({"Records": [record], "action": "pass"})

    assert invocation.trigger is Trigger.LAUNCH_EVENT
    assert invocation.action is Action.PROCEED
    assert invocation.launches is not None
    assert invocation.launches.by_region == {"eu-west-2": 1}
    assert invocation.describe_prompt() == (
        "1 EC2 launch event(s) (eu-west-2: 1), the first at 2026-11-26T12:00:00Z"
    )
