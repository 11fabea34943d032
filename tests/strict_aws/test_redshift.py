"""Strict Redshift: a pause only from available and with automated snapshots on, pausing and
resuming over time, the namespace ARN, and scheduled actions (strict_aws/redshift.py)."""

from __future__ import annotations

from typing import Any

import boto3

from strict_aws import StrictAWS
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import REGION, error_of

NOT_AVAILABLE = ("InvalidClusterState", "The specified cluster is not in the available state.")


def redshift() -> Any:
    return boto3.client("redshift", region_name=REGION)


def create_cluster(name: str = "wh", **extra: Any) -> None:
    redshift().create_cluster(
        ClusterIdentifier=name,
        NodeType="ra3.xlplus",
        NumberOfNodes=2,
        MasterUsername="admin",
        MasterUserPassword="Password1",
        **extra,
    )


def cluster(name: str = "wh") -> dict[str, Any]:
    return dict(redshift().describe_clusters(ClusterIdentifier=name)["Clusters"][0])


def test_a_pause_and_a_resume_take_time_and_only_from_their_states(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create_cluster()
    assert error_of(redshift().resume_cluster, ClusterIdentifier="wh") == NOT_AVAILABLE
    redshift().pause_cluster(ClusterIdentifier="wh")
    assert cluster()["ClusterStatus"] == "pausing"
    assert error_of(redshift().pause_cluster, ClusterIdentifier="wh") == NOT_AVAILABLE
    clock.now += 30
    assert cluster()["ClusterStatus"] == "paused"
    assert error_of(redshift().pause_cluster, ClusterIdentifier="wh") == NOT_AVAILABLE
    redshift().resume_cluster(ClusterIdentifier="wh")
    assert cluster()["ClusterStatus"] == "resuming"
    assert error_of(redshift().pause_cluster, ClusterIdentifier="wh") == NOT_AVAILABLE
    clock.now += 30
    assert cluster()["ClusterStatus"] == "available"


def test_a_cluster_with_automated_snapshots_off_cannot_be_paused(strict: StrictAWS) -> None:
    create_cluster(AutomatedSnapshotRetentionPeriod=0)

    assert cluster()["AutomatedSnapshotRetentionPeriod"] == 0  # moto: 1
    assert error_of(redshift().pause_cluster, ClusterIdentifier="wh") == (
        "UnsupportedOperation",
        "The requested operation isn't supported.",
    )
    assert cluster()["ClusterStatus"] == "available"


def test_a_cluster_has_a_namespace_arn_in_its_account_and_region(strict: StrictAWS) -> None:
    create_cluster()

    arn = cluster()["ClusterNamespaceArn"]

    assert arn.startswith(f"arn:aws:redshift:{REGION}:123456789012:namespace:")


def test_scheduled_actions_are_created_listed_and_disabled(strict: StrictAWS) -> None:
    create_cluster()
    create_cluster("other")
    for name, cluster_id, target in (
        ("wh-resume", "wh", "ResumeCluster"),
        ("wh-pause", "wh", "PauseCluster"),
        ("other-resume", "other", "ResumeCluster"),
    ):
        redshift().create_scheduled_action(
            ScheduledActionName=name,
            TargetAction={target: {"ClusterIdentifier": cluster_id}},
            Schedule="cron(0 8 * * ? *)",
            IamRole="arn:aws:iam::123456789012:role/scheduler",
        )

    def resume_actions(active: bool) -> list[str]:
        found = redshift().describe_scheduled_actions(
            TargetActionType="ResumeCluster",
            Active=active,
            Filters=[{"Name": "cluster-identifier", "Values": ["wh"]}],
        )["ScheduledActions"]
        return [action["ScheduledActionName"] for action in found]

    assert resume_actions(True) == ["wh-resume"]
    redshift().modify_scheduled_action(ScheduledActionName="wh-resume", Enable=False)
    assert (resume_actions(True), resume_actions(False)) == ([], ["wh-resume"])
    assert error_of(
        redshift().modify_scheduled_action, ScheduledActionName="nowhere", Enable=True
    ) == ("ScheduledActionNotFound", "Scheduled action nowhere not found.")
