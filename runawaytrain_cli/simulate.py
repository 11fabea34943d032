"""`runawaytrain simulate`: one guard run on a simulated account, in-process, in seconds.

Three regions with three t2.micro instances each, a limit of 4: the guard's handler counts nine,
trips, stops all nine and mails the notify list. It prints what the guard returned and the
notification exactly as an SQS subscriber of the topic received it. No CDK, no deploy, no IAM:
for the whole path (deploy, trip under the deployed role, restore) run `runawaytrain drill`
(what `./dev demo` runs). Nothing reaches real AWS: the account is moto under the strict-AWS
layer (strict_aws), which refuses what AWS refuses and answers what the guard asks as AWS does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any

SIMULATED_ACCOUNT = "123456789012"  # moto's default account
SIMULATED_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
HOME = "us-east-1"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run the guard's handler once on a simulated account over its limit (in-process, "
        "no deploy; `drill` runs the whole path)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--limit", type=int, default=4, help="ec2limit (default 4)")
    parser.add_argument("--per-region", type=int, default=3, help="instances per region")
    parser.add_argument("--mode", choices=("enforce", "dry-run"), default="enforce")
    parser.add_argument("--json", action="store_true", help="print only the report as JSON")
    parser.set_defaults(func=run_simulation)


def run_simulation(args: argparse.Namespace) -> int:
    _isolate_from_real_aws()
    import boto3
    from moto import mock_aws

    from guard.handler import handler
    from strict_aws import strict_aws

    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}), strict_aws():
        topic_arn, queue_url = _topic_with_inbox(boto3)
        for region in SIMULATED_REGIONS:
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
            account_name="simulated-research-lab",
        )
        context = argparse.Namespace(
            invoked_function_arn=f"arn:aws:lambda:{HOME}:{SIMULATED_ACCOUNT}:function:runawaytrain-guard",
            aws_request_id="simulate",
        )
        with contextlib.redirect_stdout(sys.stderr):  # the guard's JSON log lines
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
        os.environ[name] = "simulated"
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
