"""What the watchdog remembers, one SSM parameter per account and kind:

- `<heartbeat_path><account id>`: the last heartbeat (when EventBridge received it, and its detail);
- `<state_path><account id>`: since when the account is watched, what was last mailed about its
  heartbeat, and which tampering findings were mailed and are still present.

IAM: ssm:PutParameter and ssm:GetParameters on both paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from watchdog.health import AlertState, Heartbeat

# GetParameters takes at most 10 names per call (SSM API Reference, GetParameters "Names").
NAMES_PER_CALL = 10


def write_heartbeat(ssm: Any, path: str, account: str, time: datetime, detail: Any) -> None:
    value = json.dumps({"time": time.isoformat(), "detail": detail}, sort_keys=True, default=str)
    ssm.put_parameter(Name=f"{path}{account}", Value=value, Type="String", Overwrite=True)


def write_state(ssm: Any, path: str, account: str, state: AlertState) -> None:
    value = json.dumps(
        {
            "watching_since": state.watching_since.isoformat(),
            "alerted": state.alerted,
            "findings": list(state.findings),
        }
    )
    ssm.put_parameter(Name=f"{path}{account}", Value=value, Type="String", Overwrite=True)


def read_values(ssm: Any, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """name -> parsed value, for the parameters that exist and hold JSON."""
    wanted = list(names)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), NAMES_PER_CALL):
        response = ssm.get_parameters(Names=wanted[start : start + NAMES_PER_CALL])
        for parameter in response["Parameters"]:
            try:
                found[parameter["Name"]] = json.loads(parameter["Value"])
            except json.JSONDecodeError:
                continue  # not ours to read: treated as never written, then overwritten
    return found


def parse_heartbeat(value: dict[str, Any] | None) -> Heartbeat | None:
    if not value or not isinstance(value.get("detail"), dict):
        return None
    try:
        time = datetime.fromisoformat(str(value["time"]))
    except (KeyError, ValueError):
        return None
    return Heartbeat.from_record(time, value["detail"])


def parse_state(value: dict[str, Any] | None, now: datetime) -> AlertState | None:
    if not value:
        return None
    try:
        since = datetime.fromisoformat(str(value["watching_since"]))
    except (KeyError, ValueError):
        return None
    findings = value.get("findings", [])
    kept = tuple(str(f) for f in findings) if isinstance(findings, list) else ()
    return AlertState(min(since, now), str(value.get("alerted", "")), kept)
