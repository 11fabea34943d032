"""The launch block (issue 20): a trip attaches the guard stack's launch-block policy to every
user and role the guard may touch, recording each before attaching it; restore detaches exactly
what its incident attached. On the strict layer (IAM's managed-policy quota, protected roles)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication

from guard.handler import run_guard, run_restore
from guard.invocation import Action, Invocation
from guard.launch_block import LAUNCH_BLOCK_TAG
from guard.notify import compose_body
from guard.restore import Accounts, latest_incident
from guard.settings import Lockout, Settings
from runawaytrain_stack.names import ROLE_PATH
from tests.guard.accounts import (
    GUARD_ROLE,
    PROTECTED_ROLES,
    QUOTA,
    UserSpec,
    create_launch_block_policy,
    create_policies,
    create_role,
    create_user,
    guard_clients,
    iam,
    snapshot,
)
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
STACK_ROLE = "runawaytrain-guard-scheduler"
ALLOW_EC2 = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ec2:Describe*", "ec2:RunInstances", "ec2:StartInstances"],
                "Resource": "*",
            }
        ],
    }
)


def settings_for(policy: str, *, launch_block: bool = True) -> Settings:
    topic = boto3.client("sns", region_name=HOME).create_topic(Name="notify")["TopicArn"]
    return Settings(
        ec2limit=0,
        snstopic=topic,
        lockout=Lockout.NONE,
        launch_block=launch_block,
        launch_block_policy=policy,
        break_glass=frozenset({"break-glass-admin"}),
        stack_roles=frozenset({STACK_ROLE}),
    )


def attached(kind: str, name: str) -> set[str]:
    if kind == "user":
        found = iam().list_attached_user_policies(UserName=name)["AttachedPolicies"]
    else:
        found = iam().list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    return {policy["PolicyArn"] for policy in found}


def tags_of(kind: str, name: str) -> dict[str, str]:
    if kind == "user":
        found = iam().list_user_tags(UserName=name)["Tags"]
    else:
        found = iam().list_role_tags(RoleName=name)["Tags"]
    return {tag["Key"]: tag["Value"] for tag in found}


def launch_one() -> None:
    boto3.client("ec2", region_name=HOME).run_instances(ImageId=AMI, MinCount=1, MaxCount=1)


def build_account() -> None:
    """Two people, a CI role, and every principal the guard must never touch."""
    create_user(UserSpec("ana"), [])
    create_user(UserSpec("bob", keys=0), [])
    create_user(UserSpec("break-glass-admin"), [])
    create_role("ci")
    create_role(STACK_ROLE, path=ROLE_PATH)
    for name, path in PROTECTED_ROLES.items():
        create_role(name, path=path)
    launch_one()


def test_trip_blocks_launches_of_everyone_but_the_protected_even_without_lockout(aws) -> None:
    policy = create_launch_block_policy()
    build_account()
    clients = guard_clients()  # the guard runs as its own role, which it must skip

    report = run_guard(settings_for(policy), Invocation(), clients, ACCOUNT)

    assert report.tripped and not report.locked_users  # lockout none: nobody locked out
    assert report.launch_blocked == ["role/ci", "user/ana", "user/bob"]
    assert report.launch_block_errors == {}
    for kind, name in (("user", "ana"), ("user", "bob"), ("role", "ci")):
        assert policy in attached(kind, name)
        assert tags_of(kind, name)[LAUNCH_BLOCK_TAG] == report.incident
    never = {
        "user/break-glass-admin": "break-glass principal (accounts.yaml break_glass)",
        f"role/{GUARD_ROLE}": "the guard's own role",
        f"role/{STACK_ROLE}": "a role of the guard's own stack",
        "role/AWSReservedSSO_Admin_0123456789abcdef": "IAM Identity Center (aws-reserved) role",
        "role/AWSServiceRoleForAutoScaling": "service-linked role",
        "role/OrganizationAccountAccessRole": "organization access role",
    }
    for key, reason in never.items():
        assert report.launch_block_skipped[key] == reason
        kind, name = key.split("/")
        assert policy not in attached(kind, name)
        assert LAUNCH_BLOCK_TAG not in tags_of(kind, name)
    body = compose_body(report)
    assert "Launches refused (3 user(s) and role(s))" in body
    assert "role/ci user/ana user/bob" in body
    assert "restore detaches it" in body
    assert "Bedrock model invocation and provisioned throughput" in body
    assert "refusing invocation is its halt" in body
    assert "service-linked role: 1" in body


def test_each_principal_is_recorded_before_the_policy_is_attached(aws) -> None:
    policy = create_launch_block_policy()
    build_account()
    calls: list[tuple[str, str]] = []

    def record(event_name: str, params: dict[str, Any], **_: Any) -> None:
        name = params.get("UserName") or params.get("RoleName") or ""
        calls.append((event_name.rsplit(".", 1)[1], name))

    clients = guard_clients()
    clients.client("iam", HOME).meta.events.register("before-parameter-build.iam", record)
    run_guard(settings_for(policy), Invocation(), clients, ACCOUNT)

    for principal, tag_call, attach_call in (
        ("ana", "TagUser", "AttachUserPolicy"),
        ("ci", "TagRole", "AttachRolePolicy"),
    ):
        assert calls.index((tag_call, principal)) < calls.index((attach_call, principal))


def test_a_failed_attach_leaves_the_record_and_the_others_blocked(aws) -> None:
    """Ana holds IAM's quota of managed policies: IAM refuses the 11th. The refusal is reported
    and mailed, everyone else is blocked, and restore clears ana's record all the same."""
    policy = create_launch_block_policy()
    build_account()
    create_user(UserSpec("full", keys=0, managed=QUOTA), create_policies(QUOTA))
    clients = guard_clients()
    settings = settings_for(policy)

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert list(report.launch_block_errors) == ["user/full"]
    assert "LimitExceeded" in report.launch_block_errors["user/full"]
    assert policy not in attached("user", "full")
    assert tags_of("user", "full")[LAUNCH_BLOCK_TAG] == report.incident  # recorded first
    assert "user/ana" in report.launch_blocked
    assert "Could NOT be refused launches" in compose_body(report)
    restored = run_restore(
        settings, Invocation(Action.RESTORE, incident=report.incident), clients, ACCOUNT
    )
    assert restored.restore["errors"] == {}
    assert LAUNCH_BLOCK_TAG not in tags_of("user", "full")


