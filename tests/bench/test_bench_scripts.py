"""Each benchmark still starts as a script, from any folder (only asked for --help, so nothing
here runs a benchmark). That bench modules import each other one way only is import-linter's
"no import circles" contract (pyproject.toml), run by ./dev test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize(
    "script",
    [
        "fast_trip.py",
        "halt.py",
        "halt_mix.py",
        "halt_services.py",
        "services.py",
        "synth.py",
        "weighted.py",
    ],
)
def test_each_bench_starts_as_a_script_from_any_directory(script: str, tmp_path: Path) -> None:
    """Run as `python bench/<script>`, without PYTHONPATH: the script finds bench/ and lambda/."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
