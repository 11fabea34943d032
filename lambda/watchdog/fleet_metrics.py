"""The fleet's metrics in the payer: each heartbeat's numbers printed again here as EMF.

Every guard prints its run's metrics in its own account (lambda/guard/metrics.py) and sends the
same numbers in its heartbeat (`metrics`). Printed again by the watchdog, in the payer's account,
with the account id EventBridge set on the event (never a field the guard writes), they become
the payer's own metrics: the fleet dashboard (runawaytrain_stack/dashboard.py) reads them with no
cross-account sharing to set up (docs/metrics.md says why not CloudWatch cross-account
observability). The same builder makes both copies, so names, units and dimensions agree; it
drops what is not in its catalogue, so a heartbeat cannot create metrics (and costs) of its own.

The metric's time is the heartbeat's (when EventBridge received it), not the watchdog's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from guard.metrics import documents, emit

FIELD = "metrics"  # the heartbeat's field (lambda/guard/heartbeat.py)


def emit_heartbeat_metrics(account: str, detail: Any, time: datetime) -> int:
    """Prints the heartbeat's metrics for `account`; returns how many documents."""
    if not isinstance(detail, Mapping):
        return 0
    found = documents(account, detail.get(FIELD), int(time.timestamp() * 1000))
    emit(found)
    return len(found)


def without_metrics(detail: Any) -> Any:
    """The heartbeat as kept in SSM: its metrics are printed, not stored (a String parameter
    holds 4 KB; SSM API Reference, PutParameter "Value")."""
    if not isinstance(detail, Mapping):
        return detail
    return {key: value for key, value in detail.items() if key != FIELD}
