"""Redshift provisioned clusters: counted, paused at a trip, resumed by restore.

A provisioned cluster bills each node's hours while it runs; "While the cluster is paused,
on-demand billing is suspended. Only the cluster's storage incurs charges" (Redshift Management
Guide, "Pausing and resuming clusters", rs-mgmt-pause-resume-cluster.html). Counted: each
cluster from DescribeClusters (100 a page: MaxRecords, API Reference) that is not paused,
pausing or being deleted, one Running per cluster with count = NumberOfNodes.

Weighed by the vCPUs of its node type (Running.vcpus), from the node type table of the Redshift
Management Guide ("Amazon Redshift provisioned clusters", working-with-clusters.html: RA3
ra3.large 2, ra3.xlplus 4, ra3.4xlarge 12, ra3.16xlarge 48; DC2 dc2.large 2, dc2.8xlarge 32;
the retired DS2 ds2.xlarge 4, ds2.8xlarge 36): a Redshift node type is not an EC2 type, so EC2's
DescribeInstanceTypes cannot describe it (and one unknown type in its call would fail the EC2
types asked with it). A dollar limit then counts the unpriced rate per vCPU (burn.py), above
Redshift's on-demand rates per vCPU (about 0.27 USD for ra3.16xlarge, 48 vCPUs, 13.04 USD/h in
us-east-1): it trips early, never late. The Price List (AmazonRedshift, productFamily "Compute
Instance") was not wired in: pricing.py tells its offers apart by the type's prefix (ml.*,
Fargate), which Redshift's node types lack, so it would take a new key shape in pricing, weigh
and burn for a price the unpriced rate already bounds. A node type missing from the table is
not weighed at all (vCPUs unknown): the run is degraded, as for an EC2 type DescribeInstanceTypes
did not describe (burn.py), never weighed 0. Multi-AZ clusters: not researched, counted by
NumberOfNodes.

Halt: PauseCluster, only from `available` (cloud-custodian's redshift pause filters on the same
status); AWS refuses "Clusters that are not active, for example, a cluster that is currently
modifying" (same page): one in a passing state (modifying, resizing, resuming, ...) waits for
the next run. AWS cannot pause "Hardware security module (HSM) clusters" nor "Clusters that have
automated snapshots turned off" (AutomatedSnapshotRetentionPeriod 0): reported with what to do
by hand, no record left. EC2-Classic clusters (the page's first exception) no longer exist.

Scheduled actions: a cluster's scheduled ResumeCluster actions exist to resume it when paused
(the console makes "-pause"/"-resume" pairs, same page); "Any scheduled actions on the cluster
aren't done" while paused names snapshots, resizes and maintenance, not a resume. So the halt
disables the cluster's enabled scheduled resume actions after the pause, recorded on the cluster
(RESUME_ACTIONS_TAG, with the incident), and restore enables them again. moto has no scheduled
actions; strict_aws/redshift.py emulates the three calls (never their firing).

A cluster resumed while the incident is open (by its owner, or by a scheduled action the guard
could not disable) bills again: the next run counts it and halt_services pauses it again,
keeping the record of the resume actions disabled before (handler.finish_incident, as RDS's
seven-day restart).

Record, then change: the incident goes on the cluster (CreateTags on its ARN) before the pause;
a pause AWS refuses takes it off again. Restore resumes the paused clusters carrying the
incident (only with `restart`, as EC2 instances and RDS databases), enables the recorded resume
actions and removes the record; a cluster already resumed (or never paused: a crash between the
record and the pause) only loses its record. A resume AWS refuses
(InsufficientClusterCapacityFault, API Reference ResumeCluster) is an error for that cluster,
its record kept for a later restore.

DescribeClusters gives no cluster ARN: it is built from the cluster's ClusterNamespaceArn
(arn:PARTITION:redshift:REGION:ACCOUNT:namespace:ID, whose account and partition the cluster
shares; "arn:aws:redshift:us-east-2:123456789:cluster:t1", API Reference CreateTags). A cluster
without one cannot be recorded, so it is not paused: an error says so.

Fast trip: none. Redshift sends EventBridge only zero-ETL integration events ("Redshift
Integration ..."; EventBridge events reference, "Amazon Redshift events"); cluster events go
to SNS event subscriptions, and API calls reach EventBridge only through CloudTrail. The
schedule counts it.

Not here: Redshift Serverless, billed by RPU-hours with no pause (and no moto backend);
docs/services.md says so.

IAM: redshift:DescribeClusters (cluster, optional), redshift:PauseCluster and
redshift:ResumeCluster (cluster ARNs), redshift:CreateTags / redshift:DeleteTags (cluster ARNs,
runawaytrain:* keys), redshift:DescribeScheduledActions and redshift:ModifyScheduledAction (no
resource-level permissions).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("redshift_clusters")

SERVICE = "redshift"
KIND = "Redshift cluster"
NAME = "redshift-clusters"  # in accounts.yaml's `halt:`
# A few per Region: each item's prior values go to the incident's record before its change
# (services.py), so a Lambda timeout between the two never leaves one without them (ledger.py).
EAGER_RECORD = True
# Its instance types are Redshift node types, not EC2's: weigh.py never asks EC2 about them.
EC2_TYPES = False
# vCPUs per node (Redshift Management Guide, node type table: see the docstring).
NODE_VCPUS: dict[str, float] = {
    "ra3.large": 2,
    "ra3.xlplus": 4,
    "ra3.4xlarge": 12,
    "ra3.16xlarge": 48,
    "dc2.large": 2,
    "dc2.8xlarge": 32,
    "ds2.xlarge": 4,
    "ds2.8xlarge": 36,
}
NOT_BILLING = ("paused", "pausing", "deleting", "final-snapshot")
PAUSABLE = "available"
# ClusterStatus values that end by themselves (API Reference, Cluster.ClusterStatus; `resuming`
# from the Management Guide's pause page): the next run pauses the cluster. Any other
# (hardware-failure, incompatible-*, storage-full) is reported as not pausable.
PASSING = (
    "creating",
    "modifying",
    "rebooting",
    "renaming",
    "resizing",
    "resuming",
    "rotating-keys",
    "updating-hsm",
    "cancelling-resize",
    "available, prep-for-resize",
    "available, resize-cleanup",
)
RUNNING_AGAIN = ("available", "resuming")  # resumed since (or never paused): the record is done
PAGE_SIZE = 100  # DescribeClusters MaxRecords upper bound (API Reference)
# On the cluster: the scheduled ResumeCluster actions this incident disabled, space-separated (a
# space is allowed in tag values everywhere, a comma not; that action names hold no space is
# UNCERTAIN: the API Reference sets no pattern for ScheduledActionName).
RESUME_ACTIONS_TAG = f"{TAG_PREFIX}disabled-resume-actions"
SEPARATOR = " "
# Redshift tags: key 1-127, value 1-255 characters (CloudFormation reference, AWS::Redshift::Cluster
# Tag; the API Reference's Tag states no limit), at most 50 a resource ("A resource can have up
# to 50 tags", API Reference, CreateTags). The smaller numbers are taken: runawaytrain's keys are
# short, and the value of RESUME_ACTIONS_TAG fills at most 255.
TAG_VALUE_MAX = 255
STOP_KEEPS = (
    "Kept: the cluster, its data and managed storage (still billed), endpoint and "
    "configuration; AWS takes a snapshot at the pause. Lost: running queries and connections; "
    "its scheduled resume actions are disabled until restore. Restore with restart_instances "
    "resumes them."
)


def count(redshift: Any, region: str) -> list[Running]:
    """The clusters of the region that bill now: one listing, 100 a page."""
    found = []
    for cluster in _clusters(redshift):
        status = cluster["ClusterStatus"]
        if status in NOT_BILLING:
            continue
        node_type = cluster["NodeType"]
        found.append(
            Running(
                kind=KIND,
                region=region,
                name=cluster["ClusterIdentifier"],
                arn=cluster_arn(cluster),
                instance_type=node_type,
                state=status,
                count=int(cluster.get("NumberOfNodes", 1)),
                vcpus=NODE_VCPUS.get(node_type),
            )
        )
    return found


def cluster_arn(cluster: dict[str, Any]) -> str:
    """arn:PARTITION:redshift:REGION:ACCOUNT:cluster:NAME, from its namespace's ARN; "" without."""
    parts = str(cluster.get("ClusterNamespaceArn") or "").split(":")
    if len(parts) < 6 or parts[2] != "redshift":
        return ""
    return ":".join([*parts[:5], "cluster", cluster["ClusterIdentifier"]])


