"""Fixtures for the payer's watchdog: a payer (moto's default account) with its topic read via
SQS and the watchdog's role, a member account with the reader role the guard stack deploys."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from runawaytrain_stack.names import (
    HEARTBEAT_PATH,
    SCHEDULE_NAME,
    WATCHDOG_READER_ROLE_NAME,
    WATCHDOG_ROLE_NAME,
    WATCHDOG_STATE_PATH,
)
from tests.guard.conftest import HOME, Inbox, aws, inbox, strict  # noqa: F401 -- the guard's
from watchdog.handler import Settings, assume_with, check, record
from watchdog.health import WatchedAccount

PAYER = DEFAULT_ACCOUNT_ID
MEMBER = "222222222222"
PROD = WatchedAccount(MEMBER, "prod", 5, 4, HOME, "runawaytrain-guard-prod")
WATCHDOG_ROLE_ARN = f"arn:aws:iam::{PAYER}:role/runawaytrain/{WATCHDOG_ROLE_NAME}"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def reader_trust(principal_arn: str = WATCHDOG_ROLE_ARN) -> dict[str, Any]:
    """The reader role's trust as runawaytrain_stack/watchdog_reader.py synthesizes it
    (tests/stack/test_watchdog_stack.py checks the template against this)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PAYER}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": principal_arn}},
            }
        ],
    }


def member_session(account: str = MEMBER) -> Any:
    """An administrator in `account` (a session of a role moto does not hold: lenient)."""
    credentials = boto3.client("sts", region_name=HOME).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/admin", RoleSessionName="setup"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=HOME,
    )


def create_reader_role(trust: dict[str, Any] | None = None) -> None:
    member_session().client("iam").create_role(
        RoleName=WATCHDOG_READER_ROLE_NAME,
        Path="/runawaytrain/",
        AssumeRolePolicyDocument=json.dumps(trust or reader_trust()),
    )


def create_guard_function(environment: dict[str, str]) -> str:
    """A stand-in guard function in the member; returns its ARN."""
    session = member_session()
    role = session.client("iam").create_role(
        RoleName="guard", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return str(
        session.client("lambda").create_function(
            FunctionName="runawaytrain-guard-prod-GuardFunction-1",
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
            Environment={"Variables": environment},
        )["FunctionArn"]
    )


def create_schedule(function_arn: str, state: str) -> None:
    member_session().client("scheduler").create_schedule(
        Name=SCHEDULE_NAME,
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": function_arn, "RoleArn": f"arn:aws:iam::{MEMBER}:role/scheduler"},
        State=state,
    )


def heartbeat_event(account: str, time: datetime, **detail: Any) -> dict[str, Any]:
    """What EventBridge hands the watchdog: `account` and `time` set by EventBridge."""
    return {
        "version": "0",
        "source": "runawaytrain.guard",
        "detail-type": "Guard Heartbeat",
        "account": account,
        "time": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": HOME,
        "detail": {"verdict": "ok", "errors": 0, "degraded": False, **detail},
    }


@dataclass
class Watchdog:
    settings: Settings
    session: Any  # the watchdog role's session in the payer
    inbox: Inbox

    def record(self, event: dict[str, Any]) -> dict[str, Any]:
        ssm = self.session.client("ssm", region_name=HOME)
        return record(event, self.settings, ssm, now=datetime.now(UTC))

    def check(self, now: datetime, organizations: Any = None) -> dict[str, Any]:
        """One check; `organizations` a client for the organisation's checks (joined.py,
        delegates.py), which run only with one."""
        return check(
            self.settings,
            ssm=self.session.client("ssm", region_name=HOME),
            sns=self.session.client("sns", region_name=HOME),
            assume=assume_with(self.session.client("sts", region_name=HOME)),
            now=now,
            organizations=organizations,
        )

    def mails(self) -> list[dict[str, str]]:
        return [
            {"subject": m.get("Subject", ""), "body": m["Message"]} for m in self.inbox.messages()
        ]


@pytest.fixture
def watchdog(aws: None, inbox: Inbox) -> Watchdog:  # noqa: F811 -- fixtures by name
    iam = boto3.client("iam", region_name=HOME)
    iam.create_role(
        RoleName=WATCHDOG_ROLE_NAME,
        Path="/runawaytrain/",
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
    )
    credentials = boto3.client("sts", region_name=HOME).assume_role(
        RoleArn=WATCHDOG_ROLE_ARN, RoleSessionName="watchdog"
    )["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=HOME,
    )
    settings = Settings(
        accounts=(PROD,),
        topic_arn=inbox.topic_arn,
        heartbeat_path=HEARTBEAT_PATH,
        state_path=WATCHDOG_STATE_PATH,
        reader_role=f"/runawaytrain/{WATCHDOG_READER_ROLE_NAME}",
        schedule_name=SCHEDULE_NAME,
    )
    return Watchdog(settings, session, inbox)


# A guard stack's mail path and trip wiring as the guard stack deploys them (alerts.py,
# billing_bus.py, fast_trip.py), in miniature: the topic and its key, one email subscription, the
# billing bus and its policy, the fast-trip queue and its policy.
NOTIFY = "ops@example.com"
WIRED_STACK: dict[str, Any] = {
    "Resources": {
        "AlertsKey1": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Action": "kms:*",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{MEMBER}:root"},
                            "Resource": "*",
                        }
                    ],
                }
            },
        },
        "AlertsTopic1": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["AlertsKey1", "Arn"]}},
        },
        "AlertsTopicops1": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "Endpoint": NOTIFY,
                "Protocol": "email",
                "TopicArn": {"Ref": "AlertsTopic1"},
            },
        },
        "BillingTripsBus1": {
            "Type": "AWS::Events::EventBus",
            "Properties": {"Name": "runawaytrain-billing-trips"},
        },
        "BillingTripsBusPolicy1": {
            "Type": "AWS::Events::EventBusPolicy",
            "Properties": {
                "EventBusName": {"Ref": "BillingTripsBus1"},
                "StatementId": "cdk-AllowPayerToForwardBillingAlarms",
                "Statement": {
                    "Action": "events:PutEvents",
                    "Effect": "Allow",
                    "Principal": {
                        "AWS": {
                            "Fn::Join": [
                                "",
                                ["arn:", {"Ref": "AWS::Partition"}, f":iam::{PAYER}:root"],
                            ]
                        }
                    },
                    "Resource": {"Fn::GetAtt": ["BillingTripsBus1", "Arn"]},
                    "Sid": "cdk-AllowPayerToForwardBillingAlarms",
                },
            },
        },
        "FastTripQueue1": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "FastTripQueuePolicy1": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "FastTripQueue1"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Action": "sqs:*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Resource": {"Fn::GetAtt": ["FastTripQueue1", "Arn"]},
                        }
                    ],
                },
            },
        },
    }
}


