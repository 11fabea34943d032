"""The join check (lambda/watchdog/joined.py): an active account of a target OU that nobody
listed and that sent no heartbeat `join_minutes` after joining is mailed once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from tests.watchdog.conftest import PROD, Watchdog, heartbeat_event
from watchdog.handler import JOINED_SILENT, Settings
from watchdog.joined import JoinRecord, JoinStep, OuAccount, assess_joined

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
GRACE = timedelta(minutes=30)
NEW = OuAccount("999999999999", "newcomer", "ACTIVE", T0, "ou-ab12-cdef3456")


OLD = replace(NEW, joined=T0 - timedelta(days=300))  # joined long ago, moved in at T0


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("account", "heartbeat", "record", "now", "step", "kept"),
    [
        # inside its time to join: remembered from the first check that saw it
        (NEW, None, None, at(5), JoinStep.NOTHING, JoinRecord(at(5))),
        (NEW, None, JoinRecord(T0), at(29), JoinStep.NOTHING, JoinRecord(T0)),
        # silent past its time: mailed, and remembered as mailed
        (NEW, None, JoinRecord(T0), at(31), JoinStep.ALERT, JoinRecord(T0, True)),
        # mailed before: never again
        (NEW, None, JoinRecord(T0, True), at(3000), JoinStep.NOTHING, JoinRecord(T0, True)),
        # heartbeating: nothing to keep
        (NEW, at(12), JoinRecord(T0), at(120), JoinStep.NOTHING, None),
        # suspended or closing: no guard expected
        (replace(NEW, status="SUSPENDED"), None, None, at(3000), JoinStep.NOTHING, None),
        # joined the organisation long ago, moved in now: the clock starts when first seen
        (OLD, None, None, T0, JoinStep.NOTHING, JoinRecord(T0)),
        (OLD, None, JoinRecord(T0), at(31), JoinStep.ALERT, JoinRecord(T0, True)),
    ],
)
def test_assess_joined(account, heartbeat, record, now, step, kept) -> None:
    assert assess_joined(account, heartbeat, record, now=now, grace=GRACE) == (step, kept)


@pytest.fixture
def organisation(watchdog: Watchdog) -> dict[str, str]:
    """The payer's organisation (moto's default account) with a target OU holding `newcomer`
    (created at the root, then moved in, as Account Factory does) and the listed PROD."""
    organizations = boto3.client("organizations", region_name="us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="guarded")
    ou_id = ou["OrganizationalUnit"]["Id"]
    ids = {}
    for name in ("newcomer", "quiet-elsewhere"):
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        ids[name] = created["CreateAccountStatus"]["AccountId"]
    organizations.move_account(
        AccountId=ids["newcomer"], SourceParentId=root, DestinationParentId=ou_id
    )
    # PROD's own checks are the main check's (tests/watchdog/test_watchdog.py): left out here.
    watchdog.settings = replace(
        watchdog.settings, accounts=(), target_ous=(ou_id,), join_minutes=30
    )
    return {"ou": ou_id, **ids}


def _check(watchdog: Watchdog, now: datetime) -> dict:
    return watchdog.check(now, boto3.client("organizations", region_name="us-east-1"))


def test_a_silent_new_account_is_mailed_once_after_its_time(watchdog, organisation) -> None:
    now = datetime.now(UTC)
    assert _check(watchdog, now)["mailed"] == {}  # just joined: inside its time
    mailed = _check(watchdog, now + timedelta(minutes=31))["mailed"]
    assert mailed == {organisation["newcomer"]: JOINED_SILENT}
    [mail] = watchdog.mails()
    assert "newcomer" in mail["subject"] and "has no guard" in mail["subject"]
    assert organisation["ou"] in mail["body"]
    assert _check(watchdog, now + timedelta(hours=3))["mailed"] == {}  # once
    assert organisation["quiet-elsewhere"] not in str(mail)  # outside the target OUs


def test_a_new_account_that_heartbeats_is_not_mailed(watchdog, organisation) -> None:
    now = datetime.now(UTC)
    # Its heartbeat is kept although accounts.yaml does not list it (a target OU's guard).
    assert (
        watchdog.record(heartbeat_event(organisation["newcomer"], now))["recorded"]
        == (organisation["newcomer"])
    )
    assert _check(watchdog, now + timedelta(hours=1))["mailed"] == {}
    assert watchdog.mails() == []


def test_listed_accounts_are_left_to_the_main_check(watchdog, organisation) -> None:
    watchdog.settings = replace(
        watchdog.settings, accounts=(replace(PROD, id=organisation["newcomer"]),)
    )
    now = datetime.now(UTC)
    mailed = _check(watchdog, now + timedelta(minutes=31))["mailed"]
    assert mailed.get(organisation["newcomer"]) != JOINED_SILENT


def test_without_target_ous_there_is_no_join_check_and_unlisted_heartbeats_are_dropped(
    watchdog, organisation
) -> None:
    watchdog.settings = replace(watchdog.settings, target_ous=())
    now = datetime.now(UTC)
    assert _check(watchdog, now + timedelta(hours=1))["mailed"] == {}
    assert watchdog.record(heartbeat_event(organisation["newcomer"], now))["recorded"] is None


def test_join_minutes_and_target_ous_are_read_from_the_environment() -> None:
    env = {
        "accounts": "[]",
        "snstopic": "arn:aws:sns:us-east-1:111111111111:t",
        "heartbeat_path": "/h/",
        "state_path": "/s/",
        "reader_role": "/r",
        "schedule_name": "s",
    }
    assert Settings.from_env(env).target_ous == ()
    assert Settings.from_env(env).join_minutes == 30
    settings = Settings.from_env({**env, "target_ous": "ou-a-1,ou-b-2", "join_minutes": "45"})
    assert settings.target_ous == ("ou-a-1", "ou-b-2") and settings.join_minutes == 45
