"""Fixed `runawaytrain-` names for what a member template creates (organisation delivery).

The guard-protection SCP protects the guard's functions, topics, queues, log groups and rules by
name, `runawaytrain-*` (scp.py): in a stack `cdk deploy` creates that holds, because
CloudFormation names an unnamed resource `<stack name>-<logical id>-<suffix>` and our stacks are
`runawaytrain-...`. A StackSet names its stack instances `StackSet-<stack set name>-<id>`
(CloudFormation User Guide, "StackSets concepts": stack instances), so the same resources would
be created as `StackSet-runawaytrain-...` and fall outside the SCP: an insider could delete the
guard. Each member template therefore names them itself, by logical id (unique in the template,
stable across deploys); one guard per account and Region, so no two stacks share a name.
"""

from __future__ import annotations

import hashlib

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from runawaytrain_stack.names import MEMBER_GUARD_FUNCTION_NAME, PREFIX

# L1 class -> (its name attribute, the CloudFormation property, its longest allowed value):
# Lambda FunctionName 64, SNS TopicName 256, SQS QueueName 80, CloudWatch Logs LogGroupName 512,
# EventBridge rule Name 64 (each resource's CloudFormation reference, Properties).
NAMED = (
    (lambda_.CfnFunction, "function_name", "FunctionName", 64),
    (sns.CfnTopic, "topic_name", "TopicName", 256),
    (sqs.CfnQueue, "queue_name", "QueueName", 80),
    (logs.CfnLogGroup, "log_group_name", "LogGroupName", 512),
    (events.CfnRule, "name", "Name", 64),
)


def name_member_resources(stack: Stack, guard_function: CfnResource | None = None) -> None:
    """Give every resource of the NAMED kinds in `stack` a `runawaytrain-` name unless it has
    one; the guard function gets MEMBER_GUARD_FUNCTION_NAME (the CLI finds it by that name)."""
    for node in stack.node.find_all():
        for kind, attribute, prop, longest in NAMED:
            # An L2 construct passes its physical name as a token: resolved, None when unnamed.
            if not isinstance(node, kind) or stack.resolve(getattr(node, attribute)):
                continue
            if guard_function is not None and node.node.path == guard_function.node.path:
                name = MEMBER_GUARD_FUNCTION_NAME
            else:
                name = name_for(stack.resolve(node.logical_id), longest)
            node.add_property_override(prop, name)
            if isinstance(node, logs.CfnLogGroup):
                # CDK retains log groups by default: a named one left behind by a deleted stack
                # instance (an account leaving the OUs) would make its next creation fail
                # "already exists", leaving the account unguarded when it comes back.
                node.apply_removal_policy(RemovalPolicy.DESTROY)


def name_for(logical_id: str, longest: int) -> str:
    """`runawaytrain-<logical id>`, shortened with a digest of the id when too long."""
    name = f"{PREFIX}-{logical_id}"
    if len(name) <= longest:
        return name
    digest = hashlib.sha256(logical_id.encode()).hexdigest()[:8]
    return f"{name[: longest - 9]}-{digest}"
