"""RDS DB instances and Aurora (or Multi-AZ) DB clusters: counted, stopped at a trip, started
again by restore.

A DB instance bills its instance hours while it runs; stopped, it bills only storage and backups
("you're not charged for DB instance hours", RDS User Guide, "Stopping an Amazon RDS DB instance
temporarily"); the same for an Aurora cluster's instances (Aurora User Guide, "Stopping and
starting an Amazon Aurora DB cluster"). Counted: each DB instance whose status is not stopped,
stopping or deleting, weighed as the EC2 type of its class (db.r6g.large as r6g.large, burn.py).
An Aurora Serverless v2 instance (class db.serverless) weighs its cluster's maximum capacity at
a quarter vCPU per ACU ("Each ACU is a combination of approximately 2 gibibytes (GiB) of memory,
corresponding CPU, and networking", Aurora User Guide, "Aurora Serverless v2 capacity"; 2 GiB is
a quarter of a memory-optimized vCPU's 8 GiB): the maximum, so it trips early, never late.
Aurora Serverless v1 clusters (no DB instances; end of life 2025) are not counted.

Halt: a DB instance alone, StopDBInstance; an instance of a cluster, StopDBCluster on its
cluster ("For Aurora clusters, use StopDBCluster instead", API Reference, StopDBInstance), once
per cluster. Only `available` ones: AWS refuses the rest ("Instance X is not in available
state."); one still starting or changing waits for the next run. What AWS cannot stop at all is
reported with AWS's refusal: read replicas and instances that have one, Multi-AZ SQL Server
("You can't stop an Amazon RDS for SQL Server DB instance in a Multi-AZ configuration", User
Guide, limitations), RDS Custom, Aurora Serverless v1, global database clusters.

AWS starts a stopped instance or cluster again by itself after seven days ("The instance restarts
automatically after 7 days", API Reference, StopDBInstance). While the incident is open every
run counts it again and halt_services stops it again (handler.finish_incident); the launch
block refuses StartDBInstance/StartDBCluster to everyone else meanwhile.

Record, then change: the database (the instance, or the cluster) is tagged with the incident
(AddTagsToResource) before it is stopped, and untagged if AWS refuses the stop. Restore starts
what is stopped and carries the incident (with `restart` only, as EC2 instances; a start can
take "from minutes to hours"), and removes the tag from what runs again. DescribeDBInstances
and DescribeDBClusters answer with each database's TagList: restore needs no call per database.

IAM: rds:DescribeDBInstances, rds:DescribeDBClusters (any resource), rds:StopDBInstance,
rds:StartDBInstance (db ARNs), rds:StopDBCluster, rds:StartDBCluster (cluster ARNs),
rds:AddTagsToResource and rds:RemoveTagsFromResource (db and cluster ARNs, runawaytrain:* keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("rds_databases")

SERVICE = "rds"
KIND = "RDS database"
NAME = "rds-databases"  # in accounts.yaml's `halt:`
# Its only record tag is the incident's id: no prior value to take from a tag, so the
# incident's record naming it is all restore needs (ledger.py Record.values_expected).
PRIOR_VALUES = False
NOT_BILLING = ("stopped", "stopping", "deleting")
STOPPABLE = "available"
# Statuses that end by themselves (DB instance status, RDS User Guide "Viewing Amazon RDS DB
# instance status"): the next run stops the database. Any other (storage-full,
# incompatible-parameters, ...) is reported as AWS's refusal.
PASSING = (
    "creating",
    "starting",
    "backing-up",
    "modifying",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "upgrading",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "maintenance",
    "storage-optimization",
    "converting-to-vpc",
    "moving-to-vpc",
    "backtracking",
)
RUNNING_AGAIN = ("available", "starting")  # started since (or never stopped): the record is done
PAGE_SIZE = 100  # DescribeDBInstances / DescribeDBClusters MaxRecords upper bound
SERVERLESS_CLASS = "db.serverless"
VCPUS_PER_ACU = 0.25
CLUSTER_ARN = ":cluster:"  # arn:aws:rds:REGION:ACCOUNT:cluster:NAME
STOP_KEEPS = (
    "Kept: storage, snapshots and automated backups (still billed), endpoint and configuration. "
    "Lost: memory (caches). AWS starts a stopped database again after 7 days: while the incident "
    "is open the guard stops it again. Restore with restart_instances starts them."
)


def count(rds: Any, region: str) -> list[Running]:
    """The DB instances of the region that bill now: two listings (instances and clusters),
    100 a page."""
    clusters = {c["DBClusterIdentifier"]: c for c in _clusters(rds)}
    found = []
    for instance in _instances(rds):
        status = instance["DBInstanceStatus"]
        if status in NOT_BILLING:
            continue
        name, arn, state = instance["DBInstanceIdentifier"], instance["DBInstanceArn"], status
        cluster = clusters.get(instance.get("DBClusterIdentifier") or "")
        if cluster is not None:  # stopped and started as its cluster
            name = f"{cluster['DBClusterIdentifier']}/{name}"
            arn, state = cluster["DBClusterArn"], cluster["Status"]
        instance_class, vcpus = instance["DBInstanceClass"], None
        if instance_class == SERVERLESS_CLASS:
            scaling = (cluster or {}).get("ServerlessV2ScalingConfiguration", {})
            instance_class = ""
            vcpus = float(scaling.get("MaxCapacity", 256)) * VCPUS_PER_ACU  # 256: the most
        found.append(
            Running(
                kind=KIND,
                region=region,
                name=name,
                arn=arn,
                instance_type=instance_class,
                state=state,
                vcpus=vcpus,
            )
        )
    return found


def halt(rds: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Tag, then stop, each available database in `found` (a cluster once, for all its
    instances); one still changing waits for the next run."""
    outcome = ServiceHalt()
    databases: dict[str, list[Running]] = {}
    for item in found:
        databases.setdefault(item.arn, []).append(item)
    for arn, items in databases.items():
        state, region = items[0].state, items[0].region
        where = f"{region}: {KIND} {_identifier(arn)}"
        if state in PASSING:
            outcome.waiting += items
            continue
        if state != STOPPABLE:
            outcome.errors.append(
                f"{where}: not stopped: AWS stops only available ones, not {state}"
            )
            continue
        try:
            rds.add_tags_to_resource(
                ResourceName=arn, Tags=[{"Key": INCIDENT_TAG, "Value": incident}]
            )
        except (ClientError, BotoCoreError) as error:  # stopped all the same, reported
            outcome.errors.append(
                f"{where}: recording: {describe_error(error)}; stopped all the same: start it "
                "by hand after restore"
            )
        try:
            _stop(rds, arn)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: stopping: {describe_error(error)}")
            # Not stopped by us: no record of a stop that did not happen (a timeout: kept).
            if refused(error):
                _untag(rds, arn, where, outcome.errors)
            continue
        outcome.halted += items
        LOG.info("database_stopped", extra={"region": region, "database": _identifier(arn)})
    return outcome


