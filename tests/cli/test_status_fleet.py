"""`runawaytrain status` over a fleet: accounts read at once (bounded), printed in the fleet's
order; an account the operator cannot enter is its own line and the exit status, not the end of
the others; `--json` and `--numbers` give what the guard recorded, as the dashboard will.

The operator is an IAM user of the payer, so the strict-AWS layer (strict_aws/sts.py) refuses
AssumeRole into an account without the operator role, as AWS does.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
import pytest

from guard.clients import ClientFactory, assume_role_session
from guard.handler import run_guard
from guard.invocation import Invocation
from guard.last_run import PARAMETER as LAST_RUN
from guard.settings import Settings
from runawaytrain_cli.main import main

PAYER = "111111111111"
MEMBERS = ("222222222222", "333333333333", "444444444444", "555555555555", "666666666666")
NO_ROLE = "444444444444"  # nobody created the operator role there
HOME = "us-east-1"
ROLE = "OrganizationAccountAccessRole"
TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "GuardFunctionName": {"Value": "runawaytrain-guard-fn"},
        "NotifyTopicArn": {"Value": {"Ref": "Topic"}},
    },
}


def fleet_yaml(members: tuple[str, ...], extra: str = "") -> str:
    lines = [f'payer: {{id: "{PAYER}", name: payer, notify: [ops@example.com], ec2_limit: 2}}']
    lines.append("accounts:")
    for account in members:
        n = MEMBERS.index(account)
        lines.append(
            f'  - {{id: "{account}", name: team{n}, notify: [ops@example.com], ec2_limit: {n + 1},'
            f" fast_trip: false, quarantine: false{extra}}}"
        )
    return "\n".join(lines) + "\n"


def admin_in(account: str) -> boto3.session.Session:
    """moto's default keys stand for an administrator (strict_aws/sts.py): set-up only."""
    return assume_role_session(f"arn:aws:iam::{account}:role/{ROLE}", HOME, "setup")


def deploy_guard(account: str) -> boto3.session.Session:
    """The operator role trusting the payer, and the guard stack's parts status reads."""
    session = admin_in(account)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{PAYER}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    session.client("iam").create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    session.client("cloudformation").create_stack(
        StackName=f"runawaytrain-guard-{name_of(account)}", TemplateBody=json.dumps(TEMPLATE)
    )
    return session


def name_of(account: str) -> str:
    return f"team{MEMBERS.index(account)}"


def record_last_run(session: boto3.session.Session, count: int, limit: int) -> None:
    record = {
        "time": (datetime.now(UTC) - timedelta(minutes=3)).isoformat(timespec="seconds"),
        "verdict": "ok",
        "count": count,
        "limit": limit,
        "degraded": ["ap-south-1: Throttling: rate exceeded"],
    }
    session.client("ssm").put_parameter(Name=LAST_RUN, Value=json.dumps(record), Type="String")


def become_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on the CLI runs with the keys of an IAM user of the payer."""
    iam = admin_in(PAYER).client("iam")
    iam.create_user(UserName="operator")
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it holds the keys it read first


class InFlight:
    """botocore hooks on every session made from now on: the accounts with a call in flight at
    once (told apart by their credentials), at most."""

    def __init__(self) -> None:
        self.accounts: dict[str, int] = {}
        self.peak = 0
        self._lock = threading.Lock()

    def start(self, request_signer: Any, context: dict[str, Any], **_: Any) -> None:
        key = context["in_flight_key"] = request_signer._credentials.access_key
        with self._lock:
            self.accounts[key] = self.accounts.get(key, 0) + 1
            self.peak = max(self.peak, len(self.accounts))
        time.sleep(0.05)  # a network's wait, so that reads at once do overlap

    def end(self, context: dict[str, Any], **_: Any) -> None:
        key = context["in_flight_key"]
        with self._lock:
            self.accounts[key] -= 1
            if not self.accounts[key]:
                del self.accounts[key]


@pytest.fixture
def fleet(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every member but NO_ROLE deployed, each with a last run of its own count."""
    for n, account in enumerate(MEMBERS):
        if account != NO_ROLE:
            record_last_run(deploy_guard(account), count=10 + n, limit=n + 1)
    become_the_operator(monkeypatch)
    path = tmp_path / "accounts.yaml"
    path.write_text(fleet_yaml(MEMBERS))
    return path


def test_accounts_are_read_at_once_within_the_bound_and_printed_in_the_fleet_order(
    fleet: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = InFlight()
    hooks = [("before-call", watch.start), ("after-call", watch.end)]
    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", botocore.handlers.BUILTIN_HANDLERS + hooks
    )

    code = main(["status", "--config", str(fleet), "--concurrency", "2"])

    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split()[0] for row in rows] == [PAYER, *MEMBERS]
    assert watch.peak == 2  # more than one account at a time, never more than asked
    assert code == 1  # NO_ROLE could not be read


