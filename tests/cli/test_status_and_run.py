"""`runawaytrain status` reads every guard's state; `runawaytrain run` invokes one guard once."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
from botocore.awsrequest import AWSResponse

import guard.handler
from guard.clients import assume_role_session
from guard.last_run import PARAMETER as LAST_RUN
from guard.open_incident import PARAMETER as OPEN_INCIDENT
from runawaytrain_cli.main import main
from strict_aws import confirm_email
from tests.guard.conftest import FakeContext

ACCOUNT = "222222222222"
HOME = "us-east-1"
FLEET = f"""
payer: {{id: "111111111111", name: payer, notify: [ops@example.com], ec2_limit: 2}}
accounts:
  - {{id: "{ACCOUNT}", name: genomics, notify: [ops@example.com], ec2_limit: 1,
     home_region: {HOME}, fast_trip: false, quarantine: false}}
"""
TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "GuardFunctionName": {"Value": "runawaytrain-guard-fn"},
        "NotifyTopicArn": {"Value": {"Ref": "Topic"}},
    },
}


def session_in(account: str) -> boto3.session.Session:
    return assume_role_session(
        f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", HOME, "setup"
    )


def deploy_guard(account: boto3.session.Session) -> str:
    """The parts of a deployed guard that status reads; returns the topic ARN."""
    cloudformation = account.client("cloudformation")
    cloudformation.create_stack(
        StackName="runawaytrain-guard-genomics", TemplateBody=json.dumps(TEMPLATE)
    )
    outputs = cloudformation.describe_stacks(StackName="runawaytrain-guard-genomics")["Stacks"][0]
    topic = {o["OutputKey"]: o["OutputValue"] for o in outputs["Outputs"]}["NotifyTopicArn"]
    sns = account.client("sns")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="owner@example.com")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="nobody-clicked@example.com")
    confirm_email("owner@example.com")
    account.client("scheduler").create_schedule(
        Name="runawaytrain-guard",
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": f"arn:aws:lambda:{HOME}:{ACCOUNT}:function:fn",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
        },
    )
    return topic


def test_status_shows_pending_subscriptions_an_overdue_guard_and_the_open_incident(
    aws, tmp_path, capsys
):
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)
    account = session_in(ACCOUNT)
    deploy_guard(account)
    ssm = account.client("ssm")
    now = datetime.now(UTC)
    last = {
        "time": (now - timedelta(minutes=12)).isoformat(),
        "verdict": "trip",
        "count": 3,
        "limit": 1,
    }
    ssm.put_parameter(Name=LAST_RUN, Value=json.dumps(last), Type="String")
    incident = {"incident": "20261126T030000Z-abc123", "last_trip": now.isoformat()}
    ssm.put_parameter(Name=OPEN_INCIDENT, Value=json.dumps(incident), Type="String")

    code = main(["status", "--config", str(fleet_file), "--account", "genomics"])

    out = capsys.readouterr().out
    assert code == 0
    assert "stack:" in out and "CREATE_COMPLETE" in out
    assert "trip 3/1" in out
    assert "OVERDUE (12 min ago; rule: 2 x 5 min)" in out
    assert "20261126T030000Z-abc123" in out
    assert "1 confirmed, 1 PENDING (nobody-clicked@example.com)" in out
    assert "enabled rate(5 minutes)" in out


def test_status_of_the_fleet_is_one_row_per_account_and_says_what_is_missing(aws, tmp_path, capsys):
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)
    deploy_guard(session_in(ACCOUNT))

    code = main(["status", "--config", str(fleet_file)])

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    payer_row = next(line for line in out if line.startswith("111111111111"))
    member_row = next(line for line in out if line.startswith(ACCOUNT))
    assert "NOT DEPLOYED" in payer_row
    assert "never recorded" in member_row and "OVERDUE (no run recorded" in member_row


def test_an_aws_failure_is_one_line_in_the_row_not_a_traceback(aws, tmp_path, capsys, monkeypatch):
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)
    deploy_guard(session_in(ACCOUNT))

    def refuse(*_args, **_kwargs):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")

    monkeypatch.setattr("runawaytrain_cli.status_sessions.FleetSessions.open_account", refuse)
    code = main(["status", "--config", str(fleet_file), "--account", ACCOUNT])

    out = capsys.readouterr().out
    assert code == 1
    assert "ERROR assuming OrganizationAccountAccessRole: AccessDenied: no" in out


def test_run_dry_run_invokes_the_guard_once_and_prints_what_would_trip(
    aws, tmp_path, capsys, monkeypatch
):
    """moto runs no Lambda code: a stand-in for Invoke runs the guard's handler in this account
    with the payload the CLI sent, as Lambda would."""
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(FLEET)
    account = session_in(ACCOUNT)
    topic = deploy_guard(account)
    ids = [
        i["InstanceId"]
        for i in account.client("ec2").run_instances(ImageId="ami-1", MinCount=3, MaxCount=3)[
            "Instances"
        ]
    ]
    for name, value in {"ec2limit": "1", "snstopic": topic, "mode": "enforce"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(guard.handler, "_SHARED", [guard.handler.ClientFactory(account)])
    sent = []

    def invoke_guard(params, **_):
        sent.append(json.loads(params["body"]))
        result = guard.handler.handler(
            sent[-1],
            FakeContext(invoked_function_arn=f"arn:aws:lambda:{HOME}:{ACCOUNT}:function:fn"),
        )
        body = json.dumps(result).encode()
        http = AWSResponse("", 200, {}, None)
        return http, {"StatusCode": 200, "Payload": io.BytesIO(body)}

    monkeypatch.setattr(
        "runawaytrain_cli.account_target.assume_role_session",
        lambda *a: _with_invoke(account, invoke_guard),
    )

    code = main(["run", "--config", str(fleet_file), "--account", "genomics", "--dry-run"])

    out = capsys.readouterr().out
    assert code == 0
    assert sent == [{"action": "proceed", "dry_run": True}]
    assert "dry-run, would stop 3" in out
    states = account.client("ec2").describe_instances(InstanceIds=ids)["Reservations"][0][
        "Instances"
    ]
    assert {i["State"]["Name"] for i in states} == {"running"}  # nothing stopped


def _with_invoke(account, invoke_guard):
    """`account`, whose Lambda clients answer Invoke with `invoke_guard`."""

    class Session(boto3.session.Session):
        def client(self, service, *args, **kwargs):
            made = account.client(service, *args, **kwargs)
            if service == "lambda":
                made.meta.events.register("before-call.lambda.Invoke", invoke_guard)
            return made

    return Session()
