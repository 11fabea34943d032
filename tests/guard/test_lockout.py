"""Lockout and exact restore, over many generated accounts (moto, AWS managed policies loaded)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from guard.handler import run_guard, run_restore
from guard.invocation import Invocation
from guard.settings import Action, Lockout, Settings
from strict_aws import strict_aws
from tests.guard.accounts import (
    GUARD_ROLE,
    PROTECTED_ROLES,
    QUOTA,
    UserSpec,
    create_group,
    create_launch_block_policy,
    create_policies,
    create_role,
    create_user,
    enforce_policy_quota,
    guard_clients,
    iam,
    snapshot,
)
from tests.guard.conftest import HOME

ACCOUNT = "123456789012"
DENY_ALL = "arn:aws:iam::aws:policy/AWSDenyAll"
REGION = "eu-west-1"
PROCESSES = ["Launch", "HealthCheck", "ReplaceUnhealthy", "AZRebalance", "AddToLoadBalancer"]

users_strategy = st.lists(
    st.builds(
        lambda keys, inactive, managed, inline, tagged: UserSpec(
            name="",
            keys=keys,
            inactive_keys=min(inactive, keys),
            managed=managed,
            inline=inline,
            tags={"owner": "lab"} if tagged else {},
        ),
        keys=st.integers(0, 2),
        inactive=st.integers(0, 2),
        managed=st.sampled_from([0, 1, QUOTA - 1, QUOTA]),
        inline=st.integers(0, 2),
        tagged=st.booleans(),
    ),
    min_size=1,
    max_size=4,
)
account_strategy = st.fixed_dictionaries(
    {
        "users": users_strategy,
        "roles": st.lists(st.sampled_from([0, 1, QUOTA]), min_size=0, max_size=3),
        "groups": st.lists(st.lists(st.sampled_from(PROCESSES), max_size=3), max_size=2),
        "scope": st.sampled_from([Lockout.USERS, Lockout.USERS_AND_ROLES]),
    }
)


def build_account(spec: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Users, roles (ordinary + every protected kind + break-glass) and ASGs; returns names."""
    policies = create_policies(QUOTA)
    users = []
    for n, user in enumerate(spec["users"]):
        user.name = f"researcher-{n}"
        create_user(user, policies)
        users.append(user.name)
    create_user(UserSpec("break-glass-admin", keys=1, managed=1), policies)
    roles = []
    for n, managed in enumerate(spec["roles"]):
        create_role(f"pipeline-{n}", managed=policies[:managed])
        roles.append(f"pipeline-{n}")
    create_role("break-glass-role", managed=policies[:1])
    for name, path in PROTECTED_ROLES.items():
        create_role(name, path=path)
    for n, suspended in enumerate(spec["groups"]):
        create_group(REGION, f"farm-{n}", 1, sorted(set(suspended)))
    boto3.client("ec2", region_name=REGION).run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1
    )
    return users, roles


def launch(count: int) -> list[str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    response = ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count)
    return [instance["InstanceId"] for instance in response["Instances"]]


def guard_settings(scope: Lockout) -> Settings:
    topic = boto3.client("sns", region_name=HOME).create_topic(Name="notify")["TopicArn"]
    return Settings(
        ec2limit=0,
        snstopic=topic,
        lockout=scope,
        break_glass=frozenset({"break-glass-admin", "break-glass-role"}),
    )


def at_quota(before: dict, kind: str, name: str) -> bool:
    return len(before[kind][name]["attached"]) >= QUOTA


def assert_locked(before: dict, after: dict, kind: str, name: str, incident: str) -> None:
    """AWSDenyAll attached; never an inline policy (issue 22 item 11), so a principal at its
    managed-policy quota is not locked: its record stays partial and says what to do."""
    entry = after[kind][name]
    assert entry["inline"] == before[kind][name]["inline"], f"{kind} {name}: an inline write"
    assert entry["tags"]["runawaytrain:incident"] == incident
    if at_quota(before, kind, name):
        assert DENY_ALL not in entry["attached"]
        assert entry["tags"]["runawaytrain:lock"] == "partial"
    else:
        assert DENY_ALL in entry["attached"], f"{kind} {name} has no deny"
        assert entry["tags"]["runawaytrain:lock"] == "complete"
    if kind == "users":
        assert set(entry["keys"].values()) <= {"Inactive"}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=account_strategy)
