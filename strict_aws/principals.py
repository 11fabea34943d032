"""Who is calling: moto's view of an access key (an IAM user's key, a role session, or neither).

Several services' strict behaviours depend on the caller: KMS grants (the caller's identity
policies), the SCP-denied region's error text (the caller's ARN), EventBridge bus policies and STS
trust policies (`aws:PrincipalArn`).
"""

from __future__ import annotations

from typing import Any


def partition_of(region: str) -> str:
    from moto.utilities.utils import get_partition

    return str(get_partition(region))


def find_principal(account_id: str, region: str, access_key_id: str) -> Any | None:
    """moto's view of who owns this access key: an IAM user key, a role session, or None."""
    from moto.iam.access_control import (
        AssumedRoleAccessKey,
        CreateAccessKeyFailure,
        IAMUserAccessKey,
    )
    from moto.sts.models import sts_backends

    partition = partition_of(region)
    try:
        return IAMUserAccessKey(account_id, partition, access_key_id, {})
    except CreateAccessKeyFailure:
        pass
    for role in sts_backends[account_id][partition].assumed_roles:
        if role.access_key_id == access_key_id:
            token = {"X-Amz-Security-Token": role.session_token}
            return AssumedRoleAccessKey(account_id, partition, access_key_id, token)
    return None


def identity_policies(account_id: str, region: str, access_key_id: str) -> list[Any] | None:
    """The caller's identity policies, or None for a key that is no IAM principal's."""
    principal = find_principal(account_id, region, access_key_id)
    if principal is None:
        return None
    return list(principal.collect_policies())


def principal_arn(account_id: str, region: str, access_key_id: str) -> str:
    """The caller's ARN as an error message names it (the account root for unknown keys)."""
    principal = find_principal(account_id, region, access_key_id)
    if principal is None:
        return f"arn:{partition_of(region)}:iam::{account_id}:root"
    return str(principal.arn)


def principal_role_arn(account_id: str, region: str, access_key_id: str) -> str:
    """What `aws:PrincipalArn` holds for this caller: a user's ARN, an assumed role's role ARN
    (path included), or the account root (IAM User Guide, "AWS global condition context keys")."""
    from moto.sts.models import sts_backends

    for role in sts_backends[account_id][partition_of(region)].assumed_roles:
        if role.access_key_id == access_key_id:
            return str(role.role_arn)
    return principal_arn(account_id, region, access_key_id)
