"""OpenSearch Service domains: counted by their nodes, never deleted by the guard: a trip reports
them, with what they burn, for a person to act on.

A domain bills its nodes by the hour whatever it does, and it has no stop: the OpenSearch API
offers no Stop or Pause operation (botocore model opensearch 2021-01-01), and DeleteDomain
"Deletes an Amazon OpenSearch Service domain and all of its data. You can't recover a domain
after you delete it" (API Reference, DeleteDomain). The only other lever, UpdateDomainConfig to
fewer or smaller nodes, moves shards and can lose them (a blue/green change a person should
watch). So the kind is irreversible and, even where `halt:` names it, its halt changes nothing:
each domain is an error in the mail ("not halted: snapshot, then delete it by hand") while the
incident is open. Restore has nothing to give back.

Census: ListDomainNames (one call; an empty region ends there), then DescribeDomains with at
most five names a call ("the domain configuration for up to five specified" domains, API
Reference, DescribeElasticsearchDomains, whose DomainNames list DescribeDomains kept; the strict
layer refuses more, strict_aws/opensearch.py). Each domain gives one Running per node role:
data nodes (ClusterConfig InstanceType x InstanceCount), dedicated masters
(DedicatedMasterEnabled: DedicatedMasterType x DedicatedMasterCount), UltraWarm nodes
(WarmEnabled: WarmType x WarmCount) and coordinator nodes (NodeOptions "coordinator": NodeConfig
Type x Count). An OpenSearch type weighs as the EC2 type it names: r6g.large.search is an
r6g.large (".search", and ".elasticsearch" for the older Elasticsearch types, removed). A type
with no EC2 twin keeps its OpenSearch name and is never sent to EC2's DescribeInstanceTypes
(one unknown type fails the whole call, and with it the vCPUs of the region's real types): it is
reported unweighed, not guessed. Those are the families of botocore's
OpenSearchPartitionInstanceType that EC2's InstanceType enum lacks (or1, ultrawarm1; botocore
1.40 models), and the OpenSearch-optimized or2, om2 and oi2 named since (UNCERTAIN: not in that
model); any other that EC2 refuses is set aside by weights.describe_types. A domain whose
Deleted is true is on its way out and is not counted ("True if domain deletion is complete",
API Reference, DomainStatus).

OpenSearch Serverless (collections billed in OCUs) is another API (opensearchserverless) and is
not counted here: it has no per-collection capacity to read, only account-wide OCU use.

IAM: es:ListDomainNames (no resource-level permissions) and es:DescribeDomains (domain ARNs):
Service Authorization Reference, "Actions defined by Amazon OpenSearch Service".
"""

from __future__ import annotations

from typing import Any

from guard.ledger import Record
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

SERVICE = "opensearch"
KIND = "OpenSearch domain"
NAME = "opensearch-domains"
DESCRIBE_CHUNK = 5  # DescribeDomains names at most (module docstring)
TYPE_SUFFIXES = (".search", ".elasticsearch")
NOT_EC2_FAMILIES = frozenset({"or1", "or2", "om2", "oi2", "ultrawarm1"})  # see the docstring
STOP_KEEPS = (
    "Not deleted by the guard: an OpenSearch domain has no stop, and deleting it loses its "
    "indices (take a manual snapshot first)."
)


def ec2_type(instance_type: str) -> str:
    """The EC2 type an OpenSearch node type names: r6g.large.search -> r6g.large; a type with
    no EC2 twin (ultrawarm1.medium.search) keeps its own name."""
    if instance_type.split(".", 1)[0] in NOT_EC2_FAMILIES:
        return instance_type
    for suffix in TYPE_SUFFIXES:
        if instance_type.endswith(suffix):
            return instance_type.removesuffix(suffix)
    return instance_type


def is_ec2_type(instance_type: str) -> bool:
    """Whether a Running's instance_type (after ec2_type) is an EC2 type (services.ec2_typed)."""
    return instance_type.split(".", 1)[0] not in NOT_EC2_FAMILIES


def nodes_of(domain: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(role, node type, count) of every node role the domain bills."""
    config = domain.get("ClusterConfig", {})
    nodes = [("data", config.get("InstanceType", ""), int(config.get("InstanceCount") or 0))]
    if config.get("DedicatedMasterEnabled"):
        masters = int(config.get("DedicatedMasterCount") or 0)
        nodes.append(("master", config.get("DedicatedMasterType", ""), masters))
    if config.get("WarmEnabled"):
        nodes.append(("warm", config.get("WarmType", ""), int(config.get("WarmCount") or 0)))
    for option in config.get("NodeOptions", []):
        node = option.get("NodeConfig", {})
        if node.get("Enabled"):
            held = int(node.get("Count") or 0)
            nodes.append((option.get("NodeType", ""), node.get("Type", ""), held))
    return [(role, kind, held) for role, kind, held in nodes if kind and held]


def count(opensearch: Any, region: str) -> list[Running]:
    """Every domain's nodes, one Running per node role."""
    names = [d["DomainName"] for d in opensearch.list_domain_names().get("DomainNames", [])]
    found: list[Running] = []
    for start in range(0, len(names), DESCRIBE_CHUNK):
        chunk = names[start : start + DESCRIBE_CHUNK]
        for domain in opensearch.describe_domains(DomainNames=chunk)["DomainStatusList"]:
            if domain.get("Deleted"):
                continue
            state = domain.get("DomainProcessingStatus") or (
                "Active" if domain.get("Created") else "Creating"
            )
            found += [
                Running(
                    kind=KIND,
                    region=region,
                    name=f"{domain['DomainName']} ({role})",
                    arn=domain["ARN"],
                    instance_type=ec2_type(node_type),
                    state=state,
                    count=held,
                )
                for role, node_type, held in nodes_of(domain)
            ]
    return found


def halt(opensearch: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Nothing changed: each domain is reported for a person to snapshot and delete."""
    domain = found[0].name.rsplit(" (", 1)[0]
    nodes = ", ".join(f"{item.count} x {item.instance_type}" for item in found)
    return ServiceHalt(
        errors=[
            f"{found[0].region}: {KIND} {domain} ({nodes}) not halted: it has no stop, and "
            "deleting it loses its indices; take a manual snapshot, then delete it by hand "
            "(DeleteDomain)"
        ]
    )


def restore(
    opensearch: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: the guard never changed a domain."""
    return ServiceRestore()
