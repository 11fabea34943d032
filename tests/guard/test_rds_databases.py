"""RDS DB instances and Aurora clusters (issue 21): counted beside EC2, stopped at a trip
(recorded first), started again by restore; one AWS starts again after seven days is stopped
again while the incident is open."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.settings import Action, Mode, Settings, WeightedLimits
from strict_aws.rds import SEVEN_DAYS
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "RDS database"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)


def rds(region: str = REGION) -> Any:
    return boto3.client("rds", region_name=region)


def create_instance(
    name: str, cluster: str | None = None, kind: str = "db.m5.large", **extra: Any
) -> None:
    engine: dict[str, Any] = (
        {"Engine": "aurora-postgresql", "DBClusterIdentifier": cluster}
        if cluster
        else {"Engine": "postgres", "AllocatedStorage": 20}
    )
    rds().create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass=kind,
        MasterUsername="admin",
        MasterUserPassword="password1",
        **engine,
        **extra,
    )


def create_cluster(name: str, *instances: str, **extra: Any) -> None:
    rds().create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password1",
        **extra,
    )
    for instance in instances:
        create_instance(instance, cluster=name)


def status(name: str) -> str:
    found = rds().describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return str(found["DBInstanceStatus"])


def cluster(name: str) -> dict[str, Any]:
    return dict(rds().describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0])


def tags(name: str) -> dict[str, str]:
    found = rds().describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return {t["Key"]: t["Value"] for t in found.get("TagList", [])}


def cluster_tags(name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in cluster(name).get("TagList", [])}


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


def test_a_trip_stops_instances_and_clusters_and_restore_starts_them(strict, clock, inbox, clients):
    strict.pending_seconds = 60
    create_instance("orders")
    create_cluster("analytics", "analytics-1", "analytics-2")
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert report.services[KIND] == {REGION: 3}
    assert report.services_halted == {
        KIND: [
            f"{REGION}/analytics/analytics-1",
            f"{REGION}/analytics/analytics-2",
            f"{REGION}/orders",
        ]
    }
    assert (status("orders"), cluster("analytics")["Status"]) == ("stopping", "stopping")
    assert status("analytics-2") == "stopping"  # its instances stop with the cluster
    assert tags("orders")[INCIDENT_TAG] == report.incident
    assert cluster_tags("analytics")[INCIDENT_TAG] == report.incident
    assert INCIDENT_TAG not in tags("analytics-1")  # its cluster carries the record
    body = inbox.messages()[0]["Message"]
    assert "AWS starts a stopped database again after 7 days" in body

    # The EC2 instances were still pending (not stopped, no tag): the restores name the incident.
    again = Invocation(Action.RESTORE, Trigger.OPERATOR, incident=report.incident)
    kept = run_restore(settings(inbox), again, clients, ACCOUNT)
    assert sorted(kept.restore["services_not_yet"]) == [f"{REGION}/analytics", f"{REGION}/orders"]
    clock(60)
    assert status("orders") == "stopped"  # a start bills again: only when asked to restart

    restart = Invocation(
        Action.RESTORE, Trigger.OPERATOR, incident=report.incident, restart_instances=True
    )
    restored = run_restore(settings(inbox), restart, clients, ACCOUNT)

    assert sorted(restored.restore["services_restored"]) == [
        f"{REGION}/analytics",
        f"{REGION}/orders",
    ]
    clock(60)
    assert (status("orders"), cluster("analytics")["Status"]) == ("available", "available")
    assert status("analytics-2") == "available"
    assert INCIDENT_TAG not in tags("orders")
    assert INCIDENT_TAG not in cluster_tags("analytics")


def test_a_database_aws_starts_after_seven_days_is_stopped_again_while_the_incident_is_open(
    strict, clock, inbox, clients
):
    create_instance("orders")
    create_cluster("analytics", "analytics-1")
    launch(2)
    tripped = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    assert status("orders") == "stopped"

    clock(SEVEN_DAYS)  # AWS starts both again by itself
    assert (status("orders"), cluster("analytics")["Status"]) == ("available", "available")
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert not later.tripped  # the EC2 instances stay stopped: below the limit
    assert later.incident == tripped.incident
    assert later.services_halted == {KIND: [f"{REGION}/analytics/analytics-1", f"{REGION}/orders"]}
    assert (status("orders"), cluster("analytics")["Status"]) == ("stopped", "stopped")
    assert tags("orders")[INCIDENT_TAG] == tripped.incident

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert sorted(restored.restore["services_restored"]) == [
        f"{REGION}/analytics",
        f"{REGION}/orders",
    ]


def test_dry_run_says_what_it_would_stop_and_stops_nothing(strict, inbox, clients):
    create_instance("orders")
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/orders"]}
    assert status("orders") == "available"
    assert INCIDENT_TAG not in tags("orders")


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_before_the_stop_and_a_timeout_between_restores_cleanly(
    strict, inbox, clients
):
    create_instance("orders")
    launch(2)
    made: list[str] = []
    client = clients.client("rds", REGION)
    client.meta.events.register(
        "before-call.rds.AddTagsToResource", lambda **_: made.append("AddTagsToResource")
    )

    def timeout(**_: Any) -> None:
        made.append("StopDBInstance")
        raise LambdaTimeout

    client.meta.events.register("before-call.rds.StopDBInstance", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made == ["AddTagsToResource", "StopDBInstance"]
    assert INCIDENT_TAG in tags("orders") and status("orders") == "available"

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == []  # nothing was stopped: nothing started
    assert status("orders") == "available"
    assert INCIDENT_TAG not in tags("orders")


def test_what_aws_cannot_stop_is_reported_and_keeps_no_record(strict, inbox, clients):
    """A read replica: AWS refuses its stop (RDS User Guide, limitations); the incident must not
    claim it, or restore would start what the incident never stopped."""
    create_instance("orders")
    rds().create_db_instance_read_replica(
        DBInstanceIdentifier="orders-replica", SourceDBInstanceIdentifier="orders"
    )
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert f"{REGION}/orders-replica" not in report.services_halted.get(KIND, [])
    assert any(
        f"{REGION}: {KIND} orders-replica: stopping: InvalidDBClusterStateFault" in error
        for error in report.action_errors
    ), report.action_errors
    assert INCIDENT_TAG not in tags("orders-replica")
    assert status("orders-replica") == "available"


def test_a_database_still_starting_waits_for_the_next_run(strict, clock, inbox, clients):
    strict.pending_seconds = 60
    create_instance("orders")
    rds().stop_db_instance(DBInstanceIdentifier="orders")
    clock(60)
    rds().start_db_instance(DBInstanceIdentifier="orders")  # starting for 60 s
    launch(2)

    first = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert first.services_waiting == {KIND: [f"{REGION}/orders"]}
    assert INCIDENT_TAG not in tags("orders")
    clock(60)
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)
    assert later.services_halted == {KIND: [f"{REGION}/orders"]}
    assert status("orders") == "stopping"


def test_databases_weigh_as_their_ec2_type_and_serverless_by_its_maximum_capacity(
    strict, inbox, clients
):
    """db.m5.4xlarge weighs as m5.4xlarge (16 vCPUs); a db.serverless instance of a cluster that
    scales to 32 ACUs weighs 8 vCPUs: 24 vCPUs against a limit of 20, and no EC2 at all."""
    create_instance("orders", kind="db.m5.4xlarge")
    create_cluster(
        "bursty", ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 32}
    )
    create_instance("bursty-1", cluster="bursty", kind="db.serverless")

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(vcpus=20)),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.burn["vcpus"] == 24
    assert report.burn["unweighed"] == {}
    assert report.tripped, report.reason
    assert cluster("bursty")["Status"] == "stopped"
