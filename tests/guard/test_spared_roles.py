"""Review of issue 22 (H3, M6): the roles the lockout and the launch block spare by name are
exactly the fleet's operator role, runawaytrain's own CDK bootstrap roles and the service-managed
StackSets execution roles, never whatever merely starts like them."""

from __future__ import annotations

from typing import Any

import pytest

from guard.clients import ClientFactory
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.principals import BOOTSTRAP_QUALIFIER, Kind, Principal, Protection, skip_reason
from guard.settings import Lockout, Settings
from runawaytrain_stack import names
from tests.guard.accounts import create_launch_block_policy, create_role, iam
from tests.guard.conftest import HOME

ACCOUNT = "123456789012"
DENY_ALL = "arn:aws:iam::aws:policy/AWSDenyAll"
OPERATOR = "PayerOperator"  # accounts.yaml operator_role, not the default
SPARED = {
    OPERATOR: "the fleet's operator role (accounts.yaml operator_role)",
    f"cdk-runaway-deploy-role-{ACCOUNT}-{HOME}": "runawaytrain's CDK bootstrap role",
    f"cdk-runaway-cfn-exec-role-{ACCOUNT}-ap-southeast-2": "runawaytrain's CDK bootstrap role",
    "stacksets-exec-899a82a2cb437e970934262f85c7628a": "StackSet execution role",
}
LOCKED = [
    "cdk-escape",
    "cdk-runaway-escape",
    f"cdk-hnb659fds-deploy-role-{ACCOUNT}-{HOME}",  # the member's own bootstrap: not ours
    "stacksets-exec-escape",
]


def attached(role: str) -> set[str]:
    found = iam().list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return {policy["PolicyArn"] for policy in found}


def test_the_operator_role_and_our_bootstrap_roles_are_spared_and_look_alikes_locked(
    launch: Any, inbox: Any, clients: ClientFactory
) -> None:
    launch(HOME, 2)
    policy = create_launch_block_policy()
    for role in (*SPARED, *LOCKED):
        create_role(role)
    guard = Settings(
        ec2limit=1,
        snstopic=inbox.topic_arn,
        lockout=Lockout.USERS_AND_ROLES,
        launch_block=True,
        launch_block_policy=policy,
        operator_role=OPERATOR,
    )

    report = run_guard(guard, Invocation(), clients, ACCOUNT)

    assert sorted(report.locked_roles) == sorted(LOCKED), report.lockout_errors
    for role, reason in SPARED.items():
        assert report.skipped[f"role/{role}"] == reason
        assert report.launch_block_skipped[f"role/{role}"] == reason
        assert attached(role) == set()
    for role in LOCKED:
        assert attached(role) == {DENY_ALL, policy}


def test_the_guard_names_the_qualifier_runawaytrain_bootstraps_with() -> None:
    assert BOOTSTRAP_QUALIFIER == names.BOOTSTRAP_QUALIFIER


@pytest.mark.parametrize("operator", ["", "OrganizationAccountAccessRole"])
def test_no_operator_role_spares_no_role_by_an_empty_name(operator: str) -> None:
    role = Principal(Kind.ROLE, "ci")
    assert skip_reason(role, Protection(operator_role=operator)) is None
