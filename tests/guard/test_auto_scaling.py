"""Auto Scaling groups must not replace what the breaker stops."""

from __future__ import annotations

from typing import Any

import boto3

from guard.auto_scaling import ASG_PROCESSES
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger, parse_invocation
from guard.notify import compose_body
from guard.settings import Action, Settings
from tests.guard.conftest import AMI, instance_states
from tests.guard.launch_events import batch_for

REGION = "eu-west-1"


def create_group(name: str, size: int, suspended: tuple[str, ...] = ()) -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    template = f"{name}-template"
    ec2.create_launch_template(
        LaunchTemplateName=template, LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"}
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template},
        MinSize=size,
        MaxSize=size,
        DesiredCapacity=size,
        AvailabilityZones=[f"{REGION}a"],
    )
    if suspended:
        autoscaling.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=list(suspended))
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return [instance["InstanceId"] for instance in group["AutoScalingGroups"][0]["Instances"]]


def describe_group(name: str) -> dict[str, Any]:
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    return autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]


def test_group_is_suspended_and_tagged_before_its_instances_stop(aws, inbox, clients):
    ids = create_group("render-farm", 3)
    calls: list[str] = []
    for service in ("ec2", "autoscaling"):
        clients.client(service, REGION).meta.events.register(
            "before-call", lambda event_name, **_: calls.append(event_name.split(".")[-1])
        )
    settings = Settings(ec2limit=1, snstopic=inbox.topic_arn)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    group = describe_group("render-farm")
    suspended = {process["ProcessName"] for process in group["SuspendedProcesses"]}
    # Terminate, AlarmNotification, ScheduledActions too: a scale-in during the incident would
    # terminate stopped instances (Auto Scaling User Guide, "Suspend and resume processes").
    assert suspended == {
        "Launch",
        "Terminate",
        "HealthCheck",
        "ReplaceUnhealthy",
        "AZRebalance",
        "AlarmNotification",
        "ScheduledActions",
        "InstanceRefresh",
    }
    tags = {tag["Key"]: tag["Value"] for tag in group["Tags"]}
    assert tags["runawaytrain:incident"] == report.incident
    assert set(tags["runawaytrain:suspended-processes"].split(",")) == suspended
    assert report.suspended_asgs == ["render-farm"]
    assert set(instance_states(REGION, ids).values()) == {"stopped"}
    assert calls.index("SuspendProcesses") < calls.index("StopInstances")
    assert calls.index("CreateOrUpdateTags") < calls.index("StopInstances")


def test_processes_suspended_before_the_incident_are_not_claimed(aws, inbox, clients):
    create_group("batch", 2, suspended=("AZRebalance", "Launch"))
    settings = Settings(ec2limit=0, snstopic=inbox.topic_arn)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    tags = {tag["Key"]: tag["Value"] for tag in describe_group("batch")["Tags"]}
    ours = [p for p in ASG_PROCESSES if p not in ("AZRebalance", "Launch")]
    assert tags["runawaytrain:suspended-processes"] == ",".join(ours)
    assert report.suspended_by_region == {REGION: {"batch": ours}}


def test_a_group_not_suspended_keeps_its_instances_running_until_a_run_suspends_it(
    aws, inbox, clients
):
    """A stopped instance in a group whose processes were not suspended fails the EC2 health
    check and is terminated and replaced, its volumes gone (EC2 Auto Scaling User Guide,
    "Health checks for instances in an Auto Scaling group"): its members are left running and
    reported; the next run, the incident still open, suspends the group and stops them."""
    from botocore.exceptions import ClientError

    ids = create_group("web", 2)
    (alone,) = boto3.client("ec2", region_name=REGION).run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1
    )["Instances"]

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ScalingActivityInProgress", "Message": "busy"}}, "x")

    events = clients.client("autoscaling", REGION).meta.events
    events.register("before-call.autoscaling.SuspendProcesses", refuse)
    settings = Settings(ec2limit=0, snstopic=inbox.topic_arn)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    assert instance_states(REGION, ids) == dict.fromkeys(ids, "running")
    assert report.stopped == [alone["InstanceId"]]  # not in a group: stopped
    assert report.suspended_asgs == []
    assert all("could not be suspended" in report.not_stopped[i] for i in ids)
    errors = " ".join(report.action_errors)
    assert "ScalingActivityInProgress" in errors
    assert "['web'] not suspended: their 2 instance(s) left running" in errors
    assert "its Auto Scaling group could not be suspended" in compose_body(report)

    events.unregister("before-call.autoscaling.SuspendProcesses", refuse)
    again = run_guard(settings, Invocation(), clients, "123456789012")

    assert (again.incident, again.continues_incident) == (report.incident, True)
    assert again.suspended_asgs == ["web"]
    assert instance_states(REGION, ids) == dict.fromkeys(ids, "stopped")


