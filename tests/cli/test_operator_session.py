"""The operator CLI acts in the payer with the caller's own credentials: Organizations creates
OrganizationAccountAccessRole only in the member accounts it creates, never in the payer, so
assuming it there fails in real AWS (status, run, pass and restore of the payer would)."""

from __future__ import annotations

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from runawaytrain_cli.account_target import operator_session

MEMBER = "222222222222"


def test_the_callers_own_account_is_not_assumed_into_and_a_member_is() -> None:
    with mock_aws():
        assumed: list[str] = []
        sts = boto3.client("sts", region_name="us-east-1")

        def record(params: dict, **_: object) -> None:
            assumed.append(params["RoleArn"])

        boto3.setup_default_session()  # the CLI's clients come from boto3's default session
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("provide-client-params.sts.AssumeRole", record)

        role = "role/OrganizationAccountAccessRole"
        own = operator_session(
            DEFAULT_ACCOUNT_ID, f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:{role}", "us-east-1", "test"
        )
        member = operator_session(MEMBER, f"arn:aws:iam::{MEMBER}:{role}", "us-east-1", "test")

        who = own.client("sts").get_caller_identity()["Account"]
        assert who == DEFAULT_ACCOUNT_ID == sts.get_caller_identity()["Account"]
        assert member.client("sts").get_caller_identity()["Account"] == MEMBER
        assert assumed == [f"arn:aws:iam::{MEMBER}:{role}"]
