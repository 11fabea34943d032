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

from runawaytrain_stack.config import Account, Fleet
from runawaytrain_stack.names import (
    BILLING_BUS_NAME,
    BILLING_REGION,
    BILLING_STACK_NAME,
    FAST_TRIP_BUS_NAME,
    PREFIX,
    ROLE_PATH,
    SCHEDULE_NAME,
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
# CDK's default bootstrap qualifier; the asset bucket holds the guard's code zip.
ASSET_BUCKETS = "arn:aws:s3:::cdk-hnb659fds-assets-*"


def build_execution_policy() -> dict[str, Any]:
    """The IAM policy CloudFormation deploys runawaytrain's stacks with.

    Names are narrowed to what the stacks create: CloudFormation names resources
    `<stack name>-<logical id>-<suffix>` and every stack name starts with `runawaytrain-`.
    KMS key ids are random, so the key actions cannot be narrowed by name. Event source mapping
    ids are random too: managing one is allowed only for runawaytrain functions, by the
    `lambda:FunctionArn` condition (Lambda Developer Guide, "Resources and conditions for Lambda
    actions": CreateEventSourceMapping takes resource `*`; Update/Delete the mapping's ARN; all
    three the condition).
    """
    ours = f"{PREFIX}-*"
    our_functions = f"arn:aws:lambda:*:*:function:{ours}"
    statements = [
        _allow("Functions", ["lambda:*"], [our_functions]),
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
        _allow("FastTripQueues", ["sqs:*"], [f"arn:aws:sqs:*:*:{ours}"]),
        _allow("FunctionCode", ["s3:GetObject", "s3:GetObjectVersion"], [f"{ASSET_BUCKETS}/*"]),
        _allow("Roles", ["iam:*"], [f"arn:aws:iam::*:role{ROLE_PATH}*"]),
        _allow("Topics", ["sns:*"], [f"arn:aws:sns:*:*:{ours}"]),
        _allow("LogGroups", ["logs:*"], [f"arn:aws:logs:*:*:log-group:{ours}"]),
        _allow(
            "Schedule", ["scheduler:*"], [f"arn:aws:scheduler:*:*:schedule/default/{SCHEDULE_NAME}"]
        ),
        _allow(
            "EventBusAndRules",
            ["events:*"],
            [
                f"arn:aws:events:*:*:event-bus/{BILLING_BUS_NAME}",
                f"arn:aws:events:*:*:event-bus/{FAST_TRIP_BUS_NAME}",
                # Rules on the default bus, and rule/<bus>/<rule> on ours (both runawaytrain-).
                f"arn:aws:events:*:*:rule/{ours}",
            ],
        ),
        _allow(
            "BillingAlarms",
            ["cloudwatch:*"],
            [f"arn:aws:cloudwatch:{BILLING_REGION}:*:alarm:{ours}"],
        ),
        _allow(
            "SpendWatcherState",  # /runawaytrain/spend/last-delivery (the payer's spend watcher)
            ["ssm:*"],
            ["arn:aws:ssm:*:*:parameter/runawaytrain/*"],
        ),
        _allow("TopicKeys", _KEY_ACTIONS, ["*"]),
        # Reads CloudFormation makes while reading resources back: no useful resource scope
        # (a mapping's id is random; its tags are read with ListTags).
        _allow(
            "Listing",
            ["logs:DescribeLogGroups", "lambda:GetEventSourceMapping", "lambda:ListTags"],
            ["*"],
        ),
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
