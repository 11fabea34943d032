"""The import contracts in pyproject.toml bite: an upward import or a circle added to a copy of
the code fails `lint-imports` with the contract's name; the code as it is passes.

The copy holds only the Python packages and pyproject.toml (import-linter reads files, it imports
nothing of the project), so each case takes a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("tests", "bench", "runawaytrain_cli", "runawaytrain_stack", "strict_aws", "lambda")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_code(to: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(
            REPO / name, to / name, ignore=shutil.ignore_patterns("__pycache__", "node_modules")
        )
    shutil.copy(REPO / "pyproject.toml", to / "pyproject.toml")
    return to


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root / 'lambda'}{os.pathsep}{root}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _add_import(module: Path, line: str) -> None:
    text = module.read_text()
    anchor = "from __future__ import annotations\n"
    assert anchor in text, f"{module} has no anchor line for the injected import"
    module.write_text(text.replace(anchor, anchor + line + "\n", 1))


def test_the_code_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint_imports(_copy_code(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # The guard reaching up into the CDK app (deploy-time code) at run time.
        (
            "lambda/guard/decision.py",
            "import runawaytrain_stack.names",
            "The Lambdas import nothing of the repository outside lambda/",
        ),
        # The CDK app importing the operator CLI: upward.
        (
            "runawaytrain_stack/names.py",
            "import runawaytrain_cli.account_target",
            "Layers: tests > benches > operator CLI > CDK app > payer Lambdas > guard",
        ),
        # The emulator leaning on product code.
        (
            "strict_aws/sts.py",
            "import guard.settings",
            "The strict-AWS emulator imports no product code",
        ),
        # Product code importing the emulator.
        (
            "runawaytrain_stack/scp.py",
            "import strict_aws.layer",
            "Only the drill and simulate run the emulator: no other product code imports it",
        ),
        # The circle this issue removed: names -> config -> scp -> names.
        (
            "runawaytrain_stack/names.py",
            "import runawaytrain_stack.config",
            "No import circles between sibling modules",
        ),
        # A circle inside the emulator: a service module importing the layer that installs it.
        (
            "strict_aws/sts.py",
            "import strict_aws.layer",
            "No import circles between sibling modules",
        ),
    ],
)
def test_an_added_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    root = _copy_code(tmp_path)
    _add_import(root / module, line)
    result = _lint_imports(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout, result.stdout
