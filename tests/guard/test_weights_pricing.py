"""Type weights (which devices count) and the price lookup's plan and cache, on the strict layer."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard import pricing
from guard.pricing import FILTER_VALUE_MAX, MAX_RESULTS, PRICE_MAX_AGE_S, look_up_prices
from guard.weights import weigh_types
from strict_aws import StrictAWS

REGIONS = tuple(f"region-{n}" for n in range(17))
TYPES = tuple(f"m7i.{n}xlarge" for n in range(30))


@pytest.mark.parametrize(
    ("instance_type", "vcpus", "accelerators"),
    [
        ("p5.48xlarge", 192, 8),  # NVIDIA H100
        ("g5.xlarge", 4, 1),  # NVIDIA A10G
        ("trn1.2xlarge", 8, 1),  # AWS Trainium (NeuronInfo)
        ("inf1.xlarge", 4, 1),  # Inferentia: in NeuronInfo and InferenceAcceleratorInfo, once
        ("inf2.xlarge", 4, 1),
        ("f2.12xlarge", 48, 2),  # Xilinx FPGAs
        ("vt1.3xlarge", 12, 0),  # Xilinx U30 media transcoder: not a compute accelerator
        ("t3.micro", 2, 0),
    ],
)
def test_accelerators_are_gpus_neuron_devices_and_fpgas_counted_once(
    aws, instance_type, vcpus, accelerators
):
    weights, errors = weigh_types(
        {instance_type: ["eu-west-1"]}, lambda region: boto3.client("ec2", region), 4
    )
    assert errors == {}
    assert (weights[instance_type].vcpus, weights[instance_type].accelerators) == (
        vcpus,
        accelerators,
    )


def test_a_type_aws_names_invalid_never_leaves_the_others_unweighed(aws):
    """AWS refuses the whole call for one unknown type, naming it ("The following supplied
    instance types do not exist: [zz9.plural]"): asked again without it."""
    weights, errors = weigh_types(
        {"t3.micro": ["eu-west-1"], "zz9.plural": ["eu-west-1"], "yy8.odd": ["eu-west-1"]},
        lambda region: boto3.client("ec2", region),
        4,
    )
    assert weights["t3.micro"].vcpus == 2
    assert sorted(errors) == ["yy8.odd", "zz9.plural"]
    assert errors["zz9.plural"].startswith("InvalidInstanceType")


class UnnamingEc2:
    """An InvalidInstanceType whose message names no type: the fallback asks one type a call."""

    def __init__(self) -> None:
        self.real, self.calls = boto3.client("ec2", "eu-west-1"), []

    def get_paginator(self, name: str) -> Any:
        outer = self

        class Pages:
            def paginate(self, InstanceTypes: list[str]) -> Any:  # noqa: N803 (boto3's name)
                outer.calls.append(sorted(InstanceTypes))
                if "zz9.plural" in InstanceTypes:
                    raise ClientError(
                        {"Error": {"Code": "InvalidInstanceType", "Message": "invalid"}},
                        "DescribeInstanceTypes",
                    )
                return outer.real.get_paginator(name).paginate(InstanceTypes=InstanceTypes)

        return Pages()


def test_an_invalid_type_aws_does_not_name_falls_back_to_one_call_per_type(aws):
    ec2 = UnnamingEc2()
    weights, errors = weigh_types(
        {"t3.micro": ["eu-west-1"], "zz9.plural": ["eu-west-1"]}, lambda region: ec2, 4
    )
    assert weights["t3.micro"].vcpus == 2
    assert list(errors) == ["zz9.plural"]
    assert ec2.calls == [["t3.micro", "zz9.plural"], ["t3.micro"], ["zz9.plural"]]


def test_prices_for_30_types_over_17_regions_fit_ten_single_page_calls():
    keys = [(t, r, "Shared") for t in TYPES for r in REGIONS]
    queries = pricing.plan_queries(keys)
    assert len(queries) <= 10  # the GetProducts token bucket: all at once, one round trip
    assert sorted(k for q in queries for k in q.keys) == sorted(keys)
    for query in queries:
        assert len(query.types) * len(query.regions) <= MAX_RESULTS
        assert all(len(f["Value"]) <= FILTER_VALUE_MAX for f in query.filters())


def test_prices_are_cached_for_a_day_then_refreshed(strict: StrictAWS):
    strict.prices.set_price("t3.micro", "eu-west-1", 0.0114)
    client = boto3.client("pricing", region_name="us-east-1")
    key = ("t3.micro", "eu-west-1", "Shared")

    assert look_up_prices([key], lambda: client, now=0.0).prices == {key: 0.0114}
    strict.prices.set_price("t3.micro", "eu-west-1", 0.02)
    assert look_up_prices([key], lambda: client, now=PRICE_MAX_AGE_S - 1).prices == {key: 0.0114}
    assert look_up_prices([key], lambda: client, now=PRICE_MAX_AGE_S).prices == {key: 0.02}
    assert strict.prices.calls == 2


def test_a_failed_refresh_serves_the_older_price_and_says_how_old(strict: StrictAWS):
    strict.prices.set_price("t3.micro", "eu-west-1", 0.0114)
    client = boto3.client("pricing", region_name="us-east-1")
    key = ("t3.micro", "eu-west-1", "Shared")
    look_up_prices([key], lambda: client, now=0.0)
    strict.prices.fail_with = (400, "AccessDeniedException", "denied")

    book = look_up_prices([key], lambda: client, now=PRICE_MAX_AGE_S + 5)

    assert book.prices == {key: 0.0114}
    assert book.stale == {key: PRICE_MAX_AGE_S + 5}
    assert book.errors == {}


def get_products(**request: Any) -> dict[str, Any]:
    return boto3.client("pricing", region_name="us-east-1").get_products(**request)


def test_get_products_answers_in_the_price_list_shape(strict: StrictAWS):
    strict.prices.set_price("p4d.24xlarge", "us-east-1", 32.7726)
    strict.prices.set_price("p4d.24xlarge", "eu-west-1", 35.39)
    strict.prices.set_price("t3.micro", "eu-west-1", 0.0114)

    response = get_products(
        ServiceCode="AmazonEC2",
        Filters=[
            {"Type": "ANY_OF", "Field": "instanceType", "Value": "p4d.24xlarge, t3.micro"},
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
        ],
        MaxResults=1,
    )

    assert response["FormatVersion"] == "aws_v1"
    assert response["NextToken"]  # two products, one a page
    (item,) = response["PriceList"]
    assert isinstance(item, str)  # a JSON string per product, not an object
    product = json.loads(item)
    assert product["product"]["attributes"]["regionCode"] == "eu-west-1"
    (term,) = product["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert (dimension["unit"], dimension["pricePerUnit"]["USD"]) == ("Hrs", "35.3900000000")


def test_get_products_refuses_a_bad_filter_type(strict: StrictAWS):
    client = boto3.client("pricing", region_name="us-east-1")
    bad = [{"Type": "SOUNDS_LIKE", "Field": "instanceType", "Value": "t3.micro"}]
    with pytest.raises(client.exceptions.InvalidParameterException):
        client.get_products(ServiceCode="AmazonEC2", Filters=bad)


def test_get_products_throttles_past_its_token_bucket(strict: StrictAWS):
    strict.prices.clock = lambda: 0.0  # no time passes: nothing refills the bucket of 10
    request = b'{"ServiceCode": "AmazonEC2"}'
    statuses = [strict.prices.answer("AWSPriceListService.GetProducts", request) for _ in range(11)]
    assert [status for status, _, _ in statuses] == [200] * 10 + [400]
    assert json.loads(statuses[-1][2])["__type"] == "ThrottlingException"
