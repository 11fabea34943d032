"""Strict KMS: restarting an instance whose EBS volume uses a customer managed key needs the
caller's kms:CreateGrant; without it the instance goes back to `stopped` (ec2_instances.py acts
on it).

The grant check evaluates the caller's IAM identity policies in moto (only actions: moto checks no
resources or conditions); a test may pass its own `kms_grant_allowed` instead. Unknown keys
(moto's default credentials, standing for the root) are allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strict_aws.principals import identity_policies

if TYPE_CHECKING:
    from moto.ec2.models.instances import Instance

    from strict_aws.layer import StrictAWS


def grant_allowed(layer: StrictAWS, account_id: str, region: str, access_key_id: str) -> bool:
    """May this caller kms:CreateGrant?"""
    if layer.kms_grant_allowed is not None:
        return layer.kms_grant_allowed(access_key_id)
    policies = identity_policies(account_id, region, access_key_id)
    if policies is None:
        return True  # not an IAM user or role session: moto's default key is the root
    from moto.iam.access_control import IAMPolicy, PermissionResult

    allowed = False
    for policy in policies:
        result = IAMPolicy(policy).is_action_permitted("kms:CreateGrant")
        if result == PermissionResult.DENIED:
            return False
        allowed = allowed or result == PermissionResult.PERMITTED
    return allowed


def has_customer_managed_key(
    ec2_backend: Any, account_id: str, region: str, instance: Instance
) -> bool:
    """Is any of the instance's EBS volumes encrypted with a customer managed key?"""
    from moto.kms.exceptions import NotFoundException as KMSNotFound
    from moto.kms.models import kms_backends

    kms = kms_backends[account_id][region]
    for _, device in instance.get_block_device_mapping:
        volume = ec2_backend.get_volume(device.volume_id)
        if not volume.encrypted or not volume.kms_key_id:
            continue
        try:
            key = kms.describe_key(str(volume.kms_key_id))
        except KMSNotFound:  # an unknown key id is not a customer managed key
            continue
        if key.key_manager == "CUSTOMER":
            return True
    return False