def test_restore_detaches_only_what_its_incident_attached(aws) -> None:
    """Bob carried the policy before the trip with no record (someone attached it by hand):
    the trip leaves him alone and so does restore. Carol's record names another incident:
    restore of this one leaves her blocked. Everything else is as before the trip."""
    policy = create_launch_block_policy()
    build_account()
    iam().attach_user_policy(UserName="bob", PolicyArn=policy)
    clients = guard_clients()
    before = snapshot()
    settings = settings_for(policy)

    report = run_guard(settings, Invocation(), clients, ACCOUNT)
    assert "user/bob" not in report.launch_blocked
    assert "not attached by runawaytrain" in report.launch_block_skipped["user/bob"]
    create_user(UserSpec("carol", keys=0, tags={LAUNCH_BLOCK_TAG: "20990101T000000Z-abcdef"}), [])
    iam().attach_user_policy(UserName="carol", PolicyArn=policy)
    carol = snapshot()["users"]["carol"]

    restored = run_restore(
        settings, Invocation(Action.RESTORE, incident=report.incident), clients, ACCOUNT
    )

    assert sorted(restored.restore["launch_unblocked"]) == ["role/ci", "user/ana"]
    assert "2 principal(s) allowed to launch again" in restored.reason
    after = snapshot()
    assert after["users"].pop("carol") == carol
    assert after == before
    assert "Allowed to launch again (launch-block policy detached): " in compose_body(restored)


def test_a_second_trip_of_the_open_incident_attaches_nothing_again(aws) -> None:
    policy = create_launch_block_policy()
    build_account()
    clients = guard_clients()
    settings = settings_for(policy)
    first = run_guard(settings, Invocation(), clients, ACCOUNT)
    attaches: list[str] = []
    clients.client("iam", HOME).meta.events.register(
        "before-parameter-build.iam.AttachUserPolicy",
        lambda params, **_: attaches.append(params["UserName"]),
    )
    launch_one()

    again = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert again.incident == first.incident and again.continues_incident
    assert attaches == []
    assert again.launch_blocked == first.launch_blocked


def test_launch_block_off_attaches_nothing(aws) -> None:
    policy = create_launch_block_policy()
    build_account()
    settings = settings_for(policy, launch_block=False)
    report = run_guard(settings, Invocation(), guard_clients(), ACCOUNT)
    assert report.tripped and report.launch_blocked == []
    assert policy not in attached("user", "ana")


