"""Fixtures for the guard: one moto account, instances in several regions, a topic read via SQS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

import guard.handler
from guard import pricing, weights
from guard.clients import ClientFactory
from strict_aws import StrictAWS, strict_aws
from tests.guard.pooled_clients import PooledClients

AMI = "ami-12c6146b"
HOME = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{HOME}:{DEFAULT_ACCOUNT_ID}:function:runawaytrain-guard"


@dataclass
class FakeContext:
    """What the guard reads from the Lambda context object."""

    invoked_function_arn: str = FUNCTION_ARN
    aws_request_id: str = "test-request"
    remaining_ms: int = 60_000  # the timeout margin: no time left to wait for pending instances

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> Iterator[StrictAWS]:
    """moto made to refuse and delay what AWS does (the strict_aws package)."""
    for name in ("envaction", "mode", "regions", "account_name", "ec2limit", "snstopic"):
        monkeypatch.delenv(name, raising=False)
    for name in ("max_vcpus", "max_gpus", "max_usd_per_hour"):
        monkeypatch.delenv(name, raising=False)
    weights.clear_cache()  # each test is a cold execution environment
    pricing.clear_cache()
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}), strict_aws() as layer:
        yield layer


@pytest.fixture
def aws(strict: StrictAWS) -> None:
    """An emulated account behaving as AWS does (instances run at once unless a test says)."""


@pytest.fixture
def launch(aws: None) -> Callable[..., list[str]]:
    """launch(region, count) starts t2.micro instances and returns their ids."""

    def launch_instances(region: str, count: int) -> list[str]:
        ec2 = boto3.client("ec2", region_name=region)
        response = ec2.run_instances(
            ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t2.micro"
        )
        return [instance["InstanceId"] for instance in response["Instances"]]

    return launch_instances


@dataclass
class Inbox:
    """An SQS queue subscribed to the guard's topic: what the notify list would receive."""

    topic_arn: str
    queue_url: str

    def messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=HOME)
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return found
            for message in batch["Messages"]:
                found.append(json.loads(message["Body"]))  # the SNS envelope
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def inbox(aws: None) -> Inbox:
    sns = boto3.client("sns", region_name=HOME)
    sqs = boto3.client("sqs", region_name=HOME)
    topic_arn = sns.create_topic(Name="runawaytrain-notify")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="notify-list")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Inbox(topic_arn, queue_url)


@pytest.fixture
def guard_env(monkeypatch: pytest.MonkeyPatch, inbox: Inbox) -> Callable[..., None]:
    """guard_env(ec2limit=4, mode=...) sets the environment the CDK stack would set."""

    def set_env(**values: object) -> None:
        monkeypatch.setenv("snstopic", inbox.topic_arn)
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))

    return set_env


@pytest.fixture
def clients(aws: None) -> Iterator[ClientFactory]:
    """A client factory whose clients tests may hook faults into before running the guard
    (lent from a pool: pooled_clients.py)."""
    lent = PooledClients(HOME)
    yield lent
    lent.give_back()


@pytest.fixture
def shared(clients: ClientFactory, monkeypatch: pytest.MonkeyPatch) -> ClientFactory:
    """`clients` as the handler's own (guard.handler._SHARED), so a test can hook into them."""
    monkeypatch.setattr(guard.handler, "_SHARED", [clients])
    return clients


def instance_states(region: str, ids: list[str]) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}


def instance_tags(region: str, instance_id: str) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    tags = reservations[0]["Instances"][0].get("Tags", [])
    return {tag["Key"]: tag["Value"] for tag in tags}
