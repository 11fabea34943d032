"""With IAM authentication on, a GET of a REST API signed by botocore is accepted (moto refused
every one: SignatureDoesNotMatch), and a wrong secret is still refused."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication

from strict_aws import StrictAWS

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def keys() -> dict[str, str]:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def test_a_get_signed_by_botocore_is_accepted_and_a_wrong_secret_refused(strict: StrictAWS) -> None:
    credentials = keys()
    with enable_iam_authentication():
        session = boto3.session.Session(region_name="eu-west-1", **credentials)
        assert session.client("eks").list_clusters(maxResults=100)["clusters"] == []
        assert session.client("lambda").list_functions(MaxItems=50)["Functions"] == []
        forged = boto3.session.Session(
            region_name="eu-west-1",
            aws_access_key_id=credentials["aws_access_key_id"],
            aws_secret_access_key="wrong" + credentials["aws_secret_access_key"][5:],
        )
        with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
            forged.client("eks").list_clusters()


def test_a_query_api_post_is_still_accepted(strict: StrictAWS) -> None:
    """IAM's query protocol: the form in the body is the payload (moto may pass it parsed)."""
    credentials = keys()
    with enable_iam_authentication():
        session = boto3.session.Session(region_name="us-east-1", **credentials)
        assert [u["UserName"] for u in session.client("iam").list_users()["Users"]] == ["operator"]
        assert session.client("batch").describe_compute_environments()["computeEnvironments"] == []
