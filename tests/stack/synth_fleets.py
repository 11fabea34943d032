"""Synthesize the three test fleets (the sample accounts.yaml, the stack tests' fleet and the
spend fleet) into one folder, so a refactor can show its templates are byte-identical:

    .venv/bin/python -m tests.stack.synth_fleets /tmp/before      # on the old commit
    .venv/bin/python -m tests.stack.synth_fleets /tmp/after       # on the new one
    diff -r /tmp/before /tmp/after

Only the templates are kept (`*.template.json`); asset folders are named by their hash, which
the templates already carry.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from runawaytrain_stack.config import load_fleet, parse_fleet
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from tests.stack.conftest import SAMPLE_FLEET_FILE, TEST_FLEET_YAML
from tests.stack.test_spend_stack import SPEND_FLEET_YAML


def synthesize_fleets(out: Path) -> list[Path]:
    fleets = {
        "sample-fleet": load_fleet(SAMPLE_FLEET_FILE),
        "test-fleet": parse_fleet(TEST_FLEET_YAML, "test-fleet.yaml"),
        "spend-fleet": parse_fleet(SPEND_FLEET_YAML, "spend-fleet.yaml"),
    }
    written: list[Path] = []
    for name, fleet in fleets.items():
        with tempfile.TemporaryDirectory() as scratch:
            app = new_app(outdir=scratch)
            add_fleet_stacks(app, fleet)
            app.synth()
            (out / name).mkdir(parents=True, exist_ok=True)
            for template in sorted(Path(scratch).glob("*.template.json")):
                written.append(Path(shutil.copy(template, out / name / template.name)))
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.stack.synth_fleets OUTDIR", file=sys.stderr)
        return 2
    written = synthesize_fleets(Path(argv[0]))
    print(f"{len(written)} templates written under {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
