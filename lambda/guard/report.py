"""The run's report: returned by the handler, logged, and the source of the notification."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Report:
    account: str
    mode: str
    limit: int | None
    verdict: str
    reason: str
    trigger: str
    prompt: str = ""  # what prompted the run, in words (e.g. "3 EC2 launch event(s) (...)")
    account_name: str = ""
    function: str = ""  # the guard function's name, for the undo instructions
    home_region: str = ""  # the guard's Region, for the undo instructions
    tripped: bool = False
    trip_reasons: list[str] = field(default_factory=list)
    count: int = 0
    by_region: dict[str, int] = field(default_factory=dict)
    region_errors: dict[str, str] = field(default_factory=dict)
    closed_regions: dict[str, str] = field(default_factory=dict)  # closed by an SCP: not counted
    # The Regions not counted, as remembered from run to run (blindness.py): since, runs in a
    # row, what they held; and whether an earlier mail of the incident already named them all.
    blind: dict[str, dict[str, Any]] = field(default_factory=dict)
    blind_runs_to_trip: int | None = None
    already_told: bool = False
    incident: str | None = None
    continues_incident: bool = False  # tripped again while this incident was still open
    stopped: list[str] = field(default_factory=list)
    would_stop: list[str] = field(default_factory=list)  # dry-run: what enforce would stop
    not_stopped: dict[str, str] = field(default_factory=dict)  # instance id -> why, still running
    terminated_by_region: dict[str, list[str]] = field(default_factory=dict)  # disposable Spot
    still_pending: dict[str, list[str]] = field(default_factory=dict)  # stopped by the next run
    protection_lifted: list[str] = field(default_factory=list)  # stop protection turned off
    fleets_zeroed: dict[str, dict[str, str]] = field(default_factory=dict)  # region -> {id: cap}
    spot_cancelled: dict[str, list[str]] = field(default_factory=dict)  # region -> request ids
    still_billing: dict[str, list[str]] = field(default_factory=dict)  # hosts, reservations
    suspended_asgs: list[str] = field(default_factory=list)
    suspended_by_region: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    warm_pools: dict[str, dict[str, str]] = field(default_factory=dict)  # region -> {group: done}
    action_errors: list[str] = field(default_factory=list)  # ASG and tagging failures
    stopped_by_region: dict[str, list[str]] = field(default_factory=dict)
    locked_users: list[str] = field(default_factory=list)
    locked_roles: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # "role/x" -> why it was not locked
    lockout_errors: dict[str, str] = field(default_factory=dict)  # "user/x" -> what failed
    # A run below the limit finished (or tried to finish) what the open incident left undone:
    # partial lockouts, the launch block of principals that do not carry it (handler.py).
    lockout_finished: bool = False
    # The launch block (launch_block.py): who carries the policy now, who not and why, failures.
    launch_blocked: list[str] = field(default_factory=list)  # "user/x", "role/y"
    launch_block_attached: list[str] = field(default_factory=list)  # of those, by this run
    launch_block_skipped: dict[str, str] = field(default_factory=dict)
    launch_block_errors: dict[str, str] = field(default_factory=dict)
    restore: dict[str, Any] | None = None  # a restore run: what it undid
    quarantine: str | None = None  # what was asked of the payer (issue 12), when it was sent
    held_back: dict[str, Any] | None = None  # runs that tripped again unmailed (follow_up.py)
    notified: bool = False
    notify_error: str | None = None
    burn: dict[str, Any] | None = None  # weighted limits set: vCPUs, GPUs, USD/h (weigh.py)
    # Capacity outside EC2 (services.py): {kind: {region: count}}, what could not be counted,
    # and {kind: ["region/name"]} halted, not stoppable yet (the next run), or would be (dry-run).
    services: dict[str, dict[str, int]] = field(default_factory=dict)
    service_errors: dict[str, str] = field(default_factory=dict)
    services_halted: dict[str, list[str]] = field(default_factory=dict)
    services_waiting: dict[str, list[str]] = field(default_factory=dict)
    services_kept: dict[str, list[str]] = field(default_factory=dict)  # `halt:` leaves them
    would_halt_services: dict[str, list[str]] = field(default_factory=dict)
    heartbeat: dict[str, Any] | None = None  # what was sent to the payer's watchdog (heartbeat.py)
    # A trip: seconds from the decision to the answer to its last stop request (metrics.py).
    halt_seconds: float | None = None
    # What the run measured (metrics.measure): printed as EMF, carried by the heartbeat.
    metrics: dict[str, Any] | None = None
    # Console links for the mail (links.py): the payer's fleet dashboard, this guard's log group.
    dashboard_url: str = ""
    log_group_url: str = ""
    heartbeat_error: str | None = None
    # Which settings the run used (settings_store.py): empty when only the environment exists.
    settings_source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for the response body and the last log line."""
        label = self.account_name or self.account
        if self.restore is not None:
            return f"runawaytrain {label}: {self.reason}"
        if self.verdict in ("void", "ignored"):
            return f"runawaytrain {label}: {self.reason}"
        head = f"runawaytrain {label}: {self.verdict} ({self.reason})"
        if self.tripped and self.mode == "dry-run":
            return f"{head}; dry-run, would stop {len(self.would_stop)}"
        if self.tripped:
            terminated = sum(len(ids) for ids in self.terminated_by_region.values())
            pending = sum(len(ids) for ids in self.still_pending.values())
            return (
                f"{head}; stopped {len(self.stopped)}, terminated {terminated}, "
                f"still pending {pending}, not stopped {len(self.not_stopped)}, "
                f"incident {self.incident}"
            )
        return head
