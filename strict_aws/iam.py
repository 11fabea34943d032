"""Strict IAM: roles only AWS may modify refuse every change with UnmodifiableEntity.

moto lets anyone attach to, edit or delete Identity Center (AWSReservedSSO_*) and service-linked
roles; AWS refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.iam.exceptions import IAMException
from moto.iam.models import IAMBackend

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


class UnmodifiableEntityError(IAMException):
    """IAM refuses to change a role that only AWS may modify."""

    code = "UnmodifiableEntity"


def install(patches: Patches) -> None:
    for name in _GUARDED:
        patches.set(IAMBackend, name, _guard_protected_role(name, getattr(IAMBackend, name)))


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
