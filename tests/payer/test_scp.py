"""The quarantine and guard-protection SCPs, evaluated, not printed: each request below is
decided by a real IAM evaluator (tests/payer/simulator.py) with the SCP documents the payer
stack deploys for the sample fleet's `prod` account."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from runawaytrain_stack.config import load_fleet
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.payer_wiring import build_bus_statement
from runawaytrain_stack.scp import (
    MAX_QUARANTINE_POLICIES,
    MAX_SCP_CHARACTERS,
    build_guard_protection_policy,
    build_quarantine_policies,
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
        "cfn_exec": f"arn:aws:iam::{account}:role/cdk-runaway-cfn-exec-role-{account}-{REGION}",
        "deploy": f"arn:aws:iam::{account}:role/cdk-runaway-deploy-role-{account}-{REGION}",
        "break_glass": f"arn:aws:iam::{account}:user/breakglass-admin",
        "operator": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
    }


MODEL = "arn:aws:bedrock:{r}::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
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
        "sagemaker:CreateTrainingJob",
        "arn:aws:sagemaker:{r}:{a}:training-job/llm-finetune",
        "ExplicitlyDenied",
    ),
    ("sso_admin", "batch:SubmitJob", "arn:aws:batch:{r}:{a}:job-queue/gpu", "ExplicitlyDenied"),
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
    # Bedrock has no stop: refusing invocation is its halt (issue 21).
    ("sso_admin", "bedrock:InvokeModel", MODEL, "ExplicitlyDenied"),
    ("root", "bedrock:InvokeModelWithResponseStream", MODEL, "ExplicitlyDenied"),
    ("leaked_user", "bedrock:CallWithBearerToken", "*", "ExplicitlyDenied"),
    (
        "sso_admin",
        "bedrock:InvokeAgent",
        "arn:aws:bedrock:{r}:{a}:agent-alias/A1B2C3/D4E5F6",
        "ExplicitlyDenied",
    ),
    ("sso_admin", "bedrock:CreateProvisionedModelThroughput", MODEL, "ExplicitlyDenied"),
    (
        "sso_admin",
        "bedrock-mantle:CreateInference",
        "arn:aws:bedrock-mantle:{r}:{a}:project/p1",
        "ExplicitlyDenied",
    ),
    ("break_glass", "bedrock:InvokeModel", MODEL, "Allowed"),
    ("guard", "bedrock:InvokeModel", MODEL, "Allowed"),
    # Purchases that bill for a year whatever runs.
    ("leaked_user", "ec2:PurchaseReservedInstancesOffering", "*", "ExplicitlyDenied"),
    (
        "sso_admin",
        "ec2:PurchaseCapacityBlock",
        "arn:aws:ec2:{r}:{a}:capacity-reservation/*",
        "ExplicitlyDenied",
    ),
    ("sso_admin", "savingsplans:CreateSavingsPlan", "*", "ExplicitlyDenied"),
    (
        "sso_admin",
        "sagemaker:CreateTrainingPlan",
        "arn:aws:sagemaker:{r}:{a}:training-plan/p5-week",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "rds:PurchaseReservedDBInstancesOffering",
        "arn:aws:rds:{r}:{a}:ri:big",
        "ExplicitlyDenied",
    ),
    ("root", "aws-marketplace:Subscribe", "*", "ExplicitlyDenied"),
    # Compute outside EC2 that the guard cannot halt.
    ("sso_admin", "gamelift:CreateFleet", "*", "ExplicitlyDenied"),
    ("sso_admin", "appstream:CreateFleet", "arn:aws:appstream:{r}:{a}:fleet/f", "ExplicitlyDenied"),
    ("sso_admin", "lightsail:CreateInstances", "*", "ExplicitlyDenied"),
    (
        "leaked_user",
        "lambda:CreateFunction",
        "arn:aws:lambda:{r}:{a}:function:m",
        "ExplicitlyDenied",
    ),
    ("leaked_user", "iam:PassRole", "arn:aws:iam::{a}:role/ci", "ExplicitlyDenied"),
    ("sso_admin", "organizations:LeaveOrganization", "*", "ExplicitlyDenied"),
    # A throttle lifted by a leaked key between the guard's runs would keep the function running:
    # the concurrency calls are the exempt principals' (the guard's) while quarantined.
    (
        "sso_admin",
        "lambda:PutFunctionConcurrency",
        "arn:aws:lambda:{r}:{a}:function:m",
        "ExplicitlyDenied",
    ),
    (
        "sso_admin",
        "bedrock:DeleteProvisionedModelThroughput",
        "arn:aws:bedrock:{r}:{a}:provisioned-model/pt1",
        "Allowed",
    ),
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
        "lambda:InvokeFunction",  # {"action": "restore"} undoes a trip: the exempt only
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
        "arn:aws:iam::{a}:role/cdk-runaway-deploy-role-{a}-{r}",
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
        "arn:aws:iam::{a}:role/cdk-runaway-lookalike",
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


def run_cases(fleet: Fleet, cases: list[tuple[str, str, str, str]], scps: list[dict]) -> None:
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
    decided = simulate(requests, scps)
    found = {request.name: decided[request.name] for request in requests}
    expected = {request.name: case[3] for request, case in zip(requests, cases, strict=True)}
    assert found == expected


def test_quarantine_blocks_people_not_the_guard_break_glass_or_the_deploy(fleet: Fleet) -> None:
    prod = next(a for a in fleet.accounts if a.name == "prod")
    run_cases(fleet, QUARANTINE_CASES, build_quarantine_policies(fleet, prod))


def test_guard_protection_lets_only_the_deploy_and_the_guard_change_the_guard(
    fleet: Fleet,
) -> None:
    prod = next(a for a in fleet.accounts if a.name == "prod")
    run_cases(fleet, PROTECTION_CASES, [build_guard_protection_policy(fleet, prod)])


def test_every_member_policy_fits_the_scp_size_quota(fleet: Fleet) -> None:
    for account in fleet.sub_accounts:
        quarantine = build_quarantine_policies(fleet, account)
        assert 1 <= len(quarantine) <= MAX_QUARANTINE_POLICIES, account.name
        for document in [*quarantine, build_guard_protection_policy(fleet, account)]:
            assert policy_size(document) <= MAX_SCP_CHARACTERS, account.name


def test_fast_trips_queue_mapping_cannot_be_switched_off(fleet: Fleet) -> None:
    """The mapping has an ARN of its own; the function is named by lambda:FunctionArn."""
    prod = next(a for a in fleet.accounts if a.name == "prod")
    who = principals(prod.id)
    mapping = f"arn:aws:lambda:{REGION}:{prod.id}:event-source-mapping:0b1c2d3e-4f50"
    guard = f"arn:aws:lambda:{REGION}:{prod.id}:function:runawaytrain-guard-prod-GuardFunction9CC"
    other = f"arn:aws:lambda:{REGION}:{prod.id}:function:my-research-app"
    requests = [
        Request(
            f"{who_}-{fn}",
            who[who_],
            "lambda:DeleteEventSourceMapping",
            mapping,
            prod.id,
            context={"lambda:FunctionArn": target},
        )
        for who_ in ("sso_admin", "cfn_exec")
        for fn, target in (("guard", guard), ("other", other))
    ]
    decided = simulate(requests, [build_guard_protection_policy(fleet, prod)])
    assert decided == {
        "sso_admin-guard": "ExplicitlyDenied",
        "sso_admin-other": "Allowed",
        "cfn_exec-guard": "Allowed",
        "cfn_exec-other": "Allowed",
    }


def test_a_break_glass_permission_set_is_exempt_in_every_member() -> None:
    """Identity Center users of the BreakGlass permission set can restore; other sets cannot."""
    from runawaytrain_stack.config import parse_fleet

    text = (ROOT / "accounts.yaml").read_text() + "\nbreak_glass_permission_sets: [BreakGlass]\n"
    with_set = parse_fleet(text)
    prod = next(a for a in with_set.accounts if a.name == "prod")
    role = (
        f"arn:aws:iam::{prod.id}:role/aws-reserved/sso.amazonaws.com/{{}}AWSReservedSSO_{{}}_1a2b"
    )
    requests = [
        Request(
            name,
            role.format(region, pset),
            "ec2:StartInstances",
            f"arn:aws:ec2:{REGION}:{prod.id}:instance/i-0abc",
            prod.id,
        )
        for name, region, pset in (
            ("break-glass", "", "BreakGlass"),
            ("break-glass-regional", f"{REGION}/", "BreakGlass"),
            ("admin", "", "AdministratorAccess"),
        )
    ]
    decided = simulate(requests, build_quarantine_policies(with_set, prod))
    assert decided == {
        "break-glass": "Allowed",
        "break-glass-regional": "Allowed",
        "admin": "ExplicitlyDenied",
    }


def test_the_quarantine_function_may_attach_only_tagged_policies_to_members(fleet: Fleet) -> None:
    """Its synthesized role, evaluated: each resource AttachPolicy authorizes, separately."""
    import json as _json

    from aws_cdk.assertions import Template

    from runawaytrain_stack.fleet import add_fleet_stacks, new_app

    stacks = add_fleet_stacks(new_app(), fleet)
    template = Template.from_stack(stacks.payer)
    (role,) = template.find_resources(
        "AWS::IAM::Role", {"Properties": {"Policies": [{"PolicyName": "Quarantine"}]}}
    ).values()
    document = _json.loads(
        _json.dumps(role["Properties"]["Policies"][0]["PolicyDocument"]).replace(
            '{"Ref": "AWS::Partition"}', '"aws"'
        )
    )
    # The Organizations statements (the others name the stack's topic, key and log group).
    document["Statement"] = [s for s in document["Statement"] if s["Sid"].startswith("Only")]
    for statement in document["Statement"]:  # Fn::Join of partition and a literal
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        statement["Resource"] = [
            "".join(r["Fn::Join"][1]) if isinstance(r, dict) and "Fn::Join" in r else r
            for r in resources
        ]
    payer, prod = fleet.payer.id, next(a for a in fleet.accounts if a.name == "prod").id
    function_role = f"arn:aws:iam::{payer}:role/runawaytrain/runawaytrain-payer-QuarantineRole"
    policy = f"arn:aws:organizations::{payer}:policy/o-a1b2c3d4e5/service_control_policy/p-12345678"
    tagged = {"aws:ResourceTag/runawaytrain:quarantine": prod}
    cases = {
        "tagged policy": (policy, tagged),
        "untagged policy": (policy, {}),
        "member account": (f"arn:aws:organizations::{payer}:account/o-a1b2c3d4e5/{prod}", {}),
        "payer account": (f"arn:aws:organizations::{payer}:account/o-a1b2c3d4e5/{payer}", {}),
    }
    requests = [
        Request(
            name,
            function_role,
            "organizations:AttachPolicy",
            arn,
            payer,
            context=context,
            identity_policy=document,
        )
        for name, (arn, context) in cases.items()
    ]
    assert simulate(requests, []) == {
        "tagged policy": "Allowed",
        "untagged policy": "ImplicitlyDenied",
        "member account": "Allowed",
        "payer account": "ImplicitlyDenied",
    }


def test_the_first_quarantine_piece_holds_the_iam_writes_and_the_ec2_launches(
    fleet: Fleet,
) -> None:
    """Attached alone (the 5-SCP quota reached before the second), it still refuses PassRole
    and RunInstances."""
    prod = next(a for a in fleet.accounts if a.name == "prod")
    first, *rest = build_quarantine_policies(fleet, prod)
    assert rest, "the sample's quarantine needs more than one piece"
    denied = {a for statement in first["Statement"] for a in statement["Action"]}
    assert {"iam:PassRole", "ec2:RunInstances"} <= denied
