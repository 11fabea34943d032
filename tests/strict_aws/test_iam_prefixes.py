"""With IAM authentication on, CloudWatch's calls are authorized as `cloudwatch:*`, its IAM
prefix, not `monitoring:*`, the name it signs with (moto refused a role allowed
cloudwatch:GetMetricData: the drill's Bedrock token census)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication

from strict_aws import StrictAWS


def keys_allowed(action: str) -> dict[str, str]:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="census")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
    }
    iam.put_user_policy(UserName="census", PolicyName="one", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="census")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def get_metric_data(credentials: dict[str, str]) -> None:
    end = datetime.now(UTC)
    boto3.client("cloudwatch", region_name="eu-west-1", **credentials).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "invocations",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Bedrock", "MetricName": "Invocations"},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=end - timedelta(minutes=15),
        EndTime=end,
    )


def test_cloudwatch_is_authorized_under_its_iam_prefix(strict: StrictAWS) -> None:
    credentials = keys_allowed("cloudwatch:GetMetricData")
    with enable_iam_authentication():
        get_metric_data(credentials)


def test_the_signing_name_grants_nothing(strict: StrictAWS) -> None:
    credentials = keys_allowed("monitoring:GetMetricData")  # no such IAM action in AWS
    with enable_iam_authentication(), pytest.raises(ClientError, match="cloudwatch:GetMetricData"):
        get_metric_data(credentials)
