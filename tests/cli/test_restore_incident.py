"""`restore --incident X` with an X recorded nowhere in the account is an error that changes
nothing and lists the incidents there are (a recorded X is restored as before:
tests/guard/test_restore_cli.py, the mail's command)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.report import Report
from guard.settings import Lockout, Settings
from runawaytrain_cli.main import main

ACCOUNT = "222222222222"
REGION = "eu-west-1"
FLEET = f"""
payer: {{id: "111111111111", name: payer, notify: [ops@example.com], ec2_limit: 2}}
accounts:
  - {{id: "{ACCOUNT}", name: genomics, notify: [ops@example.com], ec2_limit: 1,
     regions: [{REGION}], lockout: users, quarantine: false}}
"""
MISTYPED = "20260101T000000Z-typo00"


def trip(account: boto3.session.Session) -> Report:
    """Two instances over a limit of one, a user with a key: stopped and locked out."""
    account.client("iam").create_user(UserName="ana")
    account.client("iam").create_access_key(UserName="ana")
    account.client("ec2", region_name=REGION).run_instances(ImageId="ami-1", MinCount=2, MaxCount=2)
    topic = account.client("sns").create_topic(Name="notify")["TopicArn"]
    settings = Settings(ec2limit=1, snstopic=topic, lockout=Lockout.USERS)
    tripped = run_guard(settings, Invocation(), ClientFactory(account), ACCOUNT)
    assert tripped.locked_users == ["ana"] and len(tripped.stopped) == 2
    return tripped


def test_a_mistyped_incident_is_an_error_naming_the_recorded_ones_and_changes_nothing(
    aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)
    account = assume_role_session(
        f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole", "us-east-1", "setup"
    )
    tripped = trip(account)
    capsys.readouterr()  # the trip's own log lines (a test before may have routed them to stdout)
    args = ["restore", "--account", "genomics", "--config", str(fleet_file)]
    args += ["--incident", MISTYPED, "--restart-instances"]

    status = main(args)

    captured = capsys.readouterr()
    assert status == 2, captured
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line == (
        f"runawaytrain restore: genomics ({ACCOUNT}): no incident {MISTYPED!r} (recorded there: "
        f"{tripped.incident}); check the id in the trip mail, or run without --incident to "
        "restore the newest one"
    )
    iam = account.client("iam")
    assert iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"] != []  # locked
    ec2 = account.client("ec2", region_name=REGION)
    states = {
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=tripped.stopped)["Reservations"]
        for i in r["Instances"]
    }
    assert states == {"stopped"}


def test_a_dry_run_of_an_incident_in_an_account_with_none_says_none_is_recorded(
    aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)
    args = ["restore", "--account", "genomics", "--config", str(fleet_file)]

    status = main([*args, "--incident", MISTYPED, "--dry-run"])

    assert status == 2
    [line] = capsys.readouterr().err.splitlines()
    assert f"no incident {MISTYPED!r} (none is recorded there)" in line
