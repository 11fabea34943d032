"""Issue 22 item 7: restore undoes only what the incident's own record (lambda/guard/ledger.py,
SSM parameters only the guard may write) says it changed; a tag anyone can write is a marker,
never a reason to start, scale or unlock something."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.ecs_services import DESIRED_TAG
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation
from guard.ledger import ROOT, chunks_of
from guard.lockout import DENY_TAG, KEYS_TAG
from guard.notify import compose_body
from guard.settings import Action, Lockout, Settings
from strict_aws import StrictAWS
from tests.guard.accounts import UserSpec, create_user, iam
from tests.guard.conftest import HOME, instance_states, instance_tags
from tests.guard.ecs_fixtures import create_fargate_service, service, service_tags

ACCOUNT = "123456789012"
RESTART = Invocation(Action.RESTORE, restart_instances=True)
KEEP_STOPPED = Invocation(Action.RESTORE)
MADE_UP = "20991231T235959Z-ffffff"  # newer than any real incident: `restore` must not pick it
DENY_ALL = "arn:aws:iam::aws:policy/AWSDenyAll"


def settings(inbox: Any, **extra: Any) -> Settings:
    return Settings(**{"ec2limit": 1, "snstopic": inbox.topic_arn, **extra})


def records(region: str, incident: str) -> list[dict[str, Any]]:
    pages = (
        boto3.client("ssm", region_name=region)
        .get_paginator("get_parameters_by_path")
        .paginate(Path=f"{ROOT}/{incident}", Recursive=True)
    )
    return [parameter for page in pages for parameter in page["Parameters"]]


def stopped_and_tagged(launch: Any, incident: str) -> str:
    """An instance its owner stopped, then an insider tagged with the incident."""
    (victim,) = launch(HOME, 1)
    ec2 = boto3.client("ec2", region_name=HOME)
    ec2.stop_instances(InstanceIds=[victim])
    ec2.create_tags(Resources=[victim], Tags=[{"Key": INCIDENT_TAG, "Value": incident}])
    return victim


def test_restore_leaves_a_stopped_instance_an_insider_tagged_stopped_and_says_so(
    launch: Any, inbox: Any, clients: ClientFactory
) -> None:
    halted = launch(HOME, 2)
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    assert sorted(report.stopped) == sorted(halted)
    victim = stopped_and_tagged(launch, str(report.incident))

    restored = run_restore(settings(inbox), RESTART, clients, ACCOUNT)

    assert sorted(restored.restore["started_instances"]) == sorted(halted)
    assert instance_states(HOME, [victim]) == {victim: "stopped"}
    assert instance_tags(HOME, victim)[INCIDENT_TAG] == report.incident  # left alone
    why = "tagged with the incident but not in its record: not started"
    assert restored.restore["unrecorded"] == {f"{HOME}/{victim}": why}
    assert f"{HOME}/{victim}: {why}" in compose_body(restored)  # the restore's mail


def test_a_made_up_newer_incident_is_neither_picked_nor_restored(
    launch: Any, inbox: Any, clients: ClientFactory
) -> None:
    launch(HOME, 2)
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    victim = stopped_and_tagged(launch, MADE_UP)

    plain = run_restore(settings(inbox), Invocation(Action.RESTORE), clients, ACCOUNT)
    assert plain.incident == report.incident  # the newest with a record, not the newest tag

    forged = Invocation(Action.RESTORE, incident=MADE_UP, restart_instances=True)
    refused = run_restore(settings(inbox), forged, clients, ACCOUNT)

    assert instance_states(HOME, [victim]) == {victim: "stopped"}
    assert refused.restore["started_instances"] == []
    assert f"incident {MADE_UP} has no record written by the guard" in refused.reason
    assert f"{HOME}/{victim}" in refused.restore["unrecorded"]


def test_a_forged_desired_count_is_not_restored_nor_a_service_never_halted_scaled(
    launch: Any, inbox: Any, clients: ClientFactory
) -> None:
    """ECS: the prior desired count comes from the record, not the tag an insider raised; a
    service its owner had at 0, tagged with the incident and a count, stays at 0."""
    launch(HOME, 2)
    create_fargate_service(HOME, "web", desired=2)
    create_fargate_service(HOME, "idle", desired=0)
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    assert report.services_halted == {"ECS service": [f"{HOME}/prod/web"]}, report.action_errors
    ecs = boto3.client("ecs", region_name=HOME)
    for name in ("web", "idle"):
        forged = {INCIDENT_TAG: str(report.incident), DESIRED_TAG: "50"}
        ecs.tag_resource(
            resourceArn=service(HOME, name)["serviceArn"],
            tags=[{"key": k, "value": v} for k, v in forged.items()],
        )

    restored = run_restore(settings(inbox), RESTART, clients, ACCOUNT)

    assert service(HOME, "web")["desiredCount"] == 2
    assert service(HOME, "idle")["desiredCount"] == 0
    assert service_tags(HOME, "web") == {}
    warning = restored.restore["record_warnings"][f"ECS service {HOME}/prod/web"]
    assert "'50'" in warning and "'2'" in warning
    assert f"ECS service {HOME}/prod/idle" in restored.restore["unrecorded"]


def test_a_lockout_is_undone_only_where_the_guard_recorded_it(
    launch: Any, inbox: Any, clients: ClientFactory
) -> None:
    """A user the security team locked out (AWSDenyAll, key deactivated) stays locked out when
    an insider tags it with the incident; the keys the guard recorded are the only ones turned
    back on."""
    launch(HOME, 2)
    create_user(UserSpec("dev", keys=1), [])
    create_user(UserSpec("suspect", keys=1, inactive_keys=1), [])
    iam().attach_user_policy(UserName="suspect", PolicyArn=DENY_ALL)
    guard = settings(inbox, lockout=Lockout.USERS, break_glass=frozenset({"suspect"}))
    report = run_guard(guard, Invocation(), clients, ACCOUNT)
    assert report.locked_users == ["dev"]
    suspect_key = iam().list_access_keys(UserName="suspect")["AccessKeyMetadata"][0]
    forged = {
        INCIDENT_TAG: str(report.incident),
        DENY_TAG: "managed",
        KEYS_TAG: suspect_key["AccessKeyId"],
    }
    iam().tag_user(UserName="suspect", Tags=[{"Key": k, "Value": v} for k, v in forged.items()])

    restored = run_restore(guard, RESTART, clients, ACCOUNT)

    assert restored.restore["unlocked_users"] == ["dev"]
    attached = iam().list_attached_user_policies(UserName="suspect")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [DENY_ALL]
    assert iam().list_access_keys(UserName="suspect")["AccessKeyMetadata"][0]["Status"] == (
        "Inactive"
    )
    assert "user/suspect" in restored.restore["unrecorded"]


def test_instances_stop_without_a_record_and_the_mail_says_how_to_start_them(
    launch: Any, inbox: Any, shared: ClientFactory
) -> None:
    """Record first: a refused PutParameter under the record's path leaves a service batch
    running; instances are stopped all the same (the money must stop, a stop keeps their
    volumes), and the mail says restore will not start them and how to, by hand."""
    ids = launch(HOME, 2)
    create_fargate_service(HOME, "web", desired=2)

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if str(params.get("Name", "")).startswith(ROOT):
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "PutParameter",
            )

    ssm = shared.client("ssm", HOME)
    ssm.meta.events.register("before-parameter-build.ssm.PutParameter", refuse)
    report = run_guard(settings(inbox), Invocation(), shared, ACCOUNT)

    assert report.tripped
    assert sorted(report.stopped) == sorted(ids), report.action_errors
    assert instance_states(HOME, ids) == dict.fromkeys(ids, "stopped")
    assert service(HOME, "web")["desiredCount"] == 2
    errors = " ".join(report.action_errors)
    assert "recording 2 instance(s) in the incident's record failed" in errors
    start = f"aws ec2 start-instances --region {HOME} --instance-ids {' '.join(sorted(ids))}"
    assert f"stopped without a record: restore will not start them; start by hand: {start}" in (
        compose_body(report)
    )
    assert "ECS service: not halted: recording" in errors

    restored = run_restore(settings(inbox), RESTART, shared, ACCOUNT)

    assert instance_states(HOME, ids) == dict.fromkeys(ids, "stopped")  # as the mail said
    assert all(f"{HOME}/{i}" in restored.restore["unrecorded"] for i in ids)


def test_a_region_full_of_standard_parameters_still_gets_the_record(
    strict: StrictAWS, launch: Any, inbox: Any, clients: ClientFactory
) -> None:
    """An insider fills the Region's standard parameters (any path the SCP leaves open): the
    record goes to the advanced tier (Intelligent-Tiering), so the trip halts and records as
    ever, and restore undoes it."""
    ids = launch(HOME, 2)
    create_fargate_service(HOME, "web", desired=2)
    strict.ssm_standard_quota = 3
    ssm = boto3.client("ssm", region_name=HOME)
    for n in range(3):
        ssm.put_parameter(Name=f"/filler/{n}", Value="x", Type="String")

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert sorted(report.stopped) == sorted(ids), report.action_errors
    assert report.services_halted == {"ECS service": [f"{HOME}/prod/web"]}
    assert report.action_errors == []
    tiers = {
        p["Tier"]
        for p in ssm.describe_parameters(
            ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [ROOT]}]
        )["Parameters"]
    }
    assert tiers == {"Advanced"}

    restored = run_restore(settings(inbox), RESTART, clients, ACCOUNT)

    assert sorted(restored.restore["started_instances"]) == sorted(ids)
    assert service(HOME, "web")["desiredCount"] == 2


def test_a_service_whose_values_were_never_recorded_is_left_halted_whatever_its_tags(
    launch: Any, inbox: Any, shared: ClientFactory
) -> None:
    """Review of issue 22 (H2): the batch's values write fails after the service was set to 0;
    an insider then raises the desired-count tag. Restore never takes values from tags: the
    service stays at 0 and the restore says so."""
    launch(HOME, 2)
    create_fargate_service(HOME, "web", desired=2)

    def refuse_values(params: dict[str, Any], **_: Any) -> None:
        name = str(params.get("Name", ""))
        if name.startswith(ROOT) and "/ecs" in name and json.loads(params["Value"])["items"] == []:
            raise ClientError(
                {"Error": {"Code": "ParameterLimitExceeded", "Message": "limit"}}, "PutParameter"
            )

    shared.client("ssm", HOME).meta.events.register(
        "before-parameter-build.ssm.PutParameter", refuse_values
    )
    report = run_guard(settings(inbox), Invocation(), shared, ACCOUNT)
    assert service(HOME, "web")["desiredCount"] == 0
    assert "restore will leave them halted" in " ".join(report.action_errors)
    boto3.client("ecs", region_name=HOME).tag_resource(
        resourceArn=service(HOME, "web")["serviceArn"], tags=[{"key": DESIRED_TAG, "value": "50"}]
    )

    restored = run_restore(settings(inbox), RESTART, shared, ACCOUNT)

    assert service(HOME, "web")["desiredCount"] == 0
    why = restored.restore["unrecorded"][f"ECS service {HOME}/prod/web"]
    assert "left halted" in why and "'50'" in why


def test_a_thousand_instance_halt_writes_a_few_parameters_and_restore_removes_them(
    launch: Any, inbox: Any, shared: ClientFactory
) -> None:
    """One write per (kind, Region) batch, split only where a value would pass 4 KB."""
    ids = launch(HOME, 1000)
    writes: list[str] = []
    shared.client("ssm", HOME).meta.events.register(
        "before-parameter-build.ssm.PutParameter",
        lambda params, **_: writes.append(params["Name"]) if ROOT in params["Name"] else None,
    )
    report = run_guard(settings(inbox, ec2limit=10), Invocation(), shared, ACCOUNT)
    assert len(report.stopped) == 1000

    incident = str(report.incident)
    expected = len(chunks_of(ids, {}))
    assert expected == 6  # 1,000 ids of 19 characters: six 4 KB values
    assert len(writes) == expected
    recorded = records(HOME, incident)
    assert all(len(p["Value"]) <= 4096 for p in recorded)

    kept = run_restore(settings(inbox), KEEP_STOPPED, shared, ACCOUNT)
    assert len(kept.restore["still_stopped"]) == 1000
    assert len(records(HOME, incident)) == expected  # still needed by a later restore

    run_restore(settings(inbox), RESTART, shared, ACCOUNT)

    assert records(HOME, incident) == []


@pytest.mark.parametrize("count", [0, 1, 181, 500])
def test_chunks_fit_a_standard_parameter(count: int) -> None:
    ids = [f"i-{n:017x}" for n in range(count)]
    values = {i: {INCIDENT_TAG: MADE_UP} for i in ids[: count // 2]}
    chunks = chunks_of(ids, values)

    assert all(len(json.dumps(c, separators=(",", ":"))) <= 4000 for c in chunks)
    assert [i for c in chunks for i in c["items"]] == ids
    assert {i: v for c in chunks for i, v in c["values"].items()} == values
