"""Which IAM principals the breaker may lock out, and why the others are never touched. Pure."""

from __future__ import annotations

import re
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
# runawaytrain's own CDK bootstrap roles (the payer deploys and restores through them):
# `cdk-<qualifier>-<kind>-role-<account>-<region>`, the bootstrap template's names, with the
# qualifier runawaytrain bootstraps with (runawaytrain_stack/names.py BOOTSTRAP_QUALIFIER;
# tests/guard/test_principals.py checks the two agree). Any other `cdk-` role is the member's
# own (its default `hnb659fds` bootstrap, or one an insider named to escape): locked as any.
BOOTSTRAP_QUALIFIER = "runaway"
CDK_ROLE = re.compile(
    rf"^cdk-{BOOTSTRAP_QUALIFIER}-(deploy|cfn-exec|file-publishing|image-publishing|lookup)"
    r"-role-\d{12}-[a-z]{2}(-[a-z]+)+-\d$"
)
# Service-managed StackSets make "an execution role named stacksets-exec-*" in each target
# account (CloudFormation User Guide, "Configure a custom execution role template for
# StackSets"); the suffix seen on them is 32 hex digits (stacksets-exec-899a82a2cb437e970934262f
# 85c7628a; the name's form is not documented beyond the `*`). Whoever may create roles can still
# name one so; the pattern narrows the escape from any `stacksets-exec-` prefix to that form.
STACKSET_EXEC_ROLE = re.compile(r"^stacksets-exec-[0-9a-f]{32}$")
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
    operator_role: str = ""  # accounts.yaml operator_role: the payer's people come in by it


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
        (
            bool(protection.operator_role) and role.name == protection.operator_role,
            "the fleet's operator role (accounts.yaml operator_role)",
        ),
        (role.name in protection.stack_roles, "a role of the guard's own stack"),
        (role.path.startswith(SERVICE_LINKED_PATH), "service-linked role"),
        (role.path.startswith(AWS_RESERVED_PATH), "IAM Identity Center (aws-reserved) role"),
        (role.name in ORGANIZATION_ROLES, "organization access role"),
        (bool(CDK_ROLE.match(role.name)), "runawaytrain's CDK bootstrap role"),
        (bool(STACKSET_EXEC_ROLE.match(role.name)), "StackSet execution role"),
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
