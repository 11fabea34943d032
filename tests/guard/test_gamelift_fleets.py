"""GameLift managed EC2 fleets (issue 21): counted beside EC2 (their instances bill in
GameLift's account, not in the EC2 census), scaled to 0 with auto scaling stopped at a trip
(recorded first), given their exact capacity and auto scaling back by restore. The emulated
GameLift is strict_aws/gamelift.py (moto has none)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from guard import gamelift_fleets
from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.ledger import Record
from guard.logs import configure_logging
from guard.notify import compose_body
from guard.settings import Action, Mode, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "GameLift fleet"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)


def gamelift(region: str = REGION) -> Any:
    return boto3.client("gamelift", region_name=region)


def create_fleet(name: str, *, low: int = 1, desired: int = 2, high: int = 4) -> tuple[str, str]:
    """An ACTIVE fleet (pending_seconds 0) sized low/desired/high; (FleetId, FleetArn)."""
    fleet = gamelift().create_fleet(Name=name, EC2InstanceType="c5.large", BuildId="build-1")
    fleet_id, arn = fleet["FleetAttributes"]["FleetId"], fleet["FleetAttributes"]["FleetArn"]
    if gamelift_status(fleet_id) == "ACTIVE":
        gamelift().update_fleet_capacity(
            FleetId=fleet_id, DesiredInstances=desired, MinSize=low, MaxSize=high
        )
    return fleet_id, arn


def gamelift_status(fleet_id: str) -> str:
    [attributes] = gamelift().describe_fleet_attributes(FleetIds=[fleet_id])["FleetAttributes"]
    return str(attributes["Status"])


def capacity(fleet_id: str) -> tuple[int, int, int]:
    [found] = gamelift().describe_fleet_capacity(FleetIds=[fleet_id])["FleetCapacity"]
    counts = found["InstanceCounts"]
    return counts["MINIMUM"], counts["DESIRED"], counts["MAXIMUM"]


def auto_scaling_stopped(fleet_id: str) -> bool:
    [attributes] = gamelift().describe_fleet_attributes(FleetIds=[fleet_id])["FleetAttributes"]
    return "AUTO_SCALING" in attributes["StoppedActions"]


def tags(arn: str) -> dict[str, str]:
    found = gamelift().list_tags_for_resource(ResourceARN=arn)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in found}


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def settings(inbox: Any, mode: Mode = Mode.ENFORCE) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode)


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


@pytest.fixture
def clock(strict: Any) -> Any:
    now = [0.0]
    strict.clock = lambda: now[0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def test_a_trip_scales_fleets_in_and_restore_gives_their_capacity_back(strict, inbox, clients):
    arena, arena_arn = create_fleet("arena")
    lobby, _ = create_fleet("lobby", low=0, desired=1, high=1)
    gamelift().stop_fleet_actions(FleetId=lobby, Actions=["AUTO_SCALING"])  # stopped by its owner
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services == {KIND: {REGION: 3}}  # PENDING + ACTIVE instances
    assert sorted(report.services_halted[KIND]) == sorted(
        [f"{REGION}/{arena}", f"{REGION}/{lobby}"]
    )
    assert capacity(arena) == (0, 0, 4) and auto_scaling_stopped(arena)
    assert capacity(lobby) == (0, 0, 1) and auto_scaling_stopped(lobby)
    assert tags(arena_arn) == {
        INCIDENT_TAG: report.incident,
        "runawaytrain:prior-capacity": "1/2/4",
        "runawaytrain:prior-auto-scaling": "running",
    }
    body = inbox.messages()[0]["Message"]
    assert f"Stopped 2 {KIND}(s)" in body
    assert "game sessions on them end" in body

    kept = run_restore(settings(inbox), NO_RESTART, clients, ACCOUNT)

    assert sorted(kept.restore["services_not_yet"]) == sorted(report.services_halted[KIND])
    assert capacity(arena) == (0, 0, 4)  # capacity back launches instances: only when asked

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert sorted(restored.restore["services_restored"]) == sorted(report.services_halted[KIND])
    assert capacity(arena) == (1, 2, 4) and not auto_scaling_stopped(arena)
    assert capacity(lobby) == (0, 1, 1) and auto_scaling_stopped(lobby)  # as its owner left it
    assert tags(arena_arn) == {}
    assert f"Started again (other services): {REGION}/" in compose_body(restored)


def test_a_fleet_still_activating_at_the_trip_is_scaled_in_by_the_next_run(
    strict, clock, inbox, clients
):
    strict.pending_seconds = 300
    late, _ = create_fleet("late")  # NEW: its first instance PENDING
    launch(2)

    first = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert first.services == {KIND: {REGION: 1}}
    assert first.services_waiting == {KIND: [f"{REGION}/{late}"]}
    assert capacity(late) == (0, 1, 1) and not auto_scaling_stopped(late)

    clock(301)  # ACTIVE now
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert later.services_halted == {KIND: [f"{REGION}/{late}"]}
    assert capacity(late) == (0, 0, 1) and auto_scaling_stopped(late)


def test_dry_run_says_what_it_would_scale_in_and_changes_nothing(strict, inbox, clients):
    arena, arena_arn = create_fleet("arena")
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/{arena}"]}
    assert report.services_halted == {}
    assert capacity(arena) == (1, 2, 4) and not auto_scaling_stopped(arena)
    assert tags(arena_arn) == {}


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_first_and_a_timeout_after_it_restores_cleanly(strict, inbox, clients):
    """Recorded, auto scaling stopped, then the invocation ends before the scale-in: restore
    starts the auto scaling again and takes the record off; the capacity was never touched."""
    arena, arena_arn = create_fleet("arena")
    launch(2)
    made: list[str] = []
    client = clients.client("gamelift", REGION)
    for operation in ("TagResource", "StopFleetActions"):
        client.meta.events.register(
            f"before-call.gamelift.{operation}", lambda op=operation, **_: made.append(op)
        )

    def timeout(**_: Any) -> None:
        made.append("UpdateFleetCapacity")
        raise LambdaTimeout

    client.meta.events.register("before-call.gamelift.UpdateFleetCapacity", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made == ["TagResource", "StopFleetActions", "UpdateFleetCapacity"]
    assert INCIDENT_TAG in tags(arena_arn) and auto_scaling_stopped(arena)

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == [f"{REGION}/{arena}"]
    assert capacity(arena) == (1, 2, 4) and not auto_scaling_stopped(arena)
    assert tags(arena_arn) == {}


def test_a_timeout_before_any_change_leaves_a_record_restore_just_removes(strict, inbox, clients):
    arena, arena_arn = create_fleet("arena")
    launch(2)

    def timeout(**_: Any) -> None:
        raise LambdaTimeout

    client = clients.client("gamelift", REGION)
    client.meta.events.register("before-call.gamelift.StopFleetActions", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    assert INCIDENT_TAG in tags(arena_arn)

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["services_restored"] == []  # nothing was changed: nothing given back
    assert restored.restore["errors"] == {}
    assert tags(arena_arn) == {}
    assert capacity(arena) == (1, 2, 4) and not auto_scaling_stopped(arena)


def refuse(code: str) -> Any:
    def refused(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "refused"}}, "UpdateFleetCapacity")

    return refused


@pytest.mark.parametrize(
    ("code", "waiting"),
    [("InvalidRequestException", False), ("InvalidFleetStatusException", True)],
)
def test_a_refused_scale_in_starts_auto_scaling_again_and_takes_the_record_off(
    strict, inbox, clients, code, waiting
):
    """No record of a change that did not happen, and no auto scaling left stopped by a halt
    that did not happen; a fleet no longer ACTIVE waits for the next run."""
    arena, arena_arn = create_fleet("arena")
    launch(2)
    client = clients.client("gamelift", REGION)
    client.meta.events.register("before-call.gamelift.UpdateFleetCapacity", refuse(code))

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert (report.services_waiting == {KIND: [f"{REGION}/{arena}"]}) is waiting
    assert any(f"scaling in: {code}" in e for e in report.action_errors) is not waiting
    assert tags(arena_arn) == {}
    assert capacity(arena) == (1, 2, 4) and not auto_scaling_stopped(arena)


def test_a_fleet_halt_leaves_out_is_counted_and_mailed_not_scaled_in(strict, inbox, clients):
    arena, _ = create_fleet("arena")
    launch(2)
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=frozenset())

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.tripped
    assert report.services_kept == {KIND: [f"{REGION}/{arena}"]}
    assert capacity(arena) == (1, 2, 4)
    assert "halt: does not name gamelift-fleets" in inbox.messages()[0]["Message"]


def test_a_gamelift_only_account_trips_on_its_dollar_limit_weighed_as_ec2(strict, inbox, clients):
    """No EC2 instance at all: 3 c5.large instances (2 vCPUs each, GameLift's InstanceType is
    an EC2 type) at the unpriced 1 USD per vCPU-hour weigh 6 USD/h against a limit of 5."""
    arena, _ = create_fleet("arena", low=3, desired=3, high=3)
    limits = WeightedLimits(usd_per_hour=5)

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=limits),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.count == 0
    assert report.tripped, report.reason
    assert (report.burn["vcpus"], report.burn["usd_per_hour"]) == (6, 6.0)
    assert report.services_halted == {KIND: [f"{REGION}/{arena}"]}


class Recording:
    """A GameLift client that records its calls and answers as an empty region does."""

    def __init__(self, pages: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.calls: list[str] = []
        self.pages = pages or {}

    def get_paginator(self, operation: str) -> Any:
        return Pages(self, operation)


class Pages:
    def __init__(self, client: Recording, operation: str) -> None:
        self.client, self.operation = client, operation

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        self.client.calls.append(self.operation)
        key = {"describe_fleet_capacity": "FleetCapacity"}.get(self.operation, "FleetAttributes")
        return [{key: self.client.pages.get(self.operation, [])}]


def test_a_region_without_fleets_costs_one_call():
    """The census budget (issue 21): DescribeFleetCapacity of every fleet, nothing more."""
    client = Recording()

    assert gamelift_fleets.count(client, REGION) == []
    assert client.calls == ["describe_fleet_capacity"]


CONTAINER = {
    "FleetId": "containerfleet-1",
    "FleetArn": f"arn:aws:gamelift:{REGION}:{ACCOUNT}:containerfleet/containerfleet-1",
    "InstanceType": "c5.xlarge",
    "InstanceCounts": {"DESIRED": 2, "MINIMUM": 0, "MAXIMUM": 2, "PENDING": 0, "ACTIVE": 2},
}


class ContainerFleets(Recording):
    """DescribeFleetCapacity lists a container fleet; DescribeFleetAttributes does not ("This
    API works with the following fleet types: EC2, Anywhere")."""

    def __init__(self) -> None:
        super().__init__({"describe_fleet_capacity": [CONTAINER]})
        self.changed: list[str] = []

    def describe_fleet_attributes(self, **_: Any) -> dict[str, Any]:
        return {"FleetAttributes": []}

    def describe_fleet_capacity(self, **_: Any) -> dict[str, Any]:
        return {"FleetCapacity": [CONTAINER]}

    def __getattr__(self, name: str) -> Any:
        return lambda **_: self.changed.append(name)


def test_a_container_fleet_is_counted_and_reported_for_a_person_not_changed():
    client = ContainerFleets()

    [found] = gamelift_fleets.count(client, REGION)
    outcome = gamelift_fleets.halt(client, [found], "incident-1")

    assert (found.count, found.instance_type, found.state) == (2, "c5.xlarge", "")
    assert client.calls == ["describe_fleet_capacity", "describe_fleet_attributes"]
    assert outcome.halted == [] and client.changed == []
    [error] = outcome.errors
    assert "not halted" in error
    assert "update-fleet-capacity --fleet-id containerfleet-1 --desired-instances 0" in error


def test_a_timeout_after_the_scale_in_keeps_the_record_and_restore_gives_it_back(
    strict, inbox, clients
):
    """A read timeout after AWS applied UpdateFleetCapacity: the record stays (no ClientError)
    and restore gives the capacity and auto scaling back."""
    arena, arena_arn = create_fleet("arena")
    launch(2)

    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://gamelift.eu-west-1.amazonaws.com")

    clients.client("gamelift", REGION).meta.events.register(
        "after-call.gamelift.UpdateFleetCapacity", timeout
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert capacity(arena) == (0, 0, 4)
    assert tags(arena_arn)[INCIDENT_TAG] == report.incident
    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)
    assert capacity(arena) == (1, 2, 4) and not auto_scaling_stopped(arena)
    assert tags(arena_arn) == {}


def test_a_new_incident_keeps_an_unfinished_older_record(strict):
    """An older incident's record never restored (scaled up by hand since): the newer incident
    keeps the OLDEST prior capacity, so its restore gives back what the account had first."""
    arena, arena_arn = create_fleet("arena")
    client = gamelift()
    gamelift_fleets.halt(client, gamelift_fleets.count(client, REGION), "older")
    client.update_fleet_capacity(FleetId=arena, DesiredInstances=3, MinSize=3, MaxSize=4)

    outcome = gamelift_fleets.halt(client, gamelift_fleets.count(client, REGION), "newer")

    assert outcome.errors == [] and capacity(arena) == (0, 0, 4)
    assert tags(arena_arn)[INCIDENT_TAG] == "newer"
    assert tags(arena_arn)[gamelift_fleets.CAPACITY_TAG] == "1/2/4"
    record = Record(gamelift_fleets.NAME, {arena_arn}, {arena_arn: tags(arena_arn)})  # as written
    gamelift_fleets.restore(client, REGION, "newer", dry_run=False, restart=True, record=record)
    assert capacity(arena) == (1, 2, 4) and not auto_scaling_stopped(arena)
