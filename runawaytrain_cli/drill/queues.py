"""Read an SQS queue to the end: what a mailbox (a queue subscribed to a topic) or a rule's
queue target received, for the drill and the payer's stand-in."""

from __future__ import annotations

import json
from typing import Any


def drain_queue(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message now in the queue, oldest batch first, each deleted once read."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            messages.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def drain_bodies(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """The JSON bodies of `drain_queue` (an SNS envelope, an EventBridge event)."""
    return [json.loads(message["Body"]) for message in drain_queue(sqs, queue_url)]
