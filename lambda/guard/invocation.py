"""What the guard was invoked with: the override, and what prompted the run. Pure parsing.

Shapes understood:
- `{"action": "pass" | "proceed"}` from an operator (other values: logged, treated as proceed);
  `"dry_run": true` beside proceed runs as mode dry-run (nothing stopped, nobody locked out);
- `{"action": "restore", "incident": "<id>", "restart_instances": bool, "dry_run": bool}`
  (no incident: the most recent one recorded in the account);
- a CloudWatch alarm state change delivered by EventBridge
  (`source` aws.cloudwatch, `detail-type` "CloudWatch Alarm State Change", `detail.state.value`);
- the same alarm delivered through SNS (`Records[0].Sns.Message` with `NewStateValue`);
- the payer's spend watcher (`source` runawaytrain.spend, `detail-type` "Spend Rate Exceeded",
  `detail` with `account`, `spend_24h_usd`, `limit_usd`, `newest_data`, `delivery`);
- an SQS batch of EC2 launch events, the fast trip's prompt (see guard/launches.py);
- anything else (the schedule's payload, an empty event, a non-dict) is a scheduled check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from guard.launches import LaunchPrompt, is_sqs_batch, parse_launch_batch
from guard.settings import Action

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
SPEND_SOURCE = "runawaytrain.spend"
SPEND_RATE_EXCEEDED = "Spend Rate Exceeded"


class Trigger(Enum):
    SCHEDULE = "schedule"
    OPERATOR = "operator"
    BILLING_ALARM = "billing-alarm"
    SPEND_RATE = "spend-rate"
    LAUNCH_EVENT = "launch-event"  # fast trip: EC2 launch events, batched through SQS


@dataclass(frozen=True)
class SpendRate:
    """What the spend watcher saw: the trailing-24 h spend, the limit, and how fresh the data is."""

    spend_24h_usd: float | None
    limit_usd: float | None
    newest_data: str
    delivery: str


@dataclass(frozen=True)
class Invocation:
    action: Action = Action.PROCEED
    trigger: Trigger = Trigger.SCHEDULE
    unrecognised_action: str | None = None  # kept so the run can log it
    alarm_name: str | None = None  # the billing alarm that fired, if that is the trigger
    incident: str | None = None  # restore: which incident (None: the most recent)
    restart_instances: bool = False  # restore: also start the instances the incident stopped
    dry_run: bool = False  # restore: report what would be undone; proceed: trip as in dry-run
    spend: SpendRate | None = None  # the spend watcher's figures, if that is the trigger
    launches: LaunchPrompt | None = None  # the launch events, if they are the trigger

    def describe_prompt(self) -> str:
        """What prompted the run, for the report and the notification."""
        if self.launches is not None:
            return self.launches.describe()
        if self.alarm_name is not None:
            return f"billing alarm {self.alarm_name}"
        if self.spend is not None:
            return f"the payer's spend watcher (CUR delivery {self.spend.delivery})"
        return {
            Trigger.SCHEDULE: "the schedule",
            Trigger.OPERATOR: "an operator's invocation",
        }.get(self.trigger, self.trigger.value)


def parse_invocation(event: object) -> Invocation:
    if not isinstance(event, dict):
        return Invocation()
    action, unrecognised = _parse_action(event.get("action"))
    if action is Action.RESTORE:
        incident = event.get("incident")
        return Invocation(
            action,
            Trigger.OPERATOR,
            incident=str(incident) if incident else None,
            restart_instances=event.get("restart_instances") is True,
            dry_run=event.get("dry_run") is True,
        )
    if is_sqs_batch(event):
        # A queue only carries launch events; an "action" cannot ride along in a batch.
        prompt = parse_launch_batch(event["Records"])
        return Invocation(trigger=Trigger.LAUNCH_EVENT, launches=prompt)
    spend = _spend_rate(event)
    if spend is not None:
        return Invocation(action, Trigger.SPEND_RATE, unrecognised, spend=spend)
    alarm_name = _alarm_in_alarm_state(event)
    if alarm_name is not None:
        return Invocation(action, Trigger.BILLING_ALARM, unrecognised, alarm_name)
    trigger = Trigger.OPERATOR if "action" in event else Trigger.SCHEDULE
    # `runawaytrain run --dry-run`: count and decide as in mode dry-run, stop nothing.
    return Invocation(action, trigger, unrecognised, dry_run=event.get("dry_run") is True)


def _parse_action(raw: object) -> tuple[Action, str | None]:
    if raw is None:
        return Action.PROCEED, None
    text = str(raw).strip().lower()
    for action in Action:
        if action.value == text:
            return action, None
    return Action.PROCEED, str(raw)


def _alarm_in_alarm_state(event: dict[str, Any]) -> str | None:
    """The alarm's name if the event says a CloudWatch alarm is now in ALARM, else None."""
    if event.get("source") == "aws.cloudwatch" and event.get("detail-type") == ALARM_STATE_CHANGE:
        detail = event.get("detail")
        if isinstance(detail, dict):
            state = detail.get("state")
            if isinstance(state, dict) and state.get("value") == "ALARM":
                return str(detail.get("alarmName", "unnamed alarm"))
        return None
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        sns = records[0].get("Sns")
        if isinstance(sns, dict):
            try:
                message = json.loads(sns.get("Message", ""))
            except (TypeError, ValueError):
                return None
            if isinstance(message, dict) and message.get("NewStateValue") == "ALARM":
                return str(message.get("AlarmName", "unnamed alarm"))
    return None


def _number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _spend_rate(event: dict[str, Any]) -> SpendRate | None:
    """The spend watcher's figures if the event is its "Spend Rate Exceeded", else None.

    Figures that are missing or not numbers become None: the watcher already decided, so the
    guard still trips (fail closed) and the notification says the figure was not given.
    """
    if event.get("source") != SPEND_SOURCE or event.get("detail-type") != SPEND_RATE_EXCEEDED:
        return None
    detail = event.get("detail")
    detail = detail if isinstance(detail, dict) else {}
    return SpendRate(
        spend_24h_usd=_number(detail.get("spend_24h_usd")),
        limit_usd=_number(detail.get("limit_usd")),
        newest_data=str(detail.get("newest_data") or "unknown"),
        delivery=str(detail.get("delivery") or "unknown"),
    )
