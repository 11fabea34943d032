"""Incident ids and the tags that mark what an incident changed, so restore can undo exactly it."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

TAG_PREFIX = "runawaytrain:"
INCIDENT_TAG = f"{TAG_PREFIX}incident"
# On an Auto Scaling group: the processes this incident suspended (not those already suspended).
SUSPENDED_TAG = f"{TAG_PREFIX}suspended-processes"


def new_incident_id(now: datetime | None = None) -> str:
    """UTC timestamp plus a short random part: sortable, and unique across parallel accounts."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


# On an instance: "lifted" when this incident turned its stop protection (DisableApiStop) off.
STOP_PROTECTION_TAG = f"{TAG_PREFIX}stop-protection"
# On an Auto Scaling group with a warm pool: the incident, the pool's configuration before the
# trip set it to Stopped, and the processes this incident suspended (warm_pools.py).
WARM_POOL_TAG = f"{TAG_PREFIX}warm-pool"
# On a Spot Fleet or EC2 Fleet request: the target capacities this incident set to 0.
FLEET_CAPACITY_TAG = f"{TAG_PREFIX}target-capacity"
# On an IAM principal: "partial" from the first lockout step until the last one succeeded, then
# "complete". Only a complete lockout makes the next run skip the principal as already locked;
# a partial one is finished by the next run, under the incident it started with.
LOCK_TAG = f"{TAG_PREFIX}lock"
