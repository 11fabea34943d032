"""EC2 launch events as the fast trip delivers them: EventBridge events inside an SQS batch."""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from tests.guard.conftest import HOME


def launch_event(instance_id: str, region: str, state: str = "pending", **changes: Any) -> dict:
    """An "EC2 Instance State-change Notification" as EventBridge delivers it."""
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": DEFAULT_ACCOUNT_ID,
        "time": "2026-11-26T12:00:00Z",
        "region": region,
        "resources": [f"arn:aws:ec2:{region}:{DEFAULT_ACCOUNT_ID}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": state},
    }
    event.update(changes)
    return event


def sqs_batch(*bodies: object) -> dict:
    """What Lambda's SQS event source mapping invokes the guard with: one record per message."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{HOME}:{DEFAULT_ACCOUNT_ID}:runawaytrain-fast-trip",
                "awsRegion": HOME,
            }
            for body in bodies
        ]
    }


def batch_for(launched: dict[str, list[str]]) -> dict:
    return sqs_batch(*(launch_event(i, region) for region, ids in launched.items() for i in ids))


def service_event(detail_type: str, source: str, region: str, **detail: Any) -> dict:
    """Another service's state-change event as EventBridge delivers it: the same envelope, the
    service's own detail (SageMaker's is the resource's Describe* output)."""
    arn = next((v for k, v in detail.items() if k.endswith(("Arn", "arn"))), "")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": DEFAULT_ACCOUNT_ID,
        "time": "2026-11-26T12:00:00Z",
        "region": region,
        "resources": [arn] if arn else [],
        "detail": detail,
    }


def endpoint_event(name: str, region: str, status: str = "Creating") -> dict:
    """A "SageMaker Endpoint State Change" (SageMaker Developer Guide, "Events that Amazon
    SageMaker AI sends to Amazon EventBridge": detail as DescribeEndpoint answers)."""
    arn = f"arn:aws:sagemaker:{region}:{DEFAULT_ACCOUNT_ID}:endpoint/{name}"
    return service_event(
        "SageMaker Endpoint State Change",
        "aws.sagemaker",
        region,
        EndpointName=name,
        EndpointArn=arn,
        EndpointConfigName=f"{name}-config",
        EndpointStatus=status,
        CreationTime=1764158400000,
        LastModifiedTime=1764158400000,
        Tags={},
    )