def halt(redshift: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Record, then pause, each available cluster in `found`, then disable its scheduled resume
    actions; one in a passing state waits for the next run."""
    outcome = ServiceHalt()
    for item in found:
        where = f"{item.region}: {KIND} {item.name}"
        try:
            cluster = _describe(redshift, item.name)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: not paused: {describe_error(error)}")
            continue
        status = cluster["ClusterStatus"]
        if status in NOT_BILLING:
            continue  # paused since the count
        if status in PASSING:
            outcome.waiting.append(item)
            continue
        refusal = _not_pausable(cluster, status)
        if refusal:
            outcome.errors.append(f"{where}: not paused: {refusal}")
            continue
        if _pause(redshift, item, cluster, incident, outcome.errors):
            outcome.halted.append(item)
            LOG.info("cluster_paused", extra={"region": item.region, "cluster": item.name})
    return outcome


def _not_pausable(cluster: dict[str, Any], status: str) -> str:
    """Why AWS will not pause it (Management Guide, "Pausing and resuming clusters"), or ""."""
    if status != PAUSABLE:
        return f"AWS pauses only available clusters, not {status}; pause or delete it by hand"
    if int(cluster.get("AutomatedSnapshotRetentionPeriod", 1)) == 0:
        return (
            "AWS cannot pause a cluster with automated snapshots turned off (retention 0); "
            "turn them on (modify-cluster --automated-snapshot-retention-period 1) and it is "
            "paused by the next run, or delete it by hand (with a final snapshot)"
        )
    if (cluster.get("HsmStatus") or {}).get("HsmConfigurationIdentifier"):
        return (
            "AWS cannot pause an HSM cluster; resize it down or delete it by hand (with a final "
            "snapshot)"
        )
    if not cluster_arn(cluster):
        return "no ClusterNamespaceArn to build its ARN from: nowhere to record; pause it by hand"
    return ""


def _pause(
    redshift: Any, item: Running, cluster: dict[str, Any], incident: str, errors: list[str]
) -> bool:
    """Record, pause, then disable the resume actions; False if the pause did not happen."""
    where = f"{item.region}: {KIND} {item.name}"
    arn = cluster_arn(cluster)
    tags = {t["Key"]: t["Value"] for t in cluster.get("Tags", [])}
    # A record there already (this incident's, resumed since, or an older incident's never
    # restored) holds the OLDEST state: kept, never overwritten by what was disabled since.
    before = _names(tags.get(RESUME_ACTIONS_TAG, "")) if tags.get(INCIDENT_TAG) else []
    try:
        enabled = _enabled_resume_actions(redshift, item.name)
    except (ClientError, BotoCoreError) as error:  # paused all the same: the next run re-pauses
        errors.append(f"{where}: its scheduled resume actions not read: {describe_error(error)}")
        enabled = []
    disabling, record = _fit(before, enabled)
    if len(disabling) < len(enabled):
        left = ", ".join(sorted(set(enabled) - set(disabling)))
        errors.append(f"{where}: too many to record, left enabled: scheduled actions {left}")
    record_tags = [{"Key": INCIDENT_TAG, "Value": incident}]
    if record:
        record_tags.append({"Key": RESUME_ACTIONS_TAG, "Value": SEPARATOR.join(record)})
    try:
        redshift.create_tags(ResourceName=arn, Tags=record_tags)
    except (ClientError, BotoCoreError) as error:  # unrecorded: not paused (restore would miss it)
        errors.append(f"{where}: not paused: recording: {describe_error(error)}")
        return False
    try:
        redshift.pause_cluster(ClusterIdentifier=item.name)
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: pausing: {describe_error(error)}")
        # Refused, not paused by us: the record as it was before this run (no record of a
        # pause that did not happen). A timeout may come after the pause: the record stays.
        if refused(error):
            _put_back(redshift, arn, tags, where, errors)
        return False
    for name in disabling:
        try:
            redshift.modify_scheduled_action(ScheduledActionName=name, Enable=False)
        except (ClientError, BotoCoreError) as error:
            errors.append(
                f"{where}: scheduled action {name} not disabled: {describe_error(error)}; it may "
                "resume the cluster: the next run pauses it again"
            )
    return True


def _fit(before: list[str], enabled: list[str]) -> tuple[list[str], list[str]]:
    """(the enabled actions to disable, the record: those recorded before and these) within
    one tag value."""
    record, disabling = list(before), []
    for name in enabled:
        if name in record:
            disabling.append(name)
            continue
        if len(SEPARATOR.join([*record, name])) > TAG_VALUE_MAX:
            continue
        record.append(name)
        disabling.append(name)
    return disabling, record


def restore(
    redshift: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Resume the clusters `incident` paused (only with `restart`), enable the scheduled resume
    actions it disabled, and take its record off what needs it no longer."""
    outcome = ServiceRestore()
    for cluster in _clusters(redshift):
        tags = record.vouch(
            {t["Key"]: t["Value"] for t in cluster.get("Tags", [])},
            cluster_arn(cluster),
            cluster["ClusterIdentifier"],
        )
        if tags.get(INCIDENT_TAG) != incident:
            continue
        name, status = cluster["ClusterIdentifier"], cluster["ClusterStatus"]
        where = f"{region}/{name}"
        paused = status == "paused"
        if not (paused and restart) and status not in RUNNING_AGAIN:
            outcome.not_yet.append(where)  # pausing, or not asked to restart
            continue
        if dry_run:
            if paused:
                outcome.restored.append(where)
            continue
        try:
            if paused:
                redshift.resume_cluster(ClusterIdentifier=name)
                outcome.restored.append(where)
        except (ClientError, BotoCoreError) as error:  # the record stays: restore again
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
            continue
        # Each action on its own: one refused never keeps the others (nor the cluster) back;
        # the record keeps only the names still to enable, for the next restore.
        left = []
        for action in _names(tags.get(RESUME_ACTIONS_TAG, "")):
            try:
                _enable(redshift, action)
            except (ClientError, BotoCoreError) as error:
                outcome.errors[f"{KIND} {where} scheduled action {action}"] = describe_error(error)
                left.append(action)
        try:
            arn = cluster_arn(cluster)
            if left:
                value = SEPARATOR.join(left)
                redshift.create_tags(
                    ResourceName=arn, Tags=[{"Key": RESUME_ACTIONS_TAG, "Value": value}]
                )
            else:
                redshift.delete_tags(ResourceName=arn, TagKeys=[INCIDENT_TAG, RESUME_ACTIONS_TAG])
        except (ClientError, BotoCoreError) as error:  # the record stays: restore again
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
    return outcome


def _enable(redshift: Any, action: str) -> None:
    try:
        redshift.modify_scheduled_action(ScheduledActionName=action, Enable=True)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ScheduledActionNotFound":
            raise  # deleted since: nothing to enable


def _enabled_resume_actions(redshift: Any, cluster: str) -> list[str]:
    pages = redshift.get_paginator("describe_scheduled_actions").paginate(
        TargetActionType="ResumeCluster",
        Active=True,
        Filters=[{"Name": "cluster-identifier", "Values": [cluster]}],
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    return [
        action["ScheduledActionName"]
        for page in pages
        for action in page.get("ScheduledActions", [])
        if action.get("State") == "ACTIVE"
    ]


def _clusters(redshift: Any) -> Iterable[dict[str, Any]]:
    pages = redshift.get_paginator("describe_clusters").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return (cluster for page in pages for cluster in page["Clusters"])


def _describe(redshift: Any, name: str) -> dict[str, Any]:
    return dict(redshift.describe_clusters(ClusterIdentifier=name)["Clusters"][0])


def _names(value: str) -> list[str]:
    return [name for name in value.split(SEPARATOR) if name]


def _put_back(
    redshift: Any, arn: str, before: dict[str, str], where: str, errors: list[str]
) -> None:
    """The record's tags as they were in `before`: rewritten, or removed where there was none."""
    keys = (INCIDENT_TAG, RESUME_ACTIONS_TAG)
    back = [{"Key": key, "Value": before[key]} for key in keys if key in before]
    gone = [key for key in keys if key not in before]
    try:
        if back:
            redshift.create_tags(ResourceName=arn, Tags=back)
        if gone:
            redshift.delete_tags(ResourceName=arn, TagKeys=gone)
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: untagging: {describe_error(error)}")
