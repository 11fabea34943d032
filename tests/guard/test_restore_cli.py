"""`runawaytrain restore` assumes a role into the account and runs the guard's own restore."""

from __future__ import annotations

import boto3

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_guard
from guard.invocation import Invocation
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


def session_in(account: str) -> boto3.session.Session:
    """moto keeps a separate state per account reached by AssumeRole."""
    role_arn = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    return assume_role_session(role_arn, "us-east-1", "setup")


def test_restore_by_account_name_undoes_the_latest_incident(aws, tmp_path, capsys):
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)
    account = session_in(ACCOUNT)
    iam = account.client("iam")
    iam.create_user(UserName="ana")
    key = iam.create_access_key(UserName="ana")["AccessKey"]["AccessKeyId"]
    ec2 = account.client("ec2", region_name=REGION)
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-1", MinCount=2, MaxCount=2)["Instances"]
    ]
    topic = account.client("sns").create_topic(Name="notify")["TopicArn"]
    settings = Settings(ec2limit=1, snstopic=topic, lockout=Lockout.USERS)
    tripped = run_guard(settings, Invocation(), ClientFactory(account), ACCOUNT)
    assert tripped.locked_users == ["ana"]

    status = main(
        ["restore", "--account", "genomics", "--config", str(fleet_file), "--restart-instances"]
    )

    assert status == 0
    out = capsys.readouterr().out
    assert f"restore undid incident {tripped.incident}" in out
    assert iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"] == []
    assert iam.list_access_keys(UserName="ana")["AccessKeyMetadata"][0]["Status"] == "Active"
    assert key in out
    states = {
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert states <= {"pending", "running"}


def test_unknown_account_is_named_with_the_known_ones(aws, tmp_path, capsys):
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)

    status = main(["restore", "--account", "genomix", "--config", str(fleet_file)])

    assert status == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "no account 'genomix' (give its name or id); did you mean genomics?" in line
    assert line.endswith("Accounts: payer (111111111111), genomics (222222222222)")


def test_the_mails_restore_command_works_from_an_empty_folder(aws, tmp_path, monkeypatch, capsys):
    """The trip mail names the account id, its Region and the incident: enough, with no
    accounts.yaml, to undo the incident (default operator role)."""
    account = session_in(ACCOUNT)
    iam = account.client("iam")
    iam.create_user(UserName="ana")
    iam.create_access_key(UserName="ana")
    account.client("ec2", region_name=REGION).run_instances(ImageId="ami-1", MinCount=2, MaxCount=2)
    topic = account.client("sns").create_topic(Name="notify")["TopicArn"]
    settings = Settings(ec2limit=1, snstopic=topic, lockout=Lockout.USERS)
    tripped = run_guard(settings, Invocation(), ClientFactory(account), ACCOUNT)
    monkeypatch.chdir(tmp_path)  # no accounts.yaml here

    status = main(
        [
            "restore",
            "--account",
            ACCOUNT,
            "--home-region",
            "us-east-1",
            "--incident",
            tripped.incident,
            "--restart-instances",
        ]
    )

    assert status == 0, capsys.readouterr().out
    assert f"{ACCOUNT}: restore undid incident {tripped.incident}" in capsys.readouterr().out
    assert iam.list_attached_user_policies(UserName="ana")["AttachedPolicies"] == []
    tags = iam.list_user_tags(UserName="ana")["Tags"]
    assert [t for t in tags if t["Key"].startswith("runawaytrain:")] == []