def test_trip_locks_ordinary_principals_and_restore_returns_the_exact_state(spec):
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}), strict_aws():
        users, roles = build_account(spec)
        clients = guard_clients()
        enforce_policy_quota(clients)
        settings_ = guard_settings(spec["scope"])
        before = snapshot((REGION,))

        report = run_guard(settings_, Invocation(), clients, ACCOUNT)

        after = snapshot((REGION,))
        assert report.tripped and report.incident
        assert sorted(report.locked_users) == sorted(
            name for name in users if not at_quota(before, "users", name)
        )
        for name in users:
            assert_locked(before, after, "users", name, report.incident)
        in_scope = roles if spec["scope"] is Lockout.USERS_AND_ROLES else []
        assert sorted(report.locked_roles) == sorted(
            name for name in in_scope if not at_quota(before, "roles", name)
        )
        for name in in_scope:
            assert_locked(before, after, "roles", name, report.incident)
        untouched_roles = set(before["roles"]) - set(in_scope)
        for name in untouched_roles:
            assert after["roles"][name] == before["roles"][name], name
        assert after["users"]["break-glass-admin"] == before["users"]["break-glass-admin"]
        full = [f"user/{n}" for n in users if at_quota(before, "users", n)]
        full += [f"role/{n}" for n in in_scope if at_quota(before, "roles", n)]
        assert sorted(report.lockout_errors) == sorted(full)
        for key in full:
            assert "NOT locked out" in report.lockout_errors[key], key
            assert "quota of managed policies" in report.lockout_errors[key], key
        if spec["scope"] is Lockout.USERS_AND_ROLES:
            assert report.skipped[f"role/{GUARD_ROLE}"] == "the guard's own role"
            assert report.skipped["role/break-glass-role"].startswith("break-glass")
            for name in PROTECTED_ROLES:
                assert f"role/{name}" in report.skipped

        # with restart: groups holding stopped instances are resumed only once those run again
        restore = Invocation(
            action=Action.RESTORE, incident=report.incident, restart_instances=True
        )
        restored = run_restore(settings_, restore, clients, ACCOUNT)

        assert snapshot((REGION,)) == before
        assert restored.restore["errors"] == {}
        again = run_restore(settings_, restore, clients, ACCOUNT)
        assert again.restore["unlocked_users"] == []
        assert again.restore["resumed_asgs"] == {}
        assert snapshot((REGION,)) == before


def test_one_failing_user_does_not_stop_the_others(aws):
    create_policies(1)
    for name in ("ana", "ben", "cy"):
        create_user(UserSpec(name, keys=1), [])
    launch(1)
    clients = guard_clients()

    def refuse_ben(params: dict[str, Any], **_: Any) -> None:
        if params.get("UserName") == "ben":
            error = {"Error": {"Code": "ServiceFailure", "Message": "boom"}}
            raise ClientError(error, "AttachUserPolicy")

    events = clients.client("iam", HOME).meta.events
    events.register("before-parameter-build.iam.AttachUserPolicy", refuse_ben)

    report = run_guard(guard_settings(Lockout.USERS), Invocation(), clients, ACCOUNT)

    assert report.locked_users == ["ana", "cy"]
    assert report.lockout_errors == {"user/ben": "ServiceFailure: boom"}
    assert report.stopped  # the halt stands
    state = snapshot()
    for name in ("ana", "cy"):
        assert DENY_ALL in state["users"][name]["attached"]


def refuse_deny_while(clients: Any) -> list[bool]:
    """AttachUserPolicy fails (ServiceFailure) while the returned flag's first item is true."""
    failing = [True]

    def refuse_deny(**_: Any) -> None:
        if failing[0]:
            raise ClientError({"Error": {"Code": "ServiceFailure", "Message": "boom"}}, "Attach")

    clients.client("iam", HOME).meta.events.register(
        "before-call.iam.AttachUserPolicy", refuse_deny
    )
    return failing


