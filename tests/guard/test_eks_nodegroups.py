"""EKS managed node groups (issue 21): scaled to min 0 / desired 0 at a trip (recorded first,
max kept), given their exact size back by restore; they weigh nothing themselves (their nodes
are EC2 instances the EC2 census counts)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.settings import Action, Mode, Settings, WeightedLimits
from tests.batch_account import ACCOUNT, REGION, create_node_group, network, node_group
from tests.guard.conftest import AMI, HOME

KIND = "EKS managed node group"
SIZE = {"minSize": 1, "desiredSize": 2, "maxSize": 3}


def restore_with(restart: bool) -> Invocation:
    return Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=restart)


def settings(inbox: Any, mode: Mode = Mode.ENFORCE) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode)


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def account() -> None:
    """A node group of 1/2/3 (moto runs no nodes for it) and two instances to trip on."""
    create_node_group("prod", "workers", network(), dict(SIZE))
    launch(2)


def tags() -> dict[str, str]:
    return dict(node_group("prod", "workers").get("tags", {}))


def test_a_trip_scales_the_node_group_in_and_restore_gives_its_size_back(strict, inbox, clients):
    account()

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services == {KIND: {REGION: 0}}  # its nodes are in the EC2 count
    assert report.services_halted == {KIND: [f"{REGION}/prod/workers"]}
    assert node_group("prod", "workers")["scalingConfig"] == {
        "minSize": 0,
        "desiredSize": 0,
        "maxSize": 3,
    }
    assert tags() == {INCIDENT_TAG: report.incident, "runawaytrain:prior-scaling": "1/2/3"}
    assert "Scaled to min 0, desired 0 (max kept)" in inbox.messages()[0]["Message"]

    kept = run_restore(settings(inbox), restore_with(False), clients, ACCOUNT)

    assert kept.restore["services_not_yet"] == [f"{REGION}/prod/workers"]
    assert node_group("prod", "workers")["scalingConfig"]["desiredSize"] == 0

    restored = run_restore(settings(inbox), restore_with(True), clients, ACCOUNT)

    assert restored.restore["services_restored"] == [f"{REGION}/prod/workers"]
    assert node_group("prod", "workers")["scalingConfig"] == SIZE
    assert tags() == {}


def test_a_node_group_weighs_nothing_itself(strict, inbox, clients):
    create_node_group("prod", "workers", network(), dict(SIZE))

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(vcpus=1)),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert not report.tripped, report.reason
    assert report.burn["vcpus"] == 0
    assert report.verdict == "ok"  # not degraded: nothing unweighed


def test_dry_run_says_what_it_would_scale_in_and_changes_nothing(strict, inbox, clients):
    account()

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/prod/workers"]}
    assert node_group("prod", "workers")["scalingConfig"] == SIZE
    assert tags() == {}


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_before_the_update_and_a_timeout_between_restores_cleanly(
    strict, inbox, clients
):
    account()
    made: list[str] = []
    events = clients.client("eks", REGION).meta.events
    events.register("before-call.eks.TagResource", lambda **_: made.append("TagResource"))

    def timeout(**_: Any) -> None:
        made.append("UpdateNodegroupConfig")
        raise LambdaTimeout

    events.register("before-call.eks.UpdateNodegroupConfig", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made.index("TagResource") < made.index("UpdateNodegroupConfig")
    assert INCIDENT_TAG in tags()

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), restore_with(False), fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == []
    assert node_group("prod", "workers")["scalingConfig"] == SIZE
    assert tags() == {}


def test_an_update_aws_refuses_takes_the_record_off_again(strict, inbox, clients):
    account()

    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ResourceInUseException", "Message": "updating"}},
            "UpdateNodegroupConfig",
        )

    clients.client("eks", REGION).meta.events.register(
        "before-call.eks.UpdateNodegroupConfig", refuse
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert any("scaling in EKS managed node group prod/workers" in e for e in report.action_errors)
    assert tags() == {}


def test_a_node_group_scaled_to_zero_is_not_counted(strict, inbox, clients):
    create_node_group("prod", "idle", network(), {"minSize": 0, "desiredSize": 0, "maxSize": 2})
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services == {}


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def test_a_node_group_whose_auto_scaling_group_was_not_suspended_is_not_scaled_in(
    strict, inbox, clients
):
    """Review of issue 22 (M5): desired 0 would have Auto Scaling terminate the group's nodes
    unless Terminate is suspended; the EC2 halt could not suspend it, so the node group waits
    (the incident stays open) and the mail says why. Its nodes are left running too (halt.py)."""
    create_node_group("prod", "workers", network(), dict(SIZE))
    group = node_group("prod", "workers")["resources"]["autoScalingGroups"][0]["name"]
    boto3.client("ec2", region_name=REGION).create_launch_template(
        LaunchTemplateName="nodes", LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateName": "nodes"},
        MinSize=2,
        MaxSize=2,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
    )

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ScalingActivityInProgress", "Message": "busy"}}, "x")

    clients.client("autoscaling", REGION).meta.events.register(
        "before-call.autoscaling.SuspendProcesses", refuse
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert node_group("prod", "workers")["scalingConfig"] == SIZE
    assert tags() == {}  # nothing recorded: nothing changed
    assert report.services_waiting == {KIND: [f"{REGION}/prod/workers"]}
    assert any(
        f"{KIND} prod/workers: not scaled in: its Auto Scaling group(s) ['{group}'] have not "
        "Terminate suspended" in error
        for error in report.action_errors
    )
    assert report.stopped == []  # its nodes, in the unsuspended group, left running
