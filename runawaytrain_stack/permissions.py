"""Every IAM action the guard may call, by concern, and the policy that grants them.

The action tuples are the single list a cross-check compares with what the guard's code calls.
Resources are narrowed as far as IAM allows; "*" appears only for actions that support no
resource-level permission, each marked with its source: the Service Authorization Reference
tables "Actions defined by Amazon EC2 / Amazon EC2 Auto Scaling / AWS STS / IAM", where these
actions list no resource type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Aws, Token

from guard.settings import Lockout, Unstoppable
from runawaytrain_stack.fleet_model import Account
from runawaytrain_stack.launch_block import MAX_MANAGED_POLICY_CHARACTERS
from runawaytrain_stack.names import INCIDENT_TAG_PREFIX, PREFIX, ROLE_PATH

# Counting: no resource-level permissions exist for these (see module docstring).
# The Describe*Tags pair lets restore find an incident's instances and groups.
CENSUS_ACTIONS = (
    "ec2:DescribeRegions",
    "ec2:DescribeInstanceStatus",
    "ec2:DescribeInstances",
    "ec2:DescribeTags",
    "ec2:DescribeSpotInstanceRequests",
    "ec2:DescribeSpotFleetRequests",
    "ec2:DescribeFleets",
    "ec2:DescribeHosts",
    "ec2:DescribeCapacityReservations",
    # Weighted limits only (lambda/guard/census.py, weights.py, pricing.py): each instance's
    # type, vCPUs and accelerators per type, on-demand prices from the Price List (no
    # resource-level permissions: Service Authorization Reference, "Actions defined by Amazon EC2"
    # and "Actions defined by AWS Price List").
    "ec2:DescribeInstanceImageMetadata",
    "ec2:DescribeInstanceTypes",
    "pricing:GetProducts",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeTags",
    # A warm pool's instances and their lifecycle states (lambda/guard/warm_pools.py, restore).
    "autoscaling:DescribeWarmPool",
    "sts:GetCallerIdentity",
    # Capacity outside EC2 (lambda/guard/services.py): no resource-level permissions
    # (Service Authorization Reference, "Actions defined by Amazon SageMaker").
    "sagemaker:ListNotebookInstances",
    # Batch and EKS (batch_environments.py, batch_jobs.py, eks_nodegroups.py): no resource-level
    # permissions (Service Authorization Reference, "Actions defined by AWS Batch" and "Actions
    # defined by Amazon Elastic Kubernetes Service").
    "batch:DescribeComputeEnvironments",
    "batch:DescribeJobQueues",
    "batch:ListJobs",
    "batch:DescribeJobs",
    "eks:ListClusters",
    "sagemaker:ListEndpoints",
    "sagemaker:ListEndpointConfigs",  # restore: the records on them
    "sagemaker:ListTrainingJobs",
    "sagemaker:ListProcessingJobs",
    "sagemaker:ListTransformJobs",
    "sagemaker:ListHyperParameterTuningJobs",
    "sagemaker:ListClusters",
    "sagemaker:ListApps",  # Studio apps (sagemaker_apps.py), every domain in one listing
    # ECS services and tasks (lambda/guard/ecs_services.py, ecs_tasks.py) and their scalable
    # targets: no resource-level permissions (Service Authorization Reference, "Actions defined
    # by Amazon ECS" and "by Application Auto Scaling"; ListTasks' optional container-instance).
    "ecs:ListClusters",
    "ecs:ListServices",
    "ecs:ListTasks",
    "ecs:DescribeTaskDefinition",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",  # what an endpoint's delete takes
    "application-autoscaling:DescribeScheduledActions",
    # RDS and Lambda (lambda/guard/rds_databases.py, lambda_functions.py): ListFunctions supports
    # no resource-level permissions; the two Describe calls list every database of the region.
    "rds:DescribeDBInstances",
    "rds:DescribeDBClusters",
    "lambda:ListFunctions",
    # Redshift (lambda/guard/redshift_clusters.py): DescribeClusters lists every cluster of the
    # region; DescribeScheduledActions has no resource-level permissions (Service Authorization
    # Reference, "Actions defined by Amazon Redshift").
    "redshift:DescribeClusters",
    "redshift:DescribeScheduledActions",
    # GameLift fleets (lambda/guard/gamelift_fleets.py): no resource-level permissions (Service
    # Authorization Reference, "Actions defined by Amazon GameLift Servers").
    "gamelift:DescribeFleetCapacity",
    "gamelift:DescribeFleetAttributes",
    # Bedrock tokens per model from CloudWatch (lambda/guard/bedrock_tokens.py): GetMetricData
    # supports no resource-level permissions (SAR, "Actions defined by Amazon CloudWatch").
    "cloudwatch:GetMetricData",
    # Lightsail, OpenSearch and NAT gateways (lambda/guard/lightsail_*.py, opensearch_domains.py,
    # nat_gateways.py): no resource-level permissions (Service Authorization Reference, "Actions
    # defined by Amazon Lightsail", "by Amazon OpenSearch Service" and "by Amazon EC2").
    "lightsail:GetInstances",
    "lightsail:GetBundles",
    "lightsail:GetRelationalDatabases",
    "lightsail:GetRelationalDatabaseBundles",
    "es:ListDomainNames",
    "ec2:DescribeNatGateways",
)
# Halting: stop (lifting stop protection, put back by restore); pause scaling so groups do not
# replace what was stopped.
# ec2:ModifyInstanceAttribute is used only to lift DisableApiStop (instances.py) but stays
# unconditioned: the Service Authorization Reference lists ec2:Attribute and
# ec2:Attribute/${AttributeName} for it, yet AWS documents neither which names nor which values
# a ModifyInstanceAttribute request puts in them. A condition on a key the request lacks makes
# the Allow fail, and that would surface only at a real trip, as instances the guard cannot
# stop; no offline test can show the condition works. What it leaves open: the guard's role can
# change any attribute of the account's instances.
STOP_ACTIONS = ("ec2:StopInstances", "ec2:ModifyInstanceAttribute")
RESTART_ACTIONS = ("ec2:StartInstances",)  # restore --restart-instances only
# Only Spot capacity AWS cannot stop (and, with unstoppable: terminate-all, instance-store roots),
# enforced by the ec2:InstanceMarketType / ec2:RootDeviceType conditions: on-demand EBS-backed
# instances can never be terminated by the guard (Service Authorization Reference, Amazon EC2
# condition keys).
TERMINATE_ACTIONS = ("ec2:TerminateInstances",)
SPOT_REQUEST_ACTIONS = ("ec2:CancelSpotInstanceRequests",)
FLEET_ACTIONS = ("ec2:ModifySpotFleetRequest", "ec2:ModifyFleet")
# StartInstances of an instance whose EBS volumes use a customer managed key makes EC2 create a
# grant for the caller; without kms:CreateGrant the instance falls back to stopped (EBS User
# Guide, "Amazon EBS encryption"). Only for grants to AWS services (kms:GrantIsForAWSResource).
RESTART_KEY_ACTIONS = ("kms:CreateGrant",)
SCALING_ACTIONS = ("autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses")
# A warm pool kept Running is set to Stopped, and restore puts its configuration back
# (lambda/guard/warm_pools.py); never DeleteWarmPool, which terminates the pool's instances.
WARM_POOL_ACTIONS = ("autoscaling:PutWarmPool",)
# Incident tags (instances, Spot requests, fleets), limited to runawaytrain: keys by the
# aws:TagKeys condition.
INSTANCE_TAG_ACTIONS = ("ec2:CreateTags", "ec2:DeleteTags")
GROUP_TAG_ACTIONS = ("autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags")
# SageMaker notebook instances (lambda/guard/sagemaker_notebooks.py): stopped at a trip, started
# by restore, found again by their incident tag; tags limited to runawaytrain: keys by condition.
NOTEBOOK_ACTIONS = (
    "sagemaker:StopNotebookInstance",
    "sagemaker:StartNotebookInstance",
    "sagemaker:ListTags",
)
NOTEBOOK_TAG_ACTIONS = ("sagemaker:AddTags", "sagemaker:DeleteTags")
# Batch compute environments disabled at a trip and enabled by restore (batch_environments.py),
# tagged first (runawaytrain: keys by condition); jobs terminated only per `halt:` (batch_jobs.py).
BATCH_ENVIRONMENT_ACTIONS = ("batch:UpdateComputeEnvironment",)
BATCH_TAG_ACTIONS = ("batch:TagResource", "batch:UntagResource")
BATCH_JOB_ACTIONS = ("batch:TerminateJob",)
# EKS managed node groups scaled to 0 at a trip and back by restore (eks_nodegroups.py), tagged
# first; ListNodegroups takes the cluster, the others the node group (SAR).
EKS_CLUSTER_ACTIONS = ("eks:ListNodegroups",)
EKS_NODEGROUP_ACTIONS = ("eks:DescribeNodegroup", "eks:UpdateNodegroupConfig")
EKS_TAG_ACTIONS = ("eks:TagResource", "eks:UntagResource")
# SageMaker endpoints (lambda/guard/sagemaker_endpoints.py): deleted at a trip, the record on
# their endpoint configuration (runawaytrain: keys only, by condition), created again by restore.
# CreateEndpoint needs both resource types; with tags it needs sagemaker:AddTags on the endpoint
# too (Service Authorization Reference: dependent action), allowed only for that
# (sagemaker:TaggingAction).
ENDPOINT_ACTIONS = ("sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:ListTags")
ENDPOINT_CREATE_ACTIONS = ("sagemaker:CreateEndpoint",)
ENDPOINT_TAG_ON_CREATE_ACTIONS = ("sagemaker:AddTags",)
ENDPOINT_CONFIG_ACTIONS = ("sagemaker:DescribeEndpointConfig", "sagemaker:ListTags")
ENDPOINT_CONFIG_TAG_ACTIONS = ("sagemaker:AddTags", "sagemaker:DeleteTags")
# SageMaker jobs (lambda/guard/sagemaker_jobs.py): described, tagged and stopped (`halt:` only).
JOB_ACTIONS = (
    "sagemaker:DescribeTrainingJob",
    "sagemaker:DescribeProcessingJob",
    "sagemaker:DescribeTransformJob",
    "sagemaker:DescribeHyperParameterTuningJob",
    "sagemaker:StopTrainingJob",
    "sagemaker:StopProcessingJob",
    "sagemaker:StopTransformJob",
    "sagemaker:StopHyperParameterTuningJob",
)
JOB_TAG_ACTIONS = ("sagemaker:AddTags", "sagemaker:DeleteTags")
# SageMaker Studio apps (lambda/guard/sagemaker_apps.py): described (ListApps gives no ARN),
# tagged and deleted (`halt:` only).
APP_ACTIONS = ("sagemaker:DescribeApp", "sagemaker:DeleteApp")
APP_TAG_ACTIONS = ("sagemaker:AddTags", "sagemaker:DeleteTags")
# SageMaker HyperPod clusters (lambda/guard/sagemaker_clusters.py): counted, never changed.
CLUSTER_ACTIONS = ("sagemaker:DescribeCluster",)
# DeleteEndpoint of an endpoint with auto scaling: Application Auto Scaling deregisters its
# variants' scalable targets with the caller's permission, and without
# application-autoscaling:DeregisterScalableTarget the delete fails (SageMaker Developer Guide,
# "Delete endpoints configured for auto scaling"). Called by AWS for the guard, never by its code;
# only SageMaker targets (application-autoscaling:service-namespace).
ENDPOINT_SCALING_ACTIONS = ("application-autoscaling:DeregisterScalableTarget",)
# ECS services set to 0 tasks at a trip and back by restore; standalone tasks stopped (only when
# `halt:` names them); both recorded by tags limited to runawaytrain: keys by condition.
ECS_SERVICE_ACTIONS = ("ecs:DescribeServices", "ecs:UpdateService")
ECS_TASK_ACTIONS = ("ecs:DescribeTasks", "ecs:StopTask")
ECS_TAG_ACTIONS = ("ecs:TagResource", "ecs:UntagResource")
# A service's scaling suspended before its count is set to 0, and put back by restore: only
# existing ECS targets (no RoleARN passed, so no iam:PassRole; the service-linked role exists).
ECS_SCALING_ACTIONS = ("application-autoscaling:RegisterScalableTarget",)
# RDS DB instances and clusters (lambda/guard/rds_databases.py): stopped at a trip, started by
# restore, recorded by tag (runawaytrain: keys only, by condition).
DATABASE_INSTANCE_ACTIONS = ("rds:StopDBInstance", "rds:StartDBInstance")
DATABASE_CLUSTER_ACTIONS = ("rds:StopDBCluster", "rds:StartDBCluster")
DATABASE_TAG_ACTIONS = ("rds:AddTagsToResource", "rds:RemoveTagsFromResource")
# Redshift provisioned clusters (lambda/guard/redshift_clusters.py): paused at a trip, resumed by
# restore, recorded by tag (runawaytrain: keys only, by condition: aws:TagKeys, SAR); their
# scheduled resume actions disabled meanwhile (ModifyScheduledAction: no resource-level
# permissions, SAR).
REDSHIFT_CLUSTER_ACTIONS = ("redshift:PauseCluster", "redshift:ResumeCluster")
REDSHIFT_TAG_ACTIONS = ("redshift:CreateTags", "redshift:DeleteTags")
REDSHIFT_SCHEDULE_ACTIONS = ("redshift:ModifyScheduledAction",)
# Lambda functions (lambda/guard/lambda_functions.py): reserved concurrency 0 at a trip, the
# recorded reservation back at restore; never on runawaytrain's own functions (denied below).
FUNCTION_ACTIONS = (
    "lambda:GetFunctionConcurrency",
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
    "lambda:ListTags",
)
FUNCTION_TAG_ACTIONS = ("lambda:TagResource", "lambda:UntagResource")
# GameLift managed EC2 fleets (lambda/guard/gamelift_fleets.py): auto scaling stopped and 0
# instances at a trip, both given back by restore, recorded by tag (runawaytrain: keys only);
# fleet ARNs only (container fleets are reported, never changed).
GAMELIFT_FLEET_ACTIONS = (
    "gamelift:StopFleetActions",
    "gamelift:StartFleetActions",
    "gamelift:UpdateFleetCapacity",
    "gamelift:ListTagsForResource",
)
GAMELIFT_TAG_ACTIONS = ("gamelift:TagResource", "gamelift:UntagResource")
# OpenSearch domains (lambda/guard/opensearch_domains.py): described, never changed.
OPENSEARCH_ACTIONS = ("es:DescribeDomains",)
# NAT gateways (lambda/guard/nat_gateways.py): deleted only where `halt:` names them, recorded
# first by a tag on the Elastic IP the delete keeps (a private gateway's: on its subnet; a
# regional gateway's: on its VPC),
# runawaytrain: keys only by condition.
NAT_GATEWAY_ACTIONS = ("ec2:DeleteNatGateway",)
NAT_RECORD_ACTIONS = ("ec2:CreateTags", "ec2:DeleteTags")
# Lambda provisioned concurrency (lambda/guard/lambda_provisioned.py): listed per function,
# removed at a trip and put back by restore on the alias or version it was on (function:<n>:<q>).
PROVISIONED_READ_ACTIONS = ("lambda:ListProvisionedConcurrencyConfigs",)
PROVISIONED_ACTIONS = (
    "lambda:DeleteProvisionedConcurrencyConfig",
    "lambda:PutProvisionedConcurrencyConfig",
)
PUBLISH_ACTIONS = ("sns:Publish",)
TOPIC_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
# The open incident (lambda/guard/open_incident.py): one SSM parameter in the home Region that
# keeps the breaker tripped until restore. Must equal guard.open_incident.PARAMETER (tested).
OPEN_INCIDENT_PARAMETER = "/runawaytrain/guard/open-incident"
OPEN_INCIDENT_ACTIONS = ("ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter")
# The guard's record of its last run (lambda/guard/last_run.py), read by `runawaytrain status`.
# Must equal guard.last_run.PARAMETER (tested).
LAST_RUN_PARAMETER = "/runawaytrain/guard/last-run"
LAST_RUN_ACTIONS = ("ssm:GetParameter", "ssm:PutParameter")
# The incident's own record (lambda/guard/ledger.py, issue 22 item 7): parameters under this path
# in every Region (each Region's batch in its own Parameter Store), written before each change,
# read and deleted by restore. Must equal guard.ledger.ROOT (tested).
INCIDENT_RECORD_PATH = "/runawaytrain/guard/incidents"
INCIDENT_RECORD_ACTIONS = (
    "ssm:PutParameter",
    "ssm:GetParametersByPath",
    "ssm:DeleteParameters",
)
# Organisation delivery (lambda/guard/settings_store.py): the guard reads its settings document
# and keeps the last-known-good copy in one parameter (must equal guard.settings_store.PARAMETER,
# tested); it also publishes each mail to the payer's topic, whose key is the payer's.
SETTINGS_READ_ACTIONS = ("s3:GetObject",)
SETTINGS_PARAMETER = "/runawaytrain/guard/settings"
SETTINGS_PARAMETER_ACTIONS = ("ssm:GetParameter", "ssm:PutParameter")
LOCKOUT_LIST_ACTIONS = ("iam:ListUsers", "iam:ListRoles")  # no resource-level permissions
# Lockout (lambda/guard/lockout.py) and restore: reading users, roles, keys and what is attached.
# No inline policy writes (iam:PutUserPolicy / iam:PutRolePolicy): an inline policy's content
# cannot be constrained by any condition (the Service Authorization Reference lists none for its
# document), so whoever could run code as the guard could grant itself anything. The
# List*Policies pair only checks an older guard's inline deny (lockout.py).
LOCKOUT_USER_ACTIONS = (
    "iam:ListAccessKeys",
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:ListUserTags",
)
LOCKOUT_ROLE_ACTIONS = (
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
)
# Only with `lockout` users or users+roles: set keys Inactive at a trip, Active again at restore.
LOCKOUT_KEY_ACTIONS = ("iam:UpdateAccessKey",)
# Attach/Detach take the policy's ARN as the iam:PolicyARN condition key (Service Authorization
# Reference, "Actions defined by AWS Identity and Access Management": AttachUserPolicy,
# AttachRolePolicy, DetachUserPolicy, DetachRolePolicy; IAM User Guide example "IAM: Limits
# managed policies that can be applied to an IAM user, group, or role"), so each statement names
# the one policy it may attach. Attaching only the AWS managed AWSDenyAll, which nobody can
# change: users with `lockout` users, roles too with users+roles.
LOCKOUT_DENY_ALL_ACTIONS = ("iam:AttachUserPolicy", "iam:AttachRolePolicy")
# Detaching only AWSDenyAll and the launch-block policy, whatever the settings: a restore after a
# setting was turned off still lifts what an earlier trip attached, and removing a deny of
# runawaytrain's own grants nobody more than they had before the trip.
DETACH_OWN_DENIES_ACTIONS = ("iam:DetachUserPolicy", "iam:DetachRolePolicy")
LOCKOUT_TAG_ACTIONS = ("iam:TagUser", "iam:UntagUser", "iam:TagRole", "iam:UntagRole")
# The launch block (lambda/guard/launch_block.py): attaching, with `launch_block: true` only, in a
# statement of its own whose iam:PolicyARN condition names only the guard stack's launch-block
# policy. Its listing and tagging are the lockout's (the statements above).
LAUNCH_BLOCK_ACTIONS = ("iam:AttachUserPolicy", "iam:AttachRolePolicy")
# Before attaching it, the guard reads the policy's default version and attaches only a
# document that denies and never allows: a member admin who rewrote it (CreatePolicyVersion)
# must not turn the trip into a grant to everyone.
LAUNCH_BLOCK_READ_ACTIONS = ("iam:GetPolicy", "iam:GetPolicyVersion")
LOCKOUT_ACTIONS = (
    LOCKOUT_LIST_ACTIONS
    + LOCKOUT_USER_ACTIONS
    + LOCKOUT_ROLE_ACTIONS
    + LOCKOUT_KEY_ACTIONS
    + LOCKOUT_DENY_ALL_ACTIONS
    + DETACH_OWN_DENIES_ACTIONS
    + LOCKOUT_TAG_ACTIONS
)
HALT_ACTIONS = (
    STOP_ACTIONS
    + RESTART_ACTIONS
    + TERMINATE_ACTIONS
    + SPOT_REQUEST_ACTIONS
    + FLEET_ACTIONS
    + RESTART_KEY_ACTIONS
    + SCALING_ACTIONS
    + WARM_POOL_ACTIONS
    + INSTANCE_TAG_ACTIONS
    + GROUP_TAG_ACTIONS
    + NOTEBOOK_ACTIONS
    + NOTEBOOK_TAG_ACTIONS
    + BATCH_ENVIRONMENT_ACTIONS
    + BATCH_TAG_ACTIONS
    + BATCH_JOB_ACTIONS
    + EKS_CLUSTER_ACTIONS
    + EKS_NODEGROUP_ACTIONS
    + EKS_TAG_ACTIONS
    + ENDPOINT_ACTIONS
    + ENDPOINT_CREATE_ACTIONS
    + ENDPOINT_TAG_ON_CREATE_ACTIONS
    + ENDPOINT_CONFIG_ACTIONS
    + ENDPOINT_CONFIG_TAG_ACTIONS
    + JOB_ACTIONS
    + JOB_TAG_ACTIONS
    + ENDPOINT_SCALING_ACTIONS
    + CLUSTER_ACTIONS
    + APP_ACTIONS
    + APP_TAG_ACTIONS
    + ECS_SERVICE_ACTIONS
    + ECS_TASK_ACTIONS
    + ECS_TAG_ACTIONS
    + ECS_SCALING_ACTIONS
    + DATABASE_INSTANCE_ACTIONS
    + DATABASE_CLUSTER_ACTIONS
    + DATABASE_TAG_ACTIONS
    + FUNCTION_ACTIONS
    + FUNCTION_TAG_ACTIONS
    + REDSHIFT_CLUSTER_ACTIONS
    + REDSHIFT_TAG_ACTIONS
    + REDSHIFT_SCHEDULE_ACTIONS
    + GAMELIFT_FLEET_ACTIONS
    + GAMELIFT_TAG_ACTIONS
    + OPENSEARCH_ACTIONS
    + NAT_GATEWAY_ACTIONS
    + NAT_RECORD_ACTIONS
    + PROVISIONED_READ_ACTIONS
    + PROVISIONED_ACTIONS
)
NOTIFY_ACTIONS = PUBLISH_ACTIONS + TOPIC_KEY_ACTIONS
PAYER_ACTIONS = ("events:PutEvents",)  # heartbeats and quarantine requests (payer_events.py)
# Every action the guard's code may call under some settings; an account's role holds those its
# settings use (build_guard_policy: no attach of AWSDenyAll without `lockout`, none of the
# launch-block policy without `launch_block`).
GUARD_ACTIONS = (
    CENSUS_ACTIONS
    + HALT_ACTIONS
    + NOTIFY_ACTIONS
    + LOG_ACTIONS
    + LOCKOUT_ACTIONS
    + LAUNCH_BLOCK_ACTIONS
    + LAUNCH_BLOCK_READ_ACTIONS
    + OPEN_INCIDENT_ACTIONS
    + LAST_RUN_ACTIONS
    + INCIDENT_RECORD_ACTIONS
    + PAYER_ACTIONS
)
# Fast trip: Lambda's SQS poller reads and deletes the queued prompts with the guard's role (the
# Lambda Developer Guide's AWSLambdaSQSQueueExecutionRole: exactly these three on the queue).
# Called by the Lambda service, never by the guard's code, so they stay out of GUARD_ACTIONS,
# which the IAM cross-check compares with the calls the code makes.
FAST_TRIP_QUEUE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
# A guard that can rewrite its own role's policies could grant itself anything: deny that.
SELF_PROTECTION_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
)


def build_guard_policy(
    account: Account,
    *,
    topic_arn: str,
    key_arn: str,
    log_group_arn: str,
    launch_block_arn: str,
    fast_trip_queue_arn: str | None = None,
    payer_bus_arn: str | None = None,
    own_stacks: Sequence[str] = (),
    settings_bucket: str | None = None,
    payer_topic_arn: str | None = None,
) -> dict[str, Any]:
    """The guard role's whole policy, one statement per resource scope, as IAM policy JSON.
    `settings_bucket`, `payer_topic_arn`: organisation delivery (settings_statements).
    `launch_block_arn`: the guard stack's launch-block policy (launch_block.py).
    `own_stacks`: runawaytrain's stack ARN prefixes in this account (names.py): what they made
    the guard may never throttle nor strip of provisioned concurrency.

    JSON for iam.PolicyDocument.from_json, and ARNs formatted here: one jsii call for the whole
    document, where a PolicyStatement and a Stack.format_arn each cost one (bench/synth.py).
    """
    arn = f"arn:{Aws.PARTITION}"
    own = account.id
    instances = f"{arn}:ec2:*:{own}:instance/*"
    spot_requests = f"{arn}:ec2:*:{own}:spot-instances-request/*"
    fleets = [f"{arn}:ec2:*:{own}:spot-fleet-request/*", f"{arn}:ec2:*:{own}:fleet/*"]
    keys = f"{arn}:kms:*:{own}:key/*"
    groups = f"{arn}:autoscaling:*:{own}:autoScalingGroup:*:autoScalingGroupName/*"
    notebooks = f"{arn}:sagemaker:*:{own}:notebook-instance/*"
    batch_environments = f"{arn}:batch:*:{own}:compute-environment/*"
    batch_jobs = f"{arn}:batch:*:{own}:job/*"
    eks_clusters = f"{arn}:eks:*:{own}:cluster/*"
    nodegroups = f"{arn}:eks:*:{own}:nodegroup/*"
    endpoints = f"{arn}:sagemaker:*:{own}:endpoint/*"
    hyperpod_clusters = f"{arn}:sagemaker:*:{own}:cluster/*"
    studio_apps = f"{arn}:sagemaker:*:{own}:app/*"
    endpoint_configs = f"{arn}:sagemaker:*:{own}:endpoint-config/*"
    jobs = [
        f"{arn}:sagemaker:*:{own}:{kind}/*"
        for kind in (
            "training-job",
            "processing-job",
            "transform-job",
            "hyper-parameter-tuning-job",
        )
    ]
    ecs_services = f"{arn}:ecs:*:{own}:service/*"
    ecs_tasks = f"{arn}:ecs:*:{own}:task/*"
    scalable_targets = f"{arn}:application-autoscaling:*:{own}:scalable-target/*"
    databases = f"{arn}:rds:*:{own}:db:*"
    db_clusters = f"{arn}:rds:*:{own}:cluster:*"
    functions = f"{arn}:lambda:*:{own}:function:*"
    redshift_clusters = f"{arn}:redshift:*:{own}:cluster:*"
    opensearch_domains = f"{arn}:es:*:{own}:domain/*"
    nat_gateways = f"{arn}:ec2:*:{own}:natgateway/*"
    nat_records = [
        f"{arn}:ec2:*:{own}:elastic-ip/*",
        f"{arn}:ec2:*:{own}:subnet/*",
        f"{arn}:ec2:*:{own}:vpc/*",  # a regional gateway's record
    ]
    gamelift_fleets = f"{arn}:gamelift:*:{own}:fleet/*"
    qualified_functions = f"{arn}:lambda:*:{own}:function:*:*"  # an alias or a version
    users = f"{arn}:iam::{own}:user/*"
    roles = f"{arn}:iam::{own}:role/*"
    own_roles = f"{arn}:iam::{own}:role{ROLE_PATH}*"
    open_incident = f"{arn}:ssm:{account.home_region}:{own}:parameter{OPEN_INCIDENT_PARAMETER}"
    last_run = f"{arn}:ssm:{account.home_region}:{own}:parameter{LAST_RUN_PARAMETER}"
    # GetParametersByPath names the path itself (restore's search for incidents reads the root)
    incident_records = [
        f"{arn}:ssm:*:{own}:parameter{INCIDENT_RECORD_PATH}",
        f"{arn}:ssm:*:{own}:parameter{INCIDENT_RECORD_PATH}/*",
    ]
    deny_all = f"{arn}:iam::aws:policy/AWSDenyAll"
    # ForAllValues is true for a request that names no keys at all, and ec2:DeleteTags without
    # Tags deletes every tag of the resource: the Null condition requires named keys (IAM User
    # Guide, "Set operators for multivalued context keys").
    only_our_tags = {
        "ForAllValues:StringLike": {"aws:TagKeys": f"{INCIDENT_TAG_PREFIX}*"},
        "Null": {"aws:TagKeys": "false"},
    }
    statements = [
        _allow("Census", CENSUS_ACTIONS + LOCKOUT_LIST_ACTIONS, ["*"]),
        _allow("StopAndRestartInstances", STOP_ACTIONS + RESTART_ACTIONS, [instances]),
        _allow(
            "TerminateOnlySpot",
            TERMINATE_ACTIONS,
            [instances],
            {"StringEquals": {"ec2:InstanceMarketType": "spot"}},
        ),
        *(
            [
                _allow(
                    "TerminateInstanceStore",
                    TERMINATE_ACTIONS,
                    [instances],
                    {"StringEquals": {"ec2:RootDeviceType": "instance-store"}},
                )
            ]
            if account.unstoppable is Unstoppable.TERMINATE_ALL
            else []
        ),
        _allow("CancelSpotRequests", SPOT_REQUEST_ACTIONS, [spot_requests]),
        _allow("ZeroMaintainedFleets", FLEET_ACTIONS, fleets),
        _allow(
            "StartWithCustomerManagedKeys",
            RESTART_KEY_ACTIONS,
            [keys],
            {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        _allow(
            "TagInstances",
            INSTANCE_TAG_ACTIONS,
            [instances, spot_requests, *fleets],
            only_our_tags,
        ),
        _allow("SuspendScaling", SCALING_ACTIONS + WARM_POOL_ACTIONS, [groups]),
        _allow("TagScalingGroups", GROUP_TAG_ACTIONS, [groups], only_our_tags),
        _allow("StopAndStartNotebooks", NOTEBOOK_ACTIONS, [notebooks]),
        _allow("TagNotebooks", NOTEBOOK_TAG_ACTIONS, [notebooks], only_our_tags),
        _allow("DisableBatchEnvironments", BATCH_ENVIRONMENT_ACTIONS, [batch_environments]),
        _allow("TagBatchEnvironments", BATCH_TAG_ACTIONS, [batch_environments], only_our_tags),
        _allow("TerminateBatchJobs", BATCH_JOB_ACTIONS, [batch_jobs]),
        _allow("ListNodeGroups", EKS_CLUSTER_ACTIONS, [eks_clusters]),
        _allow("ScaleNodeGroups", EKS_NODEGROUP_ACTIONS, [nodegroups]),
        _allow("TagNodeGroups", EKS_TAG_ACTIONS, [nodegroups], only_our_tags),
        _allow("DeleteEndpoints", ENDPOINT_ACTIONS, [endpoints]),
        _allow("CreateEndpointsAgain", ENDPOINT_CREATE_ACTIONS, [endpoints, endpoint_configs]),
        _allow(
            "TagEndpointsCreatedAgain",
            ENDPOINT_TAG_ON_CREATE_ACTIONS,
            [endpoints],
            {"StringEquals": {"sagemaker:TaggingAction": "CreateEndpoint"}},
        ),
        _allow("ReadEndpointConfigs", ENDPOINT_CONFIG_ACTIONS, [endpoint_configs]),
        _allow(
            "RecordOnEndpointConfigs",
            ENDPOINT_CONFIG_TAG_ACTIONS,
            [endpoint_configs],
            only_our_tags,
        ),
        _allow(
            "DeregisterScalingOfDeletedEndpoints",
            ENDPOINT_SCALING_ACTIONS,
            [scalable_targets],
            {"StringEquals": {"application-autoscaling:service-namespace": "sagemaker"}},
        ),
        _allow("StopJobs", JOB_ACTIONS, jobs),
        _allow("DescribeHyperPodClusters", CLUSTER_ACTIONS, [hyperpod_clusters]),
        _allow("DeleteStudioApps", APP_ACTIONS, [studio_apps]),
        _allow("TagStudioApps", APP_TAG_ACTIONS, [studio_apps], only_our_tags),
        _allow("TagJobs", JOB_TAG_ACTIONS, jobs, only_our_tags),
        _allow("ZeroEcsServices", ECS_SERVICE_ACTIONS, [ecs_services]),
        _allow("StopEcsTasks", ECS_TASK_ACTIONS, [ecs_tasks]),
        _allow("TagEcs", ECS_TAG_ACTIONS, [ecs_services, ecs_tasks], only_our_tags),
        _allow(
            "SuspendEcsScaling",
            ECS_SCALING_ACTIONS,
            [scalable_targets],
            {
                "StringEquals": {
                    "application-autoscaling:service-namespace": "ecs",
                    "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount",
                }
            },
        ),
        _allow("StopAndStartDatabases", DATABASE_INSTANCE_ACTIONS, [databases]),
        _allow("StopAndStartDatabaseClusters", DATABASE_CLUSTER_ACTIONS, [db_clusters]),
        _allow("TagDatabases", DATABASE_TAG_ACTIONS, [databases, db_clusters], only_our_tags),
        _allow("PauseAndResumeRedshift", REDSHIFT_CLUSTER_ACTIONS, [redshift_clusters]),
        _allow("TagRedshiftClusters", REDSHIFT_TAG_ACTIONS, [redshift_clusters], only_our_tags),
        _allow("DisableRedshiftResumeSchedules", REDSHIFT_SCHEDULE_ACTIONS, ["*"]),
        _allow("ThrottleFunctions", FUNCTION_ACTIONS, [functions]),
        _allow("TagFunctions", FUNCTION_TAG_ACTIONS, [functions], only_our_tags),
        _allow("ScaleInGameLiftFleets", GAMELIFT_FLEET_ACTIONS, [gamelift_fleets]),
        _allow("TagGameLiftFleets", GAMELIFT_TAG_ACTIONS, [gamelift_fleets], only_our_tags),
        _allow("DescribeOpenSearchDomains", OPENSEARCH_ACTIONS, [opensearch_domains]),
        _allow("DeleteNatGateways", NAT_GATEWAY_ACTIONS, [nat_gateways]),
        _allow("RecordDeletedNatGateways", NAT_RECORD_ACTIONS, nat_records, only_our_tags),
        _allow("ListProvisionedConcurrency", PROVISIONED_READ_ACTIONS, [functions]),
        _allow("RemoveProvisionedConcurrency", PROVISIONED_ACTIONS, [qualified_functions]),
        _allow("PublishToOwnTopic", PUBLISH_ACTIONS, [topic_arn]),
        _allow("UseTopicKey", TOPIC_KEY_ACTIONS, [key_arn]),
        _allow("WriteOwnLogs", LOG_ACTIONS, [log_group_arn]),
        _allow("TrackOpenIncident", OPEN_INCIDENT_ACTIONS, [open_incident]),
        _allow("RecordLastRun", LAST_RUN_ACTIONS, [last_run]),
        _allow("KeepIncidentRecord", INCIDENT_RECORD_ACTIONS, incident_records),
        _allow("InspectUsers", LOCKOUT_USER_ACTIONS, [users]),
        _allow("InspectRoles", LOCKOUT_ROLE_ACTIONS, [roles]),
        *_lockout_statements(account, users, roles, deny_all),
        _allow(
            "DetachOnlyOwnDenies",
            DETACH_OWN_DENIES_ACTIONS,
            [users, roles],
            {"ArnEquals": {"iam:PolicyARN": [deny_all, launch_block_arn]}},
        ),
        *(
            [
                _allow(
                    "AttachOnlyLaunchBlock",
                    LAUNCH_BLOCK_ACTIONS,
                    [users, roles],
                    {"ArnEquals": {"iam:PolicyARN": launch_block_arn}},
                )
            ]
            if account.launch_block
            else []
        ),
        _allow("ReadLaunchBlock", LAUNCH_BLOCK_READ_ACTIONS, [launch_block_arn]),
        _allow("TagPrincipals", LOCKOUT_TAG_ACTIONS, [users, roles], only_our_tags),
        {
            # The guard never halts runawaytrain's own functions (lambda_functions.py skips them
            # too): a second lock, in IAM, on the one halt that could stop the guard itself. By
            # exact stack (the stack-id tag only CloudFormation sets), not a name prefix a miner
            # could copy; a function's tags are its aws:ResourceTag keys for these actions
            # (Service Authorization Reference, AWS Lambda).
            "Sid": "NeverHaltOwnFunctions",
            "Effect": "Deny",
            "Action": ["lambda:PutFunctionConcurrency", *PROVISIONED_ACTIONS],
            "Resource": [functions, qualified_functions],
            "Condition": {
                "StringLike": {
                    "aws:ResourceTag/aws:cloudformation:stack-id": [
                        f"{prefix}*" for prefix in own_stacks
                    ]
                    or [f"arn:*:cloudformation:*:{own}:stack/{PREFIX}-guard-{account.name}/*"]
                }
            },
        },
        {
            "Sid": "NeverModifyOwnRoles",
            "Effect": "Deny",
            "Action": list(SELF_PROTECTION_ACTIONS),
            "Resource": own_roles,
        },
    ]
    if fast_trip_queue_arn is not None:
        statements.append(
            _allow("PollFastTripQueue", FAST_TRIP_QUEUE_ACTIONS, [fast_trip_queue_arn])
        )
    if payer_bus_arn is not None:
        statements.append(_allow("ReportToPayer", PAYER_ACTIONS, [payer_bus_arn]))
    statements += settings_statements(account, settings_bucket, payer_topic_arn)
    return {"Version": "2012-10-17", "Statement": statements}


def settings_statements(
    account: Account, settings_bucket: str | None, payer_topic_arn: str | None
) -> list[dict[str, Any]]:
    """Organisation delivery (docs/settings.md): read the account's own settings document and the
    defaults, keep the last-known-good copy, and publish mail to the payer's topic.

    The document key names the account by the policy variable ${aws:PrincipalAccount}, "the
    account to which the requesting principal belongs" (IAM User Guide, "AWS global condition
    context keys"), which IAM replaces in a Resource at evaluation (IAM User Guide, "IAM policy
    elements: Variables and tags"): one policy serves every account of a StackSet. Publishing to
    the payer's SSE-KMS topic needs kms:GenerateDataKey and kms:Decrypt on its key in the
    publisher's own policy as well as in the key policy (AWS KMS Developer Guide, "Allowing
    users in other accounts to use a KMS key"; SNS Developer Guide, "Key management"); the key's
    id is random, so any key of the payer's in its Region, only through SNS (kms:ViaService)."""
    arn = f"arn:{Aws.PARTITION}"
    statements = []
    if settings_bucket is not None:
        parameter = f"{arn}:ssm:{account.home_region}:{account.id}:parameter{SETTINGS_PARAMETER}"
        documents = [
            f"{arn}:s3:::{settings_bucket}/accounts/${{aws:PrincipalAccount}}.json",
            f"{arn}:s3:::{settings_bucket}/defaults.json",
        ]
        statements += [
            _allow("ReadOwnSettings", SETTINGS_READ_ACTIONS, documents),
            _allow("KeepLastKnownSettings", SETTINGS_PARAMETER_ACTIONS, [parameter]),
        ]
    if payer_topic_arn is not None:
        _, _, _, region, payer, _ = payer_topic_arn.split(":", 5)
        statements += [
            _allow("MailThroughPayer", PUBLISH_ACTIONS, [payer_topic_arn]),
            _allow(
                "UsePayerTopicKey",
                TOPIC_KEY_ACTIONS,
                [f"{arn}:kms:{region}:{payer}:key/*"],
                {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}},
            ),
        ]
    return statements


