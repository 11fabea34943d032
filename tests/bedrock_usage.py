"""Bedrock usage as the service reports it: AWS/Bedrock metrics by ModelId, one datapoint a
minute (Bedrock User Guide, "Monitor bedrock-runtime inference using CloudWatch metrics")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3


def publish_bedrock_usage(
    region: str,
    model: str,
    input_tokens: float,
    output_tokens: float,
    *,
    invocations: float = 1,
    minutes_ago: float = 1,
    now: datetime | None = None,
) -> None:
    """`invocations` of `model` taking `input_tokens` and giving `output_tokens`, reported
    `minutes_ago` before `now`."""
    when = (now or datetime.now(UTC)) - timedelta(minutes=minutes_ago)
    dimensions = [{"Name": "ModelId", "Value": model}]
    boto3.client("cloudwatch", region_name=region).put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[
            {"MetricName": name, "Dimensions": dimensions, "Value": value, "Timestamp": when}
            for name, value in (
                ("Invocations", invocations),
                ("InputTokenCount", input_tokens),
                ("OutputTokenCount", output_tokens),
            )
        ],
    )


def publish_many_models(region: str, count: int) -> None:
    """`count` models' input tokens two minutes ago, 1,000 data a call (PutMetricData's most)."""
    when = datetime.now(UTC) - timedelta(minutes=2)
    data = [
        {
            "MetricName": "InputTokenCount",
            "Dimensions": [{"Name": "ModelId", "Value": f"model-{n:04d}"}],
            "Value": 10.0,
            "Timestamp": when,
        }
        for n in range(count)
    ]
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    for start in range(0, count, 1000):
        cloudwatch.put_metric_data(Namespace="AWS/Bedrock", MetricData=data[start : start + 1000])
