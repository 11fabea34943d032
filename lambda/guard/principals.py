"""Which IAM principals the breaker may lock out, and why the others are never touched. Pure."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum

from guard.incident import INCIDENT_TAG, LOCK_TAG

# Roles whose loss would lock the organisation or AWS itself out of the account.
ORGANIZATION_ROLES = frozenset(
    {
        "OrganizationAccountAccessRole",  # created by AWS Organizations for the payer's admins
        "AWSCloudFormationStackSetExecutionRole",  # self-managed StackSets
        "AWSControlTowerExecution",
    }
)
CDK_PREFIX = "cdk-"  # CDK bootstrap roles (cdk-hnb659fds-deploy-role-...): deploy and restore
STACKSET_EXEC_PREFIX = "stacksets-exec-"  # service-managed StackSets execution roles
# IAM paths AWS reserves: service-linked roles and IAM Identity Center (SSO) roles; AWS itself
# refuses most changes to them. Source: IAM User Guide, "Using service-linked roles", and IAM
# Identity Center User Guide (roles are created under /aws-reserved/sso.amazonaws.com/).
SERVICE_LINKED_PATH = "/aws-service-role/"
AWS_RESERVED_PATH = "/aws-reserved/"


class Kind(Enum):
    USER = "user"
    ROLE = "role"


@dataclass(frozen=True)
class Principal:
    kind: Kind
    name: str
    path: str = "/"
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        """`user/alice`, `role/ci`: users and roles may share a name."""
        return f"{self.kind.value}/{self.name}"


@dataclass(frozen=True)
class Protection:
    """Who must never be locked out in this account."""

    own_role: str = ""  # the guard's execution role, found at run time from its identity
    break_glass: frozenset[str] = frozenset()  # from accounts.yaml via the `break_glass` env var
    stack_roles: frozenset[str] = frozenset()  # the guard stack's other roles (schedule, events)


def skip_reason(principal: Principal, protection: Protection) -> str | None:
    """Why `principal` must not be locked, or None if it may be."""
    if principal.name in protection.break_glass:
        return "break-glass principal (accounts.yaml break_glass)"
    if principal.kind is Kind.ROLE:
        reason = _role_skip_reason(principal, protection)
        if reason:
            return reason
    return None


def claims_locked_by(principal: Principal, incident: str) -> bool:
    """The principal's tags say this incident finished locking it. Only a claim: a tag left
    behind by an undo done by hand, or by an incident since closed, says nothing about a deny,
    so lockout.py also checks that the deny is really there before it skips the principal."""
    tags = principal.tags
    return tags.get(INCIDENT_TAG) == incident and tags.get(LOCK_TAG) == "complete"


def _role_skip_reason(role: Principal, protection: Protection) -> str | None:
    rules: tuple[tuple[bool, str], ...] = (
        (role.name == protection.own_role, "the guard's own role"),
        (role.name in protection.stack_roles, "a role of the guard's own stack"),
        (role.path.startswith(SERVICE_LINKED_PATH), "service-linked role"),
        (role.path.startswith(AWS_RESERVED_PATH), "IAM Identity Center (aws-reserved) role"),
        (role.name in ORGANIZATION_ROLES, "organization access role"),
        (role.name.startswith(CDK_PREFIX), "CDK bootstrap role"),
        (role.name.startswith(STACKSET_EXEC_PREFIX), "StackSet execution role"),
    )
    return next((reason for applies, reason in rules if applies), None)


def role_name_of(arn: str) -> str:
    """`arn:aws:sts::1:assumed-role/NAME/session` or `arn:aws:iam::1:role/path/NAME` -> NAME."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/"):
        return resource.split("/")[1]
    if resource.startswith("role/"):
        return resource.rsplit("/", 1)[-1]
    return ""


def protected(principals: Collection[Principal], protection: Protection) -> dict[str, str]:
    """{key: reason} for every principal that must not be touched."""
    return {p.key: reason for p in principals if (reason := skip_reason(p, protection)) is not None}
