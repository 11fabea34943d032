"""Every guard run prints its metrics as EMF (valid against the specification), the heartbeat
carries the same numbers, and the operator CLI's direct calls print none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from guard.clients import ClientFactory
from guard.handler import handler, run_guard
from guard.invocation import Invocation
from guard.metrics import (
    ACCOUNT,
    ACCOUNT_METRICS,
    NAMESPACE,
    SERVICE,
    SERVICE_CAPACITY,
    documents,
    measure,
)
from guard.report import Report
from guard.service_names import KINDS
from guard.settings import Settings
from tests.emf_spec import emf_lines, problems
from tests.guard.conftest import HOME, FakeContext
from tests.guard.test_heartbeat import BUS_ARN, payer_bus  # noqa: F401 -- fixture by name

NOW_MS = 1_765_000_000_000


def printed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = emf_lines(capsys.readouterr().out)
    for line in lines:
        assert problems(line) == [], line
    return [json.loads(line) for line in lines]


def values_of(document: dict[str, Any]) -> dict[str, Any]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {m["Name"]: document[m["Name"]] for m in directive["Metrics"]}


def test_a_quiet_run_prints_one_valid_document_for_its_account(launch, guard_env, capsys) -> None:
    launch(HOME, 2)
    guard_env(ec2limit=4)

    handler({}, FakeContext())

    (document,) = printed(capsys)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [[ACCOUNT]]
    assert document[ACCOUNT] == DEFAULT_ACCOUNT_ID
    found = values_of(document)
    assert {k: found[k] for k in ("Instances", "InstanceLimit", "DegradedRegions")} == {
        "Instances": 2,
        "InstanceLimit": 4,
        "DegradedRegions": 0,
    }
    assert found["LimitUsedPercent"] == 50.0
    assert found["RunSeconds"] >= 0 and found["AwsCalls"] > 0
    assert "Trips" not in found and "HaltSeconds" not in found  # nothing happened: not sent


def test_a_trip_prints_one_trip_and_how_long_the_halt_took(launch, guard_env, capsys) -> None:
    launch(HOME, 3)
    guard_env(ec2limit=1)

    report = handler({}, FakeContext())["report"]

    assert report["tripped"] is True
    (document,) = printed(capsys)
    found = values_of(document)
    assert found["Trips"] == 1
    assert found["HaltSeconds"] >= 0
    assert found["HaltSeconds"] <= found["RunSeconds"]
    assert found["LimitUsedPercent"] == 300.0


def test_a_dry_run_trip_is_no_trip(launch, guard_env, capsys) -> None:
    launch(HOME, 3)
    guard_env(ec2limit=1, mode="dry-run")

    handler({}, FakeContext())

    (document,) = printed(capsys)
    assert "Trips" not in values_of(document)
    assert values_of(document)["Instances"] == 3


def test_a_restore_prints_one_restore(launch, guard_env, capsys) -> None:
    launch(HOME, 3)
    guard_env(ec2limit=1)
    incident = handler({}, FakeContext())["report"]["incident"]
    capsys.readouterr()

    handler({"action": "restore", "incident": incident}, FakeContext())

    (document,) = printed(capsys)
    assert set(values_of(document)) == {"Restores", "RunSeconds", "AwsCalls"}
    assert values_of(document)["Restores"] == 1


def test_the_heartbeat_carries_what_was_printed(launch, guard_env, payer_bus, capsys) -> None:  # noqa: F811
    launch(HOME, 2)
    guard_env(ec2limit=4, payer_bus=BUS_ARN)

    report = handler({}, FakeContext())["report"]

    (event,) = payer_bus()
    assert event["detail"]["metrics"] == report["metrics"]
    (document,) = printed(capsys)
    assert values_of(document) == report["metrics"]["values"]


def test_the_operator_cli_calls_print_no_metrics(launch, guard_env, capsys) -> None:
    """`runawaytrain restore` (and the drill) call run_guard/run_restore: their output is the
    operator's terminal, not a log CloudWatch reads."""
    launch(HOME, 3)
    guard_env(ec2limit=1)
    import os

    report = run_guard(
        Settings.from_env(os.environ), Invocation(), ClientFactory(), DEFAULT_ACCOUNT_ID
    )

    assert report.tripped and report.metrics is not None
    assert emf_lines(capsys.readouterr().out) == []


def test_aws_calls_count_each_operation_once(aws: None) -> None:
    clients = ClientFactory(boto3.session.Session(region_name=HOME))
    ec2 = clients.client("ec2", HOME)
    ec2.describe_instances()
    ec2.describe_regions()
    clients.client("sts", HOME).get_caller_identity()

    assert clients.calls == 3


# The pure part: what is measured from a report, and what a document may hold.


@dataclass
class Weighed:
    vcpus: float | None = None
    gpus: int | None = None
    usd: float | None = None


