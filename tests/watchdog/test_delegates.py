"""StackSets delegated administrators (lambda/watchdog/delegates.py): with an organisation, the
watchdog mails the payer's list once per set of accounts registered for StackSets, whose
service-managed StackSets pass the protection SCP as the payer's own do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.guard.conftest import HOME
from tests.watchdog.conftest import Watchdog
from watchdog.delegates import STACKSETS_PRINCIPAL, Delegate, assess_delegates
from watchdog.handler import STACKSETS_DELEGATES, assume_with, check

ONE = Delegate("222222222222", "ops")
TWO = Delegate("333333333333", "")


@pytest.mark.parametrize(
    ("delegates", "mailed", "expected"),
    [
        ((), None, (False, ())),  # none, never mailed: quiet
        ((ONE,), None, (True, (ONE.id,))),  # the first one: mailed
        ((ONE,), (ONE.id,), (False, (ONE.id,))),  # the same set: once
        ((ONE, TWO), (ONE.id,), (True, (ONE.id, TWO.id))),  # a second one joins: mailed again
        ((), (ONE.id,), (False, ())),  # all gone: quiet, and remembered
        ((ONE,), (), (True, (ONE.id,))),  # registered again later: mailed again
    ],
)
def test_assess_delegates(delegates, mailed, expected) -> None:
    assert assess_delegates(delegates, mailed) == expected


@pytest.fixture
def organisation(watchdog: Watchdog) -> dict[str, str]:
    """The payer's organisation (moto's default account) with a target OU and two accounts."""
    organizations = boto3.client("organizations", region_name="us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="guarded")
    ids = {}
    for name in ("tools", "lab"):
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        ids[name] = created["CreateAccountStatus"]["AccountId"]
    ou_id = ou["OrganizationalUnit"]["Id"]
    watchdog.settings = replace(watchdog.settings, accounts=(), target_ous=(ou_id,))
    return ids


def _check(watchdog: Watchdog, now: datetime) -> dict:
    return check(
        watchdog.settings,
        ssm=watchdog.session.client("ssm", region_name=HOME),
        sns=watchdog.session.client("sns", region_name=HOME),
        assume=assume_with(watchdog.session.client("sts", region_name=HOME)),
        now=now,
        organizations=boto3.client("organizations", region_name="us-east-1"),
    )


def _register(account_id: str) -> None:
    boto3.client("organizations", region_name="us-east-1").register_delegated_administrator(
        AccountId=account_id, ServicePrincipal=STACKSETS_PRINCIPAL
    )


def test_a_stacksets_delegate_is_mailed_once_per_set(watchdog, organisation) -> None:
    now = datetime.now(UTC)
    assert _check(watchdog, now)["mailed"] == {}  # nobody delegated
    assert watchdog.mails() == []

    _register(organisation["tools"])
    assert _check(watchdog, now + timedelta(minutes=5))["mailed"] == {
        "organization": STACKSETS_DELEGATES
    }
    [mail] = watchdog.mails()
    assert f"tools ({organisation['tools']})" in mail["subject"]
    assert "deregister-delegated-administrator" in mail["body"]
    assert _check(watchdog, now + timedelta(minutes=10))["mailed"] == {}  # once
    assert watchdog.mails() == []

    _register(organisation["lab"])
    assert _check(watchdog, now + timedelta(minutes=15))["mailed"] == {
        "organization": STACKSETS_DELEGATES
    }
    [mail] = watchdog.mails()
    assert organisation["tools"] in mail["subject"] and organisation["lab"] in mail["subject"]


def test_a_delegate_for_another_service_is_not_mailed(watchdog, organisation) -> None:
    boto3.client("organizations", region_name="us-east-1").register_delegated_administrator(
        AccountId=organisation["tools"], ServicePrincipal="guardduty.amazonaws.com"
    )
    assert _check(watchdog, datetime.now(UTC))["mailed"] == {}
    assert watchdog.mails() == []


def test_without_an_organisation_in_accounts_yaml_nothing_is_asked(watchdog, organisation) -> None:
    _register(organisation["tools"])
    watchdog.settings = replace(watchdog.settings, target_ous=())
    assert _check(watchdog, datetime.now(UTC))["mailed"] == {}
