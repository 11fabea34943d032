"""Physical names both sides of a cross-account wire must agree on, derived only from config.

The payer's billing stack targets each account's billing bus by ARN, and no CloudFormation
reference can cross accounts, so these names are fixed strings rather than generated ones.
"""

from __future__ import annotations

from guard.links import DASHBOARD_NAME
from runawaytrain_stack.fleet_model import (
    Account,
    Fleet,
    list_fast_trip_regions,
    list_member_home_regions,
)
from runawaytrain_stack.mail_routing import list_mail_stacks

PREFIX = "runawaytrain"
# runawaytrain's own CDK bootstrap (`cdk bootstrap --qualifier`), not the default `hnb659fds`
# every other CDK app in an account shares: the SCPs exempt the deploy roles by name, and a
# member's own CDK stacks must not run as an exempt role (docs/quarantine.md). Its own toolkit
# stack name too, so it never replaces a member's CDKToolkit.
BOOTSTRAP_QUALIFIER = "runaway"
TOOLKIT_STACK_NAME = "RunawaytrainToolkit"
BILLING_STACK_NAME = f"{PREFIX}-billing"
# Billing metrics (AWS/Billing EstimatedCharges) exist only in us-east-1 (CloudWatch User Guide,
# "Create a billing alarm to monitor your estimated AWS charges").
BILLING_REGION = "us-east-1"
# One guard per account, so one fixed bus name per account is unique.
BILLING_BUS_NAME = f"{PREFIX}-billing-trips"
# One schedule per account; a fixed name lets the execution policy name it (docs/deploy.md).
SCHEDULE_NAME = f"{PREFIX}-guard"
# Roles the guard must never lock out or modify (its own machinery) live under this IAM path.
ROLE_PATH = f"/{PREFIX}/"
# Fixed names, so the guard can be told them (`stack_roles`) without a reference cycle: the
# scheduler role's policy already refers to the function. One of each per account.
SCHEDULER_ROLE_NAME = f"{PREFIX}-guard-scheduler"
FORWARDER_ROLE_NAME = f"{PREFIX}-billing-forwarder"
# Fast trip: every watched Region's rule forwards EC2 launches to this bus in the home Region,
# through this role. Named, because the rules live in other stacks (one per Region) and no
# CloudFormation reference crosses Regions; IAM is global, so one role per account serves them all.
FAST_TRIP_BUS_NAME = f"{PREFIX}-fast-trip"
FAST_TRIP_FORWARDER_ROLE_NAME = f"{PREFIX}-fast-trip-forwarder"
INCIDENT_TAG_PREFIX = f"{PREFIX}:"
# The guard stack's customer managed policy that denies launches (launch_block.py), under the
# guard's own IAM path. Fixed, so `runawaytrain restore` (which runs with no stack at hand) knows
# the one policy it may detach.
LAUNCH_BLOCK_POLICY_NAME = f"{PREFIX}-launch-block"
# The guard stack's outputs: the operator CLI (status, run, pass) finds the guard's function and
# topic by them, in the stack or, with no accounts.yaml at hand, among the account's stacks.
GUARD_FUNCTION_OUTPUT = "GuardFunctionName"
NOTIFY_TOPIC_OUTPUT = "NotifyTopicArn"
# The payer's stack (issue 12): one bus every guard of the fleet reports to (heartbeats, and
# quarantine requests on a trip), and what the payer does with them. In the payer's home Region.
PAYER_STACK_NAME = f"{PREFIX}-payer"
PAYER_BUS_NAME = f"{PREFIX}-payer"
# Must equal lambda/guard/payer_events.py SOURCE: the bus policy admits only this source.
GUARD_EVENT_SOURCE = f"{PREFIX}.guard"
# The payer's SCPs, one of each per member account (scp.py); the quarantine Lambda finds an
# account's by this name, and records its state under this SSM path.
QUARANTINE_POLICY_PREFIX = f"{PREFIX}-quarantine-"
PROTECTION_POLICY_PREFIX = f"{PREFIX}-protect-guard-"
QUARANTINE_STATE_PATH = f"/{PREFIX}/quarantine/"
QUARANTINE_TAG = f"{PREFIX}:quarantine"  # on each quarantine SCP: the account it is for
# Must equal lambda/guard/payer_events.py.
QUARANTINE_REQUESTED = "Quarantine Requested"
QUARANTINE_RELEASED = "Quarantine Released"
# Organisation delivery (members.py, docs/deploy.md): the payer's stack of StackSets, and per
# member home Region the payer's code bucket the member templates' Lambda code is read from.
MEMBERS_STACK_NAME = f"{PREFIX}-members"
CODE_STACK_PREFIX = f"{PREFIX}-code-"
# The role service-managed StackSets create each member's stacks with: "arn:aws:iam::*:role/
# stacksets-exec-*" is what the management account's service-linked role may assume (AWS managed
# policy CloudFormationStackSetsOrgAdminServiceRolePolicy); AWSServiceRoleForCloudFormation-
# StackSetsOrgMember creates it in each member.
STACK_SETS_EXECUTION_ROLES = "stacksets-exec-*"
# A member guard's function (organisation delivery: member_names.py), found by this name.
MEMBER_GUARD_FUNCTION_NAME = f"{PREFIX}-guard"
# The payer's settings bucket (settings23 builds it in the payer stack; the guard reads it).
SETTINGS_BUCKET_PREFIX = f"{PREFIX}-settings-"
# The payer's watchdog (watchdog.py): its role, fixed so every member's reader role can trust
# exactly it; the reader role in each guard stack (watchdog_reader.py), fixed so the watchdog can
# name it in every account; where the watchdog keeps each account's last heartbeat and alert.
WATCHDOG_ROLE_NAME = f"{PREFIX}-watchdog"
WATCHDOG_READER_ROLE_NAME = f"{PREFIX}-watchdog-reader"
HEARTBEAT_PATH = f"/{PREFIX}/heartbeat/"
WATCHDOG_STATE_PATH = f"/{PREFIX}/watchdog/"
# Organisation delivery (issue 23, docs/settings.md). The payer's settings bucket, one per payer
# (bucket names are global); the payer's alert topic by a fixed name, so member guards can be
# told its ARN without a reference across accounts; the member guard's role by a fixed name (one
# per account, like the scheduler's), which the bucket, topic and key policies admit by ARN.
PAYER_TOPIC_NAME = f"{PREFIX}-payer-alerts"
GUARD_ROLE_NAME = f"{PREFIX}-guard"
# The payer's settings publisher's schedule: named, so the deploy's execution policy can name it.
SETTINGS_SCHEDULE_NAME = f"{PREFIX}-settings-publisher"
# The payer's fleet dashboard (dashboard.py): every guard's mail links to it by this name.
FLEET_DASHBOARD_NAME = DASHBOARD_NAME
# The dashboard's one row per account, up to this many accounts (dashboard.py says why);
# stack_limits.py sizes the payer's template with it.
MAX_ACCOUNT_ROWS = 20