def test_a_blocked_users_launch_is_refused_after_trip_and_allowed_after_restore(aws) -> None:
    """moto authorises requests against IAM policies under enable_iam_authentication(): with
    lockout none, ana may still describe (she is not locked out) but no longer launch."""
    policy = create_launch_block_policy()
    build_account()
    iam().put_user_policy(UserName="ana", PolicyName="work", PolicyDocument=ALLOW_EC2)
    key = iam().create_access_key(UserName="ana")["AccessKey"]
    as_ana = boto3.client(
        "ec2",
        region_name=HOME,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    clients = guard_clients()
    settings = settings_for(policy)

    with enable_iam_authentication():
        as_ana.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)  # allowed before the trip
        tripped = run_guard(settings, Invocation(), clients, ACCOUNT)
        with pytest.raises(ClientError) as refused:
            as_ana.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)
        assert refused.value.response["Error"]["Code"] in {"AccessDenied", "UnauthorizedOperation"}
        as_ana.describe_instances()  # not locked out: only launches are refused
        run_restore(
            settings, Invocation(Action.RESTORE, incident=tripped.incident), clients, ACCOUNT
        )
        as_ana.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)  # allowed again


def test_restore_without_the_policy_arn_says_so_and_keeps_the_record(aws) -> None:
    """A restore that does not know the stack's policy cannot detach it: it says so rather than
    reading an ARN from a tag anyone with iam:TagUser could have written."""
    policy = create_launch_block_policy()
    build_account()
    clients = guard_clients()
    report = run_guard(settings_for(policy), Invocation(), clients, ACCOUNT)
    blind = Settings(ec2limit=0, snstopic=settings_for(policy).snstopic)

    restored = run_restore(
        blind, Invocation(Action.RESTORE, incident=report.incident), clients, ACCOUNT
    )

    assert "launch_block_policy is not set" in restored.restore["errors"]["user/ana"]
    assert policy in attached("user", "ana")
    assert tags_of("user", "ana")[LAUNCH_BLOCK_TAG] == report.incident


def test_an_incident_recorded_only_by_a_launch_block_is_found(aws) -> None:
    """A restore that names no incident undoes the latest one recorded anywhere: a launch
    block's record counts (a trip may change nothing else, e.g. with nothing left to stop)."""
    create_user(UserSpec("ana", keys=0, tags={LAUNCH_BLOCK_TAG: "20990101T000000Z-abcdef"}), [])
    target = Accounts(
        iam=iam(),
        regions=(HOME,),
        ec2_for=lambda region: boto3.client("ec2", region_name=region),
        autoscaling_for=lambda region: boto3.client("autoscaling", region_name=region),
    )
    assert latest_incident(target) == "20990101T000000Z-abcdef"


def test_a_rewritten_policy_that_allows_anything_is_attached_to_nobody(aws) -> None:
    """A member admin made the policy's default version allow everything before the trip: the
    trip must not hand that to every principal it touches."""
    build_account()
    policy = create_launch_block_policy()
    iam().create_policy_version(PolicyArn=policy, PolicyDocument=ALLOW_EC2, SetAsDefault=True)

    report = run_guard(settings_for(policy), Invocation(), guard_clients(), ACCOUNT)

    assert report.launch_blocked == []
    (error,) = report.launch_block_errors.values()
    assert "does not only deny" in error and "redeploy the guard stack" in error
    for kind, name in (("user", "ana"), ("user", "bob"), ("role", "ci")):
        assert policy not in attached(kind, name)
        assert LAUNCH_BLOCK_TAG not in tags_of(kind, name)
    assert report.stopped  # the halt goes on all the same
    assert "does not only deny" in compose_body(report)


def test_a_quiet_run_of_the_open_incident_blocks_whoever_escaped_the_block(aws) -> None:
    """Below the limit, the incident still open: a user created since the trip, and one who
    detached the policy from themself, carry it again; those who kept it are not touched."""
    policy = create_launch_block_policy()
    build_account()
    clients = guard_clients()
    settings = settings_for(policy)
    first = run_guard(settings, Invocation(), clients, ACCOUNT)
    create_user(UserSpec("eve"), [])  # made after the trip, to launch
    iam().detach_user_policy(UserName="ana", PolicyArn=policy)

    quiet = run_guard(settings, Invocation(), clients, ACCOUNT)  # nothing runs: under the limit

    assert (quiet.verdict, quiet.tripped) == ("ok", False)
    assert quiet.launch_block_attached == ["user/ana", "user/eve"]
    for name in ("ana", "eve", "bob"):
        assert policy in attached("user", name)
        assert tags_of("user", name)[LAUNCH_BLOCK_TAG] == first.incident
    assert quiet.lockout_finished and quiet.notified
    restored = run_restore(settings, Invocation(action=Action.RESTORE), clients, ACCOUNT)
    assert restored.incident == first.incident
    for name in ("ana", "eve", "bob"):
        assert policy not in attached("user", name)