def test_a_failed_deny_leaves_keys_inactive_and_the_next_run_finishes_the_lockout(aws):
    """Keys first, then the deny; a partly locked user is finished, not skipped, next run."""
    create_user(UserSpec("ben", keys=2), [])
    before = snapshot()
    launch(1)
    clients = guard_clients()
    failing = refuse_deny_while(clients)
    settings_ = guard_settings(Lockout.USERS)

    first = run_guard(settings_, Invocation(), clients, ACCOUNT)

    assert first.lockout_errors == {"user/ben": "ServiceFailure: boom"}
    state = snapshot()["users"]["ben"]
    assert set(state["keys"].values()) == {"Inactive"}  # the leaked key is dead already
    assert state["tags"]["runawaytrain:lock"] == "partial"

    failing[0] = False
    launch(1)  # a second trip: the breaker is still tripped under the same incident
    second = run_guard(settings_, Invocation(), clients, ACCOUNT)

    assert second.locked_users == ["ben"]
    assert "user/ben" not in second.skipped
    state = snapshot()["users"]["ben"]
    assert DENY_ALL in state["attached"]
    assert state["tags"]["runawaytrain:lock"] == "complete"
    assert state["tags"]["runawaytrain:incident"] == first.incident
    restore = Invocation(action=Action.RESTORE, incident=first.incident)
    run_restore(settings_, restore, clients, ACCOUNT)
    assert snapshot()["users"]["ben"] == before["users"]["ben"]


def test_a_run_below_the_limit_finishes_a_partial_lockout_while_the_incident_is_open(aws, inbox):
    """No second trip needed: with the incident open, the next quiet run finishes what failed,
    and only that (a user created since is not this run's to lock), and says so in a mail."""
    create_user(UserSpec("ben", keys=2), [])
    before = snapshot()
    launch(1)
    clients = guard_clients()
    failing = refuse_deny_while(clients)
    settings_ = Settings(ec2limit=0, snstopic=inbox.topic_arn, lockout=Lockout.USERS)
    first = run_guard(settings_, Invocation(), clients, ACCOUNT)
    assert snapshot()["users"]["ben"]["tags"]["runawaytrain:lock"] == "partial"
    create_user(UserSpec("carol", keys=1), [])  # after the trip: not a partial lockout
    inbox.messages()  # the trip's own mail
    failing[0] = False

    quiet = run_guard(settings_, Invocation(), clients, ACCOUNT)  # 0 instances: under the limit

    assert (quiet.verdict, quiet.tripped) == ("ok", False)
    assert quiet.locked_users == ["ben"]
    assert quiet.skipped == {}
    state = snapshot()["users"]
    assert DENY_ALL in state["ben"]["attached"]
    assert state["ben"]["tags"]["runawaytrain:lock"] == "complete"
    assert state["ben"]["tags"]["runawaytrain:incident"] == first.incident
    assert set(state["carol"]["keys"].values()) == {"Active"}
    assert "runawaytrain:incident" not in state["carol"]["tags"]
    (mail,) = inbox.messages()
    assert f"LOCKOUT FINISHED {ACCOUNT}: incident {first.incident}" in mail["Subject"]
    assert "this run finished it" in mail["Message"] and "user ben" in mail["Message"]

    again = run_guard(settings_, Invocation(), clients, ACCOUNT)  # nothing left to finish
    assert (again.locked_users, again.lockout_finished, inbox.messages()) == ([], False, [])
    run_restore(
        settings_, Invocation(action=Action.RESTORE, incident=first.incident), clients, ACCOUNT
    )
    assert snapshot()["users"]["ben"] == before["users"]["ben"]


