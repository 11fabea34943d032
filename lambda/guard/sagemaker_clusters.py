"""SageMaker HyperPod clusters: counted (every instance group's nodes), never scaled down by the
guard: a trip reports them, with what they burn, for a person to act on.

A HyperPod cluster bills its instance groups' nodes (DescribeCluster InstanceGroups[].CurrentCount
of InstanceType) whatever runs on them. Its only halt is UpdateCluster with a smaller
InstanceCount, which terminates nodes; AWS asks to "back up your data to Amazon S3 or an FSx for
Lustre file system before invoking the API on a worker node group ... to prevent any potential
data loss from the instance root volume", and an existing cluster may first need
UpdateClusterSoftware (SageMaker Developer Guide, "Scale down a SageMaker HyperPod cluster";
API Reference, BatchDeleteClusterNodes). No source calls an unattended scale-down safe, so the
kind is irreversible and, even where `halt:` names it, its halt changes nothing: each cluster is
an error in the mail ("not halted, scale it down by hand") while the incident is open. Restore
has nothing to give back.

IAM: sagemaker:ListClusters (no resource-level permissions), sagemaker:DescribeCluster (cluster
ARNs).
"""

from __future__ import annotations

from typing import Any

from guard.ledger import Record
from guard.parallel import map_items
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

SERVICE = "sagemaker"
KIND = "SageMaker HyperPod cluster"
NAME = "sagemaker-clusters"
PAGE_SIZE = 100  # ListClusters MaxResults upper bound
STOP_KEEPS = (
    "Not scaled down by the guard: a scale-down terminates nodes and what their root volumes "
    "hold (AWS asks for a backup first)."
)


def count(sagemaker: Any, region: str) -> list[Running]:
    """Every cluster's nodes, one Running per instance type. DescribeCluster takes one
    ClusterName, with no batch form (API Reference): the clusters are described at once
    (parallel.map_items)."""
    pages = sagemaker.get_paginator("list_clusters").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    names = [summary["ClusterName"] for page in pages for summary in page["ClusterSummaries"]]
    found: list[Running] = []
    for described in map_items(lambda name: sagemaker.describe_cluster(ClusterName=name), names):
        nodes: dict[str, int] = {}
        for group in described.get("InstanceGroups", []):
            held = int(group.get("CurrentCount") or 0)
            if held:
                nodes[group["InstanceType"]] = nodes.get(group["InstanceType"], 0) + held
        found += [
            Running(
                kind=KIND,
                region=region,
                name=described["ClusterName"],
                arn=described["ClusterArn"],
                instance_type=instance_type,
                state=described["ClusterStatus"],
                count=held,
            )
            for instance_type, held in sorted(nodes.items())
        ]
    return found


def halt(sagemaker: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Nothing changed: each cluster is reported for a person to scale down."""
    outcome = ServiceHalt()
    for name in dict.fromkeys(item.name for item in found):
        region = found[0].region
        nodes = sum(item.count for item in found if item.name == name)
        outcome.errors.append(
            f"{region}: {KIND} {name} ({nodes} node(s)) not halted: a scale-down terminates its "
            "nodes and their root volumes; back them up, then scale its instance groups down "
            "by hand (UpdateCluster)"
        )
    return outcome


def restore(
    sagemaker: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: the guard never changed a cluster."""
    return ServiceRestore()
