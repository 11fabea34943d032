"""Fixtures for the spend watcher: a moto S3 bucket in the payer for CUR deliveries, and the
guard's own fixtures (aws, launch, inbox, guard_env) for the receiving end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from strict_aws.cur_deliveries import BUCKET
from tests.guard.conftest import aws, guard_env, inbox, launch, strict  # noqa: F401 -- the guard's


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
