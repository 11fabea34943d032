"""The payer's watchdog against moto (strict layer): heartbeats recorded, one mail per change,
and what it finds inside a member through the reader role."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.parsers import ResponseParserError

from tests.watchdog.conftest import (
    HOME,
    MEMBER,
    PAYER,
    Watchdog,
    create_guard_function,
    create_reader_role,
    create_schedule,
    heartbeat_event,
    member_session,
    reader_trust,
)

T0 = datetime.now(UTC).replace(microsecond=0)
HEALTHY_GUARD = {"envaction": "proceed", "ec2limit": "4"}


def test_records_the_last_heartbeat_under_the_sending_account(watchdog: Watchdog) -> None:
    watchdog.record(heartbeat_event(MEMBER, T0, count=3, limit=4))
    outsider = watchdog.record(heartbeat_event("999999999999", T0))

    ssm = boto3.client("ssm", region_name=HOME)
    stored = json.loads(
        ssm.get_parameter(Name=f"/runawaytrain/heartbeat/{MEMBER}")["Parameter"]["Value"]
    )
    assert stored["time"] == T0.isoformat()
    assert stored["detail"]["count"] == 3
    assert outsider == {"recorded": None}
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    assert "/runawaytrain/heartbeat/999999999999" not in names


def test_silent_guard_is_mailed_once_after_three_intervals_then_recovered(
    watchdog: Watchdog,
) -> None:
    create_reader_role()
    create_schedule(create_guard_function(HEALTHY_GUARD), "ENABLED")
    watchdog.record(heartbeat_event(MEMBER, T0))

    assert watchdog.check(T0 + timedelta(minutes=15))["mailed"] == {}  # 3 x 5 min: not yet
    assert watchdog.mails() == []
    assert watchdog.check(T0 + timedelta(minutes=16))["mailed"] == {MEMBER: "alert"}
    assert watchdog.check(T0 + timedelta(minutes=30))["mailed"] == {}  # no repeat
    (alert,) = watchdog.mails()
    assert "prod (222222222222)" in alert["subject"]
    assert "has not reported for 16 minutes" in alert["body"]

    watchdog.record(heartbeat_event(MEMBER, T0 + timedelta(minutes=31)))
    assert watchdog.check(T0 + timedelta(minutes=32))["mailed"] == {MEMBER: "recovered"}
    assert watchdog.check(T0 + timedelta(minutes=33))["mailed"] == {}
    (recovered,) = watchdog.mails()
    assert recovered["subject"].endswith("recovered")


def test_unhealthy_report_is_mailed_at_once(watchdog: Watchdog) -> None:
    create_reader_role()
    create_schedule(create_guard_function(HEALTHY_GUARD), "ENABLED")
    watchdog.record(
        heartbeat_event(
            MEMBER, T0, degraded=True, degraded_why="1 region(s) not counted: eu-west-1"
        )
    )
    assert watchdog.check(T0 + timedelta(minutes=1))["mailed"] == {MEMBER: "alert"}
    (alert,) = watchdog.mails()
    assert "degraded: 1 region(s) not counted: eu-west-1" in alert["body"]


def alert_after_silence(watchdog: Watchdog) -> str:
    watchdog.record(heartbeat_event(MEMBER, T0))
    assert watchdog.check(T0 + timedelta(hours=1))["mailed"] == {MEMBER: "alert"}
    (alert,) = watchdog.mails()
    return alert["body"]


def test_diagnosis_names_a_disabled_schedule(watchdog: Watchdog) -> None:
    create_reader_role()
    create_schedule(create_guard_function(HEALTHY_GUARD), "DISABLED")
    assert "- schedule disabled (runawaytrain-guard is DISABLED)" in alert_after_silence(watchdog)


def test_diagnosis_names_a_missing_stack_and_schedule(watchdog: Watchdog) -> None:
    create_reader_role()
    body = alert_after_silence(watchdog)
    assert "- stack runawaytrain-guard-prod missing" in body
    assert "- schedule runawaytrain-guard missing" in body


def test_diagnosis_names_envaction_pass_and_a_changed_limit(watchdog: Watchdog) -> None:
    create_reader_role()
    create_schedule(create_guard_function({"envaction": "pass", "ec2limit": "99"}), "ENABLED")
    body = alert_after_silence(watchdog)
    assert "- envaction=pass set" in body
    assert "- ec2limit changed from accounts.yaml: 99 deployed, 4 in accounts.yaml" in body


def test_diagnosis_goes_out_when_a_stack_resource_has_no_physical_id(watchdog: Watchdog) -> None:
    # A resource CloudFormation did not create (CREATE_FAILED) is listed without a
    # PhysicalResourceId (CloudFormation API Reference, StackResource: not required). Here: a
    # rule on a bus that does not exist, which CloudFormation fails to create.
    create_reader_role()
    create_schedule(create_guard_function(HEALTHY_GUARD), "DISABLED")
    template = {
        "Resources": {
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "billing"}},
            "BusRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {"EventBusName": "gone", "EventPattern": {"source": ["x"]}},
            },
        }
    }
    cloudformation = member_session().client("cloudformation")
    cloudformation.create_change_set(
        StackName="runawaytrain-guard-prod",
        ChangeSetName="deploy",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
    )
    with pytest.raises(ResponseParserError):  # moto: events' JSON error in CloudFormation's XML
        cloudformation.execute_change_set(
            StackName="runawaytrain-guard-prod", ChangeSetName="deploy"
        )
    assert "- schedule disabled (runawaytrain-guard is DISABLED)" in alert_after_silence(watchdog)


def test_diagnosis_says_so_when_the_reader_role_is_missing(watchdog: Watchdog) -> None:
    body = alert_after_silence(watchdog)
    assert "could not look inside (role missing or denied)" in body
    assert "AccessDenied" in body


def test_reader_role_refuses_any_other_payer_principal(watchdog: Watchdog) -> None:
    create_reader_role(reader_trust(f"arn:aws:iam::{PAYER}:role/runawaytrain/someone-else"))
    assert "could not look inside (role missing or denied)" in alert_after_silence(watchdog)