def test_lockout_failure_never_blocks_the_halt(aws):
    ids = launch(3)
    clients = guard_clients()

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListUsers")

    clients.client("iam", HOME).meta.events.register("before-call.iam.ListUsers", refuse)

    report = run_guard(guard_settings(Lockout.USERS), Invocation(), clients, ACCOUNT)

    assert sorted(report.stopped) == sorted(ids)
    assert report.lockout_errors == {"(lockout)": "AccessDenied: no"}
    assert report.notified


def test_restore_without_incident_takes_the_most_recent_one(aws):
    create_user(UserSpec("ana", keys=1), [])
    launch(2)
    clients = guard_clients()
    settings_ = guard_settings(Lockout.USERS)
    tripped = run_guard(settings_, Invocation(), clients, ACCOUNT)

    restored = run_restore(
        settings_, Invocation(action=Action.RESTORE, restart_instances=True), clients, ACCOUNT
    )

    assert restored.incident == tripped.incident
    assert restored.restore["unlocked_users"] == ["ana"]
    assert sorted(restored.restore["started_instances"]) == sorted(tripped.stopped)
    ec2 = boto3.client("ec2", region_name=REGION)
    states = {
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=tripped.stopped)["Reservations"]
        for i in r["Instances"]
    }
    assert states <= {"pending", "running"}


def test_restore_dry_run_changes_nothing(aws):
    create_user(UserSpec("ana", keys=2), [])
    launch(1)
    clients = guard_clients()
    settings_ = guard_settings(Lockout.USERS)
    tripped = run_guard(settings_, Invocation(), clients, ACCOUNT)
    locked = snapshot()

    preview = run_restore(
        settings_,
        Invocation(action=Action.RESTORE, incident=tripped.incident, dry_run=True),
        clients,
        ACCOUNT,
    )

    assert preview.restore["unlocked_users"] == ["ana"]
    assert len(preview.restore["keys_reactivated"]) == 2
    assert snapshot() == locked


def test_locked_users_key_is_refused_after_trip_and_works_after_restore(aws):
    """moto authorises requests against IAM policies under enable_iam_authentication(); it
    does not honour an Inactive key, so the refusal comes from AWSDenyAll and the key status
    is asserted separately."""
    client = iam()
    client.create_user(UserName="ana")
    client.put_user_policy(UserName="ana", PolicyName="read", PolicyDocument=ALLOW_READ)
    key = client.create_access_key(UserName="ana")["AccessKey"]
    launch(1)
    clients = guard_clients()
    settings_ = guard_settings(Lockout.USERS)
    as_ana = boto3.client(
        "ec2",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    with enable_iam_authentication():
        as_ana.describe_instances()  # allowed before the trip
        tripped = run_guard(settings_, Invocation(), clients, ACCOUNT)
        with pytest.raises(ClientError) as refused:
            as_ana.describe_instances()
        assert refused.value.response["Error"]["Code"] in {"AccessDenied", "UnauthorizedOperation"}
        restore = Invocation(action=Action.RESTORE, incident=tripped.incident)
        run_restore(settings_, restore, clients, ACCOUNT)
        as_ana.describe_instances()  # allowed again

    keys = client.list_access_keys(UserName="ana")["AccessKeyMetadata"]
    assert [k["Status"] for k in keys] == ["Active"]


ALLOW_READ = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*",'
    ' "Resource": "*"}]}'
)