def weighed_report(limits: Weighed, **fields: Any) -> Report:
    burn = {
        "vcpus": 96.0,
        "accelerators": 8,
        "usd_per_hour": 30.0,
        "limits": {"vcpus": limits.vcpus, "gpus": limits.gpus, "usd_per_hour": limits.usd},
    }
    base: dict[str, Any] = {
        "account": "1",
        "mode": "enforce",
        "limit": 10,
        "verdict": "ok",
        "reason": "",
        "trigger": "schedule",
        "count": 4,
        "burn": burn,
    }
    return Report(**{**base, **fields})


@pytest.mark.parametrize(
    ("limits", "expected", "share"),
    [
        (Weighed(), {}, 40.0),
        (Weighed(vcpus=192), {"VCpus": 96.0, "VCpuLimit": 192}, 50.0),
        (Weighed(gpus=8), {"Gpus": 8, "GpuLimit": 8}, 100.0),
        (Weighed(usd=20.0), {"UsdPerHour": 30.0, "UsdPerHourLimit": 20.0}, 150.0),
    ],
)
def test_each_weighted_total_is_sent_with_its_limit_only(
    limits: Weighed, expected: dict[str, float], share: float
) -> None:
    values = measure(weighed_report(limits), run_seconds=1.0, aws_calls=5)["values"]
    weighted = {k: v for k, v in values.items() if "Cpu" in k or "Gpu" in k or "Usd" in k}
    assert weighted == expected
    assert values["LimitUsedPercent"] == share  # the tightest limit's share


def test_a_limit_of_zero_has_no_share() -> None:
    values = measure(weighed_report(Weighed(), limit=0), run_seconds=1.0, aws_calls=5)["values"]
    assert values["InstanceLimit"] == 0 and "LimitUsedPercent" not in values


def test_each_kind_that_runs_gets_one_document_with_its_service() -> None:
    report = weighed_report(
        Weighed(),
        services={"sagemaker-notebooks": {"us-east-1": 2, "eu-west-1": 1}, "rds-databases": {}},
    )
    measured = measure(report, run_seconds=1.0, aws_calls=5)
    assert measured["services"] == {"sagemaker-notebooks": 3}  # none running: none sent

    account, notebooks = documents("123456789012", measured, NOW_MS)

    assert notebooks["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[ACCOUNT, SERVICE]]
    assert (notebooks[SERVICE], notebooks[SERVICE_CAPACITY.name]) == ("sagemaker-notebooks", 3)
    for document in (account, notebooks):
        assert problems(json.dumps(document)) == []


def test_a_document_keeps_only_catalogued_names_kinds_and_numbers() -> None:
    """A heartbeat is another account's data: anything else would be a new billed metric (or an
    invalid document)."""
    measured = {
        "values": {"Instances": 3, "Bogus": 1, "Trips": True, "RunSeconds": float("nan")},
        "services": {"sagemaker-notebooks": 1, "x" * 300: 1, "ecs-tasks": "2"},
    }

    found = documents("123456789012", measured, NOW_MS)

    assert [values_of(d) for d in found] == [{"Instances": 3}, {"ServiceCapacity": 1}]
    assert documents("123456789012", "not a mapping", NOW_MS) == []


def test_the_largest_document_is_valid() -> None:
    measured = {
        "values": {spec.name: 1 for spec in ACCOUNT_METRICS},
        "services": dict.fromkeys(KINDS, 1),
    }
    found = documents("123456789012", measured, NOW_MS)
    assert len(found) == 1 + len(KINDS)
    for document in found:
        assert problems(json.dumps(document)) == []
    assert len(json.dumps(measured)) < 2_000  # what the heartbeat carries


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["_aws"].update(Timestamp=1765000000.5), "is not of type 'integer'"),
        (lambda d: d["_aws"].update(Timestamp=1765000000), "not milliseconds"),
        (lambda d: d["_aws"].pop("CloudWatchMetrics"), "'CloudWatchMetrics' is a required"),
        (lambda d: d.pop("Instances"), "no numeric value"),
        (lambda d: d.update(Instances="3"), "no numeric value"),
        (lambda d: d.update(Account=12), "no string value"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="Dollars"), ""),
        (
            lambda d: d["_aws"]["CloudWatchMetrics"][0].update(
                Dimensions=[[f"k{i}" for i in range(10)]]
            ),
            "is too long",
        ),
        (
            lambda d: d["_aws"]["CloudWatchMetrics"][0].update(
                Metrics=[{"Name": "Instances"}] * 101
            ),
            "is too long",
        ),
    ],
)
def test_the_validator_refuses_what_the_specification_refuses(mutate: Any, expected: str) -> None:
    (document,) = documents("123456789012", {"values": {"Instances": 3}}, NOW_MS)
    mutate(document)
    found = problems(json.dumps(document))
    assert found and expected in " ".join(found)
