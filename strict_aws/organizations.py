"""Strict AWS, the payer's side (issue 12): Organizations SCPs and cross-account EventBridge.

Installed by `strict_aws()` with the rest of the layer (`install(patches)`); kept in its own
module so each file stays about one service. What moto does differently from AWS here:

- AttachPolicy of a policy already attached succeeds in moto; AWS answers
  DuplicatePolicyAttachmentException. DetachPolicy of a policy not attached succeeds in moto;
  AWS answers PolicyNotAttachedException (Organizations API Reference, AttachPolicy and
  DetachPolicy, "Errors").
- moto attaches any number of SCPs; AWS allows 5 per account, OU or root ("Maximum number of
  SCPs attached to a root, OU or account: 5", Organizations User Guide, "Quotas for AWS
  Organizations") and answers ConstraintViolationException, Reason POLICY_NUMBER_LIMIT_EXCEEDED.
- moto stores any policy content; AWS refuses an SCP over 5,120 characters ("Maximum size of a
  policy document", same quotas page) with ConstraintViolationException, Reason
  POLICY_CONTENT_LIMIT_EXCEEDED.
- PutEvents naming another account's bus by ARN lands in moto in the caller's own account; AWS
  delivers it to that account's bus when the bus policy allows the sender (EventBridge User
  Guide, "Permissions for event buses"), with the event's `account` the sender's.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from typing import Any

from moto.events.models import EventsBackend, events_backends
from moto.events.responses import EventsHandler
from moto.events.utils import EventTemplateParser
from moto.organizations.exceptions import ConstraintViolationException
from moto.organizations.models import OrganizationsBackend

from runawaytrain_cli.strict_patches import Patches

_DELIVERING = threading.Lock()  # _deliver_as borrows a backend's account id
MAX_SCPS_PER_TARGET = 5
MAX_SCP_CHARACTERS = 5120

_ORIGINAL: dict[str, Any] = {
    "attach_policy": OrganizationsBackend.attach_policy,
    "detach_policy": OrganizationsBackend.detach_policy,
    "create_policy": OrganizationsBackend.create_policy,
    "update_policy": OrganizationsBackend.update_policy,
    "put_events": EventsBackend.put_events,
    "put_events_response": EventsHandler.put_events,
}
_CALLER = threading.local()  # the PutEvents caller's principal ARN, for the bus policy


_WHOLE_EVENT = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE.replace(
    '"source": "<source>",', '"source": "<source>", "account": "<account>",'
)
assert '"account"' in _WHOLE_EVENT, "moto's default event template changed"


class _OrgError(ConstraintViolationException):
    """An Organizations error with the model's `Reason` member."""

    def __init__(self, code: str, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        if reason is not None:
            self.Reason = reason


def install(patches: Patches) -> None:
    patches.set(OrganizationsBackend, "attach_policy", _attach_policy)
    patches.set(OrganizationsBackend, "detach_policy", _detach_policy)
    patches.set(OrganizationsBackend, "create_policy", _create_policy)
    patches.set(OrganizationsBackend, "update_policy", _update_policy)
    patches.set(EventsBackend, "put_events", _put_events)
    patches.set(EventsHandler, "put_events", _put_events_response)
    patches.set(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", _WHOLE_EVENT)


def _target(model: OrganizationsBackend, target_id: str) -> Any | None:
    for target in (*model.accounts, *model.ou):
        if target.id == target_id:
            return target
    return None


def _attach_policy(self: OrganizationsBackend, **kwargs: Any) -> None:
    policy = self.get_policy_by_id(kwargs["PolicyId"])
    target = _target(self, kwargs["TargetId"])
    if target is not None and policy in target.attached_policies:
        raise _OrgError(
            "DuplicatePolicyAttachmentException",
            "The selected policy is already attached to the specified target.",
        )
    if target is not None and policy.type == "SERVICE_CONTROL_POLICY":
        scps = [p for p in target.attached_policies if p.type == "SERVICE_CONTROL_POLICY"]
        if len(scps) >= MAX_SCPS_PER_TARGET:
            raise _OrgError(
                "ConstraintViolationException",
                "You have attached the maximum number of policies of this type to the target.",
                "POLICY_NUMBER_LIMIT_EXCEEDED",
            )
    _ORIGINAL["attach_policy"](self, **kwargs)


def _detach_policy(self: OrganizationsBackend, **kwargs: Any) -> None:
    policy = self.get_policy_by_id(kwargs["PolicyId"])
    target = _target(self, kwargs["TargetId"])
    if target is not None and policy not in target.attached_policies:
        raise _OrgError(
            "PolicyNotAttachedException",
            "The policy isn't attached to the specified target in the specified root.",
        )
    _ORIGINAL["detach_policy"](self, **kwargs)


def _check_size(kwargs: dict[str, Any]) -> None:
    content = kwargs.get("Content")
    # The quota counts every character of the document as given to the API (the console strips
    # whitespace outside quotes first; API and CLI calls do not).
    if content is not None and len(content) > MAX_SCP_CHARACTERS:
        raise _OrgError(
            "ConstraintViolationException",
            "The provided policy document exceeds the maximum size.",
            "POLICY_CONTENT_LIMIT_EXCEEDED",
        )


def _create_policy(self: OrganizationsBackend, **kwargs: Any) -> dict[str, Any]:
    if kwargs.get("Type") == "SERVICE_CONTROL_POLICY":
        _check_size(kwargs)
    return _ORIGINAL["create_policy"](self, **kwargs)


def _update_policy(self: OrganizationsBackend, **kwargs: Any) -> dict[str, Any]:
    if self.get_policy_by_id(kwargs["PolicyId"]).type == "SERVICE_CONTROL_POLICY":
        _check_size(kwargs)
    return _ORIGINAL["update_policy"](self, **kwargs)


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
        context = {"events:source": [source], "aws:PrincipalArn": [principal_arn]}
        if all(
            _holds(op, key, want, context)
            for op, keys in statement.get("Condition", {}).items()
            for key, want in keys.items()
        ):
            return True
    return False


def _holds(operator: str, key: str, wanted: Any, context: dict[str, list[str]]) -> bool:
    values = context.get(key, [])
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    if operator == "Null":
        return (not values) == (wanted[0] == "true")
    if operator == "ForAllValues:StringEquals":
        return all(v in wanted for v in values)
    if operator == "ArnLike":
        return bool(values) and any(fnmatch.fnmatchcase(values[0], w) for w in wanted)
    return False


def _put_events_response(self: EventsHandler) -> Any:
    from runawaytrain_cli.strict_aws import principal_role_arn

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
