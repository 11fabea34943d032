"""What the Bedrock census relies on in the emulator: CloudWatch SEARCH expressions with dynamic
labels (strict_aws/cloudwatch.py; moto reads a SEARCH as the id of another query and returns
nothing), and Bedrock runtime refusing an invocation the caller's identity policies deny, under
the action AWS authorizes it as (strict_aws/bedrock_runtime.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication

from tests.bedrock_usage import publish_bedrock_usage, publish_many_models

REGION = "us-west-2"
LABEL = "${PROP('MetricName')} ${PROP('Dim.ModelId')}"


def search(metric: str, label: str = LABEL) -> list[dict]:
    end = datetime.now(UTC).replace(microsecond=0)
    return boto3.client("cloudwatch", region_name=REGION).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "Expression": f"SEARCH('{{AWS/Bedrock,ModelId}} MetricName=\"{metric}\"', "
                "'Sum', 60)",
                "Label": label,
            }
        ],
        StartTime=end - timedelta(minutes=15),
        EndTime=end,
    )["MetricDataResults"]


def test_a_search_returns_one_series_per_model_labelled_by_its_dimension(strict):
    publish_bedrock_usage(REGION, "amazon.nova-pro-v1:0", 100, 10, minutes_ago=2)
    publish_bedrock_usage(REGION, "amazon.nova-pro-v1:0", 50, 5, minutes_ago=4)
    publish_bedrock_usage(REGION, "us.anthropic.claude-sonnet", 7, 3, minutes_ago=3)
    # Another dimension set is another schema; another namespace is not searched.
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_data(
        Namespace="AWS/Bedrock",
        MetricData=[{"MetricName": "InputTokenCount", "Value": 999.0}],
    )
    cloudwatch.put_metric_data(
        Namespace="Custom",
        MetricData=[
            {
                "MetricName": "InputTokenCount",
                "Dimensions": [{"Name": "ModelId", "Value": "x"}],
                "Value": 999.0,
            }
        ],
    )

    found = {r["Label"]: sum(r["Values"]) for r in search("InputTokenCount")}

    assert found == {
        "InputTokenCount amazon.nova-pro-v1:0": 150.0,
        "InputTokenCount us.anthropic.claude-sonnet": 7.0,
    }
    assert {r["Id"] for r in search("InputTokenCount")} == {"q"}


def test_a_search_finds_nothing_without_data(strict):
    assert search("OutputTokenCount") == []


def test_a_search_it_does_not_model_fails_loudly(strict):
    with pytest.raises(NotImplementedError):
        boto3.client("cloudwatch", region_name=REGION).get_metric_data(
            MetricDataQueries=[{"Id": "q", "Expression": "SEARCH('Bedrock', 'Sum', 60)"}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC),
        )


def test_an_identity_deny_of_invoke_refuses_converse_as_aws_does(strict):
    """Converse is authorized as bedrock:InvokeModel: the launch block's Deny of bedrock:Invoke*
    refuses it (moto alone would check bedrock:Converse), as AccessDeniedException."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="ana")
    allow = {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "bedrock:Invoke*", "Resource": "*"}
    for name, statement in (("work", allow), ("block", deny)):
        iam.put_user_policy(
            UserName="ana",
            PolicyName=name,
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
    key = iam.create_access_key(UserName="ana")["AccessKey"]
    runtime = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    message = [{"role": "user", "content": [{"text": "hi"}]}]

    with enable_iam_authentication(), pytest.raises(ClientError) as refused:
        runtime.converse(modelId="amazon.nova-pro-v1:0", messages=message)

    assert refused.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": "User: arn:aws:iam::123456789012:user/ana is not authorized to perform: "
        "bedrock:InvokeModel on resource: arn:aws:bedrock:us-west-2::foundation-model/"
        "amazon.nova-pro-v1:0 with an explicit deny in an identity-based policy",
    }


def test_a_caller_no_policy_allows_is_refused_and_one_allowed_invokes(strict):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    runtime = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    with enable_iam_authentication(), pytest.raises(ClientError) as refused:
        runtime.invoke_model(modelId="amazon.nova-pro-v1:0", body=b"{}")
    assert refused.value.response["Error"]["Message"].endswith(
        "because no identity-based policy allows the bedrock:InvokeModel action"
    )
    allow = {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}
    iam.put_user_policy(
        UserName="bob",
        PolicyName="work",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    with enable_iam_authentication():
        runtime.invoke_model(modelId="amazon.nova-pro-v1:0", body=b"{}")


def test_a_search_answers_at_most_500_series_and_says_it_was_cut(strict):
    publish_many_models(REGION, 501)
    end = datetime.now(UTC).replace(microsecond=0)

    answer = boto3.client("cloudwatch", region_name=REGION).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "Expression": "SEARCH('{AWS/Bedrock,ModelId} MetricName=\"InputTokenCount\"', "
                "'Sum', 60)",
                "Label": LABEL,
            }
        ],
        StartTime=end - timedelta(minutes=15),
        EndTime=end,
    )

    assert len(answer["MetricDataResults"]) == 500
    assert answer["Messages"] == [
        {"Code": "MaxMetricsExceeded", "Value": "Maximum number of allowed metrics exceeded"}
    ]


def test_a_search_of_500_series_or_fewer_carries_no_message(strict):
    publish_many_models(REGION, 3)
    assert len(search("InputTokenCount")) == 3
