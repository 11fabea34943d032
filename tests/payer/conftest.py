"""Fixtures for the payer side: an organization in moto (payer + two members), the payer
stand-in (SCPs, bus, quarantine rule), and a guard in a member account that reports to it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from guard.clients import ClientFactory
from guard.settings import Lockout, Settings
from runawaytrain_cli.drill.payer_standin import PayerStandIn, stand_in_payer
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet_model import Fleet
from strict_aws import StrictAWS, strict_aws

REGION = "us-east-1"
AMI = "ami-12c6146b"


@dataclass
class Queue:
    """An SQS queue (e.g. subscribed to a topic): what a mailbox would receive."""

    session: Any
    url: str
    arn: str

    def messages(self) -> list[dict[str, Any]]:
        sqs = self.session.client("sqs", region_name=REGION)
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return found
            for message in batch["Messages"]:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


def make_queue(session: Any, name: str) -> Queue:
    sqs = session.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Queue(session, url, arn)


@dataclass
class Org:
    payer: Any  # boto3 session in the payer (management) account
    members: dict[str, Any]  # name -> session in that member account (operator role)
    ids: dict[str, str]  # name -> account id
    fleet: Fleet
    stand_in: PayerStandIn
    payer_topic: str
    payer_list: Queue  # the payer's notify list (every message)
    member_lists: dict[str, Queue]  # name -> that member's notify list (filtered)

    def guard_settings(self, name: str, **overrides: Any) -> Settings:
        member = self.members[name]
        topic = member.client("sns", region_name=REGION).create_topic(Name="runawaytrain-alerts")
        values: dict[str, Any] = {
            "ec2limit": 0,
            "snstopic": topic["TopicArn"],
            "account_name": name,
            "lockout": Lockout.NONE,
            "payer_bus": self.stand_in.bus_arn,
            "quarantine": True,
        }
        values.update(overrides)
        return Settings(**values)

    def launch(self, name: str, count: int = 1) -> list[str]:
        ec2 = self.members[name].client("ec2", region_name=REGION)
        response = ec2.run_instances(
            ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
        )
        return [i["InstanceId"] for i in response["Instances"]]

    def scps_of(self, name: str) -> list[str]:
        organizations = self.payer.client("organizations", region_name=REGION)
        found = organizations.list_policies_for_target(
            TargetId=self.ids[name], Filter="SERVICE_CONTROL_POLICY"
        )["Policies"]
        return sorted(p["Name"] for p in found)


def fleet_yaml(ids: dict[str, str]) -> str:
    return f"""
payer:
  id: "{DEFAULT_ACCOUNT_ID}"
  name: payer
  notify: [billing@example.com]
  ec2_limit: 2
accounts:
  - id: "{ids["prod"]}"
    name: prod
    notify: [prod-team@example.com]
    ec2_limit: 0
    break_glass: [breakglass-admin]
  - id: "{ids["lab"]}"
    name: lab
    notify: [lab-team@example.com]
    ec2_limit: 0
"""


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Iterator[StrictAWS]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    with mock_aws(), strict_aws() as layer:
        yield layer


@pytest.fixture
def org(strict: StrictAWS) -> Org:
    payer = boto3.session.Session(region_name=REGION)
    organizations = payer.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    ids, members = {}, {}
    for name in ("prod", "lab"):
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        ids[name] = created["CreateAccountStatus"]["AccountId"]
        credentials = payer.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{ids[name]}:role/OrganizationAccountAccessRole",
            RoleSessionName="test",
        )["Credentials"]
        members[name] = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=REGION,
        )
    fleet = parse_fleet(fleet_yaml(ids))
    stand_in = stand_in_payer(payer, fleet, REGION)
    sns = payer.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="runawaytrain-payer-alerts")["TopicArn"]
    payer_list = make_queue(payer, "payer-list")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=payer_list.arn)
    member_lists = {}
    for name, account_id in ids.items():
        queue = make_queue(payer, f"{name}-list")
        # As payer_stack.py subscribes a member's addresses: only messages naming its account.
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue.arn,
            Attributes={"FilterPolicy": json.dumps({"account": [account_id]})},
        )
        member_lists[name] = queue
    return Org(payer, members, ids, fleet, stand_in, topic, payer_list, member_lists)


GUARD_ROLE = "runawaytrain/runawaytrain-guard-test"  # the guard's role lives under /runawaytrain/


def guard_session(org: Org, name: str) -> Any:
    """A session as the account's guard role (the payer bus admits only /runawaytrain/ roles).
    The role is made first: the strict layer's AssumeRole reads its trust policy."""
    iam = org.members[name].client("iam", region_name=REGION)
    path, role_name = GUARD_ROLE.rsplit("/", 1)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{org.ids[name]}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(
            RoleName=role_name, Path=f"/{path}/", AssumeRolePolicyDocument=json.dumps(trust)
        )
    sts = org.members[name].client("sts", region_name=REGION)
    role_arn = f"arn:aws:iam::{org.ids[name]}:role/{GUARD_ROLE}"
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="guard")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def member_clients(org: Org, name: str) -> ClientFactory:
    """The guard's clients in `name`: its own role's session."""
    return ClientFactory(guard_session(org, name))
