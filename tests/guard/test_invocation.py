"""Every event shape the guard can be invoked with, parsed without AWS."""

from __future__ import annotations

import json

import pytest

from guard.invocation import Invocation, Trigger, parse_invocation
from guard.settings import Action

ALARM_DETAIL = {"alarmName": "runawaytrain-billing-222222222222", "state": {"value": "ALARM"}}


def eventbridge_alarm(state: str) -> dict:
    return {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {**ALARM_DETAIL, "state": {"value": state}},
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
