"""Every role the app creates fits IAM's policy quotas, as IAM counts them, once deployed.

moto accepts a policy of any size; AWS refuses one past its quota and the stack rolls back. From
the IAM User Guide, "IAM and AWS STS quotas": a role's inline policies together "cannot exceed
10,240 characters", each managed policy 6,144, and "IAM does not count white space when
calculating the size of a policy against these quotas"; a role holds at most 10 managed policies
by default (adjustable, so the default is the budget: a new account has it).

Counted on the synthesized templates resolved as CloudFormation will send them
(template_policies.py), minified: the sample fleet, the stack tests' fleet and an organisation
fleet, its member templates included.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from aws_cdk import App

from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from runawaytrain_stack.launch_block import MAX_MANAGED_POLICY_CHARACTERS, policy_characters
from runawaytrain_stack.permissions import estimate_policy_characters, split_guard_policy
from runawaytrain_stack.scp import GUARD_POLICIES
from tests.stack.template_policies import (
    find_guard_role,
    find_role_policies,
    load_member_templates,
    load_stacks,
)

ROLE_POLICY_CHARACTERS = 10240  # every inline policy of a role, together
ATTACHED_POLICIES_PER_ROLE = 10  # the default quota

# Organisation delivery (issue 23) with the defaults that make the guard's role largest:
# users+roles lockout, instance-store terminate, and a listed member watching many Regions.
ORG_FLEET_YAML = """\
organization: {id: o-abcdef1234, target_ous: [ou-ab12-cdef3456]}
defaults:
  notify: [team@example.com]
  ec2_limit: 1
  lockout: users+roles
  unstoppable: terminate-all
payer: {id: "100000000001", name: root, monthly_budget_usd: 100, lockout: none}
accounts:
  - {id: "200000000002", name: same-as-defaults}
  - id: "300000000003"
    name: elsewhere
    home_region: eu-west-1
    regions: [eu-west-1, eu-west-2, eu-west-3, eu-central-1, eu-north-1, eu-south-1,
              eu-south-2, eu-central-2, us-east-1, us-east-2, us-west-1, us-west-2,
              ap-south-1, ap-south-2, ap-northeast-1, ap-northeast-2, ap-northeast-3,
              ap-southeast-1, ap-southeast-2, ap-southeast-3, ap-southeast-4, ap-east-1,
              ca-central-1, ca-west-1, sa-east-1, me-south-1, me-central-1, af-south-1,
              il-central-1]
"""


@pytest.fixture(scope="module")
def organization_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, None]:
    app = new_app(outdir=str(tmp_path_factory.mktemp("org-sizes")))
    add_fleet_stacks(app, parse_fleet(ORG_FLEET_YAML, "org-sizes.yaml"))
    app.synth()
    return app, None


def list_quota_problems(outdir: str | Path) -> tuple[list[str], int]:
    """What exceeds a quota, and how many roles were measured."""
    problems: list[str] = []
    roles = 0
    for stack in [*load_stacks(outdir), *load_member_templates(outdir)]:
        for role in find_role_policies(stack).values():
            roles += 1
            inline = sum(policy_characters(document) for document in role.inline)
            if inline > ROLE_POLICY_CHARACTERS:
                problems.append(
                    f"{role.where}: inline policies {inline} > {ROLE_POLICY_CHARACTERS}"
                )
            if len(role.attached) > ATTACHED_POLICIES_PER_ROLE:
                problems.append(f"{role.where}: {len(role.attached)} managed policies attached")
            for logical_id, document in role.managed.items():
                size = policy_characters(document)
                if size > MAX_MANAGED_POLICY_CHARACTERS:
                    problems.append(f"{role.where} {logical_id}: managed policy {size}")
    return problems, roles


@pytest.mark.parametrize(
    "app_fixture", ["sample_app", "test_app", "spend_limits_app", "organization_app"]
)
def test_every_role_fits_iam_policy_size_quotas(
    request: pytest.FixtureRequest, app_fixture: str
) -> None:
    app, _ = request.getfixturevalue(app_fixture)
    problems, roles = list_quota_problems(app.outdir)
    assert roles > 5
    if app_fixture == "organization_app":  # the member templates' roles are measured too
        assert list_quota_problems(app.outdir)[1] > len(
            [r for s in load_stacks(app.outdir) for r in find_role_policies(s).values()]
        )
    assert problems == []


@pytest.mark.parametrize("app_fixture", ["sample_app", "organization_app"])
def test_the_guard_role_holds_its_permissions_in_policies_the_protection_scp_covers(
    request: pytest.FixtureRequest, app_fixture: str
) -> None:
    """Inline, the guard's statements outgrow the role's quota; managed, they are protected by
    the guard-protection SCP only under runawaytrain's path (scp.py GUARD_POLICIES)."""
    app, _ = request.getfixturevalue(app_fixture)
    stacks = [*load_stacks(app.outdir), *load_member_templates(app.outdir)]
    guards = [
        find_guard_role(s) for s in stacks if any(i.startswith("GuardRole") for i in s.resources)
    ]
    assert len(guards) >= (4 if app_fixture == "sample_app" else 3)
    for role in guards:
        assert role.inline == [], role.where
        assert len(role.managed) == len(role.attached) > 1, role.where  # all its stack's own
        for arn in role.attached:
            assert fnmatchcase(arn, GUARD_POLICIES[0]), (role.where, arn)


def test_a_statement_stays_in_its_policy_whatever_the_settings(test_app) -> None:
    """Logical ids by concern: another account's settings (lockout, fast trip, launch block) add
    or drop statements but move none to another policy, so a settings change never moves a
    grant between policies (a deploy would briefly lack it)."""
    app, _ = test_app
    home: dict[str, set[str]] = {}
    for stack in load_stacks(app.outdir):
        if not any(i.startswith("GuardRole") for i in stack.resources):
            continue
        for logical_id, document in find_guard_role(stack).managed.items():
            for statement in document["Statement"]:
                home.setdefault(statement["Sid"], set()).add(logical_id)
    assert len(home) > 50
    assert {sid: ids for sid, ids in home.items() if len(ids) > 1} == {}


def test_a_part_that_outgrows_one_policy_continues_in_the_next() -> None:
    statements = [
        {"Sid": sid, "Effect": "Allow", "Action": ["ec2:StopInstances"], "Resource": ["x" * 2000]}
        for sid in ("StopAndRestartInstances", "Census", "TagInstances", "CancelSpotRequests")
    ] + [
        {"Sid": "Unmapped", "Effect": "Allow", "Action": ["sts:GetCallerIdentity"], "Resource": "*"}
    ]
    parts = split_guard_policy({"Version": "2012-10-17", "Statement": statements})
    assert [(p.name, [s["Sid"] for s in p.document["Statement"]]) for p in parts] == [
        ("Census", ["Census"]),
        ("HaltEc2", ["StopAndRestartInstances", "TagInstances"]),
        ("HaltEc22", ["CancelSpotRequests"]),
        ("Guard", ["Unmapped"]),
    ]
    assert all(
        estimate_policy_characters(p.document) <= MAX_MANAGED_POLICY_CHARACTERS for p in parts
    )
