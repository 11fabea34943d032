"""Strict AWS: moto made to refuse and delay what real AWS refuses and delays.

moto is lenient where the guard must not be: instances are `running` the moment they are launched,
StopInstances stops anything, Auto Scaling and fleets never replace what was stopped or
terminated, and IAM lets anyone edit AWS-owned roles. This package patches moto's classes (class
level, installed on entry and removed on exit of `strict_aws()`), one module per AWS service, so
that a caller sees what it would see from real AWS. It serves three users:

- in-process tests: `with mock_aws(), strict_aws(pending_seconds=0) as strict: ...`;
- the drill's emulator: `python -m strict_aws -H 127.0.0.1 -p PORT` (server.py);
- benchmarks: pass `clock=` a virtual clock; instance states are evaluated lazily against it.

Each behaviour names its AWS source next to its code; README.md lists them by service, and what is
still missing. It imports no product code, and nothing under `lambda/` imports it: the guard runs
against real AWS, this is a test double.
"""

from strict_aws.active import StrictAWSError
from strict_aws.layer import StrictAWS, strict_aws
from strict_aws.server import PENDING_SECONDS_ENV, SCP_DENY_REGIONS_ENV, main
from strict_aws.sns import confirm_email

__all__ = [
    "PENDING_SECONDS_ENV",
    "SCP_DENY_REGIONS_ENV",
    "StrictAWS",
    "StrictAWSError",
    "confirm_email",
    "main",
    "strict_aws",
]
