"""Lightsail instances and managed databases (issue 21): counted in every state (a stopped one
still bills) with their bundle's price, never stopped or deleted by the guard: reported, by
default as left running, and as not halted (with what to do by hand) where `halt:` names them.
moto has no Lightsail: strict_aws/lightsail.py emulates it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from guard import lightsail_databases, lightsail_instances, services
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.service_names import resolve_halt
from guard.services import count_services
from guard.settings import Action, Settings, WeightedLimits
from guard.weigh import weigh_census
from strict_aws.lightsail import Bundle, add_bundle
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
INSTANCE = "Lightsail instance"
DATABASE = "Lightsail database"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def lightsail(region: str = REGION) -> Any:
    return boto3.client("lightsail", region_name=region)


def create_instances(names: list[str], bundle: str = "medium_3_0") -> None:
    lightsail().create_instances(
        instanceNames=names,
        availabilityZone=f"{REGION}a",
        blueprintId="ubuntu_24_04",
        bundleId=bundle,
    )


def create_database(name: str, bundle: str = "large_2_0") -> None:
    lightsail().create_relational_database(
        relationalDatabaseName=name,
        relationalDatabaseBlueprintId="postgres_16",
        relationalDatabaseBundleId=bundle,
        masterDatabaseName="app",
        masterUsername="admin",
    )


def states() -> dict[str, str]:
    found = lightsail().get_instances()["instances"]
    return {i["name"]: i["state"]["name"] for i in found}


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def test_instances_in_every_state_and_databases_are_counted_at_their_bundles_price(strict):
    """A stopped instance bills as a running one; 21 instances take two pages; usd_per_hour is
    the monthly price over 744 hours (a 31-day month, the FAQ's 0.0067 USD/h for 5 USD)."""
    create_instances([f"web-{n}" for n in range(20)])
    create_instances(["old"], bundle="nano_3_0")
    lightsail().stop_instance(instanceName="old")
    create_database("orders")

    found = lightsail_instances.count(lightsail(), REGION)
    databases = lightsail_databases.count(lightsail(), REGION)

    assert len(found) == 21
    old = next(item for item in found if item.name == "old")
    assert (old.state, old.instance_type, old.vcpus) == ("stopped", "nano_3_0", 2.0)
    assert old.usd_per_hour == pytest.approx(5.0 / 744)
    assert round(old.usd_per_hour, 4) == 0.0067  # the FAQ's figure for the 5 USD plan
    web = next(item for item in found if item.name == "web-0")
    assert web.usd_per_hour == pytest.approx(24.0 / 744)
    [orders] = databases
    assert (orders.kind, orders.instance_type, orders.state) == (DATABASE, "large_2_0", "available")
    assert orders.usd_per_hour == pytest.approx(115.0 / 744)


def test_a_retired_bundle_and_a_research_bundle_are_priced_too(strict):
    """GetBundles lists a retired bundle only with includeInactive, and Lightsail for Research
    bundles only with appCategory LfR: both are asked, the second only when needed."""
    add_bundle(REGION, Bundle("gpu_xl_1_0", 1000.0, 4, 16.0, 50, app_categories=("LfR",)))
    create_instances(["research"], bundle="gpu_xl_1_0")
    create_instances(["legacy"], bundle="micro_3_0")
    add_bundle(REGION, Bundle("micro_3_0", 7.0, 2, 1.0, 40, active=False))  # retired since
    backend_bundles = lightsail().get_bundles(includeInactive=True)["bundles"]
    assert "gpu_xl_1_0" not in {b["bundleId"] for b in backend_bundles}

    found = {item.name: item for item in lightsail_instances.count(lightsail(), REGION)}

    assert found["research"].usd_per_hour == pytest.approx(1000.0 / 744)
    assert found["research"].vcpus == 4.0
    assert found["legacy"].usd_per_hour == pytest.approx(7.0 / 744)


def test_an_instance_whose_bundle_is_listed_nowhere_weighs_its_vcpus_unpriced():
    class Stub:
        def get_paginator(self, name: str) -> Any:
            pages = {
                "get_instances": [
                    {
                        "instances": [
                            {
                                "name": "x",
                                "arn": "a",
                                "bundleId": "gone",
                                "state": {"name": "running"},
                                "hardware": {"cpuCount": 8},
                            }
                        ]
                    }
                ],
                "get_bundles": [{"bundles": []}],
            }[name]
            return type("P", (), {"paginate": lambda self, **_: pages})()

    [item] = lightsail_instances.count(Stub(), REGION)

    assert (item.usd_per_hour, item.vcpus) == (None, 8.0)  # 8 USD/h at the unpriced rate


def test_an_empty_region_costs_one_call_per_kind_and_no_bundle_lookup(strict):
    calls: list[str] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register(
        "before-call.lightsail", lambda event_name, **_: calls.append(event_name)
    )
    client = session.client("lightsail")

    assert lightsail_instances.count(client, REGION) == []
    assert lightsail_databases.count(client, REGION) == []
    assert calls == [
        "before-call.lightsail.GetInstances",
        "before-call.lightsail.GetRelationalDatabases",
    ]


def test_lightsail_is_closed_where_botocore_does_not_offer_it(monkeypatch):
    """us-west-1 has EC2 but no Lightsail (botocore's endpoint data): not asked."""
    monkeypatch.setattr(services, "MODULES", (lightsail_instances,))
    asked: list[str] = []

    def client_for(service: str, region: str) -> Any:
        asked.append(region)
        raise AssertionError("not asked in this test")

    offered = boto3.session.Session().get_available_regions
    census = count_services(["us-west-1"], client_for, 2, offered)

    assert "us-west-1" not in offered("lightsail")
    assert asked == []
    assert census.closed == {f"{INSTANCE} in us-west-1": "not offered in this region"}


def test_a_lightsail_only_account_trips_on_dollars_and_nothing_is_changed(strict, inbox, clients):
    """25 medium instances: 25 x 24 / 744 = 0.81 USD/h against a limit of 0.5. Reported, left
    running (the default `halt:` has no irreversible kind), restore changes nothing."""
    create_instances([f"web-{n}" for n in range(25)])
    create_database("orders")
    limits = WeightedLimits(usd_per_hour=0.5)
    chosen = Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=limits)

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.tripped, report.reason
    assert report.services == {INSTANCE: {REGION: 25}, DATABASE: {REGION: 1}}
    assert report.burn["usd_per_hour"] == pytest.approx((25 * 24 + 115) / 744, abs=1e-3)
    assert report.burn["unweighed"] == {} and report.burn["price_errors"] == {}
    assert report.services_halted == {}
    assert len(report.services_kept[INSTANCE]) == 25
    assert set(states().values()) == {"running"}
    restored = run_restore(chosen, RESTORE, clients, ACCOUNT)
    assert restored.restore["errors"] == {}
    assert set(states().values()) == {"running"}


