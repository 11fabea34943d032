"""Failures an operator can cause (no credentials, expired ones, a refused AssumeRole, a wrong
account or file) end the CLI with one line saying what to do and exit status 1: no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from runawaytrain_cli import account_target
from runawaytrain_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "accounts.yaml"


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed CLI's entry point in a new process: no AWS credentials anywhere, and only
    the virtualenv on PATH (no Node). The endpoint is a closed loopback port: even credentials
    found by mistake could reach nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=str(Path(sys.executable).parent),
        HOME=str(cwd),
        AWS_CONFIG_FILE=str(cwd / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(cwd / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
    )
    code = "import sys; from runawaytrain_cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line(completed: subprocess.CompletedProcess[str]) -> str:
    assert completed.returncode == 1, completed
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    return line


def test_restore_without_credentials_says_which_ones_it_needs(tmp_path: Path) -> None:
    line = one_line(
        run_cli(["restore", "--account", "prod", "--config", str(SAMPLE)], cwd=tmp_path)
    )
    assert line.startswith("runawaytrain restore: no AWS credentials found;")
    assert "allowed to assume arn:aws:iam::222222222222:role/OrganizationAccountAccessRole" in line
    assert "AWS_PROFILE" in line


def test_spend_without_credentials_says_which_ones_it_needs(tmp_path: Path) -> None:
    line = one_line(
        run_cli(["spend", "--cur", "s3://payer-cur/cur/org", "--config", "none"], cwd=tmp_path)
    )
    assert line.startswith("runawaytrain spend: no AWS credentials found;")
    assert "s3:GetObject on payer-cur" in line


def test_restore_away_from_the_fleet_file_says_how_to_name_it(tmp_path: Path) -> None:
    line = one_line(run_cli(["restore", "--account", "prod"], cwd=tmp_path))
    assert line.startswith("accounts.yaml: no such file in ")
    assert "--config" in line


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "ExpiredToken",
            "The security token included in the request is expired",
            "the AWS credentials have expired (ExpiredToken on AssumeRole): renew them",
        ),
        (
            "AccessDenied",
            "User: arn:aws:iam::111111111111:user/ops is not authorized to perform: "
            "sts:AssumeRole on resource: arn:aws:iam::222222222222:role/"
            "OrganizationAccountAccessRole",
            "AWS refused (AccessDenied on AssumeRole: User: arn:aws:iam::111111111111:user/ops "
            "is not authorized",
        ),
        (
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            "AWS does not accept these credentials (InvalidClientTokenId on AssumeRole)",
        ),
    ],
)
def test_refused_assume_role_is_one_line(
    code: str,
    message: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """STS's answers, shaped as botocore raises them (STS API Reference, AssumeRole errors and
    "Common Errors")."""

    def refuse(*args: object) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, "AssumeRole")

    monkeypatch.setattr(account_target, "assume_role_session", refuse)
    assert main(["restore", "--account", "prod", "--config", str(SAMPLE)]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert captured.out == ""
    assert line.startswith("runawaytrain restore: ")
    assert expected in line
