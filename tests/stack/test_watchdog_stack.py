"""The watchdog's resources: its rules in the payer, the reader role in every guard stack, and
roles that allow exactly the calls lambda/watchdog makes (recorded in moto, strict layer on)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_cdk.assertions import Match, Template
from moto import mock_aws

from strict_aws import strict_aws
from tests.watchdog.conftest import (
    HOME,
    MEMBER,
    PAYER,
    PROD,
    WATCHDOG_ROLE_ARN,
    Watchdog,
    deploy_wired_stack,
    heartbeat_event,
    member_session,
    reader_trust,
)
from watchdog.handler import Settings, assume_with, check
from watchdog.metrics import CHECKS_METRIC, DIMENSION, NAMESPACE

READER = "runawaytrain-watchdog-reader"


@pytest.fixture(scope="module")
def payer(test_app) -> Template:
    _, stacks = test_app
    return Template.from_stack(stacks.payer)


@pytest.fixture(scope="module")
def prod(test_app) -> Template:
    _, stacks = test_app
    return Template.from_stack(stacks.guards["prod"])


def policy_actions(template: Template, role_name: str) -> set[str]:
    (role,) = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"RoleName": role_name}}
    ).values()
    actions: set[str] = set()
    for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        found = statement["Action"]
        actions.update([found] if isinstance(found, str) else found)
    return actions


def test_heartbeats_of_every_guard_reach_the_watchdog(payer: Template, test_fleet) -> None:
    payer.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": {"Ref": Match.string_like_regexp("^Bus")},
            "EventPattern": {
                "source": ["runawaytrain.guard"],
                "detail-type": ["Guard Heartbeat"],
                "account": [a.id for a in test_fleet.accounts],
            },
        },
    )


def test_the_check_runs_at_the_fleets_shortest_interval(payer: Template) -> None:
    # The test fleet: 5 minutes (the default) for root and prod, 15 for sandbox.
    payer.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"})


def test_reader_role_trusts_only_the_payers_watchdog_role(prod: Template, test_fleet) -> None:
    payer_id = test_fleet.payer.id
    prod.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": READER,
            "Path": "/runawaytrain/",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": {
                                "Fn::Join": [
                                    "",
                                    ["arn:", {"Ref": "AWS::Partition"}, f":iam::{payer_id}:root"],
                                ]
                            }
                        },
                        "Condition": {
                            "ArnEquals": {
                                "aws:PrincipalArn": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            f":iam::{payer_id}:role/runawaytrain/runawaytrain-watchdog",
                                        ],
                                    ]
                                }
                            }
                        },
                    }
                ],
            },
        },
    )
    # The in-process tests build the same trust (tests/watchdog/conftest.py).
    statement = reader_trust()["Statement"][0]
    assert set(statement["Condition"]["ArnEquals"]) == {"aws:PrincipalArn"}


class CallRecorder:
    def __init__(self) -> None:
        self.actions: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        prefix = {"eventbridge": "events"}.get(service, service)
        with self._lock:
            self.actions.add(f"{prefix}:{operation}")


GUARD_STACK = {
    "Resources": {
        "GuardRole1": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "GuardFunction9CCE20FB": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.12",
                "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["GuardRole1", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
                "Environment": {"Variables": {"ec2limit": "4", "envaction": "proceed"}},
            },
        },
        "FastTripHomeLaunches1": {
            "Type": "AWS::Events::Rule",
            "Properties": {"EventPattern": {"source": ["aws.ec2"]}, "State": "DISABLED"},
        },
    }
}


def test_watchdog_and_reader_roles_allow_exactly_the_calls_the_code_makes(
    payer: Template, prod: Template
) -> None:
    payer_calls, reader_calls = CallRecorder(), CallRecorder()
    with mock_aws(), strict_aws():
        from tests.guard.conftest import Inbox

        sns = boto3.client("sns", region_name=HOME)
        topic = sns.create_topic(Name="payer")["TopicArn"]
        iam = boto3.client("iam", region_name=HOME)
        iam.create_role(
            RoleName="runawaytrain-watchdog",
            Path="/runawaytrain/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        member = member_session()
        member.client("iam").create_role(
            RoleName=READER,
            Path="/runawaytrain/",
            AssumeRolePolicyDocument=json.dumps(reader_trust()),
        )
        deploy_wired_stack(extra=GUARD_STACK["Resources"])  # the mail path and trip wiring too
        credentials = boto3.client("sts", region_name=HOME).assume_role(
            RoleArn=WATCHDOG_ROLE_ARN, RoleSessionName="watchdog"
        )["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=HOME,
        )
        session.events.register("before-call", payer_calls)
        settings = Settings(
            accounts=(PROD,),
            topic_arn=topic,
            heartbeat_path="/runawaytrain/heartbeat/",
            state_path="/runawaytrain/watchdog/",
            reader_role=f"/runawaytrain/{READER}",
            schedule_name="runawaytrain-guard",
        )
        watchdog = Watchdog(settings, session, Inbox(topic, ""))
        now = datetime.now(UTC)
        watchdog.record(heartbeat_event(MEMBER, now))
        assume_payer = assume_with(session.client("sts", region_name=HOME))

        def assume(role_arn: str, region: str) -> Any:
            reader = assume_payer(role_arn, region)
            reader.events.register("before-call", reader_calls)
            return reader

        ssm, sns_client = session.client("ssm"), session.client("sns")
        mailed = check(
            settings, ssm=ssm, sns=sns_client, assume=assume, now=now + timedelta(hours=1)
        )
        mailed_again = check(settings, ssm=ssm, sns=sns_client, assume=assume, now=now)

    assert mailed["mailed"] == {MEMBER: "alert"} and mailed_again["mailed"] == {MEMBER: "recovered"}
    assert "events:DescribeRule" in reader_calls.actions  # every read was reached
    assert "sns:GetSubscriptionAttributes" in reader_calls.actions
    lambda_actions = {"logs:CreateLogStream", "logs:PutLogEvents"}  # Lambda's own, not the code's
    topic_key = {"kms:GenerateDataKey", "kms:Decrypt"}  # SNS uses them on the caller's behalf
    assert policy_actions(payer, "runawaytrain-watchdog") == (
        payer_calls.actions | lambda_actions | topic_key
    )
    assert policy_actions(prod, READER) == reader_calls.actions
    assert PAYER in WATCHDOG_ROLE_ARN


def test_a_missed_watchdog_check_alarms_to_the_payers_topic(payer: Template) -> None:
    # moto's CloudFormation creates no alarm: the synthesized template is what is checked.
    (topic,) = payer.find_resources("AWS::SNS::Topic")
    (function,) = [
        logical
        for logical, resource in payer.find_resources("AWS::Lambda::Function").items()
        if resource["Properties"].get("Handler") == "watchdog.handler.handler"
    ]
    payer.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": NAMESPACE,  # what lambda/watchdog/metrics.py logs at every check
            "MetricName": CHECKS_METRIC,
            "Dimensions": [{"Name": DIMENSION, "Value": {"Ref": function}}],
            "Statistic": "Sum",
            "Period": 300,  # the check's interval: the test fleet's shortest, 5 minutes
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "ComparisonOperator": "LessThanThreshold",
            "Threshold": 1,
            "TreatMissingData": "breaching",  # no check at all is the case to catch
            "AlarmActions": [{"Ref": topic}],
            "OKActions": [{"Ref": topic}],
        },
    )
    # CloudWatch publishes as a service principal: the topic's key must let it.
    payer.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [Match.object_like({"Principal": {"Service": "cloudwatch.amazonaws.com"}})]
                )
            }
        },
    )
