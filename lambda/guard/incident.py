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
