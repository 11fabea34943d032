"""Fixtures for the strict-AWS tests: one emulated account on a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from strict_aws import StrictAWS, strict_aws


class FakeClock:
    """A virtual clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def strict(clock: FakeClock) -> Iterator[StrictAWS]:
    with (
        mock_aws(config={"iam": {"load_aws_managed_policies": True}}),
        strict_aws(pending_seconds=30, clock=clock) as layer,
    ):
        yield layer
