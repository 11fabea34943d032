"""The mail's lines on Auto Scaling warm pools: what the halt did to them, what restore put back
and what it kept Stopped (warm_pools.py does both); pure text."""

from __future__ import annotations

from typing import Any

from guard.incident import WARM_POOL_TAG
from guard.report import Report


def warm_pool_lines(report: Report) -> list[str]:
    if not report.warm_pools:
        return []
    lines = [
        "Auto Scaling warm pools kept Running, set to Stopped so Auto Scaling neither replaces "
        "nor refills them (their running instances are among those stopped above; the pool's "
        f"configuration is recorded on the group, tag {WARM_POOL_TAG}, and restore puts it back "
        "once they run again):"
    ]
    for region, groups in report.warm_pools.items():
        lines += [f"  {region} {group}: {done}" for group, done in groups.items()]
    return lines


def restored_pool_lines(undone: dict[str, Any]) -> list[str]:
    """Lines for a restore's result (RestoreResult.to_dict())."""
    lines = [
        f"Warm pool of {group}: {done}"
        for group, done in sorted(undone.get("warm_pools_restored", {}).items())
    ]
    lines += [
        f"Warm pool of {group}: still Stopped, {why}"
        for group, why in sorted(undone.get("warm_pools_kept", {}).items())
    ]
    return lines
