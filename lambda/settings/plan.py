"""What the settings publisher writes and deletes: pure, no AWS.

The synthesized document ({"defaults": {...}, "accounts": {"<id>": {...}}}, built by
runawaytrain_stack/settings_documents.py) becomes one object per account plus the defaults; an
object is written only when its bytes differ from what the bucket holds, and an account's object
is deleted when accounts.yaml no longer lists it (the guard then reads defaults.json).

Compared by ETag: an object uploaded by one PutObject and encrypted with SSE-S3 (the bucket's
encryption) has "an ETag that is an MD5 digest of their object data" (Amazon S3 API Reference,
"Object", ETag), so one ListObjectsV2 page of up to 1,000 keys compares 1,000 documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACCOUNTS_PREFIX = "accounts/"  # must equal lambda/guard/settings_store.py
DEFAULTS_KEY = "defaults.json"


class DocumentError(ValueError):
    """The synthesized settings document is not what the stack writes."""


@dataclass(frozen=True)
class Plan:
    puts: dict[str, bytes]  # key -> the bytes to write
    deletes: list[str]
    unchanged: int


def render(document: Any) -> dict[str, bytes]:
    """The objects the bucket should hold: key -> bytes (stable: sorted keys)."""
    if not isinstance(document, dict) or set(document) != {"defaults", "accounts"}:
        raise DocumentError('expected {"defaults": {...}, "accounts": {...}}')
    accounts = document["accounts"]
    if not isinstance(document["defaults"], dict) or not isinstance(accounts, dict):
        raise DocumentError("defaults and accounts must be JSON objects")
    objects = {DEFAULTS_KEY: _encode(document["defaults"])}
    for account, settings in accounts.items():
        if not (isinstance(account, str) and account.isdigit() and len(account) == 12):
            raise DocumentError(f"accounts: {account!r} is not a 12-digit account id")
        if not isinstance(settings, dict):
            raise DocumentError(f"accounts.{account} must be a JSON object")
        objects[f"{ACCOUNTS_PREFIX}{account}.json"] = _encode(settings)
    return objects


def plan_publish(desired: Mapping[str, bytes], existing: Mapping[str, str]) -> Plan:
    """`existing`: the bucket's keys -> ETags. Keys outside ours (defaults.json, accounts/*.json)
    are never touched."""
    puts = {
        key: body
        for key, body in sorted(desired.items())
        if existing.get(key, "").strip('"') != hashlib.md5(body, usedforsecurity=False).hexdigest()
    }
    deletes = sorted(
        key
        for key in existing
        if key.startswith(ACCOUNTS_PREFIX) and key.endswith(".json") and key not in desired
    )
    return Plan(puts=puts, deletes=deletes, unchanged=len(desired) - len(puts))


def _encode(settings: dict[str, Any]) -> bytes:
    return (json.dumps(settings, sort_keys=True, indent=1) + "\n").encode("utf-8")
