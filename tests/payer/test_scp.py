"""The quarantine and guard-protection SCPs, evaluated, not printed: each request below is
decided by a real IAM evaluator (tests/payer/simulator.py) with the SCP documents the payer
stack deploys for the sample fleet's `prod` account."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runawaytrain_stack.config import Fleet, load_fleet
from runawaytrain_stack.payer_bus import build_bus_statement
from runawaytrain_stack.scp import (
    MAX_SCP_CHARACTERS,
    build_guard_protection_policy,
    build_quarantine_policy,
    policy_size,
)
from tests.payer.simulator import Request, simulate

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return load_fleet(ROOT / "accounts.yaml")


def principals(account: str) -> dict[str, str]:
    return {
        "sso_admin": f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{REGION}/"
        "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "root": f"arn:aws:iam::{account}:root",
        "leaked_user": f"arn:aws:iam::{account}:user/ci-bot",
        "guard": f"arn:aws:iam::{account}:role/runawaytrain/runawaytrain-guard-prod-GuardRole87F",
        "cfn_exec": f"arn:aws:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{REGION}",
        "deploy": f"arn:aws:iam::{account}:role/cdk-hnb659fds-deploy-role-{account}-{REGION}",
        "break_glass": f"arn:aws:iam::{account}:user/breakglass-admin",
        "operator": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
    }


# (who, action, resource (formatted with account and region), expected under quarantine)
QUARANTINE_CASES = [
    ("sso_admin", "ec2:RunInstances", "arn:aws:ec2:{r}:{a}:instance/*", "ExplicitlyDenied"),
    ("root", "ec2:RunInstances", "arn:aws:ec2:{r}:{a}:instance/*", "ExplicitlyDenied"),
    ("leaked_user", "ec2:CreateFleet", "arn:aws:ec2:{r}:{a}:fleet/*", "ExplicitlyDenied"),
    ("sso_admin", "ec2:StartInstances", "arn:aws:ec2:{r}:{a}:instance/i-0abc", "ExplicitlyDenied"),
    (
        "sso_admin",
        "autoscaling:ResumeProcesses",
        "arn:aws:autoscaling:{r}:{a}:autoScalingGroup:1b2c:autoScalingGroupName/web",
        "ExplicitlyDenied",
    ),
    ("sso_admin", "iam:CreateAccessKey", "arn:aws:iam::{a}:user/ci-bot", "ExplicitlyDenied"),
    ("leaked_user", "iam:CreateUser", "arn:aws:iam::{a}:user/miner", "ExplicitlyDenied"),
    (
        "sso_admin",
        "lambda:InvokeFunction",
        "arn:aws:lambda:{r}:{a}:function:runawaytrain-guard-prod-GuardFunction9CC",
        "ExplicitlyDenied",
    ),
    # Stopping is never denied: anyone may help.
    ("sso_admin", "ec2:StopInstances", "arn:aws:ec2:{r}:{a}:instance/i-0abc", "Allowed"),
    ("guard", "ec2:StopInstances", "arn:aws:ec2:{r}:{a}:instance/i-0abc", "Allowed"),
    # Restore (the guard's role, the operator, break-glass) restarts and unlocks.
    ("guard", "ec2:StartInstances", "arn:aws:ec2:{r}:{a}:instance/i-0abc", "Allowed"),
    ("guard", "iam:DetachUserPolicy", "arn:aws:iam::{a}:user/ci-bot", "Allowed"),
    ("operator", "ec2:StartInstances", "arn:aws:ec2:{r}:{a}:instance/i-0abc", "Allowed"),
    ("break_glass", "ec2:RunInstances", "arn:aws:ec2:{r}:{a}:instance/*", "Allowed"),
    (
        "break_glass",
        "lambda:InvokeFunction",
        "arn:aws:lambda:{r}:{a}:function:runawaytrain-guard-prod-GuardFunction9CC",
        "Allowed",
    ),
    ("cfn_exec", "iam:CreateRole", "arn:aws:iam::{a}:role/runawaytrain/x", "Allowed"),
]

PROTECTION_CASES = [
    (
        "sso_admin",
        "scheduler:UpdateSchedule",
        "arn:aws:scheduler:{r}:{a}:schedule/default/runawaytrain-guard",
        "ExplicitlyDenied",
    ),
    (
        "leaked_user",
        "lambda:UpdateFunctionConfiguration",  # envaction=pass, or a higher ec2limit
        "arn:aws:lambda:{r}:{a}:function:runawaytrain-guard-prod-GuardFunction9CC",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "lambda:PutFunctionConcurrency",  # 0 reserved concurrency: the guard never runs
        "arn:aws:lambda:{r}:{a}:function:runawaytrain-guard-prod-GuardFunction9CC",
        "ExplicitlyDenied",
    ),
    (
        "root",
        "cloudformation:DeleteStack",
        "arn:aws:cloudformation:{r}:{a}:stack/runawaytrain-guard-prod/1b2c3d",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "events:DisableRule",
        "arn:aws:events:{r}:{a}:rule/runawaytrain-fast-trip/runawaytrain-guard-prod-Launch",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "sns:DeleteTopic",
        "arn:aws:sns:{r}:{a}:runawaytrain-guard-prod-AlertsTopic",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "ssm:DeleteParameter",  # the open incident: deleting it would un-trip the breaker
        "arn:aws:ssm:{r}:{a}:parameter/runawaytrain/open-incident",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "iam:PutRolePolicy",
        "arn:aws:iam::{a}:role/runawaytrain/runawaytrain-guard-prod-GuardRole87F",
        "ExplicitlyDenied",
    ),
    (
        "leaked_user",
        "iam:PassRole",  # a function of one's own running as the exempt guard role
        "arn:aws:iam::{a}:role/runawaytrain/runawaytrain-guard-prod-GuardRole87F",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "sts:AssumeRole",  # the deploy role is the payer's way in, not the members'
        "arn:aws:iam::{a}:role/cdk-hnb659fds-deploy-role-{a}-{r}",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "events:PutEvents",  # a forged "release my quarantine"
        "arn:aws:events:us-east-1:{p}:event-bus/runawaytrain-payer",
        "ExplicitlyDenied",
    ),
    # The exemptions are by ARN: nobody else may mint or take over an exempt principal.
    ("sso_admin", "iam:CreateRole", "arn:aws:iam::{a}:role/runawaytrain/mine", "ExplicitlyDenied"),
    (
        "leaked_user",
        "iam:CreateRole",
        "arn:aws:iam::{a}:role/cdk-hnb659fds-lookalike",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "iam:CreateAccessKey",
        "arn:aws:iam::{a}:user/breakglass-admin",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "iam:UpdateAssumeRolePolicy",
        "arn:aws:iam::{a}:role/OrganizationAccountAccessRole",
        "ExplicitlyDenied",
    ),
    # What keeps working: the deploy, the guard itself, and everything not the guard's.
    (
        "cfn_exec",
        "lambda:UpdateFunctionConfiguration",
        "arn:aws:lambda:{r}:{a}:function:runawaytrain-guard-prod-GuardFunction9CC",
        "Allowed",
    ),
    (
        "deploy",
        "cloudformation:UpdateStack",
        "arn:aws:cloudformation:{r}:{a}:stack/runawaytrain-guard-prod/1b2c3d",
        "Allowed",
    ),
    (
        "guard",
        "ssm:PutParameter",
        "arn:aws:ssm:{r}:{a}:parameter/runawaytrain/open-incident",
        "Allowed",
    ),
    (
        "guard",
        "events:PutEvents",
        "arn:aws:events:us-east-1:{p}:event-bus/runawaytrain-payer",
        "Allowed",
    ),
    (
        "sso_admin",
        "lambda:UpdateFunctionConfiguration",
        "arn:aws:lambda:{r}:{a}:function:my-research-app",
        "Allowed",
    ),
    ("sso_admin", "ec2:RunInstances", "arn:aws:ec2:{r}:{a}:instance/*", "Allowed"),
    ("sso_admin", "iam:CreateRole", "arn:aws:iam::{a}:role/my-pipeline", "Allowed"),
]


def run_cases(fleet: Fleet, cases: list[tuple[str, str, str, str]], scp: dict) -> None:
    prod = next(a for a in fleet.accounts if a.name == "prod")
    who = principals(prod.id)
    requests = [
        Request(
            name=f"{i}: {principal} {action} {resource}",
            principal=who[principal],
            action=action,
            resource=resource.format(a=prod.id, r=REGION, p=fleet.payer.id),
            account=fleet.payer.id if "{p}" in resource else prod.id,
        )
        for i, (principal, action, resource, _) in enumerate(cases)
    ]
    bus_policy = {"Version": "2012-10-17", "Statement": [build_bus_statement(fleet)]}
    requests = [
        replace(r, resource_policy=bus_policy, context={"events:source": ["runawaytrain.guard"]})
        if r.account == fleet.payer.id
        else r
        for r in requests
    ]
    decided = simulate(requests, [scp])
    found = {request.name: decided[request.name] for request in requests}
    expected = {request.name: case[3] for request, case in zip(requests, cases, strict=True)}
    assert found == expected


def test_quarantine_blocks_people_not_the_guard_break_glass_or_the_deploy(fleet: Fleet) -> None:
    prod = next(a for a in fleet.accounts if a.name == "prod")
    run_cases(fleet, QUARANTINE_CASES, build_quarantine_policy(fleet, prod))


def test_guard_protection_lets_only_the_deploy_and_the_guard_change_the_guard(
    fleet: Fleet,
) -> None:
    prod = next(a for a in fleet.accounts if a.name == "prod")
    run_cases(fleet, PROTECTION_CASES, build_guard_protection_policy(fleet, prod))


def test_every_member_policy_fits_the_scp_size_quota(fleet: Fleet) -> None:
    for account in fleet.sub_accounts:
        for build in (build_quarantine_policy, build_guard_protection_policy):
            assert policy_size(build(fleet, account)) <= MAX_SCP_CHARACTERS, (account.name, build)
