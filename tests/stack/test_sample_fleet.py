"""app.py on the sample accounts.yaml: one guard stack per account, its fast-trip Region stacks,
the billing stack, and nothing at all for a malformed fleet file."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import app as entry_point
from runawaytrain_stack.fleet_model import DEFAULT_ENABLED_REGIONS, Fleet
from runawaytrain_stack.names import list_account_stacks
from tests.stack.conftest import REPO_ROOT, SAMPLE_FLEET_FILE
from tests.stack.test_config import MALFORMED


def read_stacks(outdir: Path) -> dict[str, str]:
    """Stack name -> aws://account/region from a synthesized cloud assembly."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        artifact["displayName"]: artifact["environment"]
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_app_run_directly_synthesizes_the_sample_fleet_into_cdk_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(SAMPLE_FLEET_FILE, tmp_path / "accounts.yaml")
    monkeypatch.setattr(entry_point, "ROOT", tmp_path)
    monkeypatch.delenv("CDK_OUTDIR", raising=False)
    monkeypatch.delenv("CDK_CONTEXT_JSON", raising=False)

    assert entry_point.main() == 0

    stacks = read_stacks(tmp_path / "cdk.out")
    homes = {name: env for name, env in stacks.items() if not name[-1].isdigit()}
    assert homes == {
        "runawaytrain-guard-payer": "aws://111111111111/us-east-1",
        "runawaytrain-guard-prod": "aws://222222222222/eu-west-1",
        "runawaytrain-guard-staging": "aws://333333333333/us-east-1",
        "runawaytrain-guard-sandbox": "aws://444444444444/us-east-1",
        "runawaytrain-billing": "aws://111111111111/us-east-1",
        "runawaytrain-payer": "aws://111111111111/us-east-1",
    }
    # Fast trip: payer, prod and sandbox watch the 17 default Regions (16 besides home), staging
    # its two `regions:` (one besides home).
    assert stacks["runawaytrain-guard-staging-eu-west-1"] == "aws://333333333333/eu-west-1"
    assert len(stacks) == 6 + 16 + 16 + 1 + 16


def expected_stacks(fleet: Fleet) -> dict[str, str]:
    stacks = {"runawaytrain-billing": f"aws://{fleet.payer.id}/us-east-1"}
    if fleet.sub_accounts:
        stacks["runawaytrain-payer"] = f"aws://{fleet.payer.id}/{fleet.payer.home_region}"
    for account in fleet.accounts:
        stacks[f"runawaytrain-guard-{account.name}"] = f"aws://{account.id}/{account.home_region}"
        for region in account.regions or DEFAULT_ENABLED_REGIONS:
            if region != account.home_region:
                stacks[f"runawaytrain-guard-{account.name}-{region}"] = (
                    f"aws://{account.id}/{region}"
                )
    return stacks


def test_sample_fleet_has_one_guard_stack_per_account_and_a_billing_stack(
    sample_app, sample_fleet
) -> None:
    app, stacks = sample_app
    assert read_stacks(Path(app.outdir)) == expected_stacks(sample_fleet)
    assert len(stacks.billing.alarms) == len(sample_fleet.budgeted_accounts) == 4


def test_stack_names_check_counts_are_the_stacks_synthesized(sample_app, sample_fleet) -> None:
    """`runawaytrain check` and `bootstrap-commands --account` name stacks without the CDK."""
    app, _ = sample_app
    named = [s for a in sample_fleet.accounts for s in list_account_stacks(sample_fleet, a)]
    assert len(named) == len(set(named)) == 55  # with the payer stack
    assert set(named) == set(read_stacks(Path(app.outdir)))


@pytest.mark.parametrize(
    "text", [case[1] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_app_synthesizes_nothing_for_a_malformed_fleet_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
) -> None:
    (tmp_path / "accounts.yaml").write_text(text)
    monkeypatch.setattr(entry_point, "ROOT", tmp_path)
    monkeypatch.delenv("CDK_OUTDIR", raising=False)

    assert entry_point.main() == 1

    assert capsys.readouterr().err.startswith(f"{tmp_path / 'accounts.yaml'}:")
    outdir = tmp_path / "cdk.out"
    assert not outdir.exists() or not any(outdir.iterdir())


def test_cdk_context_names_another_fleet_file(tmp_path: Path) -> None:
    """`cdk synth -c accounts=FILE` reaches app.py as CDK_CONTEXT_JSON (read by a fresh process)."""
    fleet_file = tmp_path / "other.yaml"
    fleet_file.write_text(MALFORMED[0][1])
    environment = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"accounts": str(fleet_file)}),
        "CDK_OUTDIR": str(tmp_path / "out"),
    }
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert f"{fleet_file}:10: accounts[0].ec2_limt: unknown key" in result.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()