def deploy_wired_stack(extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Creates the guard stack PROD.stack in the member from WIRED_STACK (plus `extra`
    resources), then what moto's CloudFormation skips (AWS::SNS::Subscription,
    AWS::Events::EventBusPolicy, AWS::SQS::QueuePolicy) as CloudFormation would make it, the
    subscription confirmed. Returns the physical ids: topic, key, bus, queue."""
    from strict_aws.sns import confirm_email

    session = member_session()
    template = {"Resources": {**WIRED_STACK["Resources"], **(extra or {})}}
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(StackName=PROD.stack, TemplateBody=json.dumps(template))
    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId")
        for r in cloudformation.describe_stack_resources(StackName=PROD.stack)["StackResources"]
        if "LogicalResourceId" in r  # moto lists the resources it skipped without one
    }
    topic, queue = physical["AlertsTopic1"], physical["FastTripQueue1"]
    # moto's CloudFormation keeps KeyPolicy as the template's object, which its DescribeKey then
    # fails to parse; the same policy, put as the text AWS stores.
    key_policy = WIRED_STACK["Resources"]["AlertsKey1"]["Properties"]["KeyPolicy"]
    session.client("kms").put_key_policy(
        KeyId=physical["AlertsKey1"], PolicyName="default", Policy=json.dumps(key_policy)
    )
    session.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint=NOTIFY)
    confirm_email(NOTIFY)
    events = session.client("events")
    bus = events.describe_event_bus(Name="runawaytrain-billing-trips")
    events.put_permission(
        EventBusName=bus["Name"],
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "cdk-AllowPayerToForwardBillingAlarms",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{PAYER}:root"},
                        "Action": "events:PutEvents",
                        "Resource": bus["Arn"],
                    }
                ],
            }
        ),
    )
    sqs = session.client("sqs")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": "sqs:*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Resource": queue_arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps(policy)})
    return {"topic": topic, "key": physical["AlertsKey1"], "bus": bus["Name"], "queue": queue}
