"""The launch-block policy of each guard stack (issue 20): what it denies, and that the guard's
role may attach and detach exactly it."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from aws_cdk.assertions import Template

from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.launch_actions import LAUNCH_ACTIONS
from runawaytrain_stack.launch_block import MAX_MANAGED_POLICY_CHARACTERS, policy_characters
from runawaytrain_stack.names import name_launch_block_policy_arn
from runawaytrain_stack.scp import build_quarantine_policies, list_quarantine_actions
from tests.stack.iam_reference import expand_action, is_allowed
from tests.stack.template_policies import (
    find_guard_role,
    find_policy_documents,
    list_guard_statements,
    load_stacks,
)

ATTACH = ("iam:AttachUserPolicy", "iam:AttachRolePolicy")
DETACH = ("iam:DetachUserPolicy", "iam:DetachRolePolicy")
ACCOUNTS = ["root", "prod", "sandbox"]
# Refused at a trip; Bedrock has no stop, so refusing its invocation is its halt (issue 21).
REFUSED = (
    "ec2:RunInstances",
    "ec2:StartInstances",
    "autoscaling:SetDesiredCapacity",
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:InvokeAgent",
    "bedrock:InvokeFlow",
    "bedrock:CallWithBearerToken",
    "bedrock:CreateProvisionedModelThroughput",
    "bedrock:CreateModelInvocationJob",
    "bedrock-mantle:CreateInference",
    # Insider review: new capacity, or a halt undone (the guard's own restore runs exempt).
    "rds:RestoreDBInstanceToPointInTime",
    "rds:RestoreDBInstanceFromS3",
    "rds:RestoreDBClusterToPointInTime",
    "rds:RestoreDBClusterFromS3",
    "rds:RestoreDBClusterFromSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:CreateBlueGreenDeployment",
    "sagemaker:CreateInferenceComponent",
    "sagemaker:UpdateInferenceComponent",
    "sagemaker:UpdateInferenceComponentRuntimeConfig",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:PutScheduledAction",
    "application-autoscaling:RegisterScalableTarget",
    "batch:UpdateComputeEnvironment",
    "ecs:UpdateService",
    "eks:UpdateNodegroupConfig",
)


@pytest.fixture(scope="module")
def resolved(test_app) -> dict[str, dict[str, Any]]:
    """Per guard stack, as IAM will see it once deployed: the launch-block policy's ARN and
    document, and the guard role's policy."""
    app, _ = test_app
    found: dict[str, dict[str, Any]] = {}
    for stack in load_stacks(app.outdir):
        if not stack.name.startswith("runawaytrain-guard-") or stack.name.count("-") != 2:
            continue
        (policy_id,) = [i for i in stack.resources if i.startswith("LaunchBlockPolicy")]
        documents = list(find_policy_documents(stack))
        found[stack.name.rsplit("-", 1)[1]] = {
            "arn": stack.resolve({"Ref": policy_id}),
            "document": next(d.document for d in documents if policy_id in d.where),
            "guard": find_guard_role(stack).document,
        }
    return found


@pytest.mark.parametrize("name", ACCOUNTS)
def test_each_guard_stack_has_the_policy_by_its_fixed_name(
    resolved: dict, test_fleet: Fleet, name: str
) -> None:
    """`runawaytrain restore` detaches the policy by this ARN without reading the stack; it
    exists even where launch_block is false (sandbox), so restore can always lift it."""
    account = next(a for a in test_fleet.accounts if a.name == name)
    assert resolved[name]["arn"] == name_launch_block_policy_arn(account.id)


def test_the_policy_denies_every_launch_action_the_quarantine_scp_denies(
    resolved: dict, test_fleet: Fleet
) -> None:
    document = resolved["prod"]["document"]
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == "*"
    assert "Condition" not in statement
    assert sorted(statement["Action"]) == sorted(LAUNCH_ACTIONS)
    for action in REFUSED:
        assert expand_action(action), action
        assert not is_allowed(
            {"Version": "2012-10-17", "Statement": [*document["Statement"], ALLOW_ALL]},
            action,
            "*",
        )
    # One list, both sides: the quarantine SCPs deny every launch action too.
    quarantine = build_quarantine_policies(test_fleet, test_fleet.sub_accounts[0])
    denied = [
        action
        for policy in quarantine
        for statement in policy["Statement"]
        if statement["Resource"] == ["*"]
        for action in statement["Action"]
    ]
    for pattern in LAUNCH_ACTIONS:
        for action in expand_action(pattern):
            assert any(fnmatchcase(action.name.lower(), d.lower()) for d in denied), action.name


