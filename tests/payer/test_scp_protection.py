"""Issue 22, items 1, 2, 4, 5, 6 and 10: what the guard protection, the topic key's policy and
the fast-trip queue's policy refuse an insider (an Identity Center admin, the root user) and
still let the guard, the operator, break-glass and the deploy do, decided by the real evaluator
(tests/payer/simulator.py) on the documents the payer stack and the guard stack deploy for the
sample fleet with a break-glass permission set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runawaytrain_stack import scp
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.config_errors import ConfigError
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.launch_actions import LAUNCH_ACTIONS
from runawaytrain_stack.scp import (
    MAX_RUNAWAYTRAIN_POLICIES,
    MAX_SCP_CHARACTERS,
    build_guard_protection_policies,
    build_guard_protection_policy,
    build_quarantine_policies,
    policy_size,
)
from tests.payer.simulator import Request, simulate
from tests.stack.iam_reference import expand_action
from tests.stack.template_policies import load_stacks

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"  # prod's home Region in the sample
SAMPLE = (ROOT / "accounts.yaml").read_text()


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return parse_fleet(SAMPLE + "\nbreak_glass_permission_sets: [BreakGlass]\n", "accounts.yaml")


@pytest.fixture(scope="module")
def prod(fleet: Fleet) -> Account:
    return next(a for a in fleet.accounts if a.name == "prod")


def principals(account: str) -> dict[str, str]:
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{REGION}/"
    return {
        "sso_admin": f"{sso}AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "root": f"arn:aws:iam::{account}:root",
        "guard": f"arn:aws:iam::{account}:role/runawaytrain/runawaytrain-guard-prod-GuardRole87F",
        "publishing": f"arn:aws:iam::{account}:role/"
        f"cdk-runaway-file-publishing-role-{account}-{REGION}",
        "cfn_exec": f"arn:aws:iam::{account}:role/cdk-runaway-cfn-exec-role-{account}-{REGION}",
        "operator": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        "break_glass": f"arn:aws:iam::{account}:user/breakglass-admin",
        "break_glass_set": f"{sso}AWSReservedSSO_BreakGlass_1a2b3c4d5e6f7a8b",
    }


INSIDERS = ("sso_admin", "root")
EXEMPT = ("guard", "operator", "break_glass", "break_glass_set")
ASSETS = "arn:aws:s3:::cdk-runaway-assets-{a}-{r}"
# item: (action, resource, condition context, exempt principals that act on it as well)
PROTECTED: dict[str, list[tuple[str, str, dict[str, Any], tuple[str, ...]]]] = {
    "1 asset bucket": [
        ("s3:PutObject", ASSETS + "/4f1c0a9e.zip", {}, ("publishing", "cfn_exec")),
        ("s3:DeleteObject", ASSETS + "/4f1c0a9e.zip", {}, ("publishing",)),
        ("s3:PutBucketPolicy", ASSETS, {}, ()),
        ("s3:DeleteBucketPolicy", ASSETS, {}, ()),
        ("s3:PutLifecycleConfiguration", ASSETS, {}, ()),
        ("s3:DeleteBucket", ASSETS, {}, ()),
    ],
    "2 managed policies": [
        ("iam:CreatePolicyVersion", "arn:aws:iam::{a}:policy/runawaytrain-cfn-execution", {}, ()),
        (
            "iam:SetDefaultPolicyVersion",
            "arn:aws:iam::{a}:policy/runawaytrain-cfn-execution",
            {},
            (),
        ),
        ("iam:DeletePolicy", "arn:aws:iam::{a}:policy/runawaytrain-cfn-execution", {}, ()),
        (
            "iam:CreatePolicyVersion",
            "arn:aws:iam::{a}:policy/runawaytrain/runawaytrain-launch-block",
            {},
            ("cfn_exec",),
        ),
        (
            "iam:DeletePolicyVersion",
            "arn:aws:iam::{a}:policy/runawaytrain/runawaytrain-launch-block",
            {},
            ("cfn_exec",),
        ),
        (
            "iam:DetachRolePolicy",  # the execution policy from the CDK execution role
            "arn:aws:iam::{a}:role/cdk-runaway-cfn-exec-role-{a}-{r}",
            {"iam:PolicyARN": "arn:aws:iam::{a}:policy/runawaytrain-cfn-execution"},
            (),
        ),
        (
            "iam:DetachRolePolicy",  # a trip's launch block from one's own role
            "arn:aws:iam::{a}:role/my-pipeline",
            {"iam:PolicyARN": "arn:aws:iam::{a}:policy/runawaytrain/runawaytrain-launch-block"},
            (),
        ),
        (
            "iam:DetachUserPolicy",
            "arn:aws:iam::{a}:user/ci-bot",
            {"iam:PolicyARN": "arn:aws:iam::{a}:policy/runawaytrain/runawaytrain-launch-block"},
            (),
        ),
    ],
    "4 regions": [
        ("account:DisableRegion", "arn:aws:account::{a}:account", {}, ()),
        ("account:EnableRegion", "arn:aws:account::{a}:account", {}, ()),
        (  # as a delegated administrator, for another member
            "account:DisableRegion",
            "arn:aws:account::111111111111:account/o-a1b2c3d4e5/333333333333",
            {},
            (),
        ),
    ],
    "5 topic": [
        (
            "sns:PutDataProtectionPolicy",
            "arn:aws:sns:{r}:{a}:runawaytrain-guard-prod-Alerts",
            {},
            (),
        ),
        ("sns:SetTopicAttributes", "arn:aws:sns:{r}:{a}:runawaytrain-guard-prod-Alerts", {}, ()),
        ("sns:RemovePermission", "arn:aws:sns:{r}:{a}:runawaytrain-guard-prod-Alerts", {}, ()),
    ],
    "10 Identity Center's SAML provider": [
        (
            "iam:UpdateSAMLProvider",
            "arn:aws:iam::{a}:saml-provider/AWSSSO_0a1b2c3d4e5f6a7b_DO_NOT_DELETE",
            {},
            (),
        ),
        (
            "iam:DeleteSAMLProvider",
            "arn:aws:iam::{a}:saml-provider/AWSSSO_0a1b2c3d4e5f6a7b_DO_NOT_DELETE",
            {},
            (),
        ),
    ],
    # Review of issue 22 (M7): runawaytrain's CDK bootstrap. A wrong version parameter fails the
    # CheckBootstrapVersion rule of every later deploy; the toolkit stack holds the deploy roles.
    "bootstrap": [
        (
            "ssm:PutParameter",
            "arn:aws:ssm:{r}:{a}:parameter/cdk-bootstrap/runaway/version",
            {},
            ("cfn_exec",),
        ),
        (
            "ssm:DeleteParameter",
            "arn:aws:ssm:{r}:{a}:parameter/cdk-bootstrap/runaway/version",
            {},
            ("cfn_exec",),
        ),
        (
            "cloudformation:UpdateStack",
            "arn:aws:cloudformation:{r}:{a}:stack/RunawaytrainToolkit/0a1b2c3d",
            {},
            ("cfn_exec",),
        ),
        (
            "cloudformation:DeleteStack",
            "arn:aws:cloudformation:{r}:{a}:stack/RunawaytrainToolkit/0a1b2c3d",
            {},
            (),
        ),
        (
            "cloudformation:CreateChangeSet",
            "arn:aws:cloudformation:{r}:{a}:stack/RunawaytrainToolkit/0a1b2c3d",
            {},
            (),
        ),
        (
            "cloudformation:ExecuteChangeSet",
            "arn:aws:cloudformation:{r}:{a}:stack/RunawaytrainToolkit/0a1b2c3d",
            {},
            (),
        ),
    ],
}
# The same actions on what is not runawaytrain's stay everyone's.
UNPROTECTED = [
    ("ssm:PutParameter", "arn:aws:ssm:{r}:{a}:parameter/cdk-bootstrap/hnb659fds/version", {}),
    ("ssm:PutParameter", "arn:aws:ssm:{r}:{a}:parameter/filler/0001", {}),
    ("cloudformation:UpdateStack", "arn:aws:cloudformation:{r}:{a}:stack/CDKToolkit/0a1b2c3d", {}),
    ("s3:PutObject", "arn:aws:s3:::cdk-hnb659fds-assets-{a}-{r}/app.zip", {}),
    ("s3:PutBucketPolicy", "arn:aws:s3:::my-data", {}),
    ("iam:CreatePolicyVersion", "arn:aws:iam::{a}:policy/my-pipeline", {}),
    (
        "iam:DetachRolePolicy",
        "arn:aws:iam::{a}:role/my-pipeline",
        {"iam:PolicyARN": "arn:aws:iam::{a}:policy/my-pipeline"},
    ),
    ("iam:UpdateSAMLProvider", "arn:aws:iam::{a}:saml-provider/Okta", {}),
    ("sns:PutDataProtectionPolicy", "arn:aws:sns:{r}:{a}:orders", {}),
]


def _requests(account: Account, cases: list[tuple[str, str, str, dict[str, Any]]]) -> list[Request]:
    who = principals(account.id)
    return [
        Request(
            name=f"{principal} {action} {resource.format(a=account.id, r=REGION)}",
            principal=who[principal],
            action=action,
            resource=resource.format(a=account.id, r=REGION),
            account=account.id,
            context={k: v.format(a=account.id, r=REGION) for k, v in context.items()},
        )
        for principal, action, resource, context in cases
    ]


@pytest.mark.parametrize("item", PROTECTED)
def test_guard_protection_refuses_the_insider_and_lets_the_exempt_act(
    fleet: Fleet, prod: Account, item: str
) -> None:
    cases = [
        (principal, action, resource, context)
        for action, resource, context, also_allowed in PROTECTED[item]
        for principal in (*INSIDERS, *EXEMPT, *also_allowed)
    ]
    requests = _requests(prod, cases)
    decided = simulate(requests, [build_guard_protection_policy(fleet, prod)])
    assert decided == {
        r.name: "ExplicitlyDenied" if case[0] in INSIDERS else "Allowed"
        for r, case in zip(requests, cases, strict=True)
    }


def test_guard_protection_leaves_the_accounts_own_resources_alone(
    fleet: Fleet, prod: Account
) -> None:
    requests = _requests(prod, [("sso_admin", *case) for case in UNPROTECTED])
    decided = simulate(requests, [build_guard_protection_policy(fleet, prod)])
    assert set(decided.values()) == {"Allowed"}


def test_nobody_in_a_member_leaves_the_organization(fleet: Fleet, prod: Account) -> None:
    """Leaving sheds every SCP; the payer removes an account (RemoveAccountFromOrganization)."""
    who = principals(prod.id)
    requests = [
        Request(name, who[name], "organizations:LeaveOrganization", "*", prod.id)
        for name in (*INSIDERS, *EXEMPT)
    ]
    decided = simulate(requests, [build_guard_protection_policy(fleet, prod)])
    assert set(decided.values()) == {"ExplicitlyDenied"}


def test_the_s3_wildcards_reach_only_writes() -> None:
    """s3:Put*, s3:Delete*, s3:Replicate* on the asset bucket: no read or list among them."""
    for pattern in ("s3:Put*", "s3:Delete*", "s3:Replicate*"):
        for action in expand_action(pattern):
            assert not action.name.split(":")[1].startswith(("Get", "List")), action.name


# -- resource policies: the guard stack's topic key and fast-trip queue ----------------------


@pytest.fixture(scope="module")
def guard_stack(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Any:
    outdir = tmp_path_factory.mktemp("protected-fleet")
    app = new_app(outdir=str(outdir))
    add_fleet_stacks(app, fleet)
    app.synth()
    return next(s for s in load_stacks(outdir) if s.name == "runawaytrain-guard-prod")


def _only(stack: Any, resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, resource)
        for logical_id, resource in stack.resources.items()
        if resource["Type"] == resource_type
    ]
    return found


def _resource_policy_cases(
    prod: Account, actions: tuple[str, ...], resource: str, policy: dict[str, Any]
) -> tuple[list[Request], dict[str, str]]:
    who = principals(prod.id)
    requests, expected = [], {}
    for action in actions:
        for name in (*INSIDERS, *EXEMPT, "cfn_exec"):
            request = Request(
                f"{name} {action}", who[name], action, resource, prod.id, resource_policy=policy
            )
            requests.append(request)
            expected[request.name] = "ExplicitlyDenied" if name in INSIDERS else "Allowed"
    return requests, expected


def test_only_the_exempt_disable_delete_or_repolicy_the_topic_key(
    guard_stack: Any, prod: Account
) -> None:
    """Item 5: the key's id is random, so its own policy refuses, not the SCP; no SCP here."""
    logical_id, key = _only(guard_stack, "AWS::KMS::Key")
    policy = guard_stack.resolve(key["Properties"]["KeyPolicy"])
    actions = (
        "kms:DisableKey",
        "kms:ScheduleKeyDeletion",
        "kms:PutKeyPolicy",
        "kms:DisableKeyRotation",
    )
    requests, expected = _resource_policy_cases(prod, actions, guard_stack.arn(logical_id), policy)
    # Using the key to publish stays the guard's (and SNS's).
    requests.append(
        Request(
            "guard kms:GenerateDataKey",
            principals(prod.id)["guard"],
            "kms:GenerateDataKey",
            guard_stack.arn(logical_id),
            prod.id,
            resource_policy=policy,
        )
    )
    expected["guard kms:GenerateDataKey"] = "Allowed"
    assert simulate(requests, []) == expected


