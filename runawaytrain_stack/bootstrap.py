"""What each account needs before `cdk deploy --all` from the payer: the commands and the policy.

Every account is bootstrapped to trust the payer, so the payer's credentials deploy the whole
fleet, and CloudFormation runs under a narrow execution policy instead of the default
AdministratorAccess (`cdk bootstrap --cloudformation-execution-policies`). Only the home Region
(and the payer's us-east-1) is bootstrapped: the fast-trip Region stacks deploy with the home
Region's bootstrap roles (fleet.py), so the policy applies in every Region.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.names import (
    BILLING_BUS_NAME,
    BILLING_REGION,
    BILLING_STACK_NAME,
    BOOTSTRAP_QUALIFIER,
    FAST_TRIP_BUS_NAME,
    FLEET_DASHBOARD_NAME,
    PAYER_BUS_NAME,
    PREFIX,
    ROLE_PATH,
    SCHEDULE_NAME,
    SETTINGS_BUCKET_PREFIX,
    SETTINGS_SCHEDULE_NAME,
    TOOLKIT_STACK_NAME,
    list_account_stacks,
)

EXECUTION_POLICY_NAME = f"{PREFIX}-cfn-execution"
# `cdk deploy` deploys one stack at a time unless told otherwise; a fleet is many small stacks
# (40 accounts: 681), almost all in different accounts or Regions, so CloudFormation's request
# quotas, which apply per account and Region, are rarely shared. The CDK CLI retries a throttled
# CloudFormation call with backoff (aws/aws-cdk PR #8711: 10 retries, 1 s base), so throttling
# slows a deploy rather than failing it; a stack that still fails is deployed by running the same
# command again (unchanged stacks are skipped). AWS's advice against "Rate exceeded" is fewer
# stack operations at once (re:Post, "How do I prevent 'Rate exceeded' errors in
# CloudFormation?"): lower this if it shows.
DEPLOY_CONCURRENCY = 20
# runawaytrain's bootstrap qualifier (names.py); the asset bucket holds the Lambdas' code zip.
ASSET_BUCKETS = f"arn:aws:s3:::cdk-{BOOTSTRAP_QUALIFIER}-assets-*"
# The payer's code buckets with organization: (names.py name_code_bucket).
CODE_BUCKET_PREFIX = f"{PREFIX}-code-"


def build_execution_policy() -> dict[str, Any]:
    """The IAM policy CloudFormation deploys runawaytrain's stacks with.

    It stops accidents, not attackers: whoever can deploy with it can create roles under
    /runawaytrain/ with any policy (docs/deploy.md). Names are narrowed to what the stacks
    create: CloudFormation names resources `<stack name>-<logical id>-<suffix>` and every stack
    name starts with `runawaytrain-`. What cannot be narrowed, and why, is said per statement;
    the Service Authorization Reference is the source for every "only *" below, and
    tests/stack/test_deploy_permissions.py checks the policy against the handler permissions of
    every resource type the templates use.
    """
    ours = f"{PREFIX}-*"
    our_functions = f"arn:aws:lambda:*:*:function:{ours}"
    statements = [
        _allow("Functions", ["lambda:*"], [our_functions]),
        # The payer's file layers (file_layer.py: the watchdog's and quarantine's account lists
        # under organisation delivery), named by their runawaytrain-... stack.
        _allow(
            "Layers",
            ["lambda:PublishLayerVersion", "lambda:GetLayerVersion", "lambda:DeleteLayerVersion"],
            [f"arn:aws:lambda:*:*:layer:{ours}"],
        ),
        # Event source mapping ids are random: creating, changing and deleting one is allowed
        # only for runawaytrain functions, by the lambda:FunctionArn condition (Lambda Developer
        # Guide, "Resources and conditions for Lambda actions": CreateEventSourceMapping takes
        # resource *; Update/Delete the mapping's ARN; all three the condition).
        _allow(
            "FastTripPollers",  # the guard's SQS event source mapping
            [
                "lambda:CreateEventSourceMapping",
                "lambda:UpdateEventSourceMapping",
                "lambda:DeleteEventSourceMapping",
            ],
            ["*"],
            {"StringLike": {"lambda:FunctionArn": our_functions}},
        ),
        # Reading and tagging a mapping supports no lambda:FunctionArn condition.
        _allow(
            "FastTripPollerState",
            [
                "lambda:GetEventSourceMapping",
                "lambda:ListTags",
                "lambda:TagResource",
                "lambda:UntagResource",
            ],
            ["arn:aws:lambda:*:*:event-source-mapping:*"],
        ),
        _allow("FastTripQueues", ["sqs:*"], [f"arn:aws:sqs:*:*:{ours}"]),
        _allow("FunctionCode", ["s3:GetObject", "s3:GetObjectVersion"], [f"{ASSET_BUCKETS}/*"]),
        _allow("Roles", ["iam:*"], [f"arn:aws:iam::*:role{ROLE_PATH}*"]),
        # The guard stack's customer managed policy (launch_block.py), under the same path.
        _allow("Policies", ["iam:*"], [f"arn:aws:iam::*:policy{ROLE_PATH}*"]),
        _allow("Topics", ["sns:*"], [f"arn:aws:sns:*:*:{ours}"]),
        # Subscriptions are changed and removed by their own ARN, which these actions do not
        # take: only "*" (an email subscription is removed at stack deletion and on a change of
        # the notify list).
        _allow(
            "Subscriptions",
            ["sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes"],
            ["*"],
        ),
        _allow("LogGroups", ["logs:*"], [f"arn:aws:logs:*:*:log-group:{ours}"]),
        # What the log group handlers read back about every group: only "*".
        _allow(
            "LogGroupListing",
            [
                "logs:DescribeLogGroups",
                "logs:DescribeIndexPolicies",
                "logs:DescribeResourcePolicies",
            ],
            ["*"],
        ),
        _allow(
            "Schedule",
            ["scheduler:*"],
            [
                f"arn:aws:scheduler:*:*:schedule/default/{SCHEDULE_NAME}",
                # The payer's settings publisher (settings_store.py), with organization: only.
                f"arn:aws:scheduler:*:*:schedule/default/{SETTINGS_SCHEDULE_NAME}",
            ],
        ),
        # The payer's settings bucket (settings_store.py), with organization: only. Its policy
        # denies every object write but the publisher's, this role's included.
        _allow("SettingsBucket", ["s3:*"], [f"arn:aws:s3:::{SETTINGS_BUCKET_PREFIX}*"]),
        _allow(
            "EventBusAndRules",
            ["events:*"],
            [
                f"arn:aws:events:*:*:event-bus/{BILLING_BUS_NAME}",
                f"arn:aws:events:*:*:event-bus/{FAST_TRIP_BUS_NAME}",
                f"arn:aws:events:*:*:event-bus/{PAYER_BUS_NAME}",
                # Rules on the default bus, and rule/<bus>/<rule> on ours (both runawaytrain-).
                f"arn:aws:events:*:*:rule/{ours}",
            ],
        ),
        # The payer's permission on each billing bus (AWS::Events::EventBusPolicy): these two
        # take only "*" and no condition key, so they can change any bus's policy.
        _allow("BillingBusPolicy", ["events:PutPermission", "events:RemovePermission"], ["*"]),
        _allow(
            "BillingAlarms",
            ["cloudwatch:*"],
            [f"arn:aws:cloudwatch:{BILLING_REGION}:*:alarm:{ours}"],
        ),
        # The payer's fleet dashboard (dashboard.py).
        _allow(
            "FleetDashboard",
            ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"],
            [f"arn:aws:cloudwatch::*:dashboard/{FLEET_DASHBOARD_NAME}"],
        ),
        # Its tags: CloudFormation tags a dashboard (its schema's `tagging`, system tags
        # included), and the Service Authorization Reference pinned here lists no dashboard
        # resource type for the tag actions: "*", or the deploy could stop on AccessDenied.
        _allow(
            "FleetDashboardTags",
            [
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
                "cloudwatch:ListTagsForResource",
            ],
            ["*"],
        ),
        _allow(
            "SpendWatcherState",  # /runawaytrain/spend/last-delivery (the payer's spend watcher)
            ["ssm:*"],
            ["arn:aws:ssm:*:*:parameter/runawaytrain/*"],
        ),
        # The payer stack's SCPs (quarantine.py): created, attached to member accounts, updated
        # and deleted by CloudFormation (the AWS::Organizations::Policy handlers' permissions),
        # on service control policies and accounts only; creating and listing take "*".
        _allow(
            "ServiceControlPolicies",
            [
                "organizations:UpdatePolicy",
                "organizations:DeletePolicy",
                "organizations:DescribePolicy",
                "organizations:AttachPolicy",
                "organizations:DetachPolicy",
                "organizations:ListTargetsForPolicy",
                "organizations:ListTagsForResource",
                "organizations:TagResource",
                "organizations:UntagResource",
            ],
            [
                "arn:aws:organizations::*:policy/o-*/service_control_policy/p-*",
                "arn:aws:organizations::*:account/o-*/*",
            ],
        ),
        _allow(
            "CreateServiceControlPolicies",
            ["organizations:CreatePolicy", "organizations:ListPolicies"],
            ["*"],
        ),
        # Organisation delivery (members.py): the payer's service-managed StackSets, by the
        # AWS::CloudFormation::StackSet handlers' permissions (its resource schema, as cfn-lint
        # bundles it). They list no Organizations action: StackSets reads the organisation with
        # its own service-linked role (AWSServiceRoleForCloudFormationStackSetsOrgAdmin, made
        # when trusted access is activated: CloudFormation User Guide, "Activate trusted access
        # for StackSets with AWS Organizations"); organizations:ListDelegatedAdministrators is
        # needed only to act as a delegated administrator (CallAs DELEGATED_ADMIN,
        # hashicorp/terraform-provider-aws#37069), and members.py calls as SELF. No iam:PassRole:
        # a service-managed set has no administration role. CreateStackSet takes only "*".
        _allow(
            "MemberStackSets",
            [
                "cloudformation:CreateStackInstances",
                "cloudformation:DeleteStackInstances",
                "cloudformation:DeleteStackSet",
                "cloudformation:DescribeStackInstance",
                "cloudformation:DescribeStackSet",
                "cloudformation:DescribeStackSetOperation",
                "cloudformation:GetTemplateSummary",
                "cloudformation:ListStackInstances",
                "cloudformation:ListStackSetOperationResults",
                "cloudformation:TagResource",
                "cloudformation:UntagResource",
                "cloudformation:UpdateStackInstances",
                "cloudformation:UpdateStackSet",
            ],
            [f"arn:aws:cloudformation:*:*:stackset/{ours}"],
        ),
        _allow("CreateMemberStackSets", ["cloudformation:CreateStackSet"], ["*"]),
        # The payer's code buckets, one per member home Region (members.py CodeBucketStack):
        # created, configured, given their organisation-read policy and deleted by name.
        _allow("MemberCodeBuckets", ["s3:*"], [f"arn:aws:s3:::{CODE_BUCKET_PREFIX}*"]),
        # KMS key ids are random and CreateKey takes only "*", so the key actions cannot be
        # narrowed by name: they reach every key of the account.
        _allow("TopicKeys", _KEY_ACTIONS, ["*"]),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def _allow(
    sid: str, actions: list[str], resources: list[str], conditions: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    }
    if conditions is not None:
        statement["Condition"] = conditions
    return statement


_KEY_ACTIONS = [
    "kms:CreateKey",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
]


def list_bootstrap_environments(fleet: Fleet, account: Account) -> list[str]:
    """`aws://account/region` for every region the fleet deploys into in `account`."""
    regions = [account.home_region]
    if account == fleet.payer and fleet.budgeted_accounts and BILLING_REGION not in regions:
        regions.append(BILLING_REGION)
    return [f"aws://{account.id}/{region}" for region in regions]


def render_bootstrap_commands(
    fleet: Fleet,
    profile_format: str | None = None,
    accounts: list[Account] | None = None,
) -> list[str]:
    """Shell lines that prepare `accounts` (default: every account), then deploy; `profile_format`
    such as "{name}-admin" adds `--profile` per account (placeholders: {name}, {id})."""
    selected = list(fleet.accounts) if accounts is None else accounts
    count = "1 account" if len(selected) == 1 else f"{len(selected)} accounts"
    lines = [
        f"# runawaytrain: prepare {count}, then deploy from the payer ({fleet.payer.id}).",
        "# Run each block with administrator credentials for that account.",
        "",
    ]
    for account in selected:
        profile = []
        if profile_format:
            profile = ["--profile", profile_format.format(name=account.name, id=account.id)]
        policy_arn = f"arn:aws:iam::{account.id}:policy/{EXECUTION_POLICY_NAME}"
        trust = [] if account == fleet.payer else ["--trust", fleet.payer.id]
        role = "the payer" if account == fleet.payer else "trusts the payer"
        lines += [
            f"# {account.name} ({account.id}): {role}",
            _join(
                ["aws", "iam", "create-policy", "--policy-name", EXECUTION_POLICY_NAME, *profile],
                '--policy-document "$(runawaytrain bootstrap-commands --policy)"',
            ),
            _join(
                [
                    "npx",
                    "cdk",
                    "bootstrap",
                    *list_bootstrap_environments(fleet, account),
                    *trust,
                    "--qualifier",
                    BOOTSTRAP_QUALIFIER,
                    "--toolkit-stack-name",
                    TOOLKIT_STACK_NAME,
                    "--cloudformation-execution-policies",
                    policy_arn,
                    *profile,
                ]
            ),
            "",
        ]
    lines += ["# Then, with the payer's credentials:", *render_deploy_commands(fleet, selected)]
    return lines


def render_deploy_commands(fleet: Fleet, accounts: list[Account]) -> list[str]:
    """`cdk deploy` for the whole fleet, or for exactly the stacks of `accounts`."""
    concurrency = ["--concurrency", str(DEPLOY_CONCURRENCY)]
    if set(accounts) == set(fleet.accounts):
        return [shlex.join(["npx", "cdk", "deploy", "--all", *concurrency])]
    stacks = [
        stack
        for account in accounts
        for stack in list_account_stacks(fleet, account)
        if stack != BILLING_STACK_NAME
    ]
    lines = [shlex.join(["npx", "cdk", "deploy", *concurrency, *stacks])]
    if any(a.monthly_budget_usd or a.max_spend_per_day_usd for a in accounts):
        lines += [
            "# a billing alarm or spend limit lives in the payer's billing stack: deploy it too",
            shlex.join(["npx", "cdk", "deploy", "--exclusively", BILLING_STACK_NAME]),
        ]
    return lines


def render_execution_policy() -> str:
    return json.dumps(build_execution_policy(), indent=2)


def _join(words: list[str], raw_tail: str = "") -> str:
    line = shlex.join(words)
    return f"{line} {raw_tail}" if raw_tail else line
