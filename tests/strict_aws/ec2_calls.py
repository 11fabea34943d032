"""EC2 calls as a caller of the strict layer makes them, and the refusals it reads."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

AMI = "ami-12c6146b"
REGION = "us-east-1"


def ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)


def launch(count: int = 1, **kwargs: Any) -> list[str]:
    kwargs.setdefault("ImageId", AMI)
    kwargs.setdefault("InstanceType", "t2.micro")
    response = ec2().run_instances(MinCount=count, MaxCount=count, **kwargs)
    return [i["InstanceId"] for i in response["Instances"]]


def state_of(instance_id: str) -> str:
    reservations = ec2().describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]
