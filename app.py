"""CDK entry point: accounts.yaml -> one guard stack per account + the payer's billing stack.

`cdk synth -c accounts=other.yaml` reads another fleet file. A file with any problem prints
every problem and synthesizes nothing. cdk.json runs it with any `python3`; it continues under
the project's `.venv/bin/python` (project_python.py).
"""

import os
import sys
from pathlib import Path

from runawaytrain_stack.project_python import use_project_python

ROOT = Path(__file__).resolve().parent
use_project_python(ROOT)  # cdk.json's `python3` may be any python: continue in .venv's

from runawaytrain_stack.config import ConfigError, load_fleet  # noqa: E402
from runawaytrain_stack.fleet import add_fleet_stacks, new_app  # noqa: E402


def main() -> int:
    # The CDK CLI sets CDK_OUTDIR; run directly, the app writes to cdk.out next to this file.
    app = new_app(outdir=os.environ.get("CDK_OUTDIR") or str(ROOT / "cdk.out"))
    try:
        fleet = load_fleet(Path(app.node.try_get_context("accounts") or ROOT / "accounts.yaml"))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    add_fleet_stacks(app, fleet)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