def test_halt_naming_lightsail_reports_what_to_do_by_hand_and_changes_nothing(
    strict, inbox, clients
):
    create_instances(["web"])
    create_database("orders")
    launch(2)
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=resolve_halt(["all"]))

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    errors = [e for e in report.action_errors if "Lightsail" in e]
    assert errors == [
        f"{REGION}: {INSTANCE} web (medium_3_0, 0.0323 USD/h) not halted: a stopped instance "
        "still bills; snapshot it, then delete it by hand (DeleteInstance loses its disk and "
        "public IP)",
        f"{REGION}: {DATABASE} orders (large_2_0) not halted: a stopped database still bills; "
        "delete it by hand with a final snapshot (DeleteRelationalDatabase)",
    ]
    assert states() == {"web": "running"}
    body = inbox.messages()[0]["Message"]
    assert "snapshot it, then delete it by hand" in body  # Errors while acting
    assert run_restore(chosen, RESTORE, clients, ACCOUNT).restore["errors"] == {}
    assert states() == {"web": "running"}


def test_a_lightsail_bundle_is_never_sent_to_describe_instance_types(strict):
    """It names no EC2 type: describing it would be a call for nothing (and an error)."""
    create_instances(["web"])
    [web] = lightsail_instances.count(lightsail(), REGION)
    asked: list[str] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register(
        "before-call.ec2.DescribeInstanceTypes", lambda event_name, **_: asked.append(event_name)
    )
    census = type("C", (), {"instances": {}, "untyped_regions": {}})()

    burn = weigh_census(
        census,
        WeightedLimits(vcpus=100),
        lambda region: session.client("ec2", region_name=region),
        lambda: None,
        workers=1,
        others=[web],
    )

    assert asked == []
    assert (burn.vcpus, burn.unweighed) == (2.0, {})