def test_only_the_guard_and_the_exempt_drain_or_change_the_fast_trip_queue(
    guard_stack: Any, prod: Account
) -> None:
    """Item 6: receiving hides a prompt from the poller, deleting loses it; no SCP here."""
    logical_id, _ = _only(guard_stack, "AWS::SQS::Queue")
    _, queue_policy = _only(guard_stack, "AWS::SQS::QueuePolicy")
    policy = guard_stack.resolve(queue_policy["Properties"]["PolicyDocument"])
    actions = (
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:PurgeQueue",
        "sqs:SetQueueAttributes",
        "sqs:DeleteQueue",
        "sqs:RemovePermission",
        "sqs:AddPermission",
    )
    queue = guard_stack.arn(logical_id)
    requests, expected = _resource_policy_cases(prod, actions, queue, policy)
    tls = {"aws:SecureTransport": "true"}
    requests = [
        Request(r.name, r.principal, r.action, r.resource, r.account, tls, r.resource_policy)
        for r in requests
    ]
    assert simulate(requests, []) == expected


def test_the_queue_policy_keeps_within_sqs_policy_quotas(guard_stack: Any) -> None:
    """SQS Developer Guide, "Amazon SQS policy quotas": 8,192 bytes, 20 statements, 7 actions
    per statement."""
    _, queue_policy = _only(guard_stack, "AWS::SQS::QueuePolicy")
    policy = guard_stack.resolve(queue_policy["Properties"]["PolicyDocument"])
    assert len(json.dumps(policy, separators=(",", ":")).encode()) <= 8192
    assert len(policy["Statement"]) <= 20
    for statement in policy["Statement"]:
        actions = statement["Action"]
        assert len(actions if isinstance(actions, list) else [actions]) <= 7


