"""Strict Organizations: service control policies as AWS limits and refuses them.

What moto does differently from AWS here:

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
- moto refuses RegisterDelegatedAdministrator for StackSets ("unrecognized service principal");
  AWS registers one with the service principal member.org.stacksets.cloudformation.amazonaws.com
  (CloudFormation User Guide, "Register a delegated administrator"), and the payer's watchdog
  lists them (lambda/watchdog/delegates.py).
"""

from __future__ import annotations

from typing import Any

from moto.organizations.exceptions import ConstraintViolationException
from moto.organizations.models import (
    FakeDelegatedAdministrator,
    OrganizationsBackend,
    organizations_backends,
)

from strict_aws.patches import Patches

MAX_SCPS_PER_TARGET = 5
MAX_SCP_CHARACTERS = 5120
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"

_ORIGINAL: dict[str, Any] = {
    "attach_policy": OrganizationsBackend.attach_policy,
    "detach_policy": OrganizationsBackend.detach_policy,
    "create_policy": OrganizationsBackend.create_policy,
    "update_policy": OrganizationsBackend.update_policy,
}


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
    delegable = FakeDelegatedAdministrator.SUPPORTED_SERVICES
    patches.set(FakeDelegatedAdministrator, "SUPPORTED_SERVICES", [*delegable, STACKSETS_PRINCIPAL])


def find_lineage(account_id: str) -> tuple[Any, list[Any]] | None:
    """(the organization, [the account, the OUs above it, the root]) of an account of an
    organization, nearest first; None for an account in no organization. What SCPs apply
    through (scps.py) and what aws:PrincipalOrgID and aws:PrincipalOrgPaths say (events.py)."""
    found = organizations_backends.master_accounts.get(account_id)
    if found is None:
        return None
    master_id, partition = found
    backend = organizations_backends[master_id][partition]
    account = next((a for a in backend.accounts if a.id == account_id), None)
    if backend.org is None or account is None:
        return None
    lineage: list[Any] = [account]
    parent_id = account.parent_id
    while parent_id:  # OUs, then the root (whose parent_id is None)
        parent = next((ou for ou in backend.ou if ou.id == parent_id), None)
        if parent is None:
            break
        lineage.append(parent)
        parent_id = getattr(parent, "parent_id", None)
    return backend.org, lineage


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