def list_settings_acknowledgments(payer_topic_arn: str) -> list[Acknowledgment]:
    """cdk-nag AwsSolutions-IAM5 on a member guard's role that mails through the payer."""
    _, _, _, region, payer, _ = payer_topic_arn.split(":", 5)
    return [
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:{region}:{payer}:key/*]",
            reason="The payer's alert topic key has a random id no member template can know; "
            "use is limited to calls made through SNS in that Region (kms:ViaService), and the "
            "payer's key policy admits only the organisation's guard roles.",
        )
    ]


def _lockout_statements(
    account: Account, users: str, roles: str, deny_all: str
) -> list[dict[str, Any]]:
    """What `lockout` needs, and nothing when it is none: keys set Inactive (and Active again by
    restore), AWSDenyAll attached to users, and to roles only with users+roles."""
    if account.lockout is Lockout.NONE:
        return []
    with_roles = account.lockout is Lockout.USERS_AND_ROLES
    return [
        _allow("DeactivateKeys", LOCKOUT_KEY_ACTIONS, [users]),
        _allow(
            "AttachOnlyDenyAll",
            LOCKOUT_DENY_ALL_ACTIONS if with_roles else ("iam:AttachUserPolicy",),
            [users, roles] if with_roles else [users],
            {"ArnEquals": {"iam:PolicyARN": deny_all}},
        ),
    ]


def _allow(
    sid: str,
    actions: tuple[str, ...],
    resources: list[str],
    conditions: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": resources,
    }
    if conditions is not None:
        statement["Condition"] = conditions
    return statement


# The guard role holds its statements in customer managed policies, none inline: a role's inline
# policies may hold 10,240 characters together and the guard's statements take about 17,600; a
# managed policy may hold 6,144, and a role 10 of them by default ("IAM does not count white
# space": IAM User Guide, "IAM and AWS STS quotas", role policy size, managed policy size and
# "Managed policies attached to an IAM role"). They live under ROLE_PATH, so the guard-protection
# SCP (scp.py GUARD_POLICIES) refuses insiders a new version, a deletion or a detach of them.
# Statements stay together by concern, each concern a policy named by its part (its construct id,
# so its logical id stays the same across deploys); a concern outgrowing one policy continues in
# `<part>2`, `<part>3`, ... A statement no part names (a new one) goes to GUARD_OTHER_PART.
GUARD_POLICY_PARTS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("Census", "counts what runs (no resource-level permissions)", frozenset({"Census"})),
    (
        "HaltEc2",
        "stops EC2 instances, Spot requests, fleets, scaling groups and NAT gateways",
        frozenset(
            {
                "StopAndRestartInstances",
                "TerminateOnlySpot",
                "TerminateInstanceStore",
                "CancelSpotRequests",
                "ZeroMaintainedFleets",
                "StartWithCustomerManagedKeys",
                "TagInstances",
                "SuspendScaling",
                "TagScalingGroups",
                "DeleteNatGateways",
                "RecordDeletedNatGateways",
            }
        ),
    ),
    (
        "HaltSageMaker",
        "stops SageMaker notebooks, endpoints, jobs and Studio apps",
        frozenset(
            {
                "StopAndStartNotebooks",
                "TagNotebooks",
                "DeleteEndpoints",
                "CreateEndpointsAgain",
                "TagEndpointsCreatedAgain",
                "ReadEndpointConfigs",
                "RecordOnEndpointConfigs",
                "DeregisterScalingOfDeletedEndpoints",
                "StopJobs",
                "TagJobs",
                "DescribeHyperPodClusters",
                "DeleteStudioApps",
                "TagStudioApps",
            }
        ),
    ),
    (
        "HaltServices",
        "stops Batch, EKS, ECS, RDS, Redshift, GameLift and OpenSearch capacity",
        frozenset(
            {
                "DisableBatchEnvironments",
                "TagBatchEnvironments",
                "TerminateBatchJobs",
                "ListNodeGroups",
                "ScaleNodeGroups",
                "TagNodeGroups",
                "ZeroEcsServices",
                "StopEcsTasks",
                "TagEcs",
                "SuspendEcsScaling",
                "StopAndStartDatabases",
                "StopAndStartDatabaseClusters",
                "TagDatabases",
                "PauseAndResumeRedshift",
                "TagRedshiftClusters",
                "DisableRedshiftResumeSchedules",
                "ScaleInGameLiftFleets",
                "TagGameLiftFleets",
                "DescribeOpenSearchDomains",
            }
        ),
    ),
    (
        "HaltFunctions",
        "throttles Lambda functions, never runawaytrain's own",
        frozenset(
            {
                "ThrottleFunctions",
                "TagFunctions",
                "ListProvisionedConcurrency",
                "RemoveProvisionedConcurrency",
                "NeverHaltOwnFunctions",
            }
        ),
    ),
    (
        "LockoutAndRecords",
        "locks principals out, attaches the launch block, notifies and keeps its records",
        frozenset(
            {
                "PublishToOwnTopic",
                "UseTopicKey",
                "WriteOwnLogs",
                "TrackOpenIncident",
                "RecordLastRun",
                "KeepIncidentRecord",
                "InspectUsers",
                "InspectRoles",
                "DeactivateKeys",
                "AttachOnlyDenyAll",
                "DetachOnlyOwnDenies",
                "AttachOnlyLaunchBlock",
                "ReadLaunchBlock",
                "TagPrincipals",
                "NeverModifyOwnRoles",
                "PollFastTripQueue",
                "ReportToPayer",
            }
        ),
    ),
)
GUARD_OTHER_PART = ("Guard", "what no other part holds")
# Sizes are measured before deploy, where the statements still hold CloudFormation references
# (the topic's, key's and log group's ARNs, the stack id): each counts as this many characters,
# well above the ARNs these stacks' names make (about 120). The partition is always `aws`
# (regions.py: the commercial partition only) and an account id has 12 digits.
_REFERENCE_CHARACTERS = 256
_TOKEN = re.compile(r"\$\{Token\[[^\]]+\]\}")


@dataclass(frozen=True)
class GuardPolicyPart:
    """One managed policy of the guard's role: its stable name, what it is for, its document."""

    name: str
    purpose: str
    document: dict[str, Any]


def split_guard_policy(policy: dict[str, Any]) -> list[GuardPolicyPart]:
    """`policy` (build_guard_policy) as managed policies of at most MAX_MANAGED_POLICY_CHARACTERS
    each, by concern (GUARD_POLICY_PARTS), statements in their order; the same input always
    gives the same parts."""
    parts = [*((name, purpose) for name, purpose, _ in GUARD_POLICY_PARTS), GUARD_OTHER_PART]
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in parts}
    for statement in policy["Statement"]:
        grouped[_part_of(statement.get("Sid", ""))].append(statement)
    found: list[GuardPolicyPart] = []
    for name, purpose in parts:
        for index, statements in enumerate(_fill(grouped[name]), start=1):
            label = name if index == 1 else f"{name}{index}"
            document = {"Version": policy["Version"], "Statement": statements}
            found.append(GuardPolicyPart(label, purpose, document))
    return found


def estimate_policy_characters(document: dict[str, Any]) -> int:
    """What IAM will count once deployed (no white space), references at their longest."""
    text = json.dumps(document, separators=(",", ":"))
    text = text.replace(Aws.PARTITION, "aws").replace(Aws.ACCOUNT_ID, "0" * 12)
    return len(_TOKEN.sub("x" * _REFERENCE_CHARACTERS, text))


def _part_of(sid: str) -> str:
    for name, _, sids in GUARD_POLICY_PARTS:
        if sid in sids:
            return name
    return GUARD_OTHER_PART[0]


def _fill(statements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Statements, in order, filling one document after the other (a statement larger than a
    whole document alone stays alone: the stack tests refuse that)."""
    documents: list[list[dict[str, Any]]] = []
    for statement in statements:
        candidate = [*documents[-1], statement] if documents else []
        if documents and _fits(candidate):
            documents[-1] = candidate
        else:
            documents.append([statement])
    return documents


def _fits(statements: list[dict[str, Any]]) -> bool:
    document = {"Version": "2012-10-17", "Statement": statements}
    return estimate_policy_characters(document) <= MAX_MANAGED_POLICY_CHARACTERS


def list_wildcard_acknowledgments(account_id: str) -> list[Acknowledgment]:
    """cdk-nag AwsSolutions-IAM5 findings on the guard role, one per wildcard, with the reason."""
    arn = "arn:<AWS::Partition>"
    anywhere = set(CENSUS_ACTIONS + LOCKOUT_LIST_ACTIONS + REDSHIFT_SCHEDULE_ACTIONS)
    reasons = {
        "*": f"{', '.join(sorted(anywhere))} "
        "support no resource-level permissions (Service Authorization Reference), so IAM "
        "accepts only *.",
        f"{arn}:ssm:*:{account_id}:parameter{INCIDENT_RECORD_PATH}": "The incident's own "
        "record (lambda/guard/ledger.py) is kept in the Parameter Store of each Region it "
        "changed, known only at run time; the path is the guard's alone (protection SCP).",
        f"{arn}:ssm:*:{account_id}:parameter{INCIDENT_RECORD_PATH}/*": "The incident's own "
        "record: one parameter per (incident, kind, batch) under the guard's path, in any "
        "Region the trip changed.",
        f"{arn}:ec2:*:{account_id}:instance/*": "The guard stops and tags whichever instances "
        "run in any region of its own account, known only at run time; it can terminate only "
        "Spot (and, when configured, instance-store) instances by condition, and its tags are "
        "limited to runawaytrain: keys by condition.",
        f"{arn}:ec2:*:{account_id}:spot-instances-request/*": "The guard cancels the Spot "
        "requests that would relaunch what it halted, in any region, known only at run time, "
        "tagging them first (runawaytrain: keys only, by condition).",
        f"{arn}:ec2:*:{account_id}:spot-fleet-request/*": "The guard sets maintain Spot Fleets "
        "holding halted instances to capacity 0 and restore puts them back.",
        f"{arn}:ec2:*:{account_id}:fleet/*": "The guard sets maintain EC2 Fleets holding halted "
        "instances to capacity 0 and restore puts them back.",
        f"{arn}:sagemaker:*:{account_id}:notebook-instance/*": "The guard stops whichever "
        "notebook instances bill in any region of its own account, known only at run time, and "
        "restore starts them again; its tags are limited to runawaytrain: keys by condition.",
        f"{arn}:batch:*:{account_id}:compute-environment/*": "The guard disables whichever "
        "Batch compute environments hold capacity in any region of its own account, known only "
        "at run time, and restore enables them again; its tags are limited to runawaytrain: keys.",
        f"{arn}:batch:*:{account_id}:job/*": "Where accounts.yaml halt: names batch-jobs, the "
        "guard terminates the Batch jobs running in any region of its own account, known only at "
        "run time.",
        f"{arn}:eks:*:{account_id}:cluster/*": "The guard lists the node groups of every EKS "
        "cluster of its own account, known only at run time.",
        f"{arn}:eks:*:{account_id}:nodegroup/*": "The guard scales whichever EKS managed node "
        "groups run in any region of its own account to 0 and restore gives their size back; its "
        "tags are limited to runawaytrain: keys.",
        f"{arn}:sagemaker:*:{account_id}:endpoint/*": "The guard deletes whichever endpoints "
        "bill in any region of its own account, known only at run time, and restore creates "
        "them again (tags on creation only, by condition).",
        f"{arn}:sagemaker:*:{account_id}:cluster/*": "The guard counts the nodes of whichever "
        "HyperPod clusters run in any region of its own account, known only at run time "
        "(DescribeCluster only).",
        f"{arn}:sagemaker:*:{account_id}:app/*": "The guard deletes (accounts.yaml halt: only) "
        "whichever Studio apps hold an ML instance in any region of its own account, known only "
        "at run time; its tags are limited to runawaytrain: keys by condition.",
        f"{arn}:sagemaker:*:{account_id}:endpoint-config/*": "The guard records a deleted "
        "endpoint on its endpoint configuration (runawaytrain: keys only, by condition) and "
        "restore creates the endpoint from it; configurations are known only at run time.",
        **{
            f"{arn}:sagemaker:*:{account_id}:{kind}/*": "The guard stops (accounts.yaml halt: "
            "only) whichever SageMaker jobs run in any region of its own account, known only at "
            "run time, tagging them first (runawaytrain: keys only, by condition)."
            for kind in (
                "training-job",
                "processing-job",
                "transform-job",
                "hyper-parameter-tuning-job",
            )
        },
        f"{arn}:ecs:*:{account_id}:service/*": "The guard sets whichever ECS services run in "
        "any region of its own account, known only at run time, to 0 tasks and restore sets "
        "them back; its tags are limited to runawaytrain: keys by condition.",
        f"{arn}:ecs:*:{account_id}:task/*": "The guard stops standalone ECS tasks (only when "
        "the account's halt: names ecs-tasks) in any region of its own account, known only at "
        "run time; its tags are limited to runawaytrain: keys by condition.",
        f"{arn}:application-autoscaling:*:{account_id}:scalable-target/*": "Scalable target "
        "ids are random; the guard suspends and resumes only ECS services' DesiredCount "
        "targets, by the service-namespace and scalable-dimension conditions; Application Auto "
        "Scaling deregisters a deleted SageMaker endpoint's targets with the guard's "
        "DeregisterScalableTarget (sagemaker namespace only, by condition).",
        f"{arn}:rds:*:{account_id}:db:*": "The guard stops whichever DB instances bill in any "
        "region of its own account, known only at run time, and restore starts them again; its "
        "tags are limited to runawaytrain: keys by condition.",
        f"{arn}:rds:*:{account_id}:cluster:*": "The guard stops whichever Aurora and Multi-AZ DB "
        "clusters bill in any region of its own account, known only at run time, and restore "
        "starts them again; its tags are limited to runawaytrain: keys by condition.",
        f"{arn}:redshift:*:{account_id}:cluster:*": "The guard pauses whichever Redshift "
        "clusters bill in any region of its own account, known only at run time, and restore "
        "resumes them; its tags are limited to runawaytrain: keys by condition.",
        f"{arn}:lambda:*:{account_id}:function:*": "The guard throttles whichever functions run "
        "in any region of its own account, known only at run time (never runawaytrain's own, "
        "denied by exact stack), and restore gives back each one's recorded reservation; its "
        "tags are limited to runawaytrain: keys by condition.",
        f"{arn}:gamelift:*:{account_id}:fleet/*": "The guard stops auto scaling on and scales "
        "to 0 whichever GameLift fleets run in any region of its own account, known only at run "
        "time, and restore gives both back; its tags are limited to runawaytrain: keys.",
        f"{arn}:es:*:{account_id}:domain/*": "The guard counts the nodes of whichever "
        "OpenSearch domains run in any region of its own account, known only at run time "
        "(DescribeDomains only).",
        f"{arn}:ec2:*:{account_id}:natgateway/*": "Where accounts.yaml halt: names "
        "nat-gateways, the guard deletes whichever NAT gateways bill in any region of its own "
        "account, known only at run time.",
        f"{arn}:ec2:*:{account_id}:elastic-ip/*": "Before deleting a NAT gateway the guard "
        "records it on the Elastic IP the delete keeps (runawaytrain: keys only, by condition).",
        f"{arn}:ec2:*:{account_id}:subnet/*": "Before deleting a private NAT gateway (no "
        "Elastic IP) the guard records it on its subnet (runawaytrain: keys only, by condition).",
        f"{arn}:ec2:*:{account_id}:vpc/*": "Before deleting a regional NAT gateway (no subnet) "
        "the guard records it on its VPC (runawaytrain: keys only, by condition).",
        f"{arn}:lambda:*:{account_id}:function:*:*": "The guard removes the provisioned "
        "concurrency of whichever aliases and versions hold it in any region of its own "
        "account, known only at run time, and restore puts each back as recorded.",
        f"{arn}:kms:*:{account_id}:key/*": "Restarting an instance whose EBS volumes use a "
        "customer managed key needs a grant for EC2 (kms:GrantIsForAWSResource only).",
        f"{arn}:autoscaling:*:{account_id}:autoScalingGroup:*:autoScalingGroupName/*": "The "
        "guard suspends scaling (and sets warm pools kept Running to Stopped) on whichever groups "
        "own the instances it stopped, in any region of its own account, known only at run "
        "time; tags are limited to runawaytrain: keys.",
        f"{arn}:iam::{account_id}:user/*": "Lockout and the launch block act on the users of its "
        "own account found at run time (break_glass names are skipped by the guard); attaching "
        "is limited to AWSDenyAll and the stack's launch-block policy, each only where the "
        "settings use it, and tagging to runawaytrain: keys, by condition; no inline policy "
        "writes.",
        f"{arn}:iam::{account_id}:role/*": "Lockout and the launch block act on the roles of its "
        "own account found at run time (break_glass names are skipped by the guard); attaching "
        "is limited to AWSDenyAll and the stack's launch-block policy, each only where the "
        "settings use it, tagging to runawaytrain: keys, no inline policy writes, and its own "
        "roles are denied.",
    }
    return [
        Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{resource}]", reason=reason)
        for resource, reason in reasons.items()
    ]


def list_policy_acknowledgments(
    document: dict[str, Any], account_id: str, extra: Sequence[Acknowledgment] = ()
) -> list[Acknowledgment]:
    """The wildcard acknowledgments (list_wildcard_acknowledgments, and `extra`) for the
    resources `document` names: one managed policy's. `account_id`: as the statements name it,
    a token (AWS::AccountId) in a member template, which cdk-nag writes <AWS::AccountId>."""
    nag_account = "<AWS::AccountId>" if Token.is_unresolved(account_id) else account_id
    named = {
        resource.replace(Aws.PARTITION, "<AWS::Partition>").replace(account_id, nag_account)
        for statement in document["Statement"]
        for resource in _as_list(statement["Resource"])
    }
    prefix = "AwsSolutions-IAM5[Resource::"
    return [
        acknowledgment
        for acknowledgment in [*list_wildcard_acknowledgments(nag_account), *extra]
        if acknowledgment.id.removeprefix(prefix).removesuffix("]") in named
    ]


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]
