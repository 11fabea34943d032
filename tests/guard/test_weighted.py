"""Weighted limits (max_vcpus, max_gpus, max_usd_per_hour) on the strict layer: the guard trips on
what burns money now, below ec2_limit, says which limit with the figures, and degrades (stated)
when a price cannot be looked up."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.burn import weigh_burn
from guard.clients import ClientFactory
from guard.handler import handler, run_guard
from guard.invocation import Invocation
from guard.last_run import read_last_run
from guard.service_capacity import Running
from guard.settings import Mode, Settings, WeightedLimits
from strict_aws import StrictAWS
from tests.guard.conftest import AMI, FakeContext, instance_states
from tests.guard.launch_events import batch_for

ACCOUNT = "123456789012"
# On-demand Linux list prices (USD/h) the emulated Price List answers with.
P4D_US_EAST_1 = 32.7726
G5_EU_WEST_1 = 1.123
M5_METAL = 4.608  # us-east-1 list price per hour, Linux on demand
T3_MICRO = 0.0104


def run_type(region: str, instance_type: str, count: int = 1, **extra: Any) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region)
    response = ec2.run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType=instance_type, **extra
    )
    return [instance["InstanceId"] for instance in response["Instances"]]


@pytest.fixture
def gpu_fleet(strict: StrictAWS) -> dict[str, list[str]]:
    """3 p4d.24xlarge (8 A100 each, 96 vCPUs) in us-east-1, 1 g5.xlarge (1 A10G, 4 vCPUs) in
    eu-west-1, 2 t3.micro (2 vCPUs) in ap-southeast-2: 6 instances, 25 GPUs, 296 vCPUs."""
    strict.prices.set_price("p4d.24xlarge", "us-east-1", P4D_US_EAST_1)
    strict.prices.set_price("g5.xlarge", "eu-west-1", G5_EU_WEST_1)
    strict.prices.set_price("t3.micro", "ap-southeast-2", T3_MICRO)
    return {
        "us-east-1": run_type("us-east-1", "p4d.24xlarge", 3),
        "eu-west-1": run_type("eu-west-1", "g5.xlarge"),
        "ap-southeast-2": run_type("ap-southeast-2", "t3.micro", 2),
    }


FLEET_USD = round(3 * P4D_US_EAST_1 + G5_EU_WEST_1 + 2 * T3_MICRO, 4)


def guard(inbox, clients: ClientFactory, mode: Mode = Mode.ENFORCE, **limits: Any):
    settings = Settings(
        ec2limit=10, snstopic=inbox.topic_arn, mode=mode, weighted=WeightedLimits(**limits)
    )
    return run_guard(settings, Invocation(), clients, ACCOUNT)


@pytest.mark.parametrize(
    ("limit", "at_equality", "reason", "subject", "said"),
    [
        (
            "vcpus",
            296,
            "vcpu-limit",
            "296 vCPUs vs 295",
            "vCPUs: 296 (limit 295): 3 x p4d.24xlarge in us-east-1 (96 vCPUs each), ",
        ),
        (
            "gpus",
            25,
            "gpu-limit",
            "25 GPUs vs 24",
            "GPUs/accelerators: 25 (limit 24): 3 x p4d.24xlarge in us-east-1 (8 NVIDIA A100 each), "
            "1 x g5.xlarge in eu-west-1 (1 NVIDIA A10G each).",
        ),
        (
            "usd_per_hour",
            FLEET_USD,
            "usd-limit",
            "99 USD/h vs 99",
            f"Burning about {FLEET_USD:,.2f} USD/h now (limit {FLEET_USD - 0.01:,.2f}): "
            f"3 x p4d.24xlarge in us-east-1 ({P4D_US_EAST_1:.2f} USD/h each), "
            f"1 x g5.xlarge in eu-west-1 ({G5_EU_WEST_1:.2f} USD/h each), "
            f"2 x t3.micro in ap-southeast-2 ({T3_MICRO:.2f} USD/h each).",
        ),
    ],
)
def test_each_limit_trips_below_ec2_limit_but_not_at_equality(
    gpu_fleet, inbox, clients, limit, at_equality, reason, subject, said
):
    equal = guard(inbox, clients, **{limit: at_equality})
    assert (equal.verdict, equal.tripped, inbox.messages()) == ("ok", False, [])

    over = at_equality - (0.01 if limit == "usd_per_hour" else 1)
    report = guard(inbox, clients, **{limit: over})

    assert report.count == 6  # well below ec2_limit 10
    assert report.trip_reasons == [reason]
    every_id = sorted(i for ids in gpu_fleet.values() for i in ids)
    assert sorted(report.stopped) == every_id
    (mail,) = inbox.messages()
    assert subject in mail["Subject"]
    assert said in mail["Message"]


def test_the_mail_names_every_limit_that_tripped_dearest_types_first(gpu_fleet, inbox, clients):
    report = guard(inbox, clients, vcpus=512, gpus=8, usd_per_hour=50)

    assert report.trip_reasons == ["gpu-limit", "usd-limit"]
    assert (
        "25 GPUs/accelerators of pending/running instances exceed the limit of 8" in report.reason
    )
    assert f"burn about {FLEET_USD:,.2f} USD/h at on-demand list prices" in report.reason
    (mail,) = inbox.messages()
    assert "25 GPUs vs 8, 99 USD/h vs 50" in mail["Subject"]
    body = mail["Message"]
    burning = next(line for line in body.splitlines() if line.startswith("Burning about"))
    assert burning.index("p4d.24xlarge") < burning.index("g5.xlarge") < burning.index("t3.micro")
    assert "vCPUs: 296 (limit 512)" in body
    assert "Spot instances counted at the on-demand price (an upper bound); no discounts" in body


def test_a_type_with_no_list_price_counts_a_dollar_per_vcpu_hour_and_the_mail_says_so(
    strict, inbox, clients
):
    strict.prices.set_price("t3.micro", "eu-west-1", T3_MICRO)
    run_type("eu-west-1", "t3.micro")
    run_type("eu-west-1", "g5.xlarge")  # 4 vCPUs, not in the emulated Price List

    report = guard(inbox, clients, usd_per_hour=4.0)  # 4.0104 > 4: zero would have passed

    assert report.trip_reasons == ["usd-limit"]
    assert report.burn["usd_per_hour"] == pytest.approx(4.0 + T3_MICRO)
    (mail,) = inbox.messages()
    assert (
        "No list price found for g5.xlarge in eu-west-1: counted at 1.00 USD per vCPU-hour "
        "(4.00 USD/h each), an upper bound." in mail["Message"]
    )


def test_a_bare_metal_type_is_priced_not_counted_at_the_fallback(strict, inbox, clients):
    """The Price List files *.metal apart ("Compute Instance (bare metal)"): found, an m5.metal
    costs its list price, not 96 vCPUs x 1 USD, and a 10 USD/h limit does not trip."""
    strict.prices.set_price("m5.metal", "eu-west-1", M5_METAL)
    run_type("eu-west-1", "m5.metal")

    report = guard(inbox, clients, usd_per_hour=10.0)

    assert report.tripped is False
    assert report.burn["usd_per_hour"] == pytest.approx(M5_METAL)


def test_pricing_failing_is_degraded_stated_and_the_other_limits_still_hold(
    gpu_fleet, strict, inbox, clients
):
    denied = "User is not authorized to perform: pricing:GetProducts"
    strict.prices.fail_with = (400, "AccessDeniedException", denied)

    degraded = guard(inbox, clients, gpus=64, usd_per_hour=500)

    assert (degraded.verdict, degraded.tripped) == ("degraded", False)
    assert "no price could be looked up for 6 instance(s)" in degraded.reason
    (mail,) = inbox.messages()
    assert "DEGRADED" in mail["Subject"] and "limit could not be fully checked" in mail["Subject"]
    assert (
        "NO price could be looked up for p4d.24xlarge us-east-1 (not in the total): "
        in (mail["Message"])
    )
    assert f"AccessDeniedException: {denied}" in mail["Message"]

    tripped = guard(inbox, clients, gpus=24, usd_per_hour=500)  # the GPU limit still trips
    assert tripped.trip_reasons == ["gpu-limit"]
    assert "limit not fully checked: no price could be looked up" in tripped.reason


def test_pricing_failing_never_hides_the_instance_limit(gpu_fleet, strict, inbox, clients):
    strict.prices.fail_with = (400, "AccessDeniedException", "denied")
    settings = Settings(
        ec2limit=5, snstopic=inbox.topic_arn, weighted=WeightedLimits(usd_per_hour=1000)
    )

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.trip_reasons == ["instance-limit"]
    assert len(report.stopped) == 6


def test_dry_run_reports_the_weighted_trip_and_stops_nothing(gpu_fleet, inbox, clients):
    report = guard(inbox, clients, Mode.DRY_RUN, gpus=16)

    assert report.tripped and report.trip_reasons == ["gpu-limit"]
    assert report.stopped == []
    assert sorted(report.would_stop) == sorted(i for ids in gpu_fleet.values() for i in ids)
    for region, ids in gpu_fleet.items():
        assert set(instance_states(region, ids).values()) == {"running"}
    (mail,) = inbox.messages()
    assert "WOULD TRIP (dry-run)" in mail["Subject"] and "25 GPUs vs 16" in mail["Subject"]


def test_one_gpu_launch_trips_the_fast_trip(aws, guard_env, inbox, shared):
    (gpu,) = run_type("eu-west-1", "p4d.24xlarge")
    guard_env(ec2limit=10, max_gpus=4)

    report = handler(batch_for({"eu-west-1": [gpu]}), FakeContext())["report"]

    assert report["trigger"] == "launch-event"
    assert report["trip_reasons"] == ["gpu-limit"]
    assert report["stopped"] == [gpu]
    assert instance_states("eu-west-1", [gpu]) == {gpu: "stopped"}
    (mail,) = inbox.messages()
    assert "8 GPUs vs 4" in mail["Subject"]


@pytest.fixture
def calls(clients: ClientFactory) -> Counter[str]:
    counted: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        counted[event_name.split(".", 1)[1]] += 1

    clients.session.events.register("before-call", count)
    return counted


def test_weighted_limits_cost_no_call_per_instance_and_none_when_warm(
    gpu_fleet, inbox, clients, calls
):
    guard(inbox, clients)  # no weighted limit: the census as before
    assert calls["ec2.DescribeInstanceStatus"] > 0
    assert calls["ec2.DescribeInstanceTypes"] == calls["pricing.GetProducts"] == 0
    regions = calls["ec2.DescribeInstanceStatus"]
    calls.clear()

    guard(inbox, clients, vcpus=1000, gpus=100, usd_per_hour=1000)  # cold caches
    assert calls["ec2.DescribeInstanceImageMetadata"] == regions  # instead of the status, 1:1
    assert calls["ec2.DescribeInstanceStatus"] == 0
    assert calls["ec2.DescribeInstanceTypes"] == 3  # one per region holding an unknown type
    assert calls["pricing.GetProducts"] == 1  # 3 types x 3 regions fit one page
    calls.clear()

    guard(inbox, clients, vcpus=1000, gpus=100, usd_per_hour=1000)  # warm: the caches answer
    assert calls["ec2.DescribeInstanceTypes"] == calls["pricing.GetProducts"] == 0


def fail_typed_census(clients: ClientFactory, region: str) -> None:
    """DescribeInstanceImageMetadata fails in `region`, as the API documents it may while an
    Availability Zone is impaired; DescribeInstanceStatus still answers."""

    def hook(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": "An internal error has occurred"}},
            "DescribeInstanceImageMetadata",
        )

    clients.client("ec2", region).meta.events.register(
        "before-call.ec2.DescribeInstanceImageMetadata", hook
    )


def test_a_region_whose_types_cannot_be_read_still_counts_for_ec2_limit(gpu_fleet, inbox, clients):
    fail_typed_census(clients, "us-east-1")  # where the 3 p4d.24xlarge run
    settings = Settings(ec2limit=5, snstopic=inbox.topic_arn, weighted=WeightedLimits(gpus=64))

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.count == 6  # counted with the plain call: not a region left uncounted
    assert report.trip_reasons == ["instance-limit"]
    assert report.region_errors == {}
    assert len(report.stopped) == 6


def test_instances_of_unread_types_weigh_as_unknown_and_the_run_says_so(gpu_fleet, inbox, clients):
    fail_typed_census(clients, "us-east-1")

    report = guard(inbox, clients, gpus=64)  # 4 GPUs known; 24 more are in us-east-1

    assert (report.verdict, report.tripped) == ("degraded", False)
    assert "limit not fully checked" in report.reason
    unweighed = report.burn["unweighed"]
    assert "(type unknown)" in unweighed
    assert (
        "us-east-1 (InternalError: An internal error has occurred)" in unweighed["(type unknown)"]
    )
    (mail,) = inbox.messages()
    assert "DEGRADED" in mail["Subject"]

    still = guard(inbox, clients, gpus=0)  # what is known already exceeds: trips all the same
    assert still.trip_reasons == ["gpu-limit"]


def test_capacity_billed_by_the_vcpu_weighs_its_vcpus() -> None:
    fargate = Running("ECS task", "eu-west-1", "web", "arn", "", "RUNNING", count=3, vcpus=0.25)

    burn = weigh_burn({}, {}, {}, None, [fargate])

    assert burn.vcpus == 0.75
    assert burn.unweighed == {}


def test_a_weighed_run_records_its_totals_and_limits_for_status(gpu_fleet, inbox, clients):
    """`status --numbers` reads vCPUs, GPUs and USD/h from the last-run record: the totals and
    the limits applied are kept, the per-type lines (which could fill its 4 KB) are not."""
    guard(inbox, clients, vcpus=512, gpus=64, usd_per_hour=500)

    record = read_last_run(clients.client("ssm", clients.home_region))

    assert record["burn"] == {
        "vcpus": 296,
        "accelerators": 25,
        "usd_per_hour": pytest.approx(FLEET_USD),
        "limits": {"vcpus": 512, "gpus": 64, "usd_per_hour": 500},
    }
