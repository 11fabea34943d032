"""Redshift provisioned clusters (issue 21): counted beside EC2 by their nodes' vCPUs, paused at
a trip (recorded first, scheduled resume actions disabled), resumed by restore; one resumed
while the incident is open is paused again by the next run."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from guard import redshift_clusters
from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.ledger import Record
from guard.logs import configure_logging
from guard.redshift_clusters import RESUME_ACTIONS_TAG
from guard.settings import Action, Mode, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "Redshift cluster"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)


def redshift() -> Any:
    return boto3.client("redshift", region_name=REGION)


def create_cluster(name: str = "wh", node_type: str = "ra3.xlplus", **extra: Any) -> None:
    redshift().create_cluster(
        ClusterIdentifier=name,
        NodeType=node_type,
        NumberOfNodes=2,
        MasterUsername="admin",
        MasterUserPassword="Password1",
        **extra,
    )


def schedule_resume(name: str, cluster: str = "wh", enable: bool = True) -> None:
    redshift().create_scheduled_action(
        ScheduledActionName=name,
        TargetAction={"ResumeCluster": {"ClusterIdentifier": cluster}},
        Schedule="cron(0 8 * * ? *)",
        IamRole=f"arn:aws:iam::{ACCOUNT}:role/scheduler",
        Enable=enable,
    )


def action_states() -> dict[str, str]:
    found = redshift().describe_scheduled_actions()["ScheduledActions"]
    return {action["ScheduledActionName"]: action["State"] for action in found}


def cluster(name: str = "wh") -> dict[str, Any]:
    return dict(redshift().describe_clusters(ClusterIdentifier=name)["Clusters"][0])


def status(name: str = "wh") -> str:
    return str(cluster(name)["ClusterStatus"])


def tags(name: str = "wh") -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in cluster(name).get("Tags", [])}


def launch(count: int) -> list[str]:
    response = boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )
    return [instance["InstanceId"] for instance in response["Instances"]]


def settings(inbox: Any, mode: Mode = Mode.ENFORCE) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode)


@pytest.fixture
def clock(strict: Any) -> Any:
    """The layer's clock made virtual; returns `advance(seconds)`."""
    now = [0.0]
    strict.clock = lambda: now[0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def test_a_trip_pauses_the_cluster_and_restore_resumes_it_exactly(strict, inbox, clients):
    create_cluster(Tags=[{"Key": "team", "Value": "bi"}])
    schedule_resume("wh-resume")
    schedule_resume("wh-resume-off", enable=False)  # the owner's own choice: left alone
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services[KIND] == {REGION: 2}  # its two nodes
    assert report.services_halted == {KIND: [f"{REGION}/wh"]}
    assert status() == "paused"  # pending_seconds 0: pausing ends at once
    assert tags()[INCIDENT_TAG] == report.incident
    assert tags()[RESUME_ACTIONS_TAG] == "wh-resume"
    assert action_states() == {"wh-resume": "DISABLED", "wh-resume-off": "DISABLED"}
    assert "its scheduled resume actions are disabled" in inbox.messages()[0]["Message"]

    kept = run_restore(settings(inbox), NO_RESTART, clients, ACCOUNT)

    assert kept.restore["services_not_yet"] == [f"{REGION}/wh"]
    assert status() == "paused"  # a resume bills again: only when asked to restart
    assert action_states()["wh-resume"] == "DISABLED"

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["services_restored"] == [f"{REGION}/wh"]
    assert restored.restore["errors"] == {}
    assert status() == "available"
    assert tags() == {"team": "bi"}
    assert action_states() == {"wh-resume": "ACTIVE", "wh-resume-off": "DISABLED"}


def test_dry_run_says_what_it_would_pause_and_pauses_nothing(strict, inbox, clients):
    create_cluster()
    schedule_resume("wh-resume")
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/wh"]}
    assert report.services_halted == {}
    assert status() == "available"
    assert INCIDENT_TAG not in tags()
    assert action_states() == {"wh-resume": "ACTIVE"}


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_before_the_pause_and_a_timeout_between_restores_cleanly(
    strict, inbox, clients
):
    create_cluster()
    schedule_resume("wh-resume")
    launch(2)
    made: list[str] = []
    client = clients.client("redshift", REGION)
    client.meta.events.register(
        "before-call.redshift.CreateTags", lambda **_: made.append("CreateTags")
    )

    def timeout(**_: Any) -> None:
        made.append("PauseCluster")
        raise LambdaTimeout

    client.meta.events.register("before-call.redshift.PauseCluster", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made == ["CreateTags", "PauseCluster"]
    assert tags()[INCIDENT_TAG] and status() == "available"

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == []  # nothing was paused: nothing resumed
    assert status() == "available"
    assert INCIDENT_TAG not in tags() and RESUME_ACTIONS_TAG not in tags()
    assert action_states() == {"wh-resume": "ACTIVE"}


def test_a_pause_aws_refuses_takes_the_record_off_again(strict, inbox, clients):
    """Paused by its owner between the count and the pause: AWS refuses ours; the incident must
    not claim it, or restore with restart would resume what the incident never paused."""
    create_cluster()
    schedule_resume("wh-resume")
    launch(2)

    def paused_meanwhile(**_: Any) -> None:
        redshift().pause_cluster(ClusterIdentifier="wh")

    clients.client("redshift", REGION).meta.events.register(
        "before-call.redshift.PauseCluster", paused_meanwhile
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert any(
        f"{REGION}: {KIND} wh: pausing: InvalidClusterState" in e for e in report.action_errors
    ), report.action_errors
    assert INCIDENT_TAG not in tags() and RESUME_ACTIONS_TAG not in tags()
    assert action_states() == {"wh-resume": "ACTIVE"}  # disabled only after a pause
    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert restored.restore["services_restored"] == []
    assert status() == "paused"


def test_a_cluster_aws_cannot_pause_is_an_error_saying_what_to_do_and_keeps_no_record(
    strict, inbox, clients
):
    create_cluster(AutomatedSnapshotRetentionPeriod=0)
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert any(
        f"{REGION}: {KIND} wh: not paused: AWS cannot pause a cluster with automated snapshots "
        "turned off" in e
        for e in report.action_errors
    ), report.action_errors
    assert (
        "modify-cluster --automated-snapshot-retention-period 1" in inbox.messages()[0]["Message"]
    )
    assert status() == "available"
    assert INCIDENT_TAG not in tags()


def test_a_cluster_resumed_while_the_incident_is_open_is_paused_again(strict, inbox, clients):
    create_cluster()
    schedule_resume("wh-resume")
    launch(2)
    tripped = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    assert status() == "paused"

    redshift().resume_cluster(ClusterIdentifier="wh")  # its owner, during the incident
    redshift().modify_scheduled_action(ScheduledActionName="wh-resume", Enable=True)
    schedule_resume("wh-resume-2")  # and a new schedule
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert not later.tripped  # the EC2 instances stay stopped: below the limit
    assert later.incident == tripped.incident
    assert later.services_halted == {KIND: [f"{REGION}/wh"]}
    assert status() == "paused"
    assert tags()[INCIDENT_TAG] == tripped.incident
    assert tags()[RESUME_ACTIONS_TAG] == "wh-resume wh-resume-2"  # the first record kept
    assert action_states() == {"wh-resume": "DISABLED", "wh-resume-2": "DISABLED"}

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert restored.restore["services_restored"] == [f"{REGION}/wh"]
    assert action_states() == {"wh-resume": "ACTIVE", "wh-resume-2": "ACTIVE"}


def test_a_cluster_still_resuming_at_the_trip_waits_for_the_next_run(strict, clock, inbox, clients):
    strict.pending_seconds = 60
    create_cluster()
    redshift().pause_cluster(ClusterIdentifier="wh")
    clock(60)
    redshift().resume_cluster(ClusterIdentifier="wh")  # resuming for 60 s
    launch(2)

    first = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert first.services_waiting == {KIND: [f"{REGION}/wh"]}
    assert INCIDENT_TAG not in tags()
    clock(60)
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)
    assert later.services_halted == {KIND: [f"{REGION}/wh"]}
    assert status() == "pausing"
    clock(60)
    assert status() == "paused"


def test_a_resume_without_capacity_is_an_error_and_keeps_the_record(strict, inbox, clients):
    create_cluster()
    schedule_resume("wh-resume")
    launch(2)
    tripped = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    refused = [True]

    def no_capacity(**_: Any) -> None:
        if refused[0]:
            raise ClientError(
                {"Error": {"Code": "InsufficientClusterCapacity", "Message": "no nodes"}},
                "ResumeCluster",
            )

    clients.client("redshift", REGION).meta.events.register(
        "before-call.redshift.ResumeCluster", no_capacity
    )
    failed = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert failed.restore["errors"] == {
        f"{KIND} {REGION}/wh": "InsufficientClusterCapacity: no nodes"
    }
    assert status() == "paused" and INCIDENT_TAG in tags()
    assert action_states() == {"wh-resume": "DISABLED"}

    refused[0] = False  # the first restore closed the incident: this one names it
    named = Invocation(
        Action.RESTORE, Trigger.OPERATOR, incident=tripped.incident, restart_instances=True
    )
    again = run_restore(settings(inbox), named, clients, ACCOUNT)
    assert again.restore["services_restored"] == [f"{REGION}/wh"]
    assert status() == "available" and INCIDENT_TAG not in tags()
    assert action_states() == {"wh-resume": "ACTIVE"}


def test_nodes_weigh_their_vcpus_and_an_unknown_node_type_degrades_the_run(strict, inbox, clients):
    """2 ra3.xlplus nodes weigh 8 vCPUs (Redshift's node table), never asked of EC2; a node
    type the guard does not know weighs nothing it could be sure of: the vCPU limit is not
    fully checked (degraded), not passed with 0."""
    create_cluster()
    limits = Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(vcpus=10))

    known = run_guard(limits, Invocation(), clients, ACCOUNT)

    assert known.burn["vcpus"] == 8
    assert known.burn["unweighed"] == {}
    assert known.verdict == "ok", known.reason

    create_cluster("future", node_type="ra3.huge")
    unknown = run_guard(limits, Invocation(), clients, ACCOUNT)

    assert unknown.verdict == "degraded", unknown.reason
    assert unknown.burn["vcpus"] == 8
    assert "ra3.huge" in unknown.burn["unweighed"]
    assert "not an EC2 type" in unknown.burn["unweighed"]["ra3.huge"]


def test_a_timeout_after_the_pause_keeps_the_record_and_restore_resumes(strict, inbox, clients):
    """A read timeout after AWS paused the cluster: no ClientError, so the record stays and
    restore resumes what the incident paused."""
    create_cluster()
    schedule_resume("wh-resume")
    launch(2)

    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://redshift.eu-west-1.amazonaws.com")

    clients.client("redshift", REGION).meta.events.register(
        "after-call.redshift.PauseCluster", timeout
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert status() == "paused" and tags()[INCIDENT_TAG] == report.incident
    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)
    assert status() == "available" and INCIDENT_TAG not in tags()


def test_a_new_incident_keeps_an_unfinished_older_record(strict):
    """An older incident's record never restored (the cluster resumed by hand, its resume
    action still disabled): the next incident keeps it, so its restore enables it again."""
    create_cluster()
    schedule_resume("wh-resume")
    client = redshift()
    redshift_clusters.halt(client, redshift_clusters.count(client, REGION), "older")
    assert action_states() == {"wh-resume": "DISABLED"}
    client.resume_cluster(ClusterIdentifier="wh")  # by hand; the older incident never restored
    schedule_resume("wh-resume-2")  # enabled since

    outcome = redshift_clusters.halt(client, redshift_clusters.count(client, REGION), "newer")

    assert outcome.errors == [] and status() == "paused"
    assert tags()[INCIDENT_TAG] == "newer"
    assert sorted(tags()[RESUME_ACTIONS_TAG].split()) == ["wh-resume", "wh-resume-2"]
    record = Record(redshift_clusters.NAME, {"wh"}, {"wh": tags()})  # as the halt wrote it
    redshift_clusters.restore(client, REGION, "newer", dry_run=False, restart=True, record=record)
    assert action_states() == {"wh-resume": "ACTIVE", "wh-resume-2": "ACTIVE"}


def test_one_scheduled_action_that_fails_to_enable_does_not_hold_the_others_back(
    strict, inbox, clients
):
    """Restore enables each recorded action on its own: a refused one is an error and stays
    in the record, the cluster resumes and the others are enabled and leave the record."""
    create_cluster()
    schedule_resume("wh-a")
    schedule_resume("wh-b")
    launch(2)
    run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    assert action_states() == {"wh-a": "DISABLED", "wh-b": "DISABLED"}

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("ScheduledActionName") == "wh-a" and params.get("Enable"):
            raise ClientError({"Error": {"Code": "InvalidSchedule", "Message": "no"}}, "Modify")

    clients.client("redshift", REGION).meta.events.register(
        "before-parameter-build.redshift.ModifyScheduledAction", refuse
    )
    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert status() == "available"
    assert action_states() == {"wh-a": "DISABLED", "wh-b": "ACTIVE"}
    assert any("wh-a" in where for where in restored.restore["errors"])
    assert tags()[RESUME_ACTIONS_TAG] == "wh-a"
    again = Invocation(
        Action.RESTORE, Trigger.OPERATOR, incident=tags()[INCIDENT_TAG], restart_instances=True
    )
    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    run_restore(settings(inbox), again, fresh, ACCOUNT)
    assert action_states() == {"wh-a": "ACTIVE", "wh-b": "ACTIVE"}
    assert INCIDENT_TAG not in tags() and RESUME_ACTIONS_TAG not in tags()


def test_the_record_of_resume_actions_fits_redshifts_255_character_values():
    """Redshift tag values hold 255 characters (CloudFormation AWS::Redshift::Cluster Tag)."""
    names = [f"resume-{i}-{'x' * 22}" for i in range(7)] + ["r" * 32]  # 223 + 1 + 32 = 256
    disabling, record = redshift_clusters._fit([], names)
    assert len(" ".join(record)) <= 255
    assert disabling == names[:7]  # the last one left enabled (said in the mail), not cut
