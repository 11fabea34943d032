"""Strict Lambda: a reservation that leaves fewer than 100 unreserved concurrent executions of
the Region's 1,000 is refused (moto checks it only when told a quota); 0 never is."""

from __future__ import annotations

from typing import Any

import boto3

from strict_aws import StrictAWS
from tests.strict_aws.ec2_calls import REGION, error_of


def create_function(name: str) -> Any:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_ = boto3.client("lambda", region_name=REGION)
    lambda_.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
    )
    return lambda_


def test_a_reservation_must_leave_100_unreserved_and_zero_always_fits(
    strict: StrictAWS,
) -> None:
    lambda_ = create_function("big")
    create_function("other")
    lambda_.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=850)

    assert error_of(
        lambda_.put_function_concurrency, FunctionName="other", ReservedConcurrentExecutions=51
    ) == (
        "InvalidParameterValueException",
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].",
    )
    lambda_.put_function_concurrency(FunctionName="other", ReservedConcurrentExecutions=50)
    lambda_.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=0)
    assert lambda_.get_function_concurrency(FunctionName="big")["ReservedConcurrentExecutions"] == 0
