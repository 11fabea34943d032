"""`python -m strict_aws [moto.server args]`: moto_server with the strict layer installed (the
drill's emulator).

Environment (server only): `STRICT_AWS_PENDING_SECONDS` (float, default 0): how long launched and
started instances stay `pending`; `STRICT_AWS_SCP_DENY_REGIONS` (comma separated): Regions whose
EC2 calls fail as if an SCP denied them.
"""

from __future__ import annotations

import os
import sys

from strict_aws.layer import strict_aws

PENDING_SECONDS_ENV = "STRICT_AWS_PENDING_SECONDS"
SCP_DENY_REGIONS_ENV = "STRICT_AWS_SCP_DENY_REGIONS"


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_server_main

    pending = float(os.environ.get(PENDING_SECONDS_ENV, "0") or "0")
    with strict_aws(pending_seconds=pending) as layer:
        for region in filter(None, os.environ.get(SCP_DENY_REGIONS_ENV, "").split(",")):
            layer.deny_region_by_scp(region.strip())
        moto_server_main(argv if argv is not None else sys.argv[1:])