def name_guard_stack(account: Account) -> str:
    return f"{PREFIX}-guard-{account.name}"


def name_fast_trip_stack(account: Account, region: str) -> str:
    """`runawaytrain-guard-<name>-<region>`: `cdk deploy 'runawaytrain-guard-<name>*'` takes the
    guard stack and its Regions' stacks together."""
    return f"{name_guard_stack(account)}-{region}"


def name_billing_alarm(account: Account) -> str:
    return f"{PREFIX}-billing-{account.name}"


def list_own_stack_prefixes(fleet: Fleet, account: Account) -> list[str]:
    """The ARN prefixes (`arn:aws:cloudformation:<region>:<account>:stack/<name>/`) of the
    runawaytrain stacks in `account`: the guard never halts what they made, known by exact stack
    (aws:cloudformation:stack-id), never by a name prefix anyone can copy. The payer holds the
    payer and billing stacks too (fleet.py builds them there)."""
    stacks = [(account.home_region, name_guard_stack(account))]
    stacks += [
        (region, name_fast_trip_stack(account, region))
        for region in list_fast_trip_regions(account)
    ]
    if account == fleet.payer:
        if fleet.has_payer_stack:
            stacks.append((account.home_region, PAYER_STACK_NAME))
        if fleet.has_billing_stack:
            stacks.append((BILLING_REGION, BILLING_STACK_NAME))
    return [
        f"arn:aws:cloudformation:{region}:{account.id}:stack/{name}/" for region, name in stacks
    ]


