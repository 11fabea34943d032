"""A tripped breaker stays tripped: what launches while its incident is open is stopped under it,
until restore closes the incident (or an hour passes without a trip)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.handler import handler
from guard.open_incident import LATCH, PARAMETER
from tests.guard.conftest import HOME, FakeContext, instance_states, instance_tags
from tests.guard.launch_events import batch_for
from tests.guard.test_faults import refuse_instances

REGION = "eu-west-1"


def open_record() -> dict | None:
    try:
        value = boto3.client("ssm", region_name=HOME).get_parameter(Name=PARAMETER)
    except ClientError:
        return None
    return json.loads(value["Parameter"]["Value"])


def run_batch(launch, count: int) -> tuple[list[str], dict]:
    ids = launch(REGION, count)
    return ids, handler(batch_for({REGION: ids}), FakeContext())["report"]


def test_launches_after_a_trip_are_stopped_under_the_same_incident_until_restore(
    launch, guard_env, inbox
):
    guard_env(ec2limit=4)
    first_ids, first = run_batch(launch, 6)
    assert first["tripped"] is True
    assert open_record()["incident"] == first["incident"]

    later_ids, later = run_batch(launch, 2)  # under the limit, but the breaker is still tripped

    assert later["tripped"] is True
    assert later["incident"] == first["incident"]
    assert later["continues_incident"] is True
    assert later["trip_reasons"] == ["incident-open"]
    assert sorted(later["stopped"]) == sorted(later_ids)
    assert instance_tags(REGION, later_ids[0])["runawaytrain:incident"] == first["incident"]
    # Within one schedule interval of the first mail: held for the next one (follow_up.py).
    [first_mail] = inbox.messages()
    assert first_mail["Subject"].startswith("runawaytrain TRIPPED 123456789012: 6 EC2 vs limit 4")
    assert later["notified"] is False

    restored = handler(
        {"action": "restore", "incident": first["incident"], "restart_instances": True},
        FakeContext(),
    )["report"]

    assert "the breaker is reset" in restored["reason"]
    assert open_record() is None
    assert set(instance_states(REGION, first_ids + later_ids).values()) == {"running"}
    _, after = run_batch(launch, 1)  # closed: 9 running now, back to counting against the limit
    assert after["incident"] != first["incident"]


def test_a_quiet_hour_closes_the_incident(launch, guard_env, inbox):
    guard_env(ec2limit=4)
    last_trip = datetime.now(UTC) - LATCH - timedelta(minutes=1)
    old = {"incident": "20261126T010000Z-abcdef", "last_trip": last_trip.isoformat()}
    boto3.client("ssm", region_name=HOME).put_parameter(
        Name=PARAMETER, Value=json.dumps(old), Type="String"
    )

    ids, report = run_batch(launch, 2)

    assert report["verdict"] == "ok"
    assert set(instance_states(REGION, ids).values()) == {"running"}


def test_a_dry_run_trip_opens_no_incident(launch, guard_env, inbox):
    guard_env(ec2limit=4, mode="dry-run")
    _, first = run_batch(launch, 6)
    assert first["tripped"] is True
    assert open_record() is None


def test_an_unreadable_record_is_reported_and_the_limit_still_trips(
    launch, guard_env, inbox, shared
):
    guard_env(ec2limit=4)

    def deny(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter"
        )

    shared.client("ssm", HOME).meta.events.register("before-call.ssm.GetParameter", deny)

    _, report = run_batch(launch, 6)

    assert report["tripped"] is True
    assert report["stopped"]
    assert any("AccessDeniedException" in error for error in report["action_errors"])
    (mail,) = inbox.messages()
    assert "AccessDeniedException" in mail["Message"]


def test_a_failed_record_write_leaves_the_halt_standing_and_is_reported(
    launch, guard_env, inbox, shared
):
    guard_env(ec2limit=4)

    def fail(**_: object) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Put")

    shared.client("ssm", HOME).meta.events.register("before-call.ssm.PutParameter", fail)

    ids, report = run_batch(launch, 6)

    assert set(instance_states(REGION, ids).values()) == {"stopped"}
    assert any(PARAMETER in error and "Throttling" in error for error in report["action_errors"])


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        '{"incident": "20261126T010000Z-abcdef"}',
        '{"incident": "20261126T010000Z-abcdef", "last_trip": "2026-11-26T01:00:00"}',
    ],
)
def test_a_malformed_record_is_reported_and_ignored(launch, guard_env, inbox, value):
    guard_env(ec2limit=4)
    boto3.client("ssm", region_name=HOME).put_parameter(Name=PARAMETER, Value=value, Type="String")

    ids, report = run_batch(launch, 2)

    assert report["verdict"] == "ok"
    assert any("not an open-incident record" in error for error in report["action_errors"])
    assert set(instance_states(REGION, ids).values()) == {"running"}


def test_an_instance_that_cannot_be_stopped_does_not_hold_the_incident_open(
    launch, guard_env, inbox, shared
):
    guard_env(ec2limit=4)
    ids = launch(REGION, 6)
    shared.client("ec2", REGION).meta.events.register(
        "before-parameter-build.ec2.StopInstances",
        refuse_instances({ids[0]}, "UnsupportedOperation"),
    )
    first = handler(batch_for({REGION: ids}), FakeContext())["report"]
    assert first["not_stopped"] == {ids[0]: "UnsupportedOperation"}
    opened = open_record()

    later = handler({}, FakeContext())["report"]  # the schedule: 1 running, nothing launched

    assert later["verdict"] == "ok"
    assert open_record() == opened  # not extended: the incident still ends after a quiet hour
    assert len(inbox.messages()) == 1


def test_restoring_another_incident_says_which_one_is_still_open(launch, guard_env, inbox):
    guard_env(ec2limit=4)
    _, report = run_batch(launch, 6)

    restored = handler({"action": "restore", "incident": "20261101T000000Z-000000"}, FakeContext())[
        "report"
    ]

    assert f"incident {report['incident']} is still open" in restored["reason"]
    assert open_record()["incident"] == report["incident"]


def test_a_dry_run_after_an_enforced_trip_never_says_tripped_again(launch, guard_env, inbox):
    guard_env(ec2limit=4)
    run_batch(launch, 6)
    guard_env(mode="dry-run")

    run_batch(launch, 1)

    subjects = [mail["Subject"] for mail in inbox.messages()]
    assert subjects[1].startswith("runawaytrain WOULD TRIP (dry-run)")
