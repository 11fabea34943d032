"""SageMaker capacity weighs SageMaker's own list price and Fargate tasks Fargate's rates (issue
21), looked up beside the EC2 prices with the same cache and the same fallbacks, on the strict
layer's emulated Price List."""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from guard import pricing
from guard.census import Census
from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.pricing import PRICE_MAX_AGE_S, plan_queries
from guard.report import Report
from guard.service_capacity import Running
from guard.settings import Settings, WeightedLimits
from guard.weigh import weigh_census
from strict_aws import StrictAWS
from tests.guard.conftest import AMI

ACCOUNT = "123456789012"
REGION = "eu-west-1"
# SageMaker's on-demand list prices (USD/h) the emulated Price List answers with: a notebook's
# ml.t3.medium lists 0.05 in us-east-1; the training price is made different to show that the
# component, not only the type, selects the price.
NOTEBOOK_T3_MEDIUM = 0.0525
TRAINING_T3_MEDIUM = 0.07
T3_MICRO = 0.0114


def create_notebook(name: str, kind: str = "ml.t3.medium") -> None:
    boto3.client("sagemaker", region_name=REGION).create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType=kind,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/notebooks",
    )


def run_t3_micro() -> str:
    response = boto3.client("ec2", region_name=REGION).run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    return str(response["Instances"][0]["InstanceId"])


@pytest.fixture
def priced(strict: StrictAWS) -> StrictAWS:
    strict.prices.set_sagemaker_price("ml.t3.medium", REGION, "Notebook", NOTEBOOK_T3_MEDIUM)
    strict.prices.set_sagemaker_price("ml.t3.medium", REGION, "Training", TRAINING_T3_MEDIUM)
    strict.prices.set_price("t3.micro", REGION, T3_MICRO)
    return strict


def guard(inbox: Any, clients: ClientFactory, usd_per_hour: float) -> Report:
    settings = Settings(
        ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(usd_per_hour=usd_per_hour)
    )
    return run_guard(settings, Invocation(), clients, ACCOUNT)


