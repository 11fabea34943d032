"""After the README's set-up, `npx cdk ...` works in a fresh shell (no .venv/bin on PATH) and no
Node end-of-life banner reaches the user from the CDK or the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JSII_VARIABLE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"


def fresh_shell_environment() -> dict[str, str]:
    """A new login's environment: no virtualenv on PATH, no variable the project's scripts set."""
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    env = {k: v for k, v in os.environ.items() if k not in (JSII_VARIABLE, "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(path)
    return env


def test_cdk_list_works_without_the_virtualenv_on_path(tmp_path: Path) -> None:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx not on PATH (Node is needed only for synth and deploy)")
    env = fresh_shell_environment()
    completed = subprocess.run(
        [npx, "cdk", "list", "--no-notices", "--output", str(tmp_path / "cdk.out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "runawaytrain-guard-prod" in completed.stdout.split()
    assert "end-of-life" not in output and "b'" not in output, output


def test_app_without_any_virtualenv_says_how_to_create_it(tmp_path: Path) -> None:
    """A python without the dependencies, and no .venv: one line naming the fix, exit 1."""
    shutil.copy(ROOT / "app.py", tmp_path / "app.py")
    shutil.copytree(ROOT / "runawaytrain_stack", tmp_path / "runawaytrain_stack")
    bare_python = shutil.which("python3", path="/usr/bin:/bin")
    if bare_python is None:
        pytest.skip("no system python3 to play the fresh shell's python")
    probe = subprocess.run([bare_python, "-c", "import aws_cdk"], capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("the system python3 has aws_cdk installed")
    completed = subprocess.run(
        [bare_python, "app.py"],
        cwd=tmp_path,
        env=fresh_shell_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    [line] = completed.stderr.splitlines()
    assert "run ./dev test (or ./dev demo) once" in line
    assert "Traceback" not in completed.stderr


def test_loading_the_cdk_prints_no_node_banner() -> None:
    """Whatever imports the CDK through this project (app.py, the drill) starts Node quietly."""
    completed = subprocess.run(
        [sys.executable, "-c", "import runawaytrain_stack.fleet"],
        cwd=ROOT,
        env=fresh_shell_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout + completed.stderr == ""


def test_the_operator_cli_loads_without_the_cdk() -> None:
    """restore, spend, check: no Node needed, so the CLI must not import aws_cdk to start."""
    code = (
        "import sys, runawaytrain_cli.main\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii'))\n"
        "print(loaded[:3])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout.strip() == "[]"
