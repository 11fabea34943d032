"""The payer stack (issue 12): the SCPs as scp.py writes them, attached where they belong, the
quarantine rule and function wired to the member accounts, the mail routed to both lists."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from aws_cdk.assertions import Template

from runawaytrain_stack.config import ConfigError, parse_fleet
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import (
    PROTECTION_POLICY_PREFIX,
    QUARANTINE_POLICY_PREFIX,
    QUARANTINE_TAG,
    name_quarantine_policy,
)
from runawaytrain_stack.payer_wiring import build_request_pattern
from runawaytrain_stack.scp import build_guard_protection_policy, build_quarantine_policies


@pytest.fixture(scope="module")
def payer(sample_app) -> Template:
    _, stacks = sample_app
    return Template.from_stack(stacks.payer)


def policies(template: Template) -> dict[str, dict]:
    found = template.find_resources("AWS::Organizations::Policy")
    return {p["Properties"]["Name"]: p["Properties"] for p in found.values()}


def test_each_member_has_its_quarantine_unattached_and_its_protection_attached(
    payer: Template, sample_fleet: Fleet
) -> None:
    found = policies(payer)
    members = sample_fleet.sub_accounts
    pieces = {a.id: build_quarantine_policies(sample_fleet, a) for a in members}
    assert set(found) == {
        name_quarantine_policy(a.id, index) for a in members for index in range(len(pieces[a.id]))
    } | {f"{PROTECTION_POLICY_PREFIX}{a.id}" for a in members}
    for account in members:
        assert f"{QUARANTINE_POLICY_PREFIX}{account.id}" in found  # the first keeps its name
        for index, document in enumerate(pieces[account.id]):
            quarantine = found[name_quarantine_policy(account.id, index)]
            assert quarantine["Type"] == "SERVICE_CONTROL_POLICY"
            assert quarantine["Content"] == document
            assert "TargetIds" not in quarantine  # attached only on a trip
            assert {"Key": QUARANTINE_TAG, "Value": account.id} in quarantine["Tags"]
        protection = found[f"{PROTECTION_POLICY_PREFIX}{account.id}"]
        assert protection["Type"] == "SERVICE_CONTROL_POLICY"
        assert protection["Content"] == build_guard_protection_policy(sample_fleet, account)
        assert protection["TargetIds"] == [account.id]
    # The payer (management account) gets neither: SCPs do not bind it.
    assert not any(sample_fleet.payer.id in name for name in found)


def test_the_quarantine_function_hears_only_quarantined_members(
    payer: Template, sample_fleet: Fleet
) -> None:
    (rule,) = [
        r
        for r in payer.find_resources("AWS::Events::Rule").values()
        if "Quarantine Requested" in r["Properties"].get("EventPattern", {}).get("detail-type", [])
    ]
    assert rule["Properties"]["EventPattern"] == build_request_pattern(sample_fleet)
    assert sorted(rule["Properties"]["EventPattern"]["account"]) == sorted(
        a.id for a in sample_fleet.sub_accounts
    )
    (function,) = payer.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "quarantine.handler.handler"}}
    ).values()
    accounts = json.loads(function["Properties"]["Environment"]["Variables"]["accounts"])
    assert accounts == {a.id: a.name for a in sample_fleet.sub_accounts}
    pieces = json.loads(function["Properties"]["Environment"]["Variables"]["pieces"])
    assert pieces == {
        a.id: len(build_quarantine_policies(sample_fleet, a)) for a in sample_fleet.sub_accounts
    }


def test_the_function_may_attach_only_the_quarantine_policies_to_the_members(
    payer: Template, sample_fleet: Fleet
) -> None:
    (role,) = payer.find_resources(
        "AWS::IAM::Role", {"Properties": {"Policies": [{"PolicyName": "Quarantine"}]}}
    ).values()
    statements = {
        s["Sid"]: s for s in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    }
    policies_only = statements["OnlyQuarantinePolicies"]
    assert policies_only["Condition"] == {"StringLike": {f"aws:ResourceTag/{QUARANTINE_TAG}": "*"}}
    tagged = {
        p["Properties"]["Name"]
        for p in payer.find_resources("AWS::Organizations::Policy").values()
        if {"Key": QUARANTINE_TAG, "Value": p["Properties"]["Name"][-12:]}
        in p["Properties"].get("Tags", [])
    }
    assert tagged == {f"{QUARANTINE_POLICY_PREFIX}{a.id}" for a in sample_fleet.sub_accounts}
    accounts = sorted(r["Fn::Join"][1][-1] for r in statements["OnlyMemberAccounts"]["Resource"])
    assert accounts == sorted(
        f":organizations::{sample_fleet.payer.id}:account/o-*/{a.id}"
        for a in sample_fleet.sub_accounts
    )


def test_member_addresses_hear_only_their_own_accounts(
    payer: Template, sample_fleet: Fleet
) -> None:
    found = payer.find_resources("AWS::SNS::Subscription")
    filters = {
        s["Properties"]["Endpoint"]: s["Properties"].get("FilterPolicy") for s in found.values()
    }
    ids = {a.name: a.id for a in sample_fleet.accounts}
    assert filters == {
        "billing@example.com": None,
        "ops@example.com": None,  # on the payer's list: every message
        "oncall@example.com": {"account": [ids["prod"]]},
        "dev-team@example.com": {"account": [ids["sandbox"]]},
    }


FLEET = """
payer: {{id: "111111111111", name: payer, notify: [a@example.com], ec2_limit: 1{payer}}}
accounts:
  - {{id: "222222222222", name: lab, notify: [b@example.com], ec2_limit: 1{member}}}
{top}
"""


def fleet(payer: str = "", member: str = "", top: str = "") -> Fleet:
    return parse_fleet(FLEET.format(payer=payer, member=member, top=top), "f.yaml")


def test_quarantine_is_on_for_members_and_off_for_the_payer_by_default() -> None:
    parsed = fleet()
    assert (parsed.payer.quarantine, parsed.sub_accounts[0].quarantine) == (False, True)
    assert parsed.protect_guards and parsed.operator_role == "OrganizationAccountAccessRole"
    assert not fleet(member=", quarantine: false").sub_accounts[0].quarantine


@pytest.mark.parametrize(
    ("payer", "top", "says"),
    [
        (", quarantine: true", "", "payer.quarantine: cannot be true for the payer"),
        (", quarantine: true", "defaults: {quarantine: true}", "cannot be true for the payer"),
        (", lockout: users", "", "needs a break_glass principal that exists in the management"),
        (
            ", lockout: users+roles, break_glass: [OrganizationAccountAccessRole]",
            "",
            "OrganizationAccountAccessRole exists only in member accounts",
        ),
    ],
)
def test_a_payer_setting_that_cannot_work_is_refused(payer: str, top: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        fleet(payer=payer, top=top)
    assert says in str(refused.value)


def test_a_payer_lockout_with_its_own_break_glass_is_accepted() -> None:
    parsed = fleet(payer=", lockout: users, break_glass: [payer-admin]")
    assert parsed.payer.break_glass == ("payer-admin",)


def test_protect_guards_off_deploys_no_standing_scp() -> None:
    """Only with the quarantine off as well (see the next test)."""
    app = new_app()
    stacks = add_fleet_stacks(app, fleet(member=", quarantine: false", top="protect_guards: false"))
    assert policies(Template.from_stack(stacks.payer)) == {}


@pytest.mark.parametrize(
    ("member", "top"),
    [
        ("", "protect_guards: false"),  # quarantine: true is the members' default
        (", quarantine: true", "protect_guards: false"),
        ("", "defaults: {quarantine: true}\nprotect_guards: false"),
    ],
)
def test_a_quarantine_without_guard_protection_is_refused(member: str, top: str) -> None:
    """Issue 22 item 3: the quarantine SCPs and the payer's bus admit every role under
    /runawaytrain/, and only the guard-protection SCP keeps others from creating one there."""
    with pytest.raises(ConfigError) as refused:
        fleet(member=member, top=top)
    line = FLEET.format(payer="", member=member, top=top).splitlines().index(top.splitlines()[-1])
    assert (
        str(refused.value)
        .splitlines()[-1]
        .startswith(
            f"f.yaml:{line + 1}: protect_guards: is false while quarantine is true for lab: "
        )
    )
    assert "remove protect_guards: false" in str(refused.value)
    assert "or set quarantine: false for those accounts" in str(refused.value)


def test_an_scp_over_the_aws_size_quota_is_refused_at_load_time() -> None:
    names = ", ".join(f"breakglass-person-number-{i:02d}" for i in range(40))
    with pytest.raises(ConfigError) as refused:
        fleet(member=f", break_glass: [{names}]")
    assert "accounts[0].break_glass" in str(refused.value)
    assert "over the 5120 AWS allows" in str(refused.value)


def test_a_quarantine_split_in_several_scps_deploys_each_and_tells_the_function() -> None:
    # Six break-glass names outgrow the guard-protection SCP, which `check` requires beside a
    # quarantine: built without it (and without the check) to show the split alone.
    names = tuple(f"breakglass-person-{i}" for i in range(6))
    parsed = fleet()
    split = replace(
        parsed,
        sub_accounts=(replace(parsed.sub_accounts[0], break_glass=names),),
        protect_guards=False,
    )
    (member,) = split.sub_accounts
    documents = build_quarantine_policies(split, member)
    assert len(documents) == 2
    template = Template.from_stack(add_fleet_stacks(new_app(), split).payer)
    found = policies(template)
    assert set(found) == {
        f"{QUARANTINE_POLICY_PREFIX}{member.id}",
        f"{name_quarantine_policy(member.id, 1)}",
    }
    assert [found[name_quarantine_policy(member.id, i)]["Content"] for i in (0, 1)] == documents
    (function,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "quarantine.handler.handler"}}
    ).values()
    assert json.loads(function["Properties"]["Environment"]["Variables"]["pieces"]) == {
        member.id: 2
    }
