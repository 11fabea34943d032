"""What the guard tells the payer: one event on the payer's bus (`runawaytrain-payer`).

Every run sends a heartbeat (the payer's watchdog mails when they stop or report errors); a trip
in enforce mode with quarantine on asks the payer to quarantine this account, and a restore asks
it to release the quarantine. The event's `account` field is set by EventBridge to the sending
account: PutEventsRequestEntry has no member for it (EventBridge API Reference,
"PutEventsRequestEntry"), so a guard can only speak for its own account.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SOURCE = "runawaytrain.guard"  # must equal runawaytrain_stack/names.py GUARD_EVENT_SOURCE
HEARTBEAT = "Guard Heartbeat"
QUARANTINE_REQUESTED = "Quarantine Requested"
QUARANTINE_RELEASED = "Quarantine Released"


def send_to_payer(
    events: Any, bus_arn: str, detail_type: str, detail: dict[str, Any]
) -> str | None:
    """Puts one event on the payer's bus; returns what failed, or None. Never raises AWS errors:
    a payer that cannot be reached must not stop the guard from halting its own account."""
    entry = {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, sort_keys=True, default=str),
        "EventBusName": bus_arn,
    }
    try:
        response = events.put_events(Entries=[entry])
    except (ClientError, BotoCoreError) as error:
        return f"{type(error).__name__}: {error}"
    # PutEvents answers 200 with per-entry failures (EventBridge API Reference, PutEvents:
    # "FailedEntryCount"); an entry that failed carries ErrorCode and ErrorMessage.
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        return f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
    return None
