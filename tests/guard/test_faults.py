"""Faults injected into real client calls: one bad instance, one dead region, throttling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError

from guard.handler import run_guard
from guard.invocation import Invocation
from guard.settings import Settings
from tests.guard.conftest import instance_states

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def settings_for(inbox, limit: int = 4) -> Settings:
    return Settings(ec2limit=limit, snstopic=inbox.topic_arn)


def refuse_instances(bad_ids: set[str], code: str) -> Callable[..., None]:
    """Hook on the API parameters: StopInstances fails as a whole if it names a bad instance."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        named = bad_ids & set(params.get("InstanceIds", []))
        if named:
            raise ClientError(
                {"Error": {"Code": code, "Message": f"cannot stop {sorted(named)}"}},
                "StopInstances",
            )

    return hook


@pytest.mark.parametrize("bad_count", [1, 3])
def test_unstoppable_instance_does_not_prevent_the_others(launch, inbox, clients, bad_count):
    fleet = {region: launch(region, 5) for region in REGIONS}
    bad = set(fleet["eu-west-1"][:bad_count])
    clients.client("ec2", "eu-west-1").meta.events.register(
        "before-parameter-build.ec2.StopInstances", refuse_instances(bad, "UnsupportedOperation")
    )

    report = run_guard(settings_for(inbox), Invocation(), clients, "123456789012")

    assert report.not_stopped == dict.fromkeys(bad, "UnsupportedOperation")
    everyone = {id_ for ids in fleet.values() for id_ in ids}
    assert set(report.stopped) == everyone - bad
    for region, ids in fleet.items():
        states = instance_states(region, ids)
        assert {id_ for id_, state in states.items() if state == "running"} == (bad & set(ids))
    [message] = inbox.messages()
    for id_ in bad:
        assert f"{id_}: UnsupportedOperation" in message["Message"]


def test_request_level_error_fails_the_batch_without_bisecting(launch, inbox, clients):
    ids = launch("us-east-1", 8)
    calls: list[int] = []

    def deny_everything(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["InstanceIds"]))
        raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "Stop")

    clients.client("ec2", "us-east-1").meta.events.register(
        "before-parameter-build.ec2.StopInstances", deny_everything
    )
    settings = Settings(ec2limit=4, snstopic=inbox.topic_arn)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    assert calls == [8]
    assert report.not_stopped == dict.fromkeys(ids, "UnauthorizedOperation")
    assert report.notified is True


def fail_region(clients, region: str, error: Exception) -> None:
    def hook(**_: Any) -> None:
        raise error

    clients.client("ec2", region).meta.events.register(
        "before-call.ec2.DescribeInstanceStatus", hook
    )


def test_failing_region_is_reported_and_the_others_still_stop(launch, inbox, clients):
    fleet = {region: launch(region, 3) for region in REGIONS}
    fail_region(clients, "eu-west-1", EndpointConnectionError(endpoint_url="https://ec2.eu-west-1"))

    report = run_guard(settings_for(inbox), Invocation(), clients, "123456789012")

    assert report.tripped is True  # 6 counted > 4: fail closed, trip anyway
    assert set(report.region_errors) == {"eu-west-1"}
    assert "EndpointConnectionError" in report.region_errors["eu-west-1"]
    assert set(report.stopped) == set(fleet["us-east-1"] + fleet["ap-southeast-2"])
    assert set(instance_states("eu-west-1", fleet["eu-west-1"]).values()) == {"running"}
    [message] = inbox.messages()
    assert "could NOT be counted" in message["Message"]
    assert "eu-west-1" in message["Message"]


