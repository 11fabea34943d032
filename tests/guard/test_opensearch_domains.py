"""OpenSearch Service domains (issue 21): counted by their nodes (data, dedicated masters,
UltraWarm), each weighing as the EC2 type it names, never deleted by the guard: reported, by
default as left running, and as not halted where `halt:` names them."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from guard import opensearch_domains
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.service_names import resolve_halt
from guard.settings import Action, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "OpenSearch domain"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def opensearch() -> Any:
    return boto3.client("opensearch", region_name=REGION)


def create_domain(name: str, *, masters: bool = False, warm: bool = False) -> None:
    config: dict[str, Any] = {"InstanceType": "r6g.large.search", "InstanceCount": 3}
    if masters:
        config |= {
            "DedicatedMasterEnabled": True,
            "DedicatedMasterType": "m6g.large.search",
            "DedicatedMasterCount": 3,
        }
    if warm:
        config |= {"WarmEnabled": True, "WarmType": "ultrawarm1.medium.search", "WarmCount": 2}
    opensearch().create_domain(DomainName=name, ClusterConfig=config)


def domains() -> list[str]:
    return sorted(d["DomainName"] for d in opensearch().list_domain_names()["DomainNames"])


def test_every_node_role_is_counted_as_the_ec2_type_it_names(strict):
    create_domain("logs", masters=True, warm=True)

    found = opensearch_domains.count(opensearch(), REGION)

    assert sorted((item.name, item.instance_type, item.count) for item in found) == [
        ("logs (data)", "r6g.large", 3),
        ("logs (master)", "m6g.large", 3),
        ("logs (warm)", "ultrawarm1.medium.search", 2),  # no EC2 twin: its own name
    ]
    assert {item.arn for item in found} == {f"arn:aws:es:{REGION}:{ACCOUNT}:domain/logs"}


def test_seven_domains_are_described_five_at_a_time(strict):
    """The strict layer refuses six names in one DescribeDomains, as AWS does."""
    for n in range(7):
        create_domain(f"logs-{n}")
    calls: list[str] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register(
        "before-call.opensearch", lambda event_name, **_: calls.append(event_name)
    )

    found = opensearch_domains.count(session.client("opensearch"), REGION)

    assert len(found) == 7 and {item.count for item in found} == {3}
    assert calls.count("before-call.opensearch.DescribeDomains") == 2


def test_an_empty_region_costs_one_call(strict):
    calls: list[str] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register(
        "before-call.opensearch", lambda event_name, **_: calls.append(event_name)
    )

    assert opensearch_domains.count(session.client("opensearch"), REGION) == []
    assert calls == ["before-call.opensearch.ListDomainNames"]


def test_a_domain_weighs_its_nodes_and_is_left_running_by_default(strict, inbox, clients):
    """3 x r6g.large (2 vCPUs each) + 3 dedicated m6g.large: 12 vCPUs, over a limit of 8."""
    create_domain("logs", masters=True)
    chosen = Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(vcpus=8))

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.tripped, report.reason
    assert report.services == {KIND: {REGION: 6}}
    assert report.burn["vcpus"] == 12
    assert report.services_kept == {KIND: [f"{REGION}/logs (data)", f"{REGION}/logs (master)"]}
    assert domains() == ["logs"]


def test_halt_naming_domains_reports_them_once_each_and_deletes_nothing(strict, inbox, clients):
    create_domain("logs", masters=True)
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=2, MaxCount=2, InstanceType="t3.micro"
    )
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=resolve_halt(["all"]))

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert [e for e in report.action_errors if KIND in e] == [
        f"{REGION}: {KIND} logs (3 x r6g.large, 3 x m6g.large) not halted: it has no stop, and "
        "deleting it loses its indices; take a manual snapshot, then delete it by hand "
        "(DeleteDomain)"
    ]
    assert domains() == ["logs"]
    assert run_restore(chosen, RESTORE, clients, ACCOUNT).restore["errors"] == {}
    assert domains() == ["logs"]


def test_nodes_with_no_ec2_twin_are_unweighed_and_never_blind_the_regions_ec2_types(
    strict, inbox, clients
):
    """UltraWarm nodes beside r6g data nodes: DescribeInstanceTypes is never asked about
    ultrawarm1 (it would refuse the whole call, r6g.large with it): the data nodes weigh their
    6 vCPUs, the warm nodes are unweighed with a reason."""
    create_domain("logs", warm=True)
    asked: list[list[str]] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register(
        "provide-client-params.ec2.DescribeInstanceTypes",
        lambda params, **_: asked.append(sorted(params["InstanceTypes"])),
    )
    chosen = Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(vcpus=100))
    clients.client = lambda service, region: session.client(service, region_name=region)

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.burn["vcpus"] == 6
    assert asked and all("ultrawarm1" not in t for types in asked for t in types)
    assert "not an EC2 type" in report.burn["unweighed"]["ultrawarm1.medium.search"]
