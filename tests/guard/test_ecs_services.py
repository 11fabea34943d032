"""ECS services (issue 21): counted beside EC2 (Fargate by its vCPUs, EC2-backed at weight 0),
set to 0 tasks at a trip after their Application Auto Scaling is suspended (recorded first),
given their count and scaling back exactly by restore."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.ecs_services import DESIRED_TAG, SCALING_TAG
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation
from guard.logs import configure_logging
from guard.settings import Action, Mode, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME
from tests.guard.ecs_fixtures import (
    ALL_SUSPENDED,
    NONE_SUSPENDED,
    create_fargate_service,
    ecs,
    service,
    service_tags,
    suspended_state,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "ECS service"
RESTORE = Invocation(Action.RESTORE, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE)
CALLS = ("TagResource", "UntagResource", "RegisterScalableTarget", "UpdateService")


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def settings(inbox: Any, mode: Mode = Mode.ENFORCE, **extra: Any) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode, **extra)


def record_calls(clients: ClientFactory) -> list[str]:
    """The ECS and Application Auto Scaling calls the guard makes in REGION, in order."""
    made: list[str] = []
    for service_name, event in (
        ("ecs", "ecs"),
        ("application-autoscaling", "application-auto-scaling"),
    ):
        for call in CALLS:
            clients.client(service_name, REGION).meta.events.register(
                f"before-call.{event}.{call}", lambda call=call, **_: made.append(call)
            )
    return made


def counts(name: str) -> tuple[int, int]:
    described = service(REGION, name)
    return described["desiredCount"], described["runningCount"]


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def test_a_trip_suspends_scaling_then_sets_zero_and_restore_puts_both_back(strict, inbox, clients):
    create_fargate_service(REGION, "web", desired=3, scaling=(1, 6))
    launch(2)
    made = record_calls(clients)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services == {KIND: {REGION: 3}}
    assert report.services_halted == {KIND: [f"{REGION}/prod/web"]}
    # Record, then suspend, then set 0: suspended after the count, AAS's register would move
    # the count back into [1, 6] (the strict layer does as AWS documents).
    assert made == ["TagResource", "RegisterScalableTarget", "UpdateService"]
    assert counts("web") == (0, 0)
    assert suspended_state(REGION, "web") == ALL_SUSPENDED
    assert service_tags(REGION, "web") == {
        INCIDENT_TAG: report.incident,
        DESIRED_TAG: "3",
        SCALING_TAG: "in=false out=false scheduled=false",
    }
    body = inbox.messages()[0]["Message"]
    assert f"Stopped 1 ECS service(s): {REGION}/prod/web" in body

    kept = run_restore(settings(inbox), NO_RESTART, clients, ACCOUNT)

    assert kept.restore["services_not_yet"] == [f"{REGION}/prod/web"]
    assert counts("web") == (0, 0)  # a start bills again: only when asked to restart
    assert suspended_state(REGION, "web") == ALL_SUSPENDED
    made.clear()

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["services_restored"] == [f"{REGION}/prod/web"]
    assert made == ["UpdateService", "RegisterScalableTarget", "UntagResource"]
    assert counts("web") == (3, 3)
    assert suspended_state(REGION, "web") == NONE_SUSPENDED
    assert service_tags(REGION, "web") == {}


def test_scaling_suspended_before_the_trip_stays_as_it_was(strict, inbox, clients):
    partly = {**NONE_SUSPENDED, "DynamicScalingInSuspended": True}
    create_fargate_service(REGION, "partly", desired=2, scaling=(0, 4), suspended=partly)
    create_fargate_service(REGION, "frozen", desired=1, scaling=(1, 4), suspended=ALL_SUSPENDED)
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert sorted(report.services_halted[KIND]) == [
        f"{REGION}/prod/frozen",
        f"{REGION}/prod/partly",
    ]
    assert suspended_state(REGION, "partly") == ALL_SUSPENDED
    assert service_tags(REGION, "frozen")[SCALING_TAG] == "in=true out=true scheduled=true"

    run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert (counts("partly"), counts("frozen")) == ((2, 2), (1, 1))
    assert suspended_state(REGION, "partly") == partly
    assert suspended_state(REGION, "frozen") == ALL_SUSPENDED


def test_a_service_without_scaling_is_set_to_zero_and_back(strict, inbox, clients):
    create_fargate_service(REGION, "plain", desired=2)
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert service_tags(REGION, "plain")[SCALING_TAG] == "none"
    assert counts("plain") == (0, 0)
    run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert counts("plain") == (2, 2)
    assert report.action_errors == []


def test_dry_run_says_what_it_would_halt_and_changes_nothing(strict, inbox, clients):
    create_fargate_service(REGION, "web", desired=3, scaling=(1, 6))
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/prod/web"]}
    assert report.services_halted == {}
    assert counts("web") == (3, 3)
    assert suspended_state(REGION, "web") == NONE_SUSPENDED
    assert service_tags(REGION, "web") == {}


def test_a_run_while_the_incident_is_open_keeps_the_record_of_before_the_trip(
    strict, inbox, clients
):
    """Raised again after the trip (by someone the launch block exempts): the next run sets it
    to 0 again and must not record the halted state (0, suspended) as the one to restore."""
    create_fargate_service(REGION, "web", desired=3, scaling=(1, 6))
    launch(2)
    first = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    ecs(REGION).update_service(cluster="prod", service="web", desiredCount=5)

    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert later.services_halted == {KIND: [f"{REGION}/prod/web"]}
    assert counts("web") == (0, 0)
    assert service_tags(REGION, "web")[DESIRED_TAG] == "3"
    run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert counts("web") == (3, 3)
    assert suspended_state(REGION, "web") == NONE_SUSPENDED
    assert first.incident == later.incident


def test_a_count_aws_refuses_to_set_leaves_no_record(strict, inbox, clients):
    create_fargate_service(REGION, "web", desired=3)
    launch(2)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServerException", "Message": "try again"}}, "Update")

    clients.client("ecs", REGION).meta.events.register("before-call.ecs.UpdateService", refuse)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert any("prod/web: setting its desired count to 0" in e for e in report.action_errors)
    assert service_tags(REGION, "web") == {}
    assert counts("web") == (3, 3)


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_a_timeout_before_its_values_are_recorded_leaves_the_service_to_be_put_back_by_hand(
    strict, inbox, clients
):
    """The trip dies after the service's record and its scaling's suspension, before its batch's
    values are written: restore never takes what it was from the tags (anyone may write them,
    review of issue 22 H2), so it leaves the service as the trip left it and says so."""
    create_fargate_service(REGION, "web", desired=3, scaling=(1, 6))
    launch(2)

    def timeout(**_: Any) -> None:
        raise LambdaTimeout

    clients.client("ecs", REGION).meta.events.register("before-call.ecs.UpdateService", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert INCIDENT_TAG in service_tags(REGION, "web")
    assert suspended_state(REGION, "web") == ALL_SUSPENDED
    assert counts("web") == (3, 3)

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["services_restored"] == []
    why = restored.restore["unrecorded"][f"{KIND} {REGION}/prod/web"]
    assert "left halted" in why and "put it back by hand" in why
    assert counts("web") == (3, 3)
    assert suspended_state(REGION, "web") == ALL_SUSPENDED  # as the restore says


def test_a_service_with_a_short_arn_is_not_halted_and_the_mail_says_why(strict, inbox, clients):
    ecs(REGION).put_account_setting(name="serviceLongArnFormat", value="disabled")
    create_fargate_service(REGION, "legacy", desired=2)
    ecs(REGION).put_account_setting(name="serviceLongArnFormat", value="enabled")
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services == {KIND: {REGION: 2}}
    assert report.services_halted == {}
    assert counts("legacy") == (2, 2)
    (error,) = [e for e in report.action_errors if "legacy" in e]
    assert "not halted: its short ARN" in error and "Migrate it to the long ARN" in error


def test_fargate_weighs_its_vcpus_and_an_ec2_service_weighs_nothing_but_is_halted(
    strict, inbox, clients
):
    """No EC2 instance at all: 4 tasks of 1 vCPU trip a 3-vCPU limit. The EC2-launch service's
    container instances would be in the EC2 census: counted 0 here, set to 0 all the same (or
    it starts again on the instances a restore restarts)."""
    create_fargate_service(REGION, "web", desired=4, cpu="1024")
    create_fargate_service(REGION, "batch", desired=6, launch_type="EC2")
    limits = WeightedLimits(vcpus=3)

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=limits),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.count == 0
    assert report.tripped, report.reason
    assert report.burn["vcpus"] == 4
    assert "0 x" not in inbox.messages()[0]["Message"]  # no burn line for what weighs nothing
    assert report.services == {KIND: {REGION: 4}}
    assert sorted(report.services_halted[KIND]) == [f"{REGION}/prod/batch", f"{REGION}/prod/web"]
    assert (counts("web"), counts("batch")) == ((0, 0), (0, 0))

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.incident == report.incident
    assert (counts("web"), counts("batch")) == ((4, 4), (6, 6))


def test_a_service_starting_weighs_its_desired_tasks(strict, inbox, clients):
    """Created a moment ago: runningCount 0 while its tasks start, but they bill from the
    image pull on; the first run trips on them."""
    strict.pending_seconds = 300
    create_fargate_service(REGION, "miner", desired=8, cpu="4096")
    assert counts("miner") == (8, 0)

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(vcpus=16)),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.burn["vcpus"] == 32
    assert report.services_halted == {KIND: [f"{REGION}/prod/miner"]}
    assert service(REGION, "miner")["desiredCount"] == 0


def test_a_record_tag_edited_by_hand_is_overruled_by_the_incidents_own_record(
    strict, inbox, clients
):
    """Issue 22 item 7: the tag is a marker anyone can edit; restore takes the desired count
    from the incident's record (guard/ledger.py) and says which tag disagreed."""
    create_fargate_service(REGION, "web", desired=3)
    create_fargate_service(REGION, "worker", desired=2)
    launch(2)
    run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    arn = service(REGION, "web")["serviceArn"]
    boto3.client("ecs", region_name=REGION).tag_resource(
        resourceArn=arn, tags=[{"key": DESIRED_TAG, "value": "lots"}]
    )

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["services_restored"] == [f"{REGION}/prod/web", f"{REGION}/prod/worker"]
    assert restored.restore["errors"] == {}
    assert "'lots'" in restored.restore["record_warnings"][f"{KIND} {REGION}/prod/web"]
    assert counts("worker") == (2, 2)
    assert counts("web") == (3, 3)
