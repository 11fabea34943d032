"""Failures an operator can cause (no credentials, expired ones, a refused AssumeRole, a wrong
account or file, an optional part not installed) end the CLI with one line saying what to do and
exit status 2: no traceback.

The CLI runs as installed without its extras: `pip install .` brings neither moto nor the CDK
(pyproject.toml), so every command but `drill` and `simulate` must work without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from runawaytrain_cli import account_target, restore
from runawaytrain_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "accounts.yaml"
# What only the extras install (pyproject.toml: `drill`, `deploy`): unimportable in run_cli.
EXTRA_ONLY = ("moto", "aws_cdk", "constructs")


def without_extras(tmp_path: Path) -> Path:
    """A folder whose packages shadow the extras' with ones that fail to import, as a venv
    without them does (ModuleNotFoundError naming the module)."""
    shim = tmp_path / "no-extras"
    for name in EXTRA_ONLY:
        (shim / name).mkdir(parents=True, exist_ok=True)
        (shim / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError({f'No module named {name!r}'!r}, name={name!r})\n"
        )
    return shim


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI's entry point in a new process: no AWS credentials anywhere, no moto or CDK (the
    extras), and only the virtualenv on PATH (no Node). The endpoint is a closed loopback port:
    even credentials found by mistake could reach nothing. The code is this checkout's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    (cwd / "empty").write_text("")
    env.update(
        PATH=str(Path(sys.executable).parent),
        HOME=str(cwd),
        PYTHONPATH=os.pathsep.join([str(without_extras(cwd)), str(ROOT / "lambda"), str(ROOT)]),
        AWS_CONFIG_FILE=str(cwd / "empty"),
        AWS_SHARED_CREDENTIALS_FILE=str(cwd / "empty"),
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


def one_line(completed: subprocess.CompletedProcess[str], status: int = 2) -> str:
    assert completed.returncode == status, completed
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""
    [line] = completed.stderr.splitlines()
    return line


def test_the_extras_are_unimportable_where_the_cli_runs(tmp_path: Path) -> None:
    """What the tests below rely on: a missing extra's module, as pip leaves it."""
    completed = run_cli(["--help"], tmp_path)
    probe = subprocess.run(
        [sys.executable, "-c", "import moto"],
        env={"PYTHONPATH": str(without_extras(tmp_path))},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed
    assert "ModuleNotFoundError: No module named 'moto'" in probe.stderr


@pytest.mark.parametrize("args", [["--help"], ["restore", "--help"], ["status", "--help"]])
def test_help_works_without_the_extras(args: list[str], tmp_path: Path) -> None:
    completed = run_cli(args, tmp_path)
    assert completed.returncode == 0, completed
    assert completed.stdout.startswith("usage: runawaytrain")
    assert completed.stderr == ""


@pytest.mark.parametrize("command", ["check", "bootstrap-commands"])
def test_the_commands_that_read_only_the_fleet_file_work_without_the_extras(
    command: str, tmp_path: Path
) -> None:
    completed = run_cli([command, str(SAMPLE)], tmp_path)
    assert completed.returncode == 0, completed
    assert "222222222222" in completed.stdout


def test_the_command_list_names_the_drill_without_loading_it(tmp_path: Path) -> None:
    completed = run_cli(["--help"], tmp_path)
    assert "drill             deploy the fleet into a local AWS emulator" in completed.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--config", str(SAMPLE)],
        ["status", "--config", str(SAMPLE), "--account", "prod"],
        ["run", "--account", "prod", "--config", str(SAMPLE)],
        ["pass", "--account", "222222222222", "--home-region", "eu-west-1"],
        ["restore", "--account", "prod", "--config", str(SAMPLE), "--incident", "x"],
    ],
)
def test_every_aws_command_without_credentials_says_what_to_do(
    args: list[str], tmp_path: Path
) -> None:
    line = one_line(run_cli(args, tmp_path))
    assert line.startswith(f"runawaytrain {args[0]}: no AWS credentials found; this command needs ")
    assert "set AWS_PROFILE" in line
    assert "NoCredentialsError" not in line


def test_status_away_from_the_fleet_file_says_how_to_name_it(tmp_path: Path) -> None:
    line = one_line(run_cli(["status"], tmp_path))
    assert line.startswith("runawaytrain status: accounts.yaml: no such file in ")
    assert line.endswith("or give its path with --config FILE")


@pytest.mark.parametrize("command", ["drill", "simulate"])
def test_a_command_of_an_extra_not_installed_says_how_to_add_it(
    command: str, tmp_path: Path
) -> None:
    line = one_line(run_cli([command], tmp_path))
    assert line.startswith(
        f"runawaytrain {command}: this command needs the 'drill' extra (moto is not installed): "
        "add it with "
    )
    assert f"{sys.executable} -m pip install " in line
    assert "[drill]" in line


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
    assert line.startswith("runawaytrain restore: accounts.yaml: no such file in ")
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
    monkeypatch.setattr(restore, "check_credentials", lambda *args: "111111111111")
    assert main(["restore", "--account", "prod", "--config", str(SAMPLE)]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert captured.out == ""
    assert line.startswith("runawaytrain restore: ")
    assert expected in line