def test_failing_region_under_the_limit_publishes_guard_degraded(launch, inbox, clients):
    fleet = {region: launch(region, 1) for region in REGIONS}
    denied = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "Describe")
    fail_region(clients, "ap-southeast-2", denied)

    report = run_guard(settings_for(inbox), Invocation(), clients, "123456789012")

    assert report.verdict == "degraded"
    assert report.tripped is False
    assert report.region_errors == {"ap-southeast-2": "UnauthorizedOperation: no"}
    for region, ids in fleet.items():
        assert set(instance_states(region, ids).values()) == {"running"}
    [message] = inbox.messages()
    assert "DEGRADED" in message["Subject"]
    assert "ap-southeast-2" in message["Message"]
    assert report.notified is True


def fail_region_list(clients) -> None:
    def hook(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "Regions")

    clients.client("ec2", "us-east-1").meta.events.register("before-call.ec2.DescribeRegions", hook)


def test_a_first_run_whose_region_list_fails_counts_home_and_says_so(launch, inbox, clients):
    launch("us-east-1", 5)
    fail_region_list(clients)
    settings = Settings(ec2limit=4, snstopic=inbox.topic_arn)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    assert report.tripped is True
    assert len(report.stopped) == 5
    assert report.region_errors == {
        "(region list)": "UnauthorizedOperation: no; counted us-east-1 only (no earlier run's list)"
    }


def test_a_failed_region_list_counts_every_region_the_last_run_counted(launch, inbox, clients):
    settings = Settings(ec2limit=4, snstopic=inbox.topic_arn)
    quiet = run_guard(settings, Invocation(), clients, "123456789012")  # records its Regions
    assert quiet.verdict == "ok"
    far = launch("ap-southeast-2", 3)  # where nobody looks
    home = launch("us-east-1", 2)
    fail_region_list(clients)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    assert report.tripped is True  # 5 > 4: the far Region was counted, not just home
    assert set(report.stopped) == set(far + home)
    assert report.by_region.keys() == quiet.by_region.keys()
    (error,) = report.region_errors.values()
    counted = len(quiet.by_region)
    assert error == f"UnauthorizedOperation: no; counted the {counted} Regions the last run counted"
    [message] = inbox.messages()
    assert (
        "counted the" in message["Message"] and "Regions the last run counted" in message["Message"]
    )


def throttle_first(times: int) -> Callable[..., AWSResponse | None]:
    """A before-send hook answering RequestLimitExceeded `times` times, as a throttled EC2 does."""
    remaining = [times]
    body = (
        b"<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
        b"<Message>Request limit exceeded.</Message></Error></Errors></Response>"
    )

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        if remaining[0] == 0:
            return None
        remaining[0] -= 1
        response = AWSResponse(request.url, 503, {}, None)
        response._content = body
        return response

    return hook


def test_throttled_stop_calls_are_retried_until_they_succeed(launch, inbox, clients):
    ids = launch("us-east-1", 6)
    ec2 = clients.client("ec2", "us-east-1")
    ec2.meta.events.register_first("before-send.ec2.StopInstances", throttle_first(2))
    settings = Settings(ec2limit=4, snstopic=inbox.topic_arn)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    assert sorted(report.stopped) == sorted(ids)
    assert set(instance_states("us-east-1", ids).values()) == {"stopped"}


def test_every_client_retries_in_standard_mode_at_least_eight_times(clients):
    for service in ("ec2", "autoscaling", "sns", "sts"):
        retries = clients.client(service, "eu-west-1").meta.config.retries
        assert retries["mode"] == "standard"
        assert retries["total_max_attempts"] >= 8


def test_failed_publish_keeps_the_halt_and_is_reported(launch, inbox, clients):
    ids = launch("us-east-1", 6)

    def hook(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AuthorizationError", "Message": "kms"}}, "Publish")

    clients.client("sns", "us-east-1").meta.events.register("before-call.sns.Publish", hook)
    settings = Settings(ec2limit=4, snstopic=inbox.topic_arn)

    report = run_guard(settings, Invocation(), clients, "123456789012")

    assert sorted(report.stopped) == sorted(ids)
    assert report.notified is False
    assert report.notify_error == "AuthorizationError: kms"
    assert set(instance_states("us-east-1", ids).values()) == {"stopped"}
