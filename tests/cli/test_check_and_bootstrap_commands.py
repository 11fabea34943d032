"""`runawaytrain check` and `bootstrap-commands`, through argparse as main.py wires them."""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from runawaytrain_cli import bootstrap_commands, check
from runawaytrain_cli.main import main
from tests.stack.conftest import SAMPLE_FLEET_FILE


def run(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="runawaytrain")
    commands = parser.add_subparsers(dest="command", required=True)
    check.register(commands)
    bootstrap_commands.register(commands)
    args = parser.parse_args(argv)
    return args.func(args)


def words(text: str) -> list[str]:
    return text.split()


def test_check_prints_the_fleet_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", str(SAMPLE_FLEET_FILE)]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = (
        f"{SAMPLE_FLEET_FILE}: 4 accounts (payer 111111111111), 4 with a billing alarm, "
        "55 stacks to deploy"
    )
    assert lines[0] == summary
    header = (
        "account name region limit weighted limits schedule mode lockout fast trip stacks "
        "budget notify"
    )
    assert words(lines[1]) == words(header)
    assert set(lines[2]) == {"-", " "}
    # the payer: its guard, 16 fast-trip Region stacks, the billing and the payer stack
    payer = (
        "111111111111 payer us-east-1 2 - 5 min enforce none 17 Regions 19 $200 "
        "billing@example.com, ops@example.com"
    )
    assert words(lines[3]) == words(payer)
    prod = "222222222222 prod eu-west-1 40 - 5 min enforce users 17 Regions 17 $5,000"
    assert words(lines[4])[:13] == words(prod)
    staging = (
        "333333333333 staging us-east-1 10 8 GPUs 5 min enforce none eu-west-1, us-east-1 2 $800"
    )
    assert words(lines[5])[:14] == words(staging)
    sandbox = "444444444444 sandbox us-east-1 4 - 10 min dry-run users+roles 17 Regions 17 $100"
    assert words(lines[6])[:13] == words(sandbox)
    assert len(lines) == 7


def test_check_defaults_to_accounts_yaml_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "accounts.yaml").write_text(
        'payer: {id: "111111111111", name: solo, notify: [a@example.com], ec2_limit: 3}\n'
    )
    monkeypatch.chdir(tmp_path)
    assert run(["check"]) == 0
    out = capsys.readouterr().out
    assert "accounts.yaml: 1 account (payer 111111111111), 0 with a billing alarm, 17 stacks" in out
    solo = "111111111111 solo us-east-1 3 - 5 min enforce none 17 Regions 17 - a@example.com"
    assert words(out.splitlines()[3]) == words(solo)


def test_check_lists_every_problem_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text('payer:\n  id: "1"\n  name: Payer\n  notify: [a@example.com]\n  ec2_limit: 1\n')
    assert run(["check", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f'{path}:2: payer.id: expected a quoted 12-digit AWS account id, e.g. "111111111111", '
        "found text '1'",
        f"{path}:3: payer.name: expected lower-case letters, digits and inner hyphens, at most 40 "
        "characters, e.g. prod-eu, found text 'Payer'",
    ]


def test_bootstrap_commands_trust_the_payer_from_every_sub_account(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["bootstrap-commands", str(SAMPLE_FLEET_FILE), "--profile-format", "{name}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    bootstraps = [line for line in lines if line.startswith("npx cdk bootstrap ")]
    assert bootstraps[0] == (
        "npx cdk bootstrap aws://111111111111/us-east-1 "
        # runawaytrain's own qualifier and toolkit stack: no other CDK app runs as its roles
        "--qualifier runaway --toolkit-stack-name RunawaytrainToolkit "
        "--cloudformation-execution-policies "
        "arn:aws:iam::111111111111:policy/runawaytrain-cfn-execution --profile payer"
    )
    assert bootstraps[1] == (
        "npx cdk bootstrap aws://222222222222/eu-west-1 --trust 111111111111 "
        "--qualifier runaway --toolkit-stack-name RunawaytrainToolkit "
        "--cloudformation-execution-policies "
        "arn:aws:iam::222222222222:policy/runawaytrain-cfn-execution --profile prod"
    )
    assert len(bootstraps) == 4
    assert sum(line.startswith("aws iam create-policy ") for line in lines) == 4
    assert lines[-1] == "npx cdk deploy --all --concurrency 20"


def test_bootstrap_commands_for_one_account_deploy_only_its_stacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["bootstrap-commands", str(SAMPLE_FLEET_FILE), "--account", "staging"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# runawaytrain: prepare 1 account, then deploy")
    bootstraps = [line for line in lines if line.startswith("npx cdk bootstrap ")]
    assert [words(line)[3] for line in bootstraps] == ["aws://333333333333/us-east-1"]
    assert lines[-3] == (
        "npx cdk deploy --concurrency 20 runawaytrain-guard-staging "
        "runawaytrain-guard-staging-eu-west-1"
    )
    assert lines[-1] == "npx cdk deploy --exclusively runawaytrain-billing"  # it has a budget


def test_bootstrap_commands_for_an_unknown_account_say_which_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bootstrap-commands", str(SAMPLE_FLEET_FILE), "--account", "stagin"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("runawaytrain bootstrap-commands: ")
    assert "no account 'stagin' (give its name or id); did you mean staging?" in line


def test_bootstrap_policy_prints_the_execution_policy_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["bootstrap-commands", "--policy"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert policy["Version"] == "2012-10-17"
    assert {statement["Sid"] for statement in policy["Statement"]} >= {"Functions", "Roles"}
