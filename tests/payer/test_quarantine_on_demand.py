"""Issue 23: with an `organization` the quarantine Lambda creates an account's quarantine SCPs at
its trip (from the shipped template and the account's settings) and attaches them, and restore
detaches and deletes them; repeats change nothing; a policy left behind is reused; what it
records comes before each change. In moto with the strict layer: the attached SCP is enforced
(strict_aws/scps.py) and Organizations refuses what AWS refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from quarantine.account_settings import QuarantineData
from quarantine.documents import render
from quarantine.handler import act_on_demand
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet import new_app
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import QUARANTINE_POLICY_PREFIX, QUARANTINE_STATE_PATH, QUARANTINE_TAG
from runawaytrain_stack.payer_stack import PayerStack
from runawaytrain_stack.quarantine_on_demand import build_settings
from runawaytrain_stack.scp import build_quarantine_policies
from strict_aws.scps import denying_policy
from tests.payer.conftest import REGION, Org, fleet_yaml

REQUESTED, RELEASED = "Quarantine Requested", "Quarantine Released"


@pytest.fixture
def org_fleet(org: Org) -> Fleet:
    """The org fixture's fleet with an `organization`; the stand-in's pre-made quarantine SCPs
    (the no-organization payer's) are removed: here nothing exists before the trip."""
    organizations = org.payer.client("organizations", region_name=REGION)
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="guarded")
    for name, policy_id in org.stand_in.policies.items():
        if name.startswith(QUARANTINE_POLICY_PREFIX):
            organizations.delete_policy(PolicyId=policy_id)
    organization = organizations.describe_organization()["Organization"]["Id"]
    return parse_fleet(
        # Accounts nobody listed are guarded on defaults: they need notify and ec2_limit.
        "defaults:\n  notify: [ops@example.com]\n  ec2_limit: 2\n"
        + fleet_yaml(org.ids)
        + f"organization:\n  id: {organization}\n  target_ous: [{ou['OrganizationalUnit']['Id']}]\n"
    )


def request(account: str, detail_type: str = REQUESTED) -> dict[str, Any]:
    return {
        "source": "runawaytrain.guard",
        "detail-type": detail_type,
        "account": account,
        "detail": {"incident": "i-1"},
    }


def deliver(org: Org, fleet: Fleet, event: dict[str, Any]) -> dict[str, Any]:
    return act_on_demand(
        event,
        data=QuarantineData.from_json(json.loads(json.dumps(build_settings(fleet)))),
        policy_prefix=QUARANTINE_POLICY_PREFIX,
        policy_tag=QUARANTINE_TAG,
        state_path=QUARANTINE_STATE_PATH,
        topic_arn=org.payer_topic,
        session=org.payer,
    )


def quarantine_policies(org: Org, account: str) -> dict[str, str]:
    organizations = org.payer.client("organizations", region_name=REGION)
    found = organizations.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    return {
        p["Name"]: p["Id"]
        for p in found
        if p["Name"].startswith(QUARANTINE_POLICY_PREFIX + account)
    }


def history(org: Org, account: str) -> list[str]:
    ssm = org.payer.client("ssm", region_name=REGION)
    versions = ssm.get_parameter_history(Name=f"{QUARANTINE_STATE_PATH}{account}")["Parameters"]
    return [json.loads(v["Value"])["state"] for v in versions]


def insider(account: str) -> str:
    return f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b"


def test_a_trip_creates_and_attaches_the_quarantine_and_restore_detaches_and_deletes_it(
    org: Org, org_fleet: Fleet
) -> None:
    prod = org.ids["prod"]
    base = f"{QUARANTINE_POLICY_PREFIX}{prod}"
    assert quarantine_policies(org, prod) == {}
    assert denying_policy(prod, insider(prod), "ec2:RunInstances", "*", REGION) is None

    attached = deliver(org, org_fleet, request(prod))

    assert (attached["action"], attached["changed"], attached["error"]) == ("attach", True, None)
    made = quarantine_policies(org, prod)
    account = next(a for a in org_fleet.sub_accounts if a.id == prod)
    expected = build_quarantine_policies(org_fleet, account)
    assert len(made) == len(expected) and base in made
    organizations = org.payer.client("organizations", region_name=REGION)
    content = organizations.describe_policy(PolicyId=made[base])["Policy"]["Content"]
    assert content == render(expected[0])
    tags = organizations.list_tags_for_resource(ResourceId=made[base])["Tags"]
    assert tags == [{"Key": QUARANTINE_TAG, "Value": prod}]
    assert set(made) <= set(org.scps_of("prod"))
    # Enforced: an Identity Center admin is refused, prod's break-glass user and StackSets'
    # execution role are not; lab is untouched.
    assert denying_policy(prod, insider(prod), "ec2:RunInstances", "*", REGION) == base
    for exempt in ("user/breakglass-admin", "role/stacksets-exec-0a1b2c3d"):
        principal = f"arn:aws:iam::{prod}:{exempt}"
        assert denying_policy(prod, principal, "ec2:RunInstances", "*", REGION) is None
    lab = org.ids["lab"]
    assert denying_policy(lab, insider(lab), "ec2:RunInstances", "*", REGION) is None
    assert history(org, prod) == ["attaching", "attached"]  # recorded, then changed
    assert [m["Subject"] for m in org.payer_list.messages()] == [
        "runawaytrain prod: account QUARANTINED"
    ]

    released = deliver(org, org_fleet, request(prod, RELEASED))

    assert (released["action"], released["changed"], released["error"]) == ("detach", True, None)
    assert quarantine_policies(org, prod) == {}
    assert not any(name.startswith(base) for name in org.scps_of("prod"))
    assert denying_policy(prod, insider(prod), "ec2:RunInstances", "*", REGION) is None
    assert history(org, prod) == ["attaching", "attached", "detaching", "detached"]