def name_payer_bus_arn(fleet: Fleet) -> str:
    """The payer bus's ARN, which every guard is told (no reference crosses accounts)."""
    payer = fleet.payer
    return f"arn:aws:events:{payer.home_region}:{payer.id}:event-bus/{PAYER_BUS_NAME}"


def list_account_stacks(fleet: Fleet, account: Account) -> list[str]:
    """The stacks fleet.py builds for `account`, by name: its guard stack, one fast-trip stack
    per other watched Region, and on the payer the billing stack when the fleet has one. With
    `organization:` a member has none (the payer's StackSets deliver its guard) and the payer
    also holds the StackSets' stack and a code bucket stack per member home Region."""
    if fleet.organization is not None and account != fleet.payer:
        return []
    stacks = [name_guard_stack(account)]
    stacks += [
        name_fast_trip_stack(account, region)
        for region in list_fast_trip_regions(account)
        if region != account.home_region
    ]
    if account == fleet.payer and fleet.has_billing_stack:
        stacks.append(BILLING_STACK_NAME)
    if account == fleet.payer and fleet.has_payer_stack:
        stacks.append(PAYER_STACK_NAME)
    if account == fleet.payer and fleet.organization is not None:
        stacks.append(MEMBERS_STACK_NAME)
        stacks += [name_code_stack(region) for region in list_member_home_regions(fleet)]
        stacks += list_mail_stacks(fleet)
    return stacks


def name_watchdog_role_arn(fleet: Fleet) -> str:
    """The payer watchdog's role (a role ARN includes its path)."""
    return f"arn:aws:iam::{fleet.payer.id}:role{ROLE_PATH}{WATCHDOG_ROLE_NAME}"


def name_watchdog_reader_role_arn(account: Account) -> str:
    return f"arn:aws:iam::{account.id}:role{ROLE_PATH}{WATCHDOG_READER_ROLE_NAME}"


def name_launch_block_policy_arn(account_id: str) -> str:
    """The launch-block policy's ARN in `account_id` (a managed policy's ARN includes its path)."""
    return f"arn:aws:iam::{account_id}:policy{ROLE_PATH}{LAUNCH_BLOCK_POLICY_NAME}"


def name_quarantine_policy(account_id: str, index: int) -> str:
    """The quarantine is several SCPs (scp.py): the first `<prefix><account id>`, the others
    `<prefix><account id>-<n>` from 2; lambda/quarantine/policies.py finds them by this form."""
    base = f"{QUARANTINE_POLICY_PREFIX}{account_id}"
    return base if index == 0 else f"{base}-{index + 1}"


def name_protection_policy(account_id: str, index: int) -> str:
    """The guard protection's SCPs (scp.py): `<prefix><account id>`, then `-2` when it is split."""
    base = f"{PROTECTION_POLICY_PREFIX}{account_id}"
    return base if index == 0 else f"{base}-{index + 1}"


def name_code_bucket(fleet: Fleet, region: str) -> str:
    """The payer's bucket in `region` holding the member templates' Lambda code."""
    return f"{PREFIX}-code-{fleet.payer.id}-{region}"


def name_code_stack(region: str) -> str:
    return f"{CODE_STACK_PREFIX}{region}"


def name_settings_bucket(fleet: Fleet) -> str:
    """`runawaytrain-settings-<payer id>`: the payer's store of per-account settings documents."""
    return f"{SETTINGS_BUCKET_PREFIX}{fleet.payer.id}"


def name_payer_topic_arn(fleet: Fleet) -> str:
    """The payer's alert topic under organisation delivery (member guards publish there too)."""
    payer = fleet.payer
    return f"arn:aws:sns:{payer.home_region}:{payer.id}:{PAYER_TOPIC_NAME}"


def name_org_guard_roles() -> str:
    """Every member guard's role, in any account (the policies add aws:PrincipalOrgID)."""
    return f"arn:aws:iam::*:role{ROLE_PATH}{GUARD_ROLE_NAME}"
