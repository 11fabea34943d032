"""Strict RDS: stop and start take time, AWS starts a stopped database again after seven days,
a cluster's stop stops its instances, and an Aurora instance refuses a stop of its own."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from strict_aws import StrictAWS, strict_aws
from strict_aws.rds import SEVEN_DAYS
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import REGION, error_of


def rds() -> Any:
    return boto3.client("rds", region_name=REGION)


def create_instance(name: str = "pg", cluster: str | None = None) -> None:
    extra: dict[str, Any] = (
        {"Engine": "aurora-postgresql", "DBClusterIdentifier": cluster}
        if cluster
        else {"Engine": "postgres", "AllocatedStorage": 20}
    )
    rds().create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.r6g.large",
        MasterUsername="admin",
        MasterUserPassword="password1",
        **extra,
    )


def create_cluster(name: str = "aurora") -> None:
    rds().create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="password1",
    )
    create_instance(f"{name}-1", cluster=name)


def instance_status(name: str = "pg") -> str:
    return str(
        rds().describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"]
    )


def cluster_status(name: str = "aurora") -> str:
    return str(rds().describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["Status"])


def test_an_instance_stops_and_starts_over_time(strict: StrictAWS, clock: FakeClock) -> None:
    create_instance()
    rds().stop_db_instance(DBInstanceIdentifier="pg")
    assert instance_status() == "stopping"
    assert error_of(rds().start_db_instance, DBInstanceIdentifier="pg") == (
        "InvalidDBInstanceState",
        "Instance pg is not stopped, it cannot be started.",
    )
    clock.now += 30
    assert instance_status() == "stopped"
    rds().start_db_instance(DBInstanceIdentifier="pg")
    assert instance_status() == "starting"
    assert error_of(rds().stop_db_instance, DBInstanceIdentifier="pg") == (
        "InvalidDBInstanceState",
        "Instance pg is not in available state.",
    )
    clock.now += 30
    assert instance_status() == "available"


def test_aws_starts_a_stopped_instance_again_after_seven_days(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create_instance()
    rds().stop_db_instance(DBInstanceIdentifier="pg")
    clock.now += SEVEN_DAYS - 1
    assert instance_status() == "stopped"
    clock.now += 1
    assert instance_status() == "starting"
    clock.now += 30
    assert instance_status() == "available"


def test_a_cluster_stop_stops_its_instances_and_they_restart_with_it(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create_cluster()
    rds().stop_db_cluster(DBClusterIdentifier="aurora")
    assert (cluster_status(), instance_status("aurora-1")) == ("stopping", "stopping")
    clock.now += 30
    assert (cluster_status(), instance_status("aurora-1")) == ("stopped", "stopped")
    clock.now += SEVEN_DAYS
    assert (cluster_status(), instance_status("aurora-1")) == ("available", "available")
    rds().stop_db_cluster(DBClusterIdentifier="aurora")
    clock.now += 30
    rds().start_db_cluster(DBClusterIdentifier="aurora")
    assert (cluster_status(), instance_status("aurora-1")) == ("starting", "starting")
    clock.now += 30
    assert (cluster_status(), instance_status("aurora-1")) == ("available", "available")


def test_an_aurora_instance_refuses_a_stop_of_its_own(strict: StrictAWS) -> None:
    create_cluster()
    assert error_of(rds().stop_db_instance, DBInstanceIdentifier="aurora-1") == (
        "InvalidParameterCombination",
        "aurora-postgresql DB instances are not eligible for stopping and starting.",
    )
    assert instance_status("aurora-1") == "available"


def test_make_running_and_uninstall_settle_a_stopping_database(clock: FakeClock) -> None:
    with mock_aws():
        with strict_aws(pending_seconds=30, clock=clock) as strict:
            create_instance("a")
            create_instance("b")
            rds().stop_db_instance(DBInstanceIdentifier="a")
            rds().stop_db_instance(DBInstanceIdentifier="b")
            strict.make_running(["a"])
            assert (instance_status("a"), instance_status("b")) == ("stopped", "stopping")
        assert instance_status("b") == "stopped"
