"""Strict EventBridge: PutEvents to another account's bus, as AWS delivers it.

PutEvents naming another account's bus by ARN lands in moto in the caller's own account; AWS
  delivers it to that account's bus when the bus policy allows the sender (EventBridge User
  Guide, "Permissions for event buses"), with the event's `account` the sender's.
A rule with a Lambda function target: moto's delivery raises NotImplementedError, so PutEvents
  answers HTTP 500 and every event on that bus is lost, those for its other rules included. AWS
  invokes the function asynchronously and PutEvents succeeds (EventBridge User Guide, "Event bus
  targets": Lambda functions are invoked asynchronously). The emulator runs no Lambda code:
  the target is passed over, the rule's other targets still get the event, and where a test
  needs the function's events it routes a queue rule beside it (the drill's payer stand-in).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import threading
from typing import Any

from moto.events.models import EventsBackend, Rule, events_backends
from moto.events.responses import EventsHandler
from moto.events.utils import EventTemplateParser

from strict_aws.organizations import find_lineage
from strict_aws.patches import Patches
from strict_aws.principals import principal_role_arn

_DELIVERING = threading.Lock()  # _deliver_as borrows a backend's account id
_ORIGINAL: dict[str, Any] = {
    "put_events": EventsBackend.put_events,
    "put_events_response": EventsHandler.put_events,
    "send_to_targets": Rule.send_to_targets,
}
_CALLER = threading.local()  # the PutEvents caller's principal ARN, for the bus policy

_WHOLE_EVENT = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
    '"source": "<source>",', '"source": "<source>", "account": "<account>",'
)
assert '"account"' in _WHOLE_EVENT, "moto's default event template changed"


def install(patches: Patches) -> None:
    patches.set(EventsBackend, "put_events", _put_events)
    patches.set(EventsHandler, "put_events", _put_events_response)
    patches.set(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", _WHOLE_EVENT)
    patches.set(Rule, "send_to_targets", _send_to_targets)


def _send_to_targets(self: Rule, event: Any, transform_input: bool = True) -> None:
    """moto's delivery, to every target but Lambda functions (invoked by AWS, not here)."""
    targets = [t for t in self.targets if not _is_lambda(str(t.get("Arn", "")))]
    if len(targets) == len(self.targets):
        _ORIGINAL["send_to_targets"](self, event, transform_input)
        return
    passed_over = copy.copy(self)  # the rule itself keeps its targets (ListTargetsByRule)
    passed_over.targets = targets
    _ORIGINAL["send_to_targets"](passed_over, event, transform_input)


def _is_lambda(arn: str) -> bool:
    return arn.split(":")[2:3] == ["lambda"]


def _bus_owner(name: str | None) -> tuple[str, str] | None:
    """(account, region) of a bus named by an ARN, else None (the caller's own bus)."""
    if not name or not name.startswith("arn:"):
        return None
    parts = name.split(":")
    return parts[4], parts[3]


def _admits(bus: Any, sender: str, source: str, principal_arn: str) -> bool:
    """Does the bus policy allow this PutEvents? Evaluated for the shapes the stacks write:
    Allow, an account principal (root ARN or id), and the conditions below; any other
    condition operator admits nothing (strict, not lenient)."""
    for statement in ((bus.policy and json.loads(bus.policy)) or {}).get("Statement", []):
        principal = statement.get("Principal", {})
        principals = principal.get("AWS", []) if isinstance(principal, dict) else principal
        principals = [principals] if isinstance(principals, str) else principals
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or "events:PutEvents" not in actions:
            continue
        if not any(p in (sender, f"arn:aws:iam::{sender}:root", "*") for p in principals):
            continue
        context = {
            "events:source": [source],
            "aws:PrincipalArn": [principal_arn],
            **_organization_keys(sender),
        }
        if all(
            _holds(op, key, want, context)
            for op, keys in statement.get("Condition", {}).items()
            for key, want in keys.items()
        ):
            return True
    return False


def _organization_keys(account_id: str) -> dict[str, list[str]]:
    """aws:PrincipalOrgID, "the identifier of the organization in AWS Organizations to which
    the requesting principal belongs", and aws:PrincipalOrgPaths, its path
    "o-id/r-root/ou-parent/ou-child/" (the organisation, root and every OU down to the account's
    parent, each followed by a slash): IAM User Guide, "AWS global condition context keys".
    Both absent for an account in no organization."""
    found = find_lineage(account_id)
    if found is None:
        return {"aws:PrincipalOrgID": [], "aws:PrincipalOrgPaths": []}
    organization, lineage = found
    path = "".join(f"{node.id}/" for node in reversed(lineage[1:]))
    return {
        "aws:PrincipalOrgID": [organization.id],
        "aws:PrincipalOrgPaths": [f"{organization.id}/{path}"],
    }


def _holds(operator: str, key: str, wanted: Any, context: dict[str, list[str]]) -> bool:
    values = context.get(key, [])
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    if operator == "StringEquals":  # a single-valued key: present and one of the values
        return len(values) == 1 and values[0] in wanted
    if operator == "Null":
        return (not values) == (wanted[0] == "true")
    if operator == "ForAllValues:StringEquals":
        return all(v in wanted for v in values)
    if operator == "ForAnyValue:StringLike":  # a multivalued key: any value matches any pattern
        return any(fnmatch.fnmatchcase(v, w) for v in values for w in wanted)
    if operator == "ArnLike":
        return bool(values) and any(fnmatch.fnmatchcase(values[0], w) for w in wanted)
    return False


def _put_events_response(self: EventsHandler) -> Any:
    _CALLER.arn = principal_role_arn(self.current_account, self.region, self.get_access_key())
    try:
        return _ORIGINAL["put_events_response"](self)
    finally:
        _CALLER.arn = None


def _put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for event in events:
        owner = _bus_owner(event.get("EventBusName"))
        if owner is None or owner[0] == self.account_id:
            results += _ORIGINAL["put_events"](self, [event])
            continue
        account, region = owner
        if region != self.region_name:
            # Cross-account PutEvents names a bus of the caller's Region (peers quote "Cross-
            # region API call is not allowed": hashicorp/terraform-provider-aws#31444).
            results.append(
                {
                    "ErrorCode": "ValidationException",
                    "ErrorMessage": "Cross-region API call is not allowed",
                }
            )
            continue
        backend = events_backends[account][region]
        name = event["EventBusName"].split("/")[-1]
        bus = backend.event_buses.get(name)
        caller = getattr(_CALLER, "arn", None) or f"arn:aws:iam::{self.account_id}:root"
        if bus is None or not _admits(bus, self.account_id, event.get("Source", ""), caller):
            results.append(
                {
                    "ErrorCode": "AccessDeniedException",
                    "ErrorMessage": f"Not authorized to put events on {event['EventBusName']}",
                }
            )
            continue
        results += _deliver_as(backend, self.account_id, {**event, "EventBusName": name})
    return results


def _deliver_as(backend: EventsBackend, sender: str, event: dict[str, Any]) -> list[Any]:
    """Put `event` on `backend`'s bus with `account` set to the sender, as AWS does."""
    with _DELIVERING:
        own = backend.account_id
        backend.account_id = sender
        try:
            return _ORIGINAL["put_events"](backend, [event])
        finally:
            backend.account_id = own
