"""Whoever runs code as the guard can grant nobody anything (issue 22, item 11).

The guard role's synthesized policy, resolved as IAM will see it, is evaluated by the real IAM
evaluator (@cloud-copilot/iam-simulate, tests/payer/simulator.py) as the role's identity policy:
it may attach only AWSDenyAll and its own stack's launch-block policy (each only where the
account's settings use it) and detach only those, and it may write no inline policy and no policy
version, on anyone, its own roles included.
"""

from __future__ import annotations

from typing import Any

import pytest

from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from tests.payer.simulator import Request, simulate
from tests.stack.template_policies import find_guard_role, load_stacks

DENY_ALL = "arn:aws:iam::aws:policy/AWSDenyAll"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
# One account per combination of the settings that decide the role's IAM grants.
FLEET = """\
defaults: {notify: [team@example.com], ec2_limit: 1}
payer: {id: "100000000001", name: root, home_region: eu-central-1}
accounts:
  - {id: "200000000002", name: prod, lockout: users}
  - {id: "300000000003", name: sandbox, lockout: users+roles, launch_block: false}
"""
# root: lockout none (the default); prod: lockout users; sandbox: users+roles and launch_block
# false. Per account: may it attach the launch block, AWSDenyAll to a user, AWSDenyAll to a role.
MAY_ATTACH = {
    "root": (True, False, False),
    "prod": (True, True, False),
    "sandbox": (False, True, True),
}


@pytest.fixture(scope="module")
def guard_roles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Per account: its id, its launch-block policy's ARN and the guard role's policy, from the
    synthesized templates as IAM will see them deployed."""
    app = new_app(outdir=str(tmp_path_factory.mktemp("guard-roles")))
    add_fleet_stacks(app, parse_fleet(FLEET, "guard-roles.yaml"))
    app.synth()
    found: dict[str, dict[str, Any]] = {}
    for stack in load_stacks(app.outdir):
        if not stack.name.startswith("runawaytrain-guard-") or stack.name.count("-") != 2:
            continue
        (policy_id,) = [i for i in stack.resources if i.startswith("LaunchBlockPolicy")]
        launch_block = stack.resolve({"Ref": policy_id})
        found[stack.name.rsplit("-", 1)[1]] = {
            "account": launch_block.split(":")[4],
            "launch_block": launch_block,
            # Every managed policy of the role, as one identity policy: IAM evaluates them
            # together, and an explicit Deny in any one wins.
            "policy": find_guard_role(stack).document,
            "own_policies": find_guard_role(stack).attached,
        }
    return found


def _requests(name: str, role: dict[str, Any]) -> list[tuple[Request, bool]]:
    account, policy = role["account"], role["policy"]
    guard = f"arn:aws:iam::{account}:role/runawaytrain/runawaytrain-guard"
    user = f"arn:aws:iam::{account}:user/alice"
    other_role = f"arn:aws:iam::{account}:role/ci"
    own_policy = f"arn:aws:iam::{account}:policy/runawaytrain/other"
    launch_block, deny_users, deny_roles = MAY_ATTACH[name]
    cases: list[tuple[str, str, str, dict[str, str], bool]] = []
    for verb in ("Attach", "Detach"):
        for kind, target, deny in (("User", user, deny_users), ("Role", other_role, deny_roles)):
            action = f"iam:{verb}{kind}Policy"
            detach = verb == "Detach"
            for policy_arn, allowed in (
                (role["launch_block"], detach or launch_block),
                (DENY_ALL, detach or deny),
                (ADMIN, False),
                (own_policy, False),
            ):
                label = f"{name} {action} {policy_arn.rsplit('/', 1)[1]} on {kind.lower()}"
                cases.append((label, action, target, {"iam:PolicyArn": policy_arn}, allowed))
    for target in (user, other_role, guard):
        action = "iam:PutUserPolicy" if ":user/" in target else "iam:PutRolePolicy"
        cases.append((f"{name} {action} on {target}", action, target, {}, False))
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        for target in (role["launch_block"], own_policy, *role["own_policies"]):
            cases.append((f"{name} {action} on {target}", action, target, {}, False))
    # Its own permissions: held in managed policies of its stack, never to be detached by it.
    for policy_arn in role["own_policies"]:
        label = f"{name} iam:DetachRolePolicy {policy_arn} from itself"
        cases.append((label, "iam:DetachRolePolicy", guard, {"iam:PolicyArn": policy_arn}, False))
    cases.append(
        (
            f"{name} iam:AttachRolePolicy AWSDenyAll on itself",
            "iam:AttachRolePolicy",
            guard,
            {"iam:PolicyArn": DENY_ALL},
            False,
        )
    )
    return [
        (Request(label, guard, action, target, account, context, identity_policy=policy), allowed)
        for label, action, target, context, allowed in cases
    ]


def test_the_guard_role_attaches_only_its_own_denies_and_writes_no_policy(
    guard_roles: dict[str, dict[str, Any]],
) -> None:
    cases = [case for name, role in guard_roles.items() for case in _requests(name, role)]
    assert {name for name in guard_roles} == set(MAY_ATTACH)
    results = simulate([request for request, _ in cases], [])
    wrong = {
        request.name: results[request.name]
        for request, allowed in cases
        if (results[request.name] == "Allowed") is not allowed
    }
    assert wrong == {}
