"""A rule whose targets include a Lambda function: PutEvents succeeds and the rule's other
targets get the event, as on AWS (which invokes the function asynchronously). moto raised on the
function target, so the payer's heartbeat and quarantine rules, once deployed, made every
guard's PutEvents to the payer's bus fail (strict_aws/events.py)."""

from __future__ import annotations

import json

import boto3

from strict_aws import StrictAWS

REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:runawaytrain-watchdog"


def test_an_event_reaches_the_queue_beside_a_function_target(strict: StrictAWS) -> None:
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name="payer")
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="heartbeats",
        EventBusName="payer",
        EventPattern=json.dumps({"source": ["runawaytrain.guard"]}),
    )
    events.put_targets(
        Rule="heartbeats",
        EventBusName="payer",
        Targets=[{"Id": "watchdog", "Arn": FUNCTION_ARN}, {"Id": "inbox", "Arn": queue_arn}],
    )

    answer = events.put_events(
        Entries=[
            {
                "Source": "runawaytrain.guard",
                "DetailType": "Heartbeat",
                "Detail": json.dumps({"account": "222222222222"}),
                "EventBusName": "payer",
            }
        ]
    )

    assert answer["FailedEntryCount"] == 0
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"account": "222222222222"}
    targets = events.list_targets_by_rule(Rule="heartbeats", EventBusName="payer")["Targets"]
    assert sorted(t["Id"] for t in targets) == ["inbox", "watchdog"]  # the rule keeps both
