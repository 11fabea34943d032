"""Cloud Custodian's `stop` on the same emulated account: bench/halt.py's second baseline.

What a peer does with the same job: one c7n policy (`resource: aws.ec2`, filter State.Name
running, action `stop`) run in every enabled Region one after another, as `custodian run
--region all` does, in-process against the same moto account and with the same latency hook on
every call. c7n's `stop` describes the Region's instances, then stops them in batches (its
Stop action; cloud-custodian c7n/resources/ec2.py).

c7n is a dev-only tool of the benchmarks, not a dependency of the project: it pins boto3,
urllib3 and cryptography to exact versions the rest of the tree does not use, so it is installed
without them (the versions here satisfy what it imports):

    .venv/bin/pip install --no-deps c7n==0.9.53 tabulate
"""

from __future__ import annotations

import tempfile
from typing import Any

import boto3

from bench.emulated_aws import LatencyInjector

C7N_INSTALL = ".venv/bin/pip install --no-deps c7n==0.9.53 tabulate"
STOP_ALL = {
    "name": "runawaytrain-bench-stop-all",
    "resource": "aws.ec2",
    "filters": [{"State.Name": "running"}],
    "actions": ["stop"],
}


def custodian_available() -> bool:
    try:
        import c7n.policy  # noqa: F401
    except ImportError:
        return False
    return True


class _Sessions:
    """c7n's session factory interface (`factory(assume=..., region=...)`): sessions in the
    policy's Region that carry the bench's latency hook."""

    def __init__(self, injector: LatencyInjector, region: str) -> None:
        self.injector = injector
        self.region = region

    def __call__(self, assume: bool = True, region: str | None = None) -> Any:
        session = boto3.session.Session(region_name=region or self.region)
        session.events.register("before-call", self.injector)
        return session


def stop_with_custodian(regions: list[str], injector: LatencyInjector, account: str) -> int:
    """Run the policy in each Region in turn; returns how many instances it stopped."""
    from c7n.config import Config
    from c7n.policy import Policy
    from c7n.resources import load_resources
    from c7n.utils import reset_session_cache

    load_resources(["aws.ec2"])
    reset_session_cache()  # c7n keeps sessions per thread for 45 min: this run's hook, this account
    stopped = 0
    with tempfile.TemporaryDirectory() as output:
        for region in regions:
            config = Config.empty(region=region, output_dir=output, account_id=account)
            policy = Policy(STOP_ALL, config, session_factory=_Sessions(injector, region))
            stopped += len(policy())
    return stopped
