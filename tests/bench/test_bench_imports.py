"""The benchmarks import each other one way only, and each still starts as a script.

halt.py once imported halt_mix.py (for `--mix`) while halt_mix.py imported halt.py's shared
pieces; those now live in bench/emulated_aws.py. The import graph is read from the source
(imports inside functions too), and the scripts are only asked for --help, so nothing here runs
a benchmark.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def module_name(path: Path) -> str:
    parts = path.relative_to(BENCH.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def bench_imports(path: Path) -> set[str]:
    """The bench modules `path` imports, wherever in the file the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("bench.")}


def test_bench_modules_import_each_other_without_a_cycle() -> None:
    paths = {module_name(path): path for path in sorted(BENCH.rglob("*.py"))}
    graph = {name: bench_imports(path) & paths.keys() for name, path in paths.items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name not in done:
            for other in sorted(graph[name]):
                visit(other, (*path, name))
            done.add(name)

    for name in graph:
        visit(name, ())


def test_the_shared_emulation_imports_no_other_bench_module() -> None:
    assert bench_imports(BENCH / "emulated_aws.py") == set()


@pytest.mark.parametrize("script", ["fast_trip.py", "halt.py", "halt_mix.py", "weighted.py"])
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
