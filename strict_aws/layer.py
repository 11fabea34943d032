"""The strict layer's state and its install: one `StrictAWS` owns moto's patched classes at a time.

`strict_aws()` installs every service's patches on entry and removes them on exit; the patched
methods read the layer's state (clock, pending time, SCP-denied regions, price catalog) through
`active.current()`. What each service makes strict, with its sources, is in that service's module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from strict_aws import (
    auto_scaling,
    batch,
    bedrock_runtime,
    cloudformation,
    cloudwatch,
    ec2_fleets,
    ec2_images,
    ec2_instances,
    ec2_reads,
    ec2_tags,
    ec2_termination,
    ecs,
    eks,
    events,
    gamelift,
    iam,
    iam_accounts,
    iam_prefixes,
    lambda_functions,
    lightsail,
    nat_gateways,
    opensearch,
    organizations,
    pricing,
    rds,
    redshift,
    sagemaker,
    sagemaker_apps,
    sagemaker_endpoints,
    sagemaker_jobs,
    scp_regions,
    signatures,
    sns,
    ssm,
    stacksets,
    sts,
    warm_pools,
)
from strict_aws.active import activate, deactivate
from strict_aws.patches import Patches
from strict_aws.pricing import PriceList

# Every service module, installed in this order.
SERVICES = (
    ec2_images,
    ec2_instances,
    ec2_tags,
    ec2_termination,
    ec2_fleets,
    ec2_reads,
    auto_scaling,
    warm_pools,  # after auto_scaling: chains its resume_processes
    scp_regions,
    pricing,
    iam,
    iam_accounts,
    organizations,
    events,
    sns,
    lambda_functions,
    sts,
    sagemaker,
    batch,
    eks,
    sagemaker_endpoints,
    sagemaker_jobs,
    signatures,
    iam_prefixes,
    ecs,
    bedrock_runtime,
    rds,
    redshift,
    gamelift,  # after pricing: chains its BotocoreStubber.process_request
    cloudwatch,
    lightsail,
    opensearch,
    nat_gateways,
    sagemaker_apps,  # app ARNs for the AddTags sagemaker.py makes strict
    cloudformation,
    stacksets,  # service-managed StackSets a stack declares, run on Organizations changes
    ssm,
)


class StrictAWS:
    """The state of one strict layer: its clock, pending time, and the regions denied by SCP.

    pending_seconds: how long launched (and started) instances read `pending` before `running`;
        also how long a SageMaker notebook reads `Pending` (create, start) or `Stopping`, and
        how long an ECS service takes to run (or drain) to its desired count, and how long a
        Lightsail instance reads `pending` (a Lightsail database `creating`).
    clock: the time source for that (monotonic seconds; pass a virtual clock in benchmarks).
    kms_grant_allowed: access key id -> may it kms:CreateGrant? Default: evaluate the caller's
        IAM identity policies in moto; unknown keys (moto's default credentials, the root) pass.
    ssm_standard_quota: standard parameters a Region holds (ssm.py; AWS: 10,000); set it low
        to fill a Region cheaply.
    """

    def __init__(
        self,
        pending_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        kms_grant_allowed: Callable[[str], bool] | None = None,
    ) -> None:
        self.pending_seconds = pending_seconds
        self.clock = clock
        self.kms_grant_allowed = kms_grant_allowed
        self.ssm_standard_quota = ssm.STANDARD_QUOTA
        self._scp_denied: set[tuple[str, str]] = set()
        # moto has no Price List API: GetProducts is answered from this catalog (pricing.py).
        self.prices = PriceList(clock)
        # ec2_instances' lazy states and sagemaker's notebook transitions, settled on uninstall
        self._states: list[Any] = []
        self._patches = Patches()

    # ---- public API -------------------------------------------------------------------------

    def make_running(self, ids: Iterable[str] | None = None) -> None:
        """End `pending` now for these instance ids (all if None); a SageMaker notebook's name
        ends its `Pending` or `Stopping`."""
        wanted = None if ids is None else set(ids)
        for state in self._states:
            if wanted is None or state.instance_id in wanted:
                state.make_running()

    def run_health_checks(self) -> list[str]:
        """One Auto Scaling health-check pass (groups and their warm pools) in every loaded
        region; returns terminated ids."""
        return auto_scaling.run_health_checks() + warm_pools.run_health_checks()

    def deny_region_by_scp(self, region: str, service: str = "ec2") -> None:
        """Make every `service` request in `region` fail as if an SCP denied it."""
        if service != "ec2":
            raise ValueError(f"deny_region_by_scp: only 'ec2' is supported, got {service!r}")
        self._scp_denied.add((region, service))

    def is_denied_by_scp(self, region: str, service: str) -> bool:
        return (region, service) in self._scp_denied

    def track(self, state: Any) -> None:
        """Keep an instance's lazy state, to settle it when the layer goes."""
        self._states.append(state)

    # ---- install / uninstall ----------------------------------------------------------------

    def install(self) -> None:
        activate(self)
        for service in SERVICES:
            service.install(self._patches)

    def uninstall(self) -> None:
        self._patches.undo()
        for state in self._states:  # instances that outlive the layer read as settled
            state.make_running()
        self._states.clear()
        deactivate(self)


@contextmanager
def strict_aws(
    pending_seconds: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    kms_grant_allowed: Callable[[str], bool] | None = None,
) -> Iterator[StrictAWS]:
    """Install the strict layer on moto's classes, yield its state, and always remove it."""
    layer = StrictAWS(pending_seconds, clock, kms_grant_allowed)
    layer.install()
    try:
        yield layer
    finally:
        layer.uninstall()
