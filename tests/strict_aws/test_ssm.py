"""Strict Parameter Store: a Region's standard parameters are a quota; Intelligent-Tiering
creates an advanced parameter once it is full (strict_aws/ssm.py)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from strict_aws import StrictAWS
from tests.strict_aws.ec2_calls import REGION


def put(name: str, **extra: str) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=name, Value="x", Type="String", **extra
    )


def tier_of(name: str) -> str:
    ssm = boto3.client("ssm", region_name=REGION)
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
    return str(found["Parameters"][0]["Tier"])


def test_a_full_region_refuses_a_new_standard_parameter_but_overwrites(strict: StrictAWS) -> None:
    strict.ssm_standard_quota = 2
    put("/filler/1")
    put("/filler/2", Tier="Standard")

    with pytest.raises(ClientError) as refused:
        put("/filler/3")

    assert refused.value.response["Error"]["Code"] == "ParameterLimitExceeded"
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/filler/2", Value="y", Overwrite=True
    )  # not a new parameter: allowed


def test_intelligent_tiering_is_standard_until_the_quota_then_advanced(strict: StrictAWS) -> None:
    strict.ssm_standard_quota = 1
    put("/ours/1", Tier="Intelligent-Tiering")
    put("/ours/2", Tier="Intelligent-Tiering")

    assert (tier_of("/ours/1"), tier_of("/ours/2")) == ("Standard", "Advanced")
