"""Which Regions a run counts: every enabled one, and never fewer because a call failed.

DescribeRegions lists them. Should it fail, the run counts the Regions the last run counted
(last_run.py keeps them in its SSM record, written at the end of every run: no extra call on the
happy path), and says so (DEGRADED, mailed): a leaked key launches where nobody looks, so
counting the home Region alone would blind the guard exactly when it matters. Only a guard that
never completed a run has no such list; it counts its home Region and says that too.

IAM: ec2:DescribeRegions; ssm:GetParameter on last_run.PARAMETER (only when DescribeRegions fails).
"""

from __future__ import annotations

from typing import Any

from guard.census import REGION_LIST, describe_error, list_enabled_regions
from guard.clients import ClientFactory
from guard.last_run import read_last_run
from guard.logs import get_logger

LOG = get_logger("regions")


def resolve_regions(clients: ClientFactory) -> tuple[list[str], dict[str, str]]:
    """(Regions to count, {REGION_LIST: what went wrong} or {})."""
    home = clients.home_region
    try:
        return list_enabled_regions(clients.client("ec2", home), clients.partition_of), {}
    except Exception as error:  # whatever broke, count what the last run counted
        failure = describe_error(error)
    LOG.error("region_list_failed", extra={"error": failure})
    kept = kept_regions(read_last_run(clients.client("ssm", home)))
    if kept:
        regions = sorted({*kept, home})
        said = f"{failure}; counted the {len(regions)} Regions the last run counted"
        return regions, {REGION_LIST: said}
    return [home], {REGION_LIST: f"{failure}; counted {home} only (no earlier run's list)"}


def kept_regions(record: dict[str, Any] | None) -> list[str]:
    """The Regions a last-run record says were counted; [] if it has none (or not a list)."""
    regions = (record or {}).get("regions")
    if not isinstance(regions, list):
        return []
    return [region for region in regions if isinstance(region, str) and region]