def test_an_account_without_the_role_is_its_own_line_and_the_others_are_read(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["status", "--config", str(fleet)])

    rows = {row.split()[0]: row for row in capsys.readouterr().out.splitlines()[2:]}
    assert code == 1
    assert (
        f"ERROR assuming {ROLE}: AccessDenied: User: arn:aws:iam::{PAYER}:user/operator "
        in (rows[NO_ROLE])
    )
    for n, account in enumerate(MEMBERS):
        if account != NO_ROLE:
            assert f" ok {10 + n}/{n + 1} (1 region(s) not counted)" in rows[account]
    assert "NOT DEPLOYED" in rows[PAYER]  # the caller's own account, read with its own keys


def test_every_account_read_is_exit_status_0(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readable = tuple(a for a in MEMBERS if a != NO_ROLE)
    fleet.write_text(fleet_yaml(readable))

    code = main(["status", "--config", str(fleet), "--json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["complete"] is True
    assert [a["account"] for a in document["accounts"]] == [PAYER, *readable]


def test_json_gives_each_account_its_cells_numbers_and_what_failed(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["status", "--config", str(fleet), "--json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 1 and document["complete"] is False
    by_id = {a["account"]: a for a in document["accounts"]}
    assert list(by_id) == [PAYER, *MEMBERS]
    refused = by_id[NO_ROLE]
    assert refused["read"] is False and refused["numbers"] is None
    assert refused["errors"]["stack"].startswith(f"ERROR assuming {ROLE}: AccessDenied")
    member = by_id["222222222222"]
    assert member["read"] is True and member["errors"] == {}
    assert member["status"]["stack"] == "CREATE_COMPLETE"
    assert member["status"]["open incident"] == "none"
    numbers = member["numbers"]
    assert set(numbers) == {
        "Instances",
        "InstancesLimit",
        "Vcpus",
        "VcpusLimit",
        "Gpus",
        "GpusLimit",
        "UsdPerHour",
        "UsdPerHourLimit",
        "LastRunAgeSeconds",
        "Verdict",
        "DegradedRegions",
        "DegradedRegionsTruncated",
        "OpenIncident",
    }
    assert (numbers["Instances"], numbers["InstancesLimit"]) == (10, 1)
    assert numbers["DegradedRegions"] == ["ap-south-1"]
    assert 180 <= numbers["LastRunAgeSeconds"] < 600
    assert by_id[PAYER]["status"]["stack"] == "NOT DEPLOYED" and by_id[PAYER]["numbers"] is None


def test_the_numbers_are_those_the_guard_recorded_in_its_run(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = MEMBERS[0]
    session = deploy_guard(account)
    session.client("ec2").run_instances(ImageId="ami-1", MinCount=3, MaxCount=3)
    topic = session.client("sns").create_topic(Name="notify")["TopicArn"]
    settings = Settings(ec2limit=1, snstopic=topic)
    report = run_guard(settings, Invocation(), ClientFactory(session), account)
    assert report.verdict == "trip" and report.incident
    become_the_operator(monkeypatch)
    path = tmp_path / "accounts.yaml"
    path.write_text(fleet_yaml((account,), extra=", max_vcpus: 8, max_usd_per_hour: 2.5"))
    capsys.readouterr()  # the guard's own log lines

    code = main(["status", "--config", str(path), "--account", name_of(account), "--json"])

    numbers = json.loads(capsys.readouterr().out)["accounts"][0]["numbers"]
    assert code == 0
    assert numbers["Instances"] == report.count == 3
    assert numbers["InstancesLimit"] == report.limit == 1
    assert numbers["Verdict"] == report.verdict
    assert numbers["OpenIncident"] == report.incident
    assert numbers["DegradedRegions"] == sorted(report.region_errors)
    assert 0 <= numbers["LastRunAgeSeconds"] < 600
    # The guard records no weighed totals (lambda/guard/last_run.py): accounts.yaml's limits.
    assert (numbers["VcpusLimit"], numbers["GpusLimit"], numbers["UsdPerHourLimit"]) == (
        8,
        None,
        2.5,
    )

    main(["status", "--config", str(path), "--numbers"])

    table = capsys.readouterr().out.splitlines()
    row = next(line for line in table if line.startswith(account))
    assert row.split()[2:5] == ["3/1", "-/8", "-"]
    assert report.incident in row


def test_the_fleet_reads_each_region_s_fast_trip_stack_when_asked_one_account_always(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = MEMBERS[0]
    deploy_guard(account)
    become_the_operator(monkeypatch)
    path = tmp_path / "accounts.yaml"
    path.write_text(fleet_yaml((account,)).replace("fast_trip: false", "regions: [eu-west-1]"))

    main(["status", "--config", str(path)])
    skipped = capsys.readouterr().out
    main(["status", "--config", str(path), "--fast-trip"])
    read = capsys.readouterr().out
    main(["status", "--config", str(path), "--account", name_of(account)])
    detail = capsys.readouterr().out

    assert "1 regions (not read: --fast-trip)" in skipped
    assert "0/1 regions, MISSING eu-west-1" in read
    assert "0/1 regions, MISSING eu-west-1" in detail
