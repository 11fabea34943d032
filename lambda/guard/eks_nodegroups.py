"""EKS managed node groups: scaled to 0 at a trip, their scaling configuration given back by
restore.

A managed node group's nodes are EC2 instances in an Auto Scaling group EKS owns (DescribeNodegroup
`resources.autoScalingGroups`): the EC2 census counts them and the EC2 halt stops them and
suspends the group's processes (auto_scaling.py). So a node group weighs nothing here (count 0):
its money is weighed once, as EC2. What the halt here adds is that EKS stops asking for nodes:
minSize 0 and desiredSize 0 (UpdateNodegroupConfig scalingConfig). maxSize stays as it is: its
minimum is 1 (EKS API Reference, NodegroupScalingConfig: maxSize "Minimum value of 1"; botocore
refuses 0 before sending). EKS keeps min <= desired <= max ("Minimum capacity 2 can't be greater
than desired size 1", terraform-aws-modules/terraform-aws-eks#2508; "desiredSize can't be greater
than maxSize", ministryofjustice/cloud-platform-infrastructure#4595, both
InvalidParameterException), which 0/0/max is. A smaller desiredSize makes EKS terminate nodes
("the necessary number of worker nodes are terminated", NodegroupScalingConfig.desiredSize).

With the EC2 halt: both run at once. The group's Terminate process is suspended (auto_scaling.py),
so desired 0 terminates nothing: the nodes stay stopped, their volumes kept. A node group is
scaled in only once every Auto Scaling group of it that holds instances has Terminate suspended
(`unheld`, one DescribeAutoScalingGroups): if the EC2 halt could not suspend it (or has not yet),
the node group waits for the next run, said in the mail. Restore must give the
node group its size back BEFORE the EC2 restore resumes the group's processes, or Auto Scaling
would terminate the restarted nodes (desired still 0) and EKS launch new ones; handler.run_restore
restores other services first for this. UpdateNodegroupConfig is asynchronous (it returns an
update; the node group reads UPDATING), so on real AWS the resize may still be under way when the
processes resume: the restarted nodes could then be replaced by new ones (UNCERTAIN how EKS
orders the two; nodes are replaceable by design, nothing stored on them survives either way).

Counted: node groups with desiredSize above 0, whatever their status but DELETING. Only an ACTIVE
or DEGRADED one is updated: one CREATING or UPDATING waits for the next run while the incident is
open.

Record, then change: the node group is tagged with the incident and its prior "min/desired/max"
before the update; a refused update takes them off again. Restore (only with restart: a size
back launches instances) sets the recorded scaling configuration and removes the tags; without
restart the record stays. Tags are read from DescribeNodegroup (`tags`).

IAM: eks:ListClusters (no resource-level permissions), eks:ListNodegroups (cluster ARNs),
autoscaling:DescribeAutoScalingGroups (the EC2 halt's too),
eks:DescribeNodegroup, eks:UpdateNodegroupConfig (nodegroup ARNs), eks:TagResource /
eks:UntagResource (nodegroup ARNs, runawaytrain:* keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.parallel import map_items
from guard.service_capacity import Running, ServiceHalt, ServiceRestore, untag_resource

LOG = get_logger("eks_nodegroups")

SERVICE = "eks"
AUTOSCALING = "autoscaling"
EXTRA_SERVICES = (AUTOSCALING,)  # count, halt and restore get {service: client}
KIND = "EKS managed node group"
NAME = "eks-nodegroups"
# A few per Region: each node group's prior scaling goes to the incident's record before its
# change (services.py), so a Lambda timeout never leaves one scaled in without it (ledger.py).
EAGER_RECORD = True
# Desired 0 makes Auto Scaling terminate the group's nodes unless Terminate is suspended
# (auto_scaling.py ASG_PROCESSES): stopped by the EC2 halt, they would lose their volumes.
HELD_BY = "Terminate"
SCALING_TAG = f"{TAG_PREFIX}prior-scaling"  # "min/desired/max"
RECORD_TAGS = (INCIDENT_TAG, SCALING_TAG)
UPDATABLE = ("ACTIVE", "DEGRADED")
GONE = ("DELETING",)
STOP_KEEPS = (
    "Scaled to min 0, desired 0 (max kept): EKS asks for no nodes; its nodes are EC2 instances, "
    "in the EC2 count and halt above. Restore with restart_instances gives its size back."
)


def cluster_names(eks: Any) -> list[str]:
    return [c for page in eks.get_paginator("list_clusters").paginate() for c in page["clusters"]]


def group_names(eks: Any, cluster: str) -> list[tuple[str, str]]:
    pages = eks.get_paginator("list_nodegroups").paginate(clusterName=cluster)
    return [(cluster, name) for page in pages for name in page["nodegroups"]]


def described(eks: Any, group: tuple[str, str]) -> dict[str, Any]:
    return dict(eks.describe_nodegroup(clusterName=group[0], nodegroupName=group[1])["nodegroup"])


def node_groups(eks: Any) -> Iterator[dict[str, Any]]:
    """DescribeNodegroup of every managed node group of every cluster of the region, one after
    another (restore acts on each as it comes: one failing describe leaves those before it
    restored)."""
    for cluster in cluster_names(eks):
        for group in group_names(eks, cluster):
            yield described(eks, group)


def counted_node_groups(eks: Any) -> list[dict[str, Any]]:
    """What node_groups yields, asked at once: DescribeNodegroup takes one clusterName and one
    nodegroupName, with no batch form (EKS API Reference), so the clusters' node groups are
    listed at once, then described at once (parallel.map_items)."""
    listed = map_items(lambda cluster: group_names(eks, cluster), cluster_names(eks))
    return map_items(lambda group: described(eks, group), [g for groups in listed for g in groups])


def count(clients: dict[str, Any], region: str) -> list[Running]:
    eks = clients[SERVICE]
    return [
        Running(
            kind=KIND,
            region=region,
            name=f"{group['clusterName']}/{group['nodegroupName']}",
            arn=group["nodegroupArn"],
            instance_type=",".join(group.get("instanceTypes") or []),
            state=group.get("status", ""),
            count=0,  # its nodes are EC2 instances: weighed by the EC2 census
        )
        for group in counted_node_groups(eks)
        if group.get("scalingConfig", {}).get("desiredSize", 0) > 0
        and group.get("status") not in GONE
    ]


def scaling_of(text: str) -> dict[str, int]:
    low, desired, high = (int(part) for part in text.split("/"))
    return {"minSize": low, "desiredSize": desired, "maxSize": high}


def unheld(autoscaling: Any, group: dict[str, Any]) -> str | None:
    """Why the node group may not be scaled in yet, or None: one of its Auto Scaling groups
    holds instances and has not Terminate suspended (the EC2 halt suspends it beside this halt;
    one whose suspension failed, or is not done yet, waits for the next run)."""
    names = [g["name"] for g in group.get("resources", {}).get("autoScalingGroups", [])]
    if not names:
        return None
    try:
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=names)
    except (ClientError, BotoCoreError) as error:
        return f"reading its Auto Scaling groups {names}: {describe_error(error)}"
    bare = sorted(
        g["AutoScalingGroupName"]
        for g in found["AutoScalingGroups"]
        if g.get("Instances")
        and HELD_BY not in {p["ProcessName"] for p in g.get("SuspendedProcesses", [])}
    )
    if not bare:
        return None
    return f"its Auto Scaling group(s) {bare} have not {HELD_BY} suspended"


def halt(clients: dict[str, Any], found: list[Running], incident: str) -> ServiceHalt:
    """Tag (incident, prior scaling), then scale to min 0, desired 0; a node group whose Auto
    Scaling group is not suspended waits for the next run (`unheld`)."""
    eks, autoscaling = clients[SERVICE], clients[AUTOSCALING]
    outcome = ServiceHalt()
    for running in found:
        cluster, name = running.name.split("/", 1)
        try:
            group = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{running.region}: reading {KIND} {running.name}: {describe_error(error)}"
            )
            continue
        scaling = group.get("scalingConfig", {})
        if scaling.get("desiredSize", 0) == 0 and scaling.get("minSize", 0) == 0:
            continue  # scaled in since the count
        if group.get("status") not in UPDATABLE:
            outcome.waiting.append(running)
            continue
        why = unheld(autoscaling, group)
        if why is not None:
            outcome.waiting.append(running)  # the incident stays open: the next run tries
            outcome.errors.append(
                f"{running.region}: {KIND} {running.name}: not scaled in: {why} (desired 0 "
                "would terminate its stopped nodes); the next run tries again"
            )
            continue
        # Already recorded by this incident (sized up again since): keep the first record.
        recorded_now = group.get("tags", {}).get(INCIDENT_TAG) != incident
        if recorded_now:
            prior = f"{scaling['minSize']}/{scaling['desiredSize']}/{scaling['maxSize']}"
            try:
                eks.tag_resource(
                    resourceArn=running.arn, tags={INCIDENT_TAG: incident, SCALING_TAG: prior}
                )
            except (ClientError, BotoCoreError) as error:
                outcome.errors.append(
                    f"{running.region}: recording {KIND} {running.name}: {describe_error(error)}; "
                    "not scaled in (restore could not give its size back)"
                )
                continue
        try:
            eks.update_nodegroup_config(
                clusterName=cluster,
                nodegroupName=name,
                scalingConfig={"minSize": 0, "desiredSize": 0, "maxSize": scaling["maxSize"]},
            )
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{running.region}: scaling in {KIND} {running.name}: {describe_error(error)}"
            )
            if recorded_now and refused(error):  # no record of a change that did not happen
                where = f"{running.region}: {KIND} {running.name}"
                untag_resource(eks, running.arn, list(RECORD_TAGS), where, outcome.errors)
            continue
        outcome.halted.append(running)
        LOG.info("nodegroup_scaled_in", extra={"region": running.region, "nodegroup": running.name})
    return outcome


def restore(
    clients: dict[str, Any],
    region: str,
    incident: str,
    *,
    dry_run: bool,
    restart: bool,
    record: Record,
) -> ServiceRestore:
    """Give the node groups `incident` scaled in their recorded size back (only with
    `restart`), then take the record off."""
    eks = clients[SERVICE]
    outcome = ServiceRestore()
    for group in node_groups(eks):
        tags = record.vouch(group.get("tags", {}), group["nodegroupArn"])
        if tags.get(INCIDENT_TAG) != incident:
            continue
        cluster, name = group["clusterName"], group["nodegroupName"]
        where, arn = f"{region}/{cluster}/{name}", group["nodegroupArn"]
        try:
            prior = scaling_of(tags.get(SCALING_TAG, ""))
        except ValueError:
            outcome.errors[f"{KIND} {where}"] = f"its record {SCALING_TAG} is unreadable"
            continue
        try:
            if group.get("scalingConfig") == prior:
                # Never scaled in (a crash between the record and the change), or sized back
                # by hand: nothing to give back, the record goes.
                if not dry_run:
                    eks.untag_resource(resourceArn=arn, tagKeys=list(RECORD_TAGS))
                continue
            if not restart or group.get("status") not in UPDATABLE:
                outcome.not_yet.append(where)  # the record stays for the next restore
                continue
            if not dry_run:
                eks.update_nodegroup_config(
                    clusterName=cluster, nodegroupName=name, scalingConfig=prior
                )
                eks.untag_resource(resourceArn=arn, tagKeys=list(RECORD_TAGS))
        except (ClientError, BotoCoreError) as error:
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
            continue
        outcome.restored.append(where)
    return outcome
