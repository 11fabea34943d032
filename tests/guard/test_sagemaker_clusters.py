"""SageMaker HyperPod clusters (issue 21): counted by their nodes, never scaled down by the
guard (a scale-down terminates nodes and their root volumes): reported, by default as left
running, and as not halted where `halt:` names them."""

from __future__ import annotations

import boto3
import pytest

from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.service_names import resolve_halt
from guard.settings import Action, Settings
from tests.guard.conftest import AMI, HOME
from tests.sagemaker_resources import create_cluster, sagemaker

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "SageMaker HyperPod cluster"


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def node_counts(name: str) -> dict[str, int]:
    described = sagemaker(REGION).describe_cluster(ClusterName=name)
    return {g["InstanceGroupName"]: g["CurrentCount"] for g in described["InstanceGroups"]}


def test_a_cluster_is_counted_and_left_running_unless_halt_names_it(strict, inbox, clients):
    create_cluster(
        REGION, "llm", [("controller", "ml.c5.xlarge", 1), ("workers", "ml.c5.4xlarge", 4)]
    )
    launch(2)

    report = run_guard(
        Settings(ec2limit=1, snstopic=inbox.topic_arn), Invocation(), clients, ACCOUNT
    )

    assert report.services == {KIND: {REGION: 5}}
    assert report.services_kept == {KIND: [f"{REGION}/llm"]}
    assert node_counts("llm") == {"controller": 1, "workers": 4}


def test_halt_naming_clusters_reports_them_and_changes_nothing(strict, inbox, clients):
    create_cluster(REGION, "llm", [("workers", "ml.c5.4xlarge", 4)])
    launch(2)
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=resolve_halt(["all"]))

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert [e for e in report.action_errors if KIND in e] == [
        f"{REGION}: {KIND} llm (4 node(s)) not halted: a scale-down terminates its nodes and "
        "their root volumes; back them up, then scale its instance groups down by hand "
        "(UpdateCluster)"
    ]
    assert node_counts("llm") == {"workers": 4}
    restore = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
    assert run_restore(chosen, restore, clients, ACCOUNT).restore["errors"] == {}
