"""The settings bucket's policy (runawaytrain_stack/settings_store.py), evaluated by a real IAM
evaluator (tests/payer/simulator.py): a member's guard reads its own document and the defaults
only; another account's principal, a role that is not the guard, or anyone outside the
organisation reads nothing; nobody but the publisher writes."""

from __future__ import annotations

import pytest

from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import GUARD_ROLE_NAME, ROLE_PATH, name_settings_bucket
from runawaytrain_stack.settings_store import build_bucket_statements
from tests.payer.simulator import Request, simulate
from tests.stack.conftest import ORG_FLEET_YAML

ORG = "o-abcdef1234"
MEMBER = "222222222222"
OTHER_MEMBER = "333333333333"
NEW_MEMBER = "555555555555"  # joined a target OU; accounts.yaml does not list it
OUTSIDER = "999999999999"  # not in the organisation
ELSEWHERE = "666666666666"  # in the organisation, outside the target OU (no protection SCP)
TARGET_OU = "ou-ab12-cdef3456"  # tests/stack/conftest.py ORG_FLEET_YAML
READ_ANY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    from runawaytrain_stack.config import parse_fleet

    return parse_fleet(ORG_FLEET_YAML)


def guard_role(account: str) -> str:
    return f"arn:aws:iam::{account}:role{ROLE_PATH}{GUARD_ROLE_NAME}"


def publisher_role(fleet: Fleet) -> str:
    return f"arn:aws:iam::{fleet.payer.id}:role{ROLE_PATH}runawaytrain-payer-SettingsRole1A2B"


def bucket_policy(fleet: Fleet) -> dict:
    bucket_arn = f"arn:aws:s3:::{name_settings_bucket(fleet)}"
    return {
        "Version": "2012-10-17",
        "Statement": build_bucket_statements(fleet, bucket_arn, publisher_role(fleet)),
    }


def org_path(account: str) -> str:
    """aws:PrincipalOrgPaths of a member: organisation, root, OUs down to its parent."""
    parent = {
        ELSEWHERE: "ou-ab12-elsewhere",
        NEW_MEMBER: TARGET_OU,  # directly in the target OU
    }.get(account, f"{TARGET_OU}/ou-ab12-lab00001")  # in an OU below it
    return f"{ORG}/r-ab12/{parent}/"


def request(fleet: Fleet, name: str, principal: str, action: str, key: str) -> Request:
    account = principal.split(":")[4]
    return Request(
        name=name,
        principal=principal,
        action=action,
        resource=f"arn:aws:s3:::{name_settings_bucket(fleet)}/{key}",
        account=fleet.payer.id,
        context={
            "aws:PrincipalAccount": account,
            "aws:SecureTransport": "true",
            **({"aws:PrincipalOrgID": ORG} if account != OUTSIDER else {}),
            **({"aws:PrincipalOrgPaths": [org_path(account)]} if account != OUTSIDER else {}),
        },
        resource_policy=bucket_policy(fleet),
        identity_policy=READ_ANY,  # each principal's own policy allows it: the bucket decides
    )


# (name, principal (formatted with the payer's id as {p}), action, key, expected)
CASES = [
    (
        "guard reads its own",
        guard_role(MEMBER),
        "s3:GetObject",
        f"accounts/{MEMBER}.json",
        "Allowed",
    ),
    ("guard reads the defaults", guard_role(MEMBER), "s3:GetObject", "defaults.json", "Allowed"),
    (
        "an unlisted account's guard reads the defaults",
        guard_role(NEW_MEMBER),
        "s3:GetObject",
        "defaults.json",
        "Allowed",
    ),
    (
        "guard reads another account's",
        guard_role(MEMBER),
        "s3:GetObject",
        f"accounts/{OTHER_MEMBER}.json",
        "ImplicitlyDenied",
    ),
    (
        "a member's admin reads its own account's",
        f"arn:aws:iam::{MEMBER}:role/Admin",
        "s3:GetObject",
        f"accounts/{MEMBER}.json",
        "ImplicitlyDenied",
    ),
    (
        "another runawaytrain role reads",
        f"arn:aws:iam::{MEMBER}:role{ROLE_PATH}runawaytrain-guard-scheduler",
        "s3:GetObject",
        "defaults.json",
        "ImplicitlyDenied",
    ),
    (
        "a guard-named role outside the organisation reads",
        guard_role(OUTSIDER),
        "s3:GetObject",
        "defaults.json",
        "ImplicitlyDenied",
    ),
    (
        "a guard-named role of the organisation outside the target OU reads",
        guard_role(ELSEWHERE),
        "s3:GetObject",
        "defaults.json",
        "ImplicitlyDenied",
    ),
    (
        "guard lists nothing else",
        guard_role(MEMBER),
        "s3:GetObject",
        "settings.json",
        "ImplicitlyDenied",
    ),
    (
        "guard writes its own",
        guard_role(MEMBER),
        "s3:PutObject",
        f"accounts/{MEMBER}.json",
        "ExplicitlyDenied",
    ),
    (
        "payer's admin writes",
        "arn:aws:iam::{p}:role/Admin",
        "s3:PutObject",
        "defaults.json",
        "ExplicitlyDenied",
    ),
    (
        "payer's admin deletes",
        "arn:aws:iam::{p}:role/Admin",
        "s3:DeleteObject",
        f"accounts/{MEMBER}.json",
        "ExplicitlyDenied",
    ),
    (
        "payer's root writes",
        "arn:aws:iam::{p}:root",
        "s3:PutObject",
        "defaults.json",
        "ExplicitlyDenied",
    ),
    ("publisher writes", "{publisher}", "s3:PutObject", f"accounts/{MEMBER}.json", "Allowed"),
    ("publisher deletes", "{publisher}", "s3:DeleteObject", f"accounts/{MEMBER}.json", "Allowed"),
]


def test_only_guards_read_their_own_and_only_the_publisher_writes(fleet: Fleet) -> None:
    requests = [
        request(
            fleet,
            name,
            principal.format(p=fleet.payer.id, publisher=publisher_role(fleet)),
            action,
            key,
        )
        for name, principal, action, key, _ in CASES
    ]
    decided = simulate(requests, [])
    assert decided == {name: expected for name, _, _, _, expected in CASES}
