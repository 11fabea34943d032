"""Strict IAM: roles only AWS may modify refuse every change with UnmodifiableEntity, and a user or
role holds at most its quota of managed policies.

moto lets anyone attach to, edit or delete Identity Center (AWSReservedSSO_*) and service-linked
roles, and attaches any number of managed policies to one principal; AWS refuses both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.iam.exceptions import IAMException
from moto.iam.models import IAMBackend, Role, User

from strict_aws.active import current
from strict_aws.patches import Patches

# Roles only AWS may modify. IAM User Guide, "Service-linked roles"
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html) and
# "IAM Identity Center ... roles" (AWSReservedSSO_* under /aws-reserved/sso.amazonaws.com/); the
# exact error is quoted in rebuy-de/aws-nuke#441, #1028, gruntwork-io/cloud-nuke#880,
# perkbox/cloud-access-bot#11.
PROTECTED_ROLE_PATHS = ("/aws-reserved/sso.amazonaws.com/", "/aws-service-role/")
_GUARDED = (
    "attach_role_policy",
    "detach_role_policy",
    "put_role_policy",
    "delete_role_policy",
    "update_assume_role_policy",
    "delete_role",
)


# Managed policies attached to one user or role: 10 by default, adjustable up to 20 (IAM User
# Guide, "IAM and AWS STS quotas"). Beyond it IAM answers 409 LimitExceeded "Cannot exceed quota
# for PoliciesPerRole: 10" (quoted from real deploys in aws/eks-hybrid#741 and
# LBHackney-IT/Data-Platform#1882; PoliciesPerUser for users). Attaching a policy the principal
# already holds adds nothing, so it is not counted against the quota.
MANAGED_POLICY_QUOTA = 10


class UnmodifiableEntityError(IAMException):
    """IAM refuses to change a role that only AWS may modify."""

    code = "UnmodifiableEntity"


class QuotaExceededError(IAMException):
    """IAM refuses a managed policy beyond the principal's quota (its HTTP status, 409, comes
    from the IAM model's LimitExceeded shape)."""

    code = "LimitExceeded"


def install(patches: Patches) -> None:
    for name in _GUARDED:
        patches.set(IAMBackend, name, _guard_protected_role(name, getattr(IAMBackend, name)))
    for name, getter, quota in (
        ("attach_user_policy", IAMBackend.get_user, "PoliciesPerUser"),
        ("attach_role_policy", IAMBackend.get_role, "PoliciesPerRole"),
    ):
        patches.set(IAMBackend, name, _within_quota(name, getattr(IAMBackend, name), getter, quota))


def _within_quota(
    action: str,
    original: Callable[..., Any],
    get_principal: Callable[[IAMBackend, str], User | Role],
    quota_name: str,
) -> Callable[..., Any]:
    def attach(self: IAMBackend, policy_arn: str, *args: Any, **kwargs: Any) -> Any:
        if current() is not None:
            name = kwargs.get("user_name", kwargs.get("role_name"))
            principal = get_principal(self, name if name is not None else args[0])
            held = principal.managed_policies
            if policy_arn not in held and len(held) >= MANAGED_POLICY_QUOTA:
                raise QuotaExceededError(
                    f"Cannot exceed quota for {quota_name}: {MANAGED_POLICY_QUOTA}"
                )
        return original(self, policy_arn, *args, **kwargs)

    attach.__name__ = action
    return attach


def _guard_protected_role(action: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        if current() is not None:
            role_name = kwargs.get("role_name")
            if role_name is None:
                role_name = (
                    args[1] if action in ("attach_role_policy", "detach_role_policy") else args[0]
                )
            role = next((r for r in self.roles.values() if r.name == role_name), None)
            if role is not None and role.path.startswith(PROTECTED_ROLE_PATHS):
                # UnmodifiableEntity, 400. Text quoted verbatim in rebuy-de/aws-nuke#441 (SSO
                # role), gruntwork-io/cloud-nuke#880 (service-linked, DetachRolePolicy).
                # TagRole is NOT refused: IAM documents tagging service-linked roles as
                # unsupported only via their service, and no refusal text for TagRole was
                # found - UNCERTAIN, left lenient.
                raise UnmodifiableEntityError(
                    f"Cannot perform the operation on the protected role '{role_name}' - this "
                    "role is only modifiable by AWS"
                )
        return original(self, *args, **kwargs)

    guarded.__name__ = action
    return guarded
