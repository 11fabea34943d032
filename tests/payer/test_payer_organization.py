"""Issue 23, "payer small": with an `organization`, the payer's template holds nothing per member
(protection on the target OUs, quarantine SCPs made at the trip), so its resources and size do
not grow with the fleet; the OU's protection refuses an insider of any member and lets the
exempt (StackSets' execution role included) act, decided by the real evaluator; `check`
refuses a protection that outgrows the OU; the payer's new IAM passes AWS's authorization data
and cdk-nag."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cdk_nag import AwsSolutionsChecks

from runawaytrain_stack import scp
from runawaytrain_stack.config import ConfigError, parse_fleet
from runawaytrain_stack.fleet import new_app
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.payer_stack import PayerStack
from tests.payer.simulator import Request, simulate
from tests.stack.iam_reference import check_policy
from tests.stack.template_policies import find_policy_documents, load_stacks

ROOT = Path(__file__).resolve().parents[2]
ORGANIZATION = (
    "organization:\n  id: o-abcdef1234\n  target_ous: [ou-ab12-cdef3456, ou-ab12-99990000]\n"
)
PAYER_ID = "111111111111"
REGION = "eu-west-1"


def generated_fleet_yaml(members: int, break_glass_accounts: int = 1) -> str:
    """`members` listed accounts on defaults (the payer's notify list: per-address mail
    subscriptions are the settings helper's part of issue 23), the first ones with a break-glass
    user of their own."""
    lines = [
        "defaults:",
        "  notify: [billing@example.com]",
        "  ec2_limit: 2",
        "payer:",
        f'  id: "{PAYER_ID}"',
        "  name: payer",
        "accounts:",
    ]
    for index in range(members):
        lines += [f'  - id: "{200000000000 + index}"', f"    name: m{index}"]
        if index < break_glass_accounts:
            lines.append("    break_glass: [breakglass-admin]")
    return "\n".join(lines) + "\n" + ORGANIZATION


def synthesize_payer(fleet: Fleet) -> tuple[dict[str, Any], Any]:
    with tempfile.TemporaryDirectory() as out:
        app = new_app(outdir=out)
        PayerStack(app, fleet=fleet)
        app.synth()
        (stack,) = load_stacks(out)
        text = (Path(out) / "runawaytrain-payer.template.json").read_text()
    return {"template": json.loads(text), "bytes": len(text), "app": app}, stack


@pytest.fixture(scope="module")
def small() -> tuple[dict[str, Any], Any]:
    # Past the dashboard's one row per account (dashboard.py MAX_ACCOUNT_ROWS), which is bounded.
    return synthesize_payer(parse_fleet(generated_fleet_yaml(24), "gen-24.yaml"))


@pytest.fixture(scope="module")
def large() -> tuple[dict[str, Any], Any]:
    return synthesize_payer(parse_fleet(generated_fleet_yaml(60), "gen-60.yaml"))


def test_the_payer_template_does_not_grow_with_the_number_of_members(small, large) -> None:
    (fewer, _), (more, _) = small, large
    assert len(more["template"]["Resources"]) == len(fewer["template"]["Resources"])
    # Same size: only the layers' content hashes differ, which have a fixed length.
    assert more["bytes"] == fewer["bytes"]
    text = json.dumps(more["template"])
    # No member is named in the template, but the one whose break_glass the OU's SCP exempts.
    assert "200000000000" in text
    assert not any(f'"{200000000000 + index}' in text for index in range(1, 60))


def test_the_protection_is_one_set_on_the_target_ous_and_no_quarantine_scp_is_deployed(
    small,
) -> None:
    (four, _) = small
    policies = [
        resource["Properties"]
        for resource in four["template"]["Resources"].values()
        if resource["Type"] == "AWS::Organizations::Policy"
    ]
    fleet = parse_fleet(generated_fleet_yaml(24), "gen-24.yaml")
    assert [p["TargetIds"] for p in policies] == [["ou-ab12-cdef3456", "ou-ab12-99990000"]]
    assert [p["Content"] for p in policies] == scp.build_ou_protection_policies(fleet)


def test_check_refuses_an_ou_protection_over_an_scps_size_naming_the_limit() -> None:
    text = generated_fleet_yaml(12, break_glass_accounts=12)
    with pytest.raises(ConfigError) as caught:
        parse_fleet(text, "gen.yaml")
    line = text.count("\n", 0, text.index("organization:")) + 2  # the mapping's first line
    message = str(caught.value)
    assert message.startswith(f"gen.yaml:{line}: organization: ")
    assert "over the 5120 AWS allows per SCP" in message
    assert "12 break-glass principals of 12 listed accounts" in message


def test_the_payers_policies_pass_the_service_authorization_reference(small) -> None:
    (_, stack) = small
    problems = []
    for found in find_policy_documents(stack):
        problems += check_policy(found.document, found.where)[0]
    assert problems == []


def test_cdk_nag_finds_nothing_in_the_payer_stack_with_an_organization(small) -> None:
    (four, _) = small
    report = AwsSolutionsChecks().validate_scope(four["app"])
    assert [v.rule_name for v in report.violations] == []


# The OU's protection, evaluated for a listed member (prod, break_glass user breakglass-admin)
# and for an account nobody listed (it joined the OU).
# With organization:, defaults guard every account nobody listed: they need notify and ec2_limit.
SAMPLE = (
    (ROOT / "accounts.yaml")
    .read_text()
    .replace("defaults:\n", "defaults:\n  notify: [ops@example.com]\n  ec2_limit: 2\n", 1)
)
PROD = "222222222222"
NEWCOMER = "444455556666"


@pytest.fixture(scope="module")
def org_fleet() -> Fleet:
    return parse_fleet(
        SAMPLE + "\nbreak_glass_permission_sets: [BreakGlass]\n" + ORGANIZATION, "accounts.yaml"
    )


def who(account: str) -> dict[str, str]:
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{REGION}/"
    return {
        "sso_admin": f"{sso}AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "root": f"arn:aws:iam::{account}:root",
        "guard": f"arn:aws:iam::{account}:role/runawaytrain/runawaytrain-guard-GuardRole87F",
        "operator": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        "stacksets": f"arn:aws:iam::{account}:role/stacksets-exec-0123456789abcdef0123456789abcd",
        "break_glass_set": f"{sso}AWSReservedSSO_BreakGlass_1a2b3c4d5e6f7a8b",
        "break_glass": f"arn:aws:iam::{account}:user/breakglass-admin",
    }


PROTECTED = [
    ("lambda:UpdateFunctionCode", "arn:aws:lambda:{r}:{a}:function:runawaytrain-guard-Guard", {}),
    (
        "cloudformation:UpdateStack",
        "arn:aws:cloudformation:{r}:{a}:stack/StackSet-runawaytrain-guard-1a2b/"
        "0a1b2c3d-1111-2222-3333-444455556666",
        {},
    ),
    (
        "cloudformation:DeleteStack",
        "arn:aws:cloudformation:{r}:{a}:stack/runawaytrain-guard-prod/"
        "0a1b2c3d-1111-2222-3333-444455556666",
        {},
    ),
    # Nobody else assumes or changes StackSets' execution role (AdministratorAccess, exempt).
    ("sts:AssumeRole", "arn:aws:iam::{a}:role/stacksets-exec-0123456789abcdef0123456789abcd", {}),
    (
        "iam:UpdateAssumeRolePolicy",
        "arn:aws:iam::{a}:role/stacksets-exec-0123456789abcdef0123456789abcd",
        {},
    ),
    ("iam:CreateRole", "arn:aws:iam::{a}:role/stacksets-exec-mine", {}),
    ("iam:CreateRole", "arn:aws:iam::{a}:role/runawaytrain/mine", {}),
]


def requests_for(account: str, principals: tuple[str, ...]) -> list[Request]:
    arns = who(account)
    return [
        Request(
            name=f"{account} {principal} {action} {resource}",
            principal=arns[principal],
            action=action,
            resource=resource.format(a=account, r=REGION),
            account=account,
            context=dict(context),
        )
        for action, resource, context in PROTECTED
        for principal in principals
    ]


@pytest.mark.parametrize("account", [PROD, NEWCOMER])
def test_the_ou_protection_refuses_insiders_of_any_member_and_lets_the_exempt_act(
    org_fleet: Fleet, account: str
) -> None:
    exempt = ("guard", "operator", "stacksets", "break_glass_set")
    listed_break_glass = ("break_glass",) if account == PROD else ()
    insiders = ("sso_admin", "root", *(() if account == PROD else ("break_glass",)))
    requests = requests_for(account, (*insiders, *exempt, *listed_break_glass))
    decided = simulate(requests, scp.build_ou_protection_policies(org_fleet))
    expected = {
        r.name: "ExplicitlyDenied" if r.name.split(" ")[1] in insiders else "Allowed"
        for r in requests
    }
    assert decided == expected


def test_the_sample_fleets_scps_as_sent_fit_the_quotas(org_fleet: Fleet) -> None:
    """The figures docs/quarantine.md quotes (printed with -s)."""
    protection = scp.build_ou_protection_policies(org_fleet)
    prod = next(a for a in org_fleet.sub_accounts if a.id == PROD)
    quarantine = scp.build_quarantine_policies(org_fleet, prod)
    sizes = [len(scp.render(d)) for d in protection], [len(scp.render(d)) for d in quarantine]
    print(f"OU protection {sizes[0]} characters; prod's quarantine {sizes[1]}")
    assert all(scp.policy_size(d) <= scp.MAX_SCP_CHARACTERS for d in protection + quarantine)
    assert len(protection) <= scp.MAX_SCPS_PER_TARGET - 1


def test_the_watchdog_reads_the_accounts_it_watches_from_its_layer_file(tmp_path) -> None:
    from runawaytrain_stack.payer_wiring import build_watched_accounts
    from watchdog.handler import Settings

    fleet = parse_fleet(generated_fleet_yaml(40), "gen-40.yaml")
    listing = tmp_path / "accounts.json"
    listing.write_text(json.dumps(build_watched_accounts(fleet)))
    env = {
        "accounts_file": str(listing),
        "snstopic": "arn:aws:sns:us-east-1:111111111111:t",
        "heartbeat_path": "/runawaytrain/heartbeat/",
        "state_path": "/runawaytrain/watchdog/",
        "reader_role": "/runawaytrain/runawaytrain-watchdog-reader",
        "schedule_name": "runawaytrain-guard",
    }
    settings = Settings.from_env(env)
    assert [a.id for a in settings.accounts] == [a.id for a in fleet.accounts]
