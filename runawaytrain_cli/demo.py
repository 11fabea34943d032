"""`runawaytrain demo`: the seed scenario, run by the real guard against an in-process AWS emulator.

Three regions with three t2.micro instances each, a limit of 4: the guard counts nine, trips,
stops all nine and mails the notify list. The demo prints what the guard returned and the
notification exactly as an SQS subscriber of the topic received it. Nothing reaches real AWS.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

DEMO_ACCOUNT = "123456789012"  # moto's default account
DEMO_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
HOME = "us-east-1"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="trip the guard on the seed scenario in an in-process AWS emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--limit", type=int, default=4, help="ec2limit (default 4)")
    parser.add_argument("--per-region", type=int, default=3, help="instances per region")
    parser.add_argument("--mode", choices=("enforce", "dry-run"), default="enforce")
    parser.add_argument("--json", action="store_true", help="print only the report as JSON")
    parser.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    _isolate_from_real_aws()
    import boto3
    from moto import mock_aws

    from guard.handler import handler

    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        topic_arn, queue_url = _topic_with_inbox(boto3)
        for region in DEMO_REGIONS:
            ec2 = boto3.client("ec2", region_name=region)
            ec2.run_instances(
                ImageId="ami-12c6146b",
                MinCount=args.per_region,
                MaxCount=args.per_region,
                InstanceType="t2.micro",
            )
        os.environ.update(
            ec2limit=str(args.limit),
            snstopic=topic_arn,
            mode=args.mode,
            account_name="demo-research-lab",
        )
        context = argparse.Namespace(
            invoked_function_arn=f"arn:aws:lambda:{HOME}:{DEMO_ACCOUNT}:function:runawaytrain-guard",
            aws_request_id="demo",
        )
        response = handler({}, context)
        mail = _read_inbox(boto3, queue_url)
    report = response["report"]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"\n== guard returned: {response['body']}")
    print(json.dumps(report, indent=2))
    print(f"\n== notifications delivered to the topic's subscribers: {len(mail)}")
    for message in mail:
        print(f"Subject: {message['Subject']}\n\n{message['Message']}\n")
    return 0


def _isolate_from_real_aws() -> None:
    """Fake credentials and no AMI catalogue: the emulator needs neither, real AWS is never hit."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "demo"
    os.environ["AWS_DEFAULT_REGION"] = HOME
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "envaction", "regions"):
        os.environ.pop(name, None)


def _topic_with_inbox(boto3: Any) -> tuple[str, str]:
    sns = boto3.client("sns", region_name=HOME)
    sqs = boto3.client("sqs", region_name=HOME)
    topic_arn = sns.create_topic(Name="runawaytrain-notify")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="notify-list")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=attributes["Attributes"]["QueueArn"])
    return topic_arn, queue_url


def _read_inbox(boto3: Any, queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=HOME)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]
