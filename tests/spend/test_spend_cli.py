"""`runawaytrain spend`: the burn table from the watcher's own reader, against moto S3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from spend.cur import CurLocation

import runawaytrain_cli.spend as spend_cli
from runawaytrain_cli.main import main
from strict_aws.cur_deliveries import (
    BUCKET,
    LEGACY,
    NOW,
    PREFIX,
    REPORT,
    generate,
    gzip_csv,
    put_delivery,
)

FLEET = f"""\
defaults:
  notify: [team@example.com]
  ec2_limit: 1
cur: {{bucket: {BUCKET}, prefix: {PREFIX}, report_name: {REPORT}}}
payer:
  id: "111111111111"
  name: payer
accounts:
  - id: "333333333333"
    name: gpu
    max_spend_per_day_usd: 300
"""


@pytest.fixture
def at_now(monkeypatch: pytest.MonkeyPatch) -> None:
    real = spend_cli.read_burn
    monkeypatch.setattr(spend_cli, "read_burn", lambda s3, location, _: real(s3, location, NOW))


def test_prints_the_burn_table_with_limits_from_the_fleet(
    s3: Any, at_now: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_delivery(s3, LEGACY, "d1", [gzip_csv(LEGACY, generate(9, 2))])
    (tmp_path / "accounts.yaml").write_text(FLEET)
    assert main(["spend", "--config", str(tmp_path / "accounts.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"s3://{BUCKET}/{PREFIX}/{REPORT}: CUR delivery d1" in out
    assert "up to the newest data, 2026-11-26T09:00:00+00:00" in out
    (gpu,) = [line for line in out.splitlines() if line.startswith("333333333333")]
    assert gpu.split()[-2:] == ["300.00", "YES"]


def test_cur_option_reads_another_location_and_reports_degraded(
    s3: Any, at_now: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"s3://{BUCKET}/elsewhere/{REPORT}"
    assert main(["spend", "--cur", uri, "--config", str(tmp_path / "none.yaml")]) == 1
    assert "spend watcher degraded: " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("uri", "location"),
    [
        ("s3://b/p/q/r", CurLocation("b", "p/q", "r")),
        ("s3://b/r/", CurLocation("b", "", "r")),
    ],
)
def test_parses_cur_uri(uri: str, location: CurLocation) -> None:
    assert spend_cli.parse_cur_uri(uri) == location


@pytest.mark.parametrize("uri", ["b/p/r", "s3://b", "s3:///r"])
def test_rejects_a_cur_uri_without_bucket_or_report(uri: str) -> None:
    with pytest.raises(ValueError, match="expected s3://bucket/prefix/report"):
        spend_cli.parse_cur_uri(uri)