def test_tags_left_behind_never_count_as_already_locked(aws):
    """An undo done by hand leaves runawaytrain:* tags: the next trip locks the user anyway, and
    a deny removed by hand under the open incident is put back by the next run."""
    create_user(UserSpec("ana", keys=1), [])
    left_behind = {
        "runawaytrain:incident": "20260101T000000Z-0ld0ld",
        "runawaytrain:lock": "complete",
        "runawaytrain:deny": "managed",
    }
    iam().tag_user(UserName="ana", Tags=[{"Key": k, "Value": v} for k, v in left_behind.items()])
    launch(1)
    clients = guard_clients()
    settings_ = guard_settings(Lockout.USERS)

    first = run_guard(settings_, Invocation(), clients, ACCOUNT)

    assert first.locked_users == ["ana"]
    assert "user/ana" not in first.skipped
    state = snapshot()["users"]["ana"]
    assert DENY_ALL in state["attached"]
    assert set(state["keys"].values()) == {"Inactive"}
    assert state["tags"]["runawaytrain:incident"] == first.incident

    iam().detach_user_policy(UserName="ana", PolicyArn=DENY_ALL)  # by hand, incident still open
    launch(1)
    second = run_guard(settings_, Invocation(), clients, ACCOUNT)

    assert second.incident == first.incident
    assert second.locked_users == ["ana"]
    assert DENY_ALL in snapshot()["users"]["ana"]["attached"]
    launch(1)
    third = run_guard(settings_, Invocation(), clients, ACCOUNT)  # deny in place: skipped
    assert third.skipped["user/ana"] == f"already locked by incident {first.incident}"


def test_a_user_at_its_quota_is_reported_not_locked_and_locked_once_a_slot_is_free(aws):
    """No inline deny any more (issue 22 item 11): IAM refuses AWSDenyAll to a user holding its
    quota of managed policies; the guard says so, which policy to detach and that its keys are
    dead, and the next run of the open incident finishes the lockout once a slot is free."""
    policies = create_policies(QUOTA)
    create_user(UserSpec("full", keys=1, managed=QUOTA), policies)
    before = snapshot()
    launch(1)
    clients = guard_clients()
    settings_ = guard_settings(Lockout.USERS)

    trip = run_guard(settings_, Invocation(), clients, ACCOUNT)

    error = trip.lockout_errors["user/full"]
    assert error.startswith("NOT locked out: AWSDenyAll could not be attached, the user already ")
    assert "LimitExceeded" in error and "its access keys are Inactive" in error
    assert "Detach one of its managed policies" in error
    state = snapshot()["users"]["full"]
    assert set(state["keys"].values()) == {"Inactive"}
    assert state["inline"] == {} and DENY_ALL not in state["attached"]
    assert state["tags"]["runawaytrain:lock"] == "partial"

    iam().detach_user_policy(UserName="full", PolicyArn=policies[-1])  # the operator frees one
    quiet = run_guard(settings_, Invocation(), clients, ACCOUNT)

    assert quiet.locked_users == ["full"] and quiet.lockout_errors == {}
    assert DENY_ALL in snapshot()["users"]["full"]["attached"]
    restore = Invocation(action=Action.RESTORE, incident=trip.incident)
    assert run_restore(settings_, restore, clients, ACCOUNT).restore["errors"] == {}
    after = snapshot()["users"]["full"]
    assert after["attached"] == sorted(policies[:-1]) and after["inline"] == {}
    assert after["keys"] == before["users"]["full"]["keys"]
    assert after["tags"] == before["users"]["full"]["tags"]


def test_the_last_free_slot_goes_to_the_lockout_not_the_launch_block(aws):
    """A user with room for one more managed policy: AWSDenyAll takes it (it refuses launches
    too) and the launch block says so instead of failing; restore gives the user back."""
    policies = create_policies(QUOTA - 1)
    create_user(UserSpec("nearly", keys=1, managed=QUOTA - 1), policies)
    launch_block = create_launch_block_policy()
    before = snapshot()
    launch(1)
    clients = guard_clients()
    settings_ = replace(
        guard_settings(Lockout.USERS), launch_block=True, launch_block_policy=launch_block
    )

    trip = run_guard(settings_, Invocation(), clients, ACCOUNT)

    assert trip.locked_users == ["nearly"] and trip.lockout_errors == {}
    assert DENY_ALL in snapshot()["users"]["nearly"]["attached"]
    assert "user/nearly" not in trip.launch_block_errors
    assert "AWSDenyAll" in trip.launch_block_skipped["user/nearly"]
    restore = Invocation(action=Action.RESTORE, incident=trip.incident)
    assert run_restore(settings_, restore, clients, ACCOUNT).restore["errors"] == {}
    assert snapshot()["users"]["nearly"] == before["users"]["nearly"]