def restore(
    rds: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Start the databases `incident` stopped (only with `restart`), and take its tag off what
    needs it no longer."""
    outcome = ServiceRestore()
    listed: list[tuple[str, str, str, list[dict[str, str]]]] = [
        (c["DBClusterIdentifier"], c["DBClusterArn"], c["Status"], c.get("TagList", []))
        for c in _clusters(rds)
    ]
    listed += [
        (i["DBInstanceIdentifier"], i["DBInstanceArn"], i["DBInstanceStatus"], i.get("TagList", []))
        for i in _instances(rds)
        if not i.get("DBClusterIdentifier")  # its cluster carries the record
    ]
    for name, arn, status, tags in listed:
        vouched = record.vouch({t["Key"]: t["Value"] for t in tags}, arn, name)
        if vouched.get(INCIDENT_TAG) != incident:
            continue
        where = f"{region}/{name}"
        stopped = status == "stopped"
        if not (stopped and restart) and status not in RUNNING_AGAIN:
            outcome.not_yet.append(where)  # stopping, or not asked to restart
            continue
        if dry_run:
            if stopped:
                outcome.restored.append(where)
            continue
        try:
            if stopped:
                _start(rds, arn)
                outcome.restored.append(where)
            rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[INCIDENT_TAG])
        except (ClientError, BotoCoreError) as error:
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
    return outcome


def _instances(rds: Any) -> Iterable[dict[str, Any]]:
    pages = rds.get_paginator("describe_db_instances").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return (instance for page in pages for instance in page["DBInstances"])


def _clusters(rds: Any) -> Iterable[dict[str, Any]]:
    pages = rds.get_paginator("describe_db_clusters").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return (cluster for page in pages for cluster in page["DBClusters"])


def _identifier(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _stop(rds: Any, arn: str) -> None:
    if CLUSTER_ARN in arn:
        rds.stop_db_cluster(DBClusterIdentifier=_identifier(arn))
    else:
        rds.stop_db_instance(DBInstanceIdentifier=_identifier(arn))


def _start(rds: Any, arn: str) -> None:
    if CLUSTER_ARN in arn:
        rds.start_db_cluster(DBClusterIdentifier=_identifier(arn))
    else:
        rds.start_db_instance(DBInstanceIdentifier=_identifier(arn))


def _untag(rds: Any, arn: str, where: str, errors: list[str]) -> None:
    try:
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[INCIDENT_TAG])
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: untagging: {describe_error(error)}")