# -- sizes and the 5-SCP quota ---------------------------------------------------------------


def _many_break_glass(count: int) -> Fleet:
    names = ", ".join(f"breakglass-person-{n:02}" for n in range(count))
    return parse_fleet(SAMPLE.replace("break_glass: [breakglass-admin]", f"break_glass: [{names}]"))


def test_a_protection_too_big_for_one_scp_is_split_and_the_pieces_hold_it_all() -> None:
    fleet = _many_break_glass(4)
    prod = next(a for a in fleet.accounts if a.name == "prod")
    pieces = build_guard_protection_policies(fleet, prod)
    whole = build_guard_protection_policy(fleet, prod)
    assert policy_size(whole) > MAX_SCP_CHARACTERS
    assert len(pieces) == 2
    assert all(policy_size(piece) <= MAX_SCP_CHARACTERS for piece in pieces)
    assert [s for piece in pieces for s in piece["Statement"]] == whole["Statement"]
    assert len(pieces) + len(build_quarantine_policies(fleet, prod)) <= MAX_RUNAWAYTRAIN_POLICIES


def test_protection_and_quarantine_needing_more_than_four_scps_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two protection pieces leave the quarantine two: a third is refused at `check`."""
    grown = (*LAUNCH_ACTIONS, *[a.name for a in expand_action("ec2:Create*")][:100])
    monkeypatch.setattr(scp, "LAUNCH_ACTIONS", grown)
    with pytest.raises(ConfigError) as refused:
        _many_break_glass(4)
    assert "accounts[0].break_glass" in str(refused.value)
    assert f"over the {MAX_RUNAWAYTRAIN_POLICIES} an account has room for" in str(refused.value)