def test_no_wildcard_of_the_quarantine_matches_an_action_the_guard_is_granted(
    resolved: dict,
) -> None:
    """Beyond IAM (whose writes the guard's lockout makes, exempt by the SCPs' condition), no
    wildcard the launch block or the quarantine denies names anything the guard's role calls."""
    granted = {
        action.name
        for statement in resolved["prod"]["guard"]["Statement"]
        if statement["Effect"] == "Allow"
        for pattern in _as_list(statement["Action"])
        for action in expand_action(pattern)
    }
    assert len(granted) > 20
    for pattern in list_quarantine_actions():
        if "*" in pattern and not pattern.startswith("iam:"):
            overlap = {a.name for a in expand_action(pattern)} & granted
            assert overlap == set(), pattern


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_policy_fits_the_managed_policy_quota(resolved: dict) -> None:
    assert policy_characters(resolved["prod"]["document"]) <= MAX_MANAGED_POLICY_CHARACTERS


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


# Per account of the test fleet: may the guard attach (launch block, AWSDenyAll to a user, to a
# role)? root: lockout none; prod: lockout users; sandbox: users+roles, launch_block false.
MAY_ATTACH = {
    "root": (True, False, False),
    "prod": (True, True, False),
    "sandbox": (False, True, True),
}


@pytest.mark.parametrize("name", ACCOUNTS)
def test_the_guard_may_attach_only_what_its_settings_use_and_detach_only_its_own_denies(
    resolved: dict, name: str
) -> None:
    """Attach of the stack's own policy with launch_block, of AWSDenyAll (the lockout's) with
    lockout, to roles only with users+roles; detach of those two always (restore lifts what an
    earlier trip attached even after a setting changed); of nothing else, so the guard's role
    can grant no one anything."""
    guard, arn = resolved[name]["guard"], resolved[name]["arn"]
    account = arn.split(":")[4]
    user = f"arn:aws:iam::{account}:user/alice"
    role = f"arn:aws:iam::{account}:role/ci"
    deny_all = "arn:aws:iam::aws:policy/AWSDenyAll"
    others = [
        "arn:aws:iam::aws:policy/AdministratorAccess",
        f"arn:aws:iam::{account}:policy/runawaytrain/other",
        f"arn:aws:iam::{account}:policy/runawaytrain-launch-block",  # another path
    ]
    launch_block, deny_users, deny_roles = MAY_ATTACH[name]
    for action in ATTACH + DETACH:
        target = user if "User" in action else role
        detach = action in DETACH
        deny = deny_users if "User" in action else deny_roles
        for policy, allowed in [
            (arn, detach or launch_block),
            (deny_all, detach or deny),
            *((other, False) for other in others),
        ]:
            context = {"iam:PolicyARN": policy}
            assert is_allowed(guard, action, target, context) is allowed, (action, policy)


def test_the_role_statement_names_the_policy_by_reference(test_app) -> None:
    _, stacks = test_app
    template = Template.from_stack(stacks.guards["prod"])
    (policy_id,) = [
        logical_id
        for logical_id in template.find_resources("AWS::IAM::ManagedPolicy")
        if logical_id.startswith("LaunchBlock")
    ]
    statements = list_guard_statements(template.to_json())
    (attach,) = [s for s in statements if s.get("Sid") == "AttachOnlyLaunchBlock"]
    assert sorted(attach["Action"]) == sorted(ATTACH)
    assert attach["Condition"] == {"ArnEquals": {"iam:PolicyARN": {"Ref": policy_id}}}
    (detach,) = [s for s in statements if s.get("Sid") == "DetachOnlyOwnDenies"]
    assert sorted(detach["Action"]) == sorted(DETACH)
    assert {"Ref": policy_id} in detach["Condition"]["ArnEquals"]["iam:PolicyARN"]