def test_repeated_requests_change_nothing_and_mail_nothing(org: Org, org_fleet: Fleet) -> None:
    prod = org.ids["prod"]
    deliver(org, org_fleet, request(prod))
    made = quarantine_policies(org, prod)
    org.payer_list.messages()

    again = deliver(org, org_fleet, request(prod))

    assert (again["changed"], again["error"]) == (False, None)
    assert quarantine_policies(org, prod) == made  # reused, not made twice
    assert org.payer_list.messages() == []
    deliver(org, org_fleet, request(prod, RELEASED))
    org.payer_list.messages()
    twice = deliver(org, org_fleet, request(prod, RELEASED))
    assert (twice["changed"], twice["error"]) == (False, None)
    assert org.payer_list.messages() == []


def test_a_policy_left_behind_detached_is_reused_at_the_next_trip(
    org: Org, org_fleet: Fleet
) -> None:
    """`runawaytrain restore` (operator credentials) only detaches: the SCP stays, unattached."""
    prod = org.ids["prod"]
    deliver(org, org_fleet, request(prod))
    made = quarantine_policies(org, prod)
    organizations = org.payer.client("organizations", region_name=REGION)
    for policy_id in made.values():
        organizations.detach_policy(PolicyId=policy_id, TargetId=prod)

    again = deliver(org, org_fleet, request(prod))

    assert (again["changed"], again["error"]) == (True, None)
    assert quarantine_policies(org, prod) == made
    assert set(made) <= set(org.scps_of("prod"))


def test_an_account_nobody_listed_is_quarantined_with_the_org_wide_exemptions(
    org: Org, org_fleet: Fleet
) -> None:
    organizations = org.payer.client("organizations", region_name=REGION)
    created = organizations.create_account(AccountName="newcomer", Email="new@example.com")
    newcomer = created["CreateAccountStatus"]["AccountId"]

    result = deliver(org, org_fleet, request(newcomer))

    assert (result["account_name"], result["changed"], result["error"]) == (newcomer, True, None)
    base = f"{QUARANTINE_POLICY_PREFIX}{newcomer}"
    assert denying_policy(newcomer, insider(newcomer), "ec2:RunInstances", "*", REGION) == base
    # prod's break-glass name is prod's only.
    stranger = f"arn:aws:iam::{newcomer}:user/breakglass-admin"
    assert denying_policy(newcomer, stranger, "ec2:RunInstances", "*", REGION) == base
    operator = f"arn:aws:iam::{newcomer}:role/OrganizationAccountAccessRole"
    assert denying_policy(newcomer, operator, "ec2:RunInstances", "*", REGION) is None


def test_the_payer_and_accounts_with_quarantine_off_are_never_quarantined(
    org: Org, org_fleet: Fleet
) -> None:
    from dataclasses import replace

    lab = next(a for a in org_fleet.sub_accounts if a.name == "lab")
    fleet = replace(
        org_fleet,
        sub_accounts=tuple(
            replace(a, quarantine=False) if a == lab else a for a in org_fleet.sub_accounts
        ),
    )
    for account in (org_fleet.payer.id, lab.id):
        assert deliver(org, fleet, request(account)) == {"account": account, "ignored": True}
    assert quarantine_policies(org, lab.id) == {}


def test_every_call_the_on_demand_code_makes_is_in_its_synthesized_role(
    org: Org, org_fleet: Fleet
) -> None:
    made: set[str] = set()

    def record(event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        made.add(f"{service}:{operation}")

    org.payer.events.register("before-call", record)
    try:
        deliver(org, org_fleet, request(org.ids["prod"]))
        deliver(org, org_fleet, request(org.ids["prod"], RELEASED))
    finally:
        org.payer.events.unregister("before-call", record)

    (role,) = (
        Template.from_stack(PayerStack(new_app(), fleet=org_fleet))
        .find_resources(
            "AWS::IAM::Role", {"Properties": {"Policies": [{"PolicyName": "Quarantine"}]}}
        )
        .values()
    )
    allowed: set[str] = set()
    for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        found = statement["Action"]
        allowed.update([found] if isinstance(found, str) else found)
    assert made == {
        "organizations:ListPolicies",
        "organizations:CreatePolicy",
        "organizations:AttachPolicy",
        "organizations:DetachPolicy",
        "organizations:DeletePolicy",
        "ssm:PutParameter",
        "sns:Publish",
    }
    assert made <= allowed
    # TagResource: CreatePolicy with Tags needs it ("If the request includes tags, then the
    # requester must have the organizations:TagResource permission", API Reference).
    assert allowed - made == {
        "organizations:TagResource",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
