"""StackSets delegated administrators (lambda/watchdog/delegates.py): with an organisation, the
watchdog mails the payer's list once per set of accounts registered for StackSets, whose
service-managed StackSets pass the protection SCP as the payer's own do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.watchdog.conftest import Watchdog
from watchdog.delegates import (
    DELEGATES_MAILED,
    STACKSETS_PRINCIPAL,
    UNREADABLE_MAILED,
    Delegate,
    assess_delegates,
)

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


def _check(watchdog: Watchdog, now: datetime, organizations: Any = None) -> dict:
    return watchdog.check(
        now, organizations or boto3.client("organizations", region_name="us-east-1")
    )


class Refusing:
    """An Organizations client whose ListDelegatedAdministrators is refused (the watchdog
    role stripped of it), its other calls the real client's."""

    def __init__(self) -> None:
        self.real = boto3.client("organizations", region_name="us-east-1")

    def get_paginator(self, operation: str) -> Any:
        if operation == "list_delegated_administrators":
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                "ListDelegatedAdministrators",
            )
        return self.real.get_paginator(operation)


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
        "organization": DELEGATES_MAILED
    }
    [mail] = watchdog.mails()
    assert f"tools ({organisation['tools']})" in mail["subject"]
    assert "deregister-delegated-administrator" in mail["body"]
    assert _check(watchdog, now + timedelta(minutes=10))["mailed"] == {}  # once
    assert watchdog.mails() == []

    _register(organisation["lab"])
    assert _check(watchdog, now + timedelta(minutes=15))["mailed"] == {
        "organization": DELEGATES_MAILED
    }
    [mail] = watchdog.mails()
    assert organisation["tools"] in mail["subject"] and organisation["lab"] in mail["subject"]


def test_a_delegate_for_another_service_is_not_mailed(watchdog, organisation) -> None:
    boto3.client("organizations", region_name="us-east-1").register_delegated_administrator(
        AccountId=organisation["tools"], ServicePrincipal="guardduty.amazonaws.com"
    )
    assert _check(watchdog, datetime.now(UTC))["mailed"] == {}
    assert watchdog.mails() == []


def test_a_listing_that_keeps_failing_is_mailed_once(watchdog, organisation) -> None:
    now = datetime.now(UTC)
    assert _check(watchdog, now, Refusing())["mailed"] == {}  # one failure: not yet
    assert _check(watchdog, now + timedelta(minutes=10), Refusing())["mailed"] == {}
    mailed = _check(watchdog, now + timedelta(minutes=15), Refusing())["mailed"]
    assert mailed == {"organization": UNREADABLE_MAILED}
    [mail] = watchdog.mails()
    assert "cannot list StackSets delegated administrators" in mail["subject"]
    assert "AccessDeniedException" in mail["body"]
    assert _check(watchdog, now + timedelta(hours=2), Refusing())["mailed"] == {}  # once
    # readable again: forgotten, and a later failure is mailed again after its time
    _register(organisation["tools"])
    later = now + timedelta(hours=3)
    assert _check(watchdog, later)["mailed"] == {"organization": DELEGATES_MAILED}
    assert _check(watchdog, later + timedelta(minutes=5), Refusing())["mailed"] == {}
    mailed = _check(watchdog, later + timedelta(minutes=20), Refusing())["mailed"]
    assert mailed == {"organization": UNREADABLE_MAILED}


def test_without_an_organisation_in_accounts_yaml_nothing_is_asked(watchdog, organisation) -> None:
    _register(organisation["tools"])
    watchdog.settings = replace(watchdog.settings, target_ous=())
    assert _check(watchdog, datetime.now(UTC))["mailed"] == {}
    assert watchdog.mails() == []