def test_groups_that_cannot_be_read_keep_their_members_running(aws, inbox, clients):
    """DescribeAutoScalingGroups refused: no group is suspended, so no member of one is stopped
    (found by the tag Auto Scaling puts on them); the rest stop."""
    from botocore.exceptions import ClientError

    ids = create_group("web", 2)
    (alone,) = boto3.client("ec2", region_name=REGION).run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1
    )["Instances"]

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "x")

    clients.client("autoscaling", REGION).meta.events.register(
        "before-call.autoscaling.DescribeAutoScalingGroups", refuse
    )
    report = run_guard(
        Settings(ec2limit=0, snstopic=inbox.topic_arn), Invocation(), clients, "123456789012"
    )

    assert instance_states(REGION, ids) == dict.fromkeys(ids, "running")
    assert report.stopped == [alone["InstanceId"]]
    assert "2 instance(s) of groups left running" in " ".join(report.action_errors)


def test_a_second_trip_under_the_same_incident_keeps_the_first_record(aws, inbox, clients):
    """Someone resumes Launch and starts an instance; the breaker trips again under the open
    incident. Restore must still resume all four processes the incident suspended."""
    ids = create_group("render-farm", 3)
    settings = Settings(ec2limit=1, snstopic=inbox.topic_arn)
    first = run_guard(settings, Invocation(), clients, "123456789012")
    autoscaling = boto3.client("autoscaling", region_name=REGION)
    autoscaling.resume_processes(AutoScalingGroupName="render-farm", ScalingProcesses=["Launch"])
    boto3.client("ec2", region_name=REGION).start_instances(InstanceIds=ids[:1])

    again = run_guard(
        settings, parse_invocation(batch_for({REGION: ids[:1]})), clients, "123456789012"
    )

    assert (again.incident, again.continues_incident) == (first.incident, True)
    tags = {tag["Key"]: tag["Value"] for tag in describe_group("render-farm")["Tags"]}
    assert tags["runawaytrain:suspended-processes"] == ",".join(ASG_PROCESSES)
    restored = run_restore(
        settings,
        Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True),
        clients,
        "123456789012",
    )
    assert restored.restore["errors"] == {}
    assert describe_group("render-farm")["SuspendedProcesses"] == []
    assert set(instance_states(REGION, ids).values()) == {"running"}


def test_restore_without_restart_keeps_groups_holding_stopped_instances_suspended(
    aws, inbox, clients
):
    """Resuming HealthCheck over stopped InService instances would terminate them (Auto Scaling
    User Guide, "Health checks for instances in an Auto Scaling group")."""
    ids = create_group("render-farm", 3)
    settings = Settings(ec2limit=1, snstopic=inbox.topic_arn)
    run_guard(settings, Invocation(), clients, "123456789012")

    restored = run_restore(
        settings, Invocation(Action.RESTORE, Trigger.OPERATOR), clients, "123456789012"
    )

    assert list(restored.restore["kept_suspended"]) == [f"{REGION}/render-farm"]
    assert restored.restore["resumed_asgs"] == {}
    suspended = {p["ProcessName"] for p in describe_group("render-farm")["SuspendedProcesses"]}
    assert suspended == set(ASG_PROCESSES)
    assert set(instance_states(REGION, ids).values()) == {"stopped"}
    assert "render-farm: still suspended" in compose_body(restored)
