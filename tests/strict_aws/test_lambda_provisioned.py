"""Strict Lambda provisioned concurrency (moto has none: 404): Put, Get, Delete and List, with
AWS's rules (a published version or an alias of one, never $LATEST; never beyond the function's
reservation, nor a reservation below them; IN_PROGRESS, then READY), in-process and under
moto_server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from strict_aws import StrictAWS, strict_aws
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import REGION, error_of


def published(lambda_: Any, iam: Any, name: str, reserved: int | None = None) -> str:
    """A function with version 1, an alias `live` of it and `head` of $LATEST: version 1."""
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
    )
    version = lambda_.publish_version(FunctionName=name)["Version"]
    lambda_.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lambda_.create_alias(FunctionName=name, Name="head", FunctionVersion="$LATEST")
    if reserved is not None:
        lambda_.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    return str(version)


def exercise(clock: FakeClock, endpoint: str | None = None) -> None:
    lambda_ = boto3.client("lambda", region_name=REGION, endpoint_url=endpoint)
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint)
    version = published(lambda_, iam, "api", reserved=10)

    put = lambda_.put_provisioned_concurrency_config(
        FunctionName="api", Qualifier="live", ProvisionedConcurrentExecutions=4
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["Status"], put["AllocatedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 0)
    clock.now += 30
    got = lambda_.get_provisioned_concurrency_config(FunctionName="api", Qualifier="live")
    assert (got["Status"], got["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 4)

    assert (
        error_of(
            lambda_.put_provisioned_concurrency_config,
            FunctionName="api",
            Qualifier=version,
            ProvisionedConcurrentExecutions=7,
        )[0]
        == "InvalidParameterValueException"
    )  # 4 + 7 > 10 reserved
    for unpublished in ("$LATEST", "head"):
        assert (
            error_of(
                lambda_.put_provisioned_concurrency_config,
                FunctionName="api",
                Qualifier=unpublished,
                ProvisionedConcurrentExecutions=1,
            )[0]
            == "InvalidParameterValueException"
        )
    assert (
        error_of(
            lambda_.put_provisioned_concurrency_config,
            FunctionName="api",
            Qualifier="nope",
            ProvisionedConcurrentExecutions=1,
        )[0]
        == "ResourceNotFoundException"
    )
    lambda_.put_provisioned_concurrency_config(
        FunctionName="api", Qualifier=version, ProvisionedConcurrentExecutions=6
    )

    for below in (0, 9):  # the throttle, and one short of 4 + 6 provisioned
        assert (
            error_of(
                lambda_.put_function_concurrency,
                FunctionName="api",
                ReservedConcurrentExecutions=below,
            )[0]
            == "InvalidParameterValueException"
        )
    lambda_.put_function_concurrency(FunctionName="api", ReservedConcurrentExecutions=10)

    listed = lambda_.list_provisioned_concurrency_configs(FunctionName="api", MaxItems=1)
    assert len(listed["ProvisionedConcurrencyConfigs"]) == 1 and "NextMarker" in listed
    every = lambda_.get_paginator("list_provisioned_concurrency_configs").paginate(
        FunctionName="api", PaginationConfig={"PageSize": 1}
    )
    arns = {
        c["FunctionArn"].rsplit(":", 1)[1]: c["RequestedProvisionedConcurrentExecutions"]
        for page in every
        for c in page["ProvisionedConcurrencyConfigs"]
    }
    assert arns == {"live": 4, version: 6}

    lambda_.delete_provisioned_concurrency_config(FunctionName="api", Qualifier="live")
    assert error_of(
        lambda_.get_provisioned_concurrency_config, FunctionName="api", Qualifier="live"
    ) == (
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
    assert (
        error_of(
            lambda_.delete_provisioned_concurrency_config, FunctionName="api", Qualifier="live"
        )[0]
        == "ProvisionedConcurrencyConfigNotFoundException"
    )


def test_provisioned_concurrency_in_process(strict: StrictAWS, clock: FakeClock) -> None:
    exercise(clock)


@pytest.fixture
def server(clock: FakeClock) -> Iterator[str]:
    with strict_aws(pending_seconds=30, clock=clock):
        running = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        running.start()
        try:
            host, port = running.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            running.stop()


def test_provisioned_concurrency_under_moto_server(server: str, clock: FakeClock) -> None:
    exercise(clock, server)
