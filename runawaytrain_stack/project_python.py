"""cdk.json runs `python3 app.py` with whatever `python3` the shell finds: use the project's.

`./dev test` and `./dev demo` install runawaytrain's dependencies (aws-cdk-lib, the guard package,
...) into `.venv` beside app.py; a fresh shell's `python3` has none of them, and `npx cdk list`
would fail with `No module named 'guard'`. So app.py re-executes itself with `.venv/bin/python`
when that exists, and otherwise, if the running python lacks the dependencies, says in one line
how to create it. Only the standard library here: it runs before the dependencies are known.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REQUIRED_MODULES = ("aws_cdk", "guard", "pydantic", "yaml")


def use_project_python(root: Path) -> None:
    """Re-exec under `root/.venv/bin/python` unless already there; exit 1 with the fix when the
    dependencies are nowhere."""
    venv = root / ".venv"
    venv_python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    if venv_python.exists():
        os.execv(venv_python, [str(venv_python), *sys.argv])
    missing = [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(
            f"runawaytrain: {sys.executable} lacks {', '.join(missing)} and {venv} does not "
            f"exist: run ./dev test (or ./dev demo) once in {root} to create it"
        )
