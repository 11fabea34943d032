"""The watchdog prints each heartbeat's metrics in the payer (the fleet dashboard's source), under
the account EventBridge set, and every check prints how many guards are silent or unhealthy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

from guard.metrics import ACCOUNT, ACCOUNT_METRICS
from guard.service_names import KINDS
from tests.emf_spec import emf_lines, problems
from tests.watchdog.conftest import HOME, MEMBER, Watchdog, heartbeat_event

T0 = datetime.now(UTC).replace(microsecond=0)
MEASURED = {
    "values": {"Instances": 3, "InstanceLimit": 4, "RunSeconds": 2.5, "AwsCalls": 120},
    "services": {"sagemaker-notebooks": 2},
}


def printed(capsys) -> list[dict]:
    lines = emf_lines(capsys.readouterr().out)
    for line in lines:
        assert problems(line) == [], line
    return [json.loads(line) for line in lines]


def test_a_heartbeats_metrics_are_printed_for_the_account_that_sent_it(
    watchdog: Watchdog, capsys
) -> None:
    # `account_name` and anything else in the detail are the guard's words; `account` is
    # EventBridge's (the sender).
    watchdog.record(heartbeat_event(MEMBER, T0, metrics=MEASURED, account_name="999999999999"))

    account, notebooks = printed(capsys)
    assert account[ACCOUNT] == MEMBER and notebooks[ACCOUNT] == MEMBER
    assert {k: account[k] for k in MEASURED["values"]} == MEASURED["values"]
    assert notebooks["ServiceCapacity"] == 2
    # The metric's time is the heartbeat's, not the watchdog's.
    assert account["_aws"]["Timestamp"] == int(T0.timestamp() * 1000)


def test_the_stored_heartbeat_leaves_its_metrics_out(watchdog: Watchdog) -> None:
    """A String parameter holds 4 KB: the metrics are printed, not kept."""
    watchdog.record(heartbeat_event(MEMBER, T0, metrics=MEASURED, count=3))

    ssm = boto3.client("ssm", region_name=HOME)
    value = ssm.get_parameter(Name=f"/runawaytrain/heartbeat/{MEMBER}")["Parameter"]["Value"]
    stored = json.loads(value)
    assert "metrics" not in stored["detail"] and stored["detail"]["count"] == 3


def test_a_heartbeat_cannot_make_metrics_of_its_own(watchdog: Watchdog, capsys) -> None:
    """Unknown names and kinds would each be a new billed metric in the payer."""
    bogus = {
        "values": {**{f"Made{i}": 1 for i in range(50)}, "Instances": 1},
        "services": {f"kind-{i}": 1 for i in range(50)},
    }
    watchdog.record(heartbeat_event(MEMBER, T0, metrics=bogus))

    (document,) = printed(capsys)
    names = [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert names == ["Instances"]


def test_a_heartbeat_without_metrics_prints_none(watchdog: Watchdog, capsys) -> None:
    watchdog.record(heartbeat_event(MEMBER, T0))  # an older guard, or a voided run
    assert printed(capsys) == []


def test_the_largest_heartbeat_is_recorded_and_printed(watchdog: Watchdog, capsys) -> None:
    largest = {
        "values": {spec.name: 123456.789 for spec in ACCOUNT_METRICS},
        "services": dict.fromkeys(KINDS, 99999),
    }
    watchdog.record(heartbeat_event(MEMBER, T0, metrics=largest))
    assert len(printed(capsys)) == 1 + len(KINDS)


def test_each_check_prints_how_many_guards_are_silent_or_unhealthy(
    watchdog: Watchdog, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "runawaytrain-watchdog")  # Lambda sets it
    watchdog.record(heartbeat_event(MEMBER, T0, degraded=True))
    watchdog.check(T0 + timedelta(minutes=1))
    health = [d for d in printed(capsys) if "GuardsSilent" in d]
    assert [(d["GuardsSilent"], d["GuardsUnhealthy"]) for d in health] == [(0, 1)]

    watchdog.check(T0 + timedelta(minutes=16))  # 3 x 5 minutes without a heartbeat
    health = [d for d in printed(capsys) if "GuardsSilent" in d]
    assert [(d["GuardsSilent"], d["GuardsUnhealthy"]) for d in health] == [(1, 0)]
    assert health[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
