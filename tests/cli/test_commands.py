"""One name for one thing: `./dev demo` is `runawaytrain drill`; the in-process single run is
`simulate`, and there is no second, different "demo"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from runawaytrain_cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_dev_demo_runs_the_drill_and_no_cli_command_is_called_demo() -> None:
    dev = (ROOT / "dev").read_text()
    demo_target = re.search(r"\n  demo\)\n(.*?);;", dev, re.DOTALL)
    assert demo_target is not None
    assert "exec runawaytrain drill" in demo_target.group(1)
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert "demo" not in commands
    assert {"drill", "simulate", "check", "restore"} <= set(commands)


def test_simulate_trips_the_simulated_account(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["verdict"], report["count"], len(report["stopped"])) == ("trip", 9, 9)