def line_of(report: Report, instance_type: str) -> dict[str, Any]:
    (line,) = [line for line in report.burn["lines"] if line["instance_type"] == instance_type]
    return line


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The time the price cache reads (weigh.py), moved by the test."""
    now = [1_000_000.0]
    monkeypatch.setattr("guard.weigh.time", SimpleNamespace(time=lambda: now[0]))
    return now


def test_a_notebook_weighs_sagemakers_notebook_price_not_a_dollar_per_vcpu(priced, inbox, clients):
    """ml.t3.medium has 2 vCPUs: 2 USD/h at the unpriced rate, 0.0525 at its list price."""
    create_notebook("tiny")

    report = guard(inbox, clients, usd_per_hour=1)

    line = line_of(report, "ml.t3.medium")
    assert (line["usd_each"], line["price_source"]) == (NOTEBOOK_T3_MEDIUM, "list")
    assert line["vcpus_each"] == 2  # still weighed as the t3.medium it runs on
    assert report.burn["usd_per_hour"] == NOTEBOOK_T3_MEDIUM
    assert (report.verdict, report.tripped) == ("ok", False)


def test_a_notebook_the_price_list_does_not_list_counts_a_dollar_per_vcpu_as_ec2_does(
    strict, inbox, clients
):
    create_notebook("tiny")

    report = guard(inbox, clients, usd_per_hour=1)

    line = line_of(report, "ml.t3.medium")
    assert (line["usd_each"], line["price_source"]) == (2.0, "unpriced")
    assert report.tripped and report.trip_reasons == ["usd-limit"]


def test_price_list_failing_leaves_a_notebook_unknown_exactly_as_an_ec2_instance(
    priced, inbox, clients
):
    create_notebook("tiny")
    run_t3_micro()
    priced.prices.fail_with = (400, "AccessDeniedException", "denied")

    report = guard(inbox, clients, usd_per_hour=100)

    assert (report.verdict, report.tripped) == ("degraded", False)
    assert "limit not fully checked" in report.reason
    for instance_type in ("ml.t3.medium", "t3.micro"):
        line = line_of(report, instance_type)
        assert (line["usd_each"], line["price_source"]) == (None, "unknown")
    errors = report.burn["price_errors"]
    assert errors[f"ml.t3.medium {REGION}"] == errors[f"t3.micro {REGION}"]
    assert errors[f"ml.t3.medium {REGION}"].startswith("AccessDeniedException")


def test_a_failed_refresh_serves_the_older_notebook_price_as_for_ec2(priced, inbox, clients, clock):
    create_notebook("tiny")
    run_t3_micro()
    guard(inbox, clients, usd_per_hour=100)  # cold: both prices cached
    clock[0] += PRICE_MAX_AGE_S + 5
    # Not a throttle: botocore retries those 9 times with backoff, a minute of real sleep.
    priced.prices.fail_with = (400, "AccessDeniedException", "denied")

    report = guard(inbox, clients, usd_per_hour=100)

    assert report.verdict == "ok"
    assert (line_of(report, "ml.t3.medium")["price_source"]) == "stale"
    assert (line_of(report, "t3.micro")["price_source"]) == "stale"
    assert report.burn["usd_per_hour"] == round(NOTEBOOK_T3_MEDIUM + T3_MICRO, 4)


@pytest.fixture
def calls(clients: ClientFactory) -> Counter[str]:
    counted: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        counted[event_name.split(".", 1)[1]] += 1

    clients.session.events.register("before-call", count)
    return counted


def test_sagemaker_prices_cost_one_call_per_component_cold_and_none_warm(
    priced, inbox, clients, calls
):
    create_notebook("tiny")
    run_t3_micro()

    guard(inbox, clients, usd_per_hour=100)
    assert calls["pricing.GetProducts"] == 2  # EC2's offer and SageMaker's, side by side
    calls.clear()

    guard(inbox, clients, usd_per_hour=100)
    assert calls["pricing.GetProducts"] == 0


def test_sagemaker_keys_are_asked_of_sagemakers_offer_by_component():
    keys = [
        ("t3.micro", REGION, "Shared"),
        ("ml.t3.medium", REGION, "Notebook"),
        ("ml.p3.2xlarge", "us-east-1", "Notebook"),
        ("ml.g5.xlarge", REGION, "Hosting"),
    ]

    queries = {(q.service_code, q.tenancy): q for q in plan_queries(keys)}

    assert sorted(queries) == [
        ("AmazonEC2", "Shared"),
        ("AmazonSageMaker", "Hosting"),
        ("AmazonSageMaker", "Notebook"),
    ]
    notebook = queries["AmazonSageMaker", "Notebook"].filters()
    assert notebook == [
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
        {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": "Notebook"},
        {"Type": "ANY_OF", "Field": "instanceName", "Value": "ml.t3.medium,ml.p3.2xlarge"},
        {"Type": "ANY_OF", "Field": "regionCode", "Value": f"{REGION},us-east-1"},
    ]


def test_get_products_answers_sagemaker_in_its_offers_shape(priced):
    response = boto3.client("pricing", region_name="us-east-1").get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": "ml.t3.medium"},
            {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": "Notebook"},
        ],
    )

    (item,) = response["PriceList"]
    product = json.loads(item)
    assert product["serviceCode"] == "AmazonSageMaker"
    assert product["product"]["productFamily"] == "ML Instance"
    attributes = product["product"]["attributes"]
    assert attributes["usagetype"] == "EU-Notebk:ml.t3.medium"
    assert attributes["regionCode"] == REGION
    assert set(product["terms"]) == {"OnDemand"}  # SageMaker commits through Savings Plans
    (term,) = product["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert (dimension["unit"], float(dimension["pricePerUnit"]["USD"])) == (
        "Hrs",
        NOTEBOOK_T3_MEDIUM,
    )
    assert pricing.parse_product(item, "AmazonSageMaker") == (
        ("ml.t3.medium", REGION, "Notebook"),
        NOTEBOOK_T3_MEDIUM,
    )


def test_ec2_keys_are_never_answered_from_sagemakers_offer(priced):
    client = boto3.client("pricing", region_name="us-east-1")
    ec2 = client.get_products(
        ServiceCode="AmazonEC2",
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION}],
    )
    assert [json.loads(i)["serviceCode"] for i in ec2["PriceList"]] == ["AmazonEC2"]


# Fargate's Linux/x86 on-demand rates in eu-west-1 (USD per vCPU-hour, per GB-hour).
FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445


def weigh_fargate(monkeypatch: pytest.MonkeyPatch, now: float = 0.0) -> Any:
    """Four tasks of 0.25 vCPU and 0.5 GiB, counted by a module whose PRICE_COMPONENT is
    Fargate (the ECS modules are another change's: stood in for here)."""
    monkeypatch.setattr("guard.weigh.price_components", lambda: {"ECS task": "Fargate"})
    task = Running("ECS task", REGION, "web", "arn", "", "RUNNING", 4, vcpus=0.25, memory_gib=0.5)
    return weigh_census(
        Census(instances={}),
        WeightedLimits(usd_per_hour=100),
        lambda region: boto3.client("ec2", region_name=region),
        lambda: boto3.client("pricing", region_name="us-east-1"),
        workers=4,
        now=now,
        others=[task],
    )


def test_fargate_tasks_weigh_their_vcpu_and_memory_rates_not_a_dollar_per_vcpu(strict, monkeypatch):
    strict.prices.set_fargate_price(REGION, FARGATE_VCPU_HOUR, FARGATE_GB_HOUR)

    burn = weigh_fargate(monkeypatch)

    (line,) = burn.lines
    assert line.instance_type == "0.25 vCPU, 0.5 GiB"
    assert line.price_source == "list"  # x86 on demand, not the ARM or Spot rates beside it
    assert line.usd_each == pytest.approx(0.25 * FARGATE_VCPU_HOUR + 0.5 * FARGATE_GB_HOUR)
    assert burn.usd_per_hour == pytest.approx(4 * line.usd_each, abs=1e-4)  # was 1.0 unpriced
    assert strict.prices.calls == 1


def test_fargate_rates_failing_are_unknown_then_stale_as_for_ec2(strict, monkeypatch):
    strict.prices.fail_with = (400, "AccessDeniedException", "denied")
    cold = weigh_fargate(monkeypatch)
    assert cold.lines[0].price_source == "unknown"
    assert cold.price_errors[f"0.25 vCPU, 0.5 GiB {REGION}"].startswith("AccessDeniedException")

    strict.prices.fail_with = None
    strict.prices.set_fargate_price(REGION, FARGATE_VCPU_HOUR, FARGATE_GB_HOUR)
    weigh_fargate(monkeypatch, now=1.0)  # cached
    strict.prices.fail_with = (400, "ThrottlingException", "Rate exceeded")
    assert weigh_fargate(monkeypatch, now=PRICE_MAX_AGE_S + 2).lines[0].price_source == "stale"


def test_each_service_billed_by_the_fargate_rates_or_a_sagemaker_component_names_it() -> None:
    """A module that forgot its component weighs at the unpriced rate, 1 USD per vCPU-hour: a
    0.25-vCPU Fargate task 25 times its price."""
    from guard.services import price_components

    components = price_components()
    for kind in ("ECS service", "ECS task", "Batch job"):
        assert components[kind] == "Fargate"
    assert components["SageMaker endpoint"] == "Hosting"
    assert components["SageMaker notebook instance"] == "Notebook"


def test_capacity_the_service_prices_itself_counts_that_price_even_with_no_price_list_asked():
    """A Lightsail bundle's or Bedrock's tokens' price comes from the service, not the Price
    List: it counts as given, one line each (two models in one region are two lines)."""
    from guard.burn import weigh_burn
    from guard.service_capacity import Running

    tokens = [
        Running("Bedrock tokens", REGION, model, "", model, "invoked", usd_per_hour=usd)
        for model, usd in (("anthropic.claude-3", 40.0), ("amazon.titan", 2.5))
    ]
    burn = weigh_burn({}, {}, {}, None, tokens)

    assert burn.usd_per_hour == pytest.approx(42.5)
    assert sorted((line.instance_type, line.price_source) for line in burn.lines) == [
        ("amazon.titan", "service"),
        ("anthropic.claude-3", "service"),
    ]
    assert burn.unweighed == {} and burn.price_errors == {}
