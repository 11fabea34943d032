"""Issue 22 item 7: the incident's own record (lambda/guard/ledger.py) is only the guard's to
write. The guard protection's Parameter Store statement (`parameter/runawaytrain/*`, every
Region) already covers the record's path; decided by the real evaluator on the documents the
payer stack deploys: the insider (an Identity Center admin, the root user, a leaked key) may not
write, overwrite or delete a record in any Region; the guard, the operator (restore from the
CLI deletes it) and break-glass may."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.ledger import ROOT as LEDGER_ROOT
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.permissions import INCIDENT_RECORD_PATH
from runawaytrain_stack.scp import build_guard_protection_policies
from tests.payer.simulator import Request, simulate

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (ROOT / "accounts.yaml").read_text()
REGIONS = ("eu-west-1", "ap-southeast-2")  # the home Region and one a batch was halted in
RECORD = "parameter/runawaytrain/guard/incidents/20260101T000000Z-abcdef/ec2-instances/0a-0"
WRITES = ("ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters")


@pytest.fixture(scope="module")
def prod() -> tuple[Fleet, Account]:
    fleet = parse_fleet(SAMPLE + "\nbreak_glass_permission_sets: [BreakGlass]\n", "accounts.yaml")
    return fleet, next(a for a in fleet.accounts if a.name == "prod")


def principals(account: str) -> dict[str, str]:
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    return {
        "sso_admin": f"{sso}AWSReservedSSO_AdministratorAccess_0123456789abcdef",
        "root": f"arn:aws:iam::{account}:root",
        "leaked_user": f"arn:aws:iam::{account}:user/ci-bot",
        "guard": f"arn:aws:iam::{account}:role/runawaytrain/runawaytrain-guard-prod-GuardRole87F",
        "operator": f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        "break_glass": f"arn:aws:iam::{account}:user/breakglass-admin",
        "break_glass_set": f"{sso}AWSReservedSSO_BreakGlass_1a2b3c4d5e6f7a8b",
    }


def test_the_record_path_is_the_one_the_guard_writes() -> None:
    assert INCIDENT_RECORD_PATH == LEDGER_ROOT
    assert RECORD.startswith(f"parameter{LEDGER_ROOT}/")


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("sso_admin", "ExplicitlyDenied"),
        ("root", "ExplicitlyDenied"),
        ("leaked_user", "ExplicitlyDenied"),
        ("guard", "Allowed"),
        ("operator", "Allowed"),
        ("break_glass", "Allowed"),
        ("break_glass_set", "Allowed"),
    ],
)
def test_only_the_guard_and_the_exempt_write_or_delete_an_incident_record(
    prod: tuple[Fleet, Account], who: str, expected: str
) -> None:
    fleet, account = prod
    principal = principals(account.id)[who]
    requests = [
        Request(
            f"{who} {action} {region}",
            principal,
            action,
            f"arn:aws:ssm:{region}:{account.id}:{RECORD}",
            account.id,
        )
        for action in WRITES
        for region in REGIONS
    ]
    decided = simulate(requests, build_guard_protection_policies(fleet, account))
    assert set(decided.values()) == {expected}, decided
