"""Strict SageMaker: notebook instances pend and stop over time, refuse wrong-state calls, and
AddTags overwrites."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from strict_aws import StrictAWS, strict_aws
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import REGION, error_of

ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sagemaker"


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def create(name: str = "nb") -> str:
    response = sagemaker().create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE
    )
    return str(response["NotebookInstanceArn"])


def status_of(name: str = "nb") -> str:
    described = sagemaker().describe_notebook_instance(NotebookInstanceName=name)
    return str(described["NotebookInstanceStatus"])


def listed(status: str) -> list[str]:
    found = sagemaker().list_notebook_instances(StatusEquals=status)["NotebookInstances"]
    return [notebook["NotebookInstanceName"] for notebook in found]


def test_a_created_notebook_is_pending_until_the_clock_passes(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create()
    assert status_of() == "Pending"
    assert listed("Pending") == ["nb"]
    assert listed("InService") == []
    clock.now += 30
    assert status_of() == "InService"
    assert listed("Pending") == []
    assert listed("InService") == ["nb"]


def test_stop_only_from_in_service_and_it_is_stopping_first(
    strict: StrictAWS, clock: FakeClock
) -> None:
    arn = create()
    stop = sagemaker().stop_notebook_instance

    def refusal(status: str) -> tuple[str, str]:
        return (
            "ValidationException",
            f"Status ({status}) not in ([InService]). Unable to transition to (Stopping) for "
            f"Notebook Instance ({arn}).",
        )

    assert error_of(stop, NotebookInstanceName="nb") == refusal("Pending")
    clock.now += 30
    stop(NotebookInstanceName="nb")
    assert status_of() == "Stopping"
    assert listed("Stopping") == ["nb"]
    assert error_of(stop, NotebookInstanceName="nb") == refusal("Stopping")
    clock.now += 30
    assert status_of() == "Stopped"
    assert listed("Stopped") == ["nb"]
    assert error_of(stop, NotebookInstanceName="nb") == refusal("Stopped")


def test_start_only_from_stopped_or_failed_and_it_is_pending_first(
    strict: StrictAWS, clock: FakeClock
) -> None:
    arn = create()
    start = sagemaker().start_notebook_instance

    def refusal(status: str) -> tuple[str, str]:
        return (
            "ValidationException",
            f"Status ({status}) not in ([Stopped, Failed]). Unable to transition to (Pending) "
            f"for Notebook Instance ({arn})",
        )

    assert error_of(start, NotebookInstanceName="nb") == refusal("Pending")
    clock.now += 30
    assert error_of(start, NotebookInstanceName="nb") == refusal("InService")
    sagemaker().stop_notebook_instance(NotebookInstanceName="nb")
    assert error_of(start, NotebookInstanceName="nb") == refusal("Stopping")
    clock.now += 30
    start(NotebookInstanceName="nb")
    assert status_of() == "Pending"
    clock.now += 30
    assert status_of() == "InService"

    # A notebook AWS failed (capacity, say) may be started again; moto never fails one.
    sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].notebook_instances["nb"].status = "Failed"
    start(NotebookInstanceName="nb")
    assert status_of() == "Pending"


def test_make_running_and_uninstall_settle_a_notebook(clock: FakeClock) -> None:
    with mock_aws():
        with strict_aws(pending_seconds=30, clock=clock) as strict:
            create("a")
            create("b")
            strict.make_running(["a"])
            assert (status_of("a"), status_of("b")) == ("InService", "Pending")
        assert status_of("b") == "InService"


def test_add_tags_overwrites_a_key_the_notebook_has(strict: StrictAWS) -> None:
    arn = create()
    client = sagemaker()
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "1"}])
    answered = client.add_tags(
        ResourceArn=arn, Tags=[{"Key": "k", "Value": "2"}, {"Key": "other", "Value": "x"}]
    )["Tags"]
    expected = [{"Key": "k", "Value": "2"}, {"Key": "other", "Value": "x"}]
    assert answered == expected
    assert client.list_tags(ResourceArn=arn)["Tags"] == expected
