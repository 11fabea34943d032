"""The service control policies the payer holds for each member account (issues 12, 21).

- **Quarantine** (attached by the payer's quarantine Lambda when the account's guard trips in
  enforce mode, detached by restore): nobody in the account launches or starts compute, invokes
  Bedrock, buys capacity ahead or changes IAM, but the exempt principals below. It binds
  Identity Center (SSO) roles and the root user too, which no IAM change can: SCPs "affect all
  users and roles in attached accounts, including the root user" (Organizations User Guide,
  "Service control policies (SCPs)").
- **Guard protection** (standing, attached at deploy): nobody in the account but the exempt
  principals changes or deletes the guard's resources, so a leaked admin key cannot switch the
  breaker off first. AWS Control Tower protects its own resources the same way (its mandatory
  controls are SCPs that deny changes to them, exempting its execution role).

Exempt, in both: the guard's own roles (IAM path /runawaytrain/), the CDK deploy roles (so `cdk
deploy` from the payer keeps working: CloudFormation acts as the cfn-exec role), the account's
`break_glass` principals and the operator role the payer's people assume (`operator_role`).

What SCPs cannot do, and the README says: they never bind the management account nor
service-linked roles (Organizations User Guide: "SCPs don't affect service-linked roles"), so
an Auto Scaling group or a `maintain` fleet still launches through its service-linked role;
the guard's halt (suspended processes, fleets at 0) stops those. An SCP only restricts: it
grants nothing.

Each document is minified and must stay within 5,120 characters (Organizations quotas, "Maximum
size of a policy document"); `policy_size` is checked at synth time.

The quarantine may deny more than one document holds, so it is **one or more SCPs attached
together** (`build_quarantine_policies`): the actions, in the order of `list_quarantine_actions`,
fill one document after the other, each with the same exemptions. A target holds at most 5 SCPs
(Organizations quotas, "Maximum number of SCPs attached to a root, OU or account: 5"); the member
already has FullAWSAccess (AWS attaches it to every account when SCPs are enabled; detaching it
denies everything) and the guard protection, so the quarantine may take at most 3
(`MAX_QUARANTINE_POLICIES`), and the config refuses an account whose quarantine would need more.
The guard protection is split the same way when it overflows (`build_guard_protection_policies`,
by statement); protection and quarantine together may take 4 (`MAX_RUNAWAYTRAIN_POLICIES`).

Where an SCP cannot name the resource (the topic's KMS key: a random id) or for what it should
not spend characters on (draining the fast-trip queue), the resource's own policy refuses
(alerts.py, fast_trip.py); what neither can scope is left to the watchdog (docs/quarantine.md).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from quarantine.documents import (
    ACCOUNT,
    MAX_SCP_CHARACTERS,
    QuarantineTemplate,
    build_quarantine_documents,
    list_break_glass_principals,
    policy_size,
    render,
)
from quarantine.documents import deny as _deny
from runawaytrain_stack.bootstrap import ASSET_BUCKETS, EXECUTION_POLICY_NAME
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.launch_actions import LAUNCH_ACTIONS
from runawaytrain_stack.names import (
    BOOTSTRAP_QUALIFIER,
    PAYER_BUS_NAME,
    PREFIX,
    ROLE_PATH,
    SCHEDULE_NAME,
    TOOLKIT_STACK_NAME,
)

__all__ = ["MAX_SCP_CHARACTERS", "policy_size", "render"]  # defined with the builder (lambda/)
# 5 SCPs per target, less FullAWSAccess and the guard protection (module docstring).
MAX_SCPS_PER_TARGET = 5
MAX_QUARANTINE_POLICIES = MAX_SCPS_PER_TARGET - 2
# The guard protection plus the quarantine, together, beside FullAWSAccess: a protection split in
# two (build_guard_protection_policies) leaves the quarantine two.
MAX_RUNAWAYTRAIN_POLICIES = MAX_SCPS_PER_TARGET - 1
# runawaytrain's own bootstrap (names.py): its deploy, file publishing, lookup and CloudFormation
# execution roles are `cdk-<qualifier>-<kind>-role-<account>-<region>`, used by no other stack.
CDK_ROLES = f"cdk-{BOOTSTRAP_QUALIFIER}-*"

# Every IAM write: no new users, keys, roles, policies or trust while the incident is open.
QUARANTINE_IAM_ACTIONS = (
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Deactivate*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Enable*",
    "iam:Put*",
    "iam:Remove*",
    "iam:Reset*",
    "iam:Resync*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
    "iam:PassRole",  # a role handed to new compute (AWSCompromisedKeyQuarantineV3 denies it)
)

# What the quarantine denies beyond the launch block's list (launch_actions.py, which it denies
# too). Beside AWS's own quarantine for a leaked key, the managed policy
# AWSCompromisedKeyQuarantineV3 (AWS Managed Policy Reference; version v2, edited 2 October
# 2024), this covers every creation and invocation action it denies; its
# reads (cloudtrail:LookupEvents, s3:GetObject, ...), S3 deletes and bucket-policy changes, and
# sts:GetSessionToken/GetFederationToken are left out: they spend nothing, and a session of a
# locked-out user carries the user's denies. Every name, and what each wildcard expands to, is
# checked against the Service Authorization Reference by tests/payer/test_scp_quarantine.py.
QUARANTINE_EXTRA_ACTIONS = (
    # Purchases: commitments that bill for a year or more whether anything runs or not.
    "ec2:Purchase*",  # Reserved Instances, host reservations, Scheduled Instances, Capacity Blocks
    "ec2:AcceptReservedInstancesExchangeQuote",
    "ec2:CreateReservedInstancesListing",
    "sagemaker:CreateTrainingPlan",  # buys reserved SageMaker capacity
    "sagemaker:CreateReservedCapacity",
    "rds:PurchaseReservedDBInstancesOffering",
    "elasticache:PurchaseReservedCacheNodesOffering",
    "redshift:PurchaseReservedNodeOffering",
    "redshift:AcceptReservedNodeExchange",
    "es:PurchaseReserved*",  # OpenSearch and Elasticsearch reserved instances
    "dynamodb:PurchaseReservedCapacityOfferings",
    "memorydb:PurchaseReservedNodesOffering",
    "medialive:PurchaseOffering",
    "mediaconnect:PurchaseOffering",
    "devicefarm:PurchaseOffering",
    "glacier:PurchaseProvisionedCapacity",
    "cloudfront:CreateSavingsPlan",
    "athena:CreateCapacityReservation",
    "redshift-serverless:CreateReservation",
    "ec2:AcceptCapacityReservationBillingOwnership",  # another account's reservation, billed here
    "aws-marketplace:Subscribe",
    "bedrock:CreateFoundationModelAgreement",  # a model's Marketplace offer: access to invoke
    "bedrock:PutFoundationModelEntitlement",
    "aws-marketplace:AcceptAgreementRequest",
    "outposts:CreateOrder",
    "shield:CreateSubscription",  # Shield Advanced: a one-year monthly fee
    "supportplans:CreateSupportPlanSchedule",
    "supportplans:StartSupportPlanUpdate",
    # Compute outside the launch block's list, and what AWSCompromisedKeyQuarantineV3 creates.
    "lambda:Create*",
    "lambda:UpdateFunctionCode",
    "lambda:PutProvisionedConcurrencyConfig",
    "lambda:Add*",  # AddPermission, AddLayerVersionPermission
    "lightsail:Create*",
    "lightsail:Start*",
    "lightsail:UpdateContainerService",
    "appstream:CreateFleet",
    "appstream:Create*Builder",  # CreateImageBuilder, CreateAppBlockBuilder
    "appstream:Start*",  # StartFleet, StartImageBuilder, StartAppBlockBuilder, ...
    "appstream:UpdateFleet",
    "ecs:CreateCluster",
    "ecs:RegisterTaskDefinition",
    "sagemaker:CreateEndpointConfig",
    "codebuild:Create*",
    "codebuild:StartBuild*",
    "glue:CreateJob",
    "glue:StartJobRun",
    "amplify:Create*",
    "mediapackagev2:CreateChannel",
    "s3:CreateBucket",
    # No new accounts, and no leaving the organization (and with it every SCP).
    "organizations:Create*",
    "organizations:InviteAccountToOrganization",
    "organizations:LeaveOrganization",
)

# The guard's resources, by the names the stacks give them: every stack is `runawaytrain-...`
# and CloudFormation names unnamed resources `<stack name>-<logical id>-<suffix>`.
_OURS = f"{PREFIX}-*"
# The managed policies runawaytrain relies on: the guard stacks' own, under its IAM path (the
# launch block), and the CDK execution policy every account is bootstrapped with (bootstrap.py).
GUARD_POLICIES = (
    f"arn:aws:iam::*:policy{ROLE_PATH}*",
    f"arn:aws:iam::*:policy/{EXECUTION_POLICY_NAME}",
)
GUARD_RESOURCE_ACTIONS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        (
            "lambda:Add*",
            "lambda:Delete*",
            "lambda:Put*",
            "lambda:Remove*",
            "lambda:Update*",
            "lambda:TagResource",
            "lambda:UntagResource",
        ),
        (f"arn:aws:lambda:*:*:function:{_OURS}",),
    ),
    (
        ("scheduler:DeleteSchedule", "scheduler:UpdateSchedule"),
        (f"arn:aws:scheduler:*:*:schedule/default/{SCHEDULE_NAME}",),
    ),
    (
        (
            "events:DeleteRule",
            "events:DisableRule",
            "events:PutRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:DeleteEventBus",
            "events:UpdateEventBus",
        ),
        (f"arn:aws:events:*:*:rule/{_OURS}", f"arn:aws:events:*:*:event-bus/{_OURS}"),
    ),
    (
        (
            "sqs:DeleteQueue",
            "sqs:PurgeQueue",
            "sqs:SetQueueAttributes",
            "sqs:AddPermission",
            "sqs:RemovePermission",
        ),
        (f"arn:aws:sqs:*:*:{_OURS}",),
    ),
    (
        (
            "sns:DeleteTopic",
            "sns:SetTopicAttributes",
            "sns:RemovePermission",
            "sns:AddPermission",
            # A data protection policy can mask or deny what the guard publishes (issue 22).
            "sns:PutDataProtectionPolicy",
        ),
        (f"arn:aws:sns:*:*:{_OURS}",),
    ),
    # The guard's parameters, and runawaytrain's CDK bootstrap version: every template the CDK
    # synthesizes checks it (`BootstrapVersion`, an SSM parameter type defaulting to
    # /cdk-bootstrap/<qualifier>/version, and the `CheckBootstrapVersion` rule), so a value
    # written there fails every later deploy of the guard's stacks.
    (
        ("ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters"),
        (
            f"arn:aws:ssm:*:*:parameter/{PREFIX}/*",
            f"arn:aws:ssm:*:*:parameter/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/*",
        ),
    ),
    (
        (
            "cloudformation:CreateChangeSet",
            "cloudformation:DeleteStack",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:SetStackPolicy",
            "cloudformation:UpdateStack",
            "cloudformation:UpdateTerminationProtection",
        ),
        # and runawaytrain's bootstrap stack: its roles, bucket and version are the deploys'
        (
            f"arn:aws:cloudformation:*:*:stack/{_OURS}/*",
            f"arn:aws:cloudformation:*:*:stack/{TOOLKIT_STACK_NAME}/*",
        ),
    ),
    (
        ("logs:DeleteLogGroup", "logs:DeleteLogStream", "logs:PutRetentionPolicy"),
        (f"arn:aws:logs:*:*:log-group:{_OURS}",),
    ),
    # The CDK asset bucket of runawaytrain's bootstrap: the CDK CLI skips uploading an asset
    # whose object exists, so an object planted at a future asset hash would become the guard's
    # code at the next deploy. Only the file-publishing role (a CDK role: exempt) writes; the
    # wildcards reach only the bucket and its objects (the bucket ARN pattern matches both).
    # Every S3 write names the bucket or object ARN (Service Authorization Reference, Amazon S3);
    # a write through an access point is authorized at the bucket too ("For an application or
    # user to access objects through an access point, both the access point and the underlying
    # bucket must permit the request", S3 User Guide, "Configuring IAM policies for using access
    # points"), which is what docs/quarantine.md leaves to the watchdog.
    (("s3:Put*", "s3:Delete*", "s3:Replicate*"), (ASSET_BUCKETS,)),
    # The bootstrap's execution policy and the guard stacks' managed policies (launch block):
    # a deny-all default version breaks every later deploy and rollback; a changed launch block
    # refuses nothing. Detaching them is denied by MANAGED_POLICY_DETACH_ACTIONS below.
    (
        (
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeletePolicyVersion",
            "iam:DeletePolicy",
        ),
        GUARD_POLICIES,
    ),
    # Opting a Region out removes "all IAM access to any resources that reside in that Region"
    # (Account Management API Reference, DisableRegion): launch there, disable it, and the census
    # (enabled Regions only) never sees it. A member's own call names the `account` resource
    # type, arn:aws:account::<id>:account; a delegated administrator's call for another member
    # `accountInOrganization`, arn:aws:account::<management id>:account/o-<org>/<member id>
    # (Service Authorization Reference, AWS Account Management). The management account, which
    # no SCP binds, keeps managing Regions.
    (
        ("account:DisableRegion", "account:EnableRegion"),
        ("arn:aws:account::*:account", "arn:aws:account::*:account/o-*/*"),
    ),
    # Identity Center's SAML provider in the account (AWSSSO_<id>_DO_NOT_DELETE): every
    # AWSReservedSSO_ role trusts it, so new metadata would let another IdP sign in as any
    # permission set, break-glass sets included, and deleting it locks Identity Center out. IAM
    # protects the reserved roles (UnmodifiableEntity) but documents no such protection for the
    # provider, and the Service Authorization Reference lists both actions on any
    # saml-provider: denied. Identity Center manages it through its service-linked role
    # (AWSSSOServiceRolePolicy allows iam:UpdateSAMLProvider/DeleteSAMLProvider on
    # saml-provider/AWSSSO_*; IAM Identity Center User Guide, "Using service-linked roles"),
    # which no SCP binds.
    (
        ("iam:UpdateSAMLProvider", "iam:DeleteSAMLProvider"),
        ("arn:aws:iam::*:saml-provider/AWSSSO_*",),
    ),
)
# Detaching the managed policies above (the launch block from oneself, mid-trip; the execution
# policy from the CDK execution role) names the principal as the resource and the policy only in
# the iam:PolicyARN condition key (Service Authorization Reference, IAM).
MANAGED_POLICY_DETACH_ACTIONS = (
    "iam:DetachRolePolicy",
    "iam:DetachUserPolicy",
    "iam:DetachGroupPolicy",
)
# "The management account ... can set service control policies (SCPs) that can restrict what
# administrators of member accounts can do. This includes preventing them from successfully
# calling LeaveOrganization" (Organizations API Reference, LeaveOrganization). It takes only
# "*"; nobody inside needs it (the payer removes an account: RemoveAccountFromOrganization), so
# it is denied to everyone, the exempt too.
LEAVE_ACTIONS = ("organizations:LeaveOrganization",)
# Nobody but the exempt may create, change, pass or assume an exempt principal: the exemptions
# are by ARN, so a role created under /runawaytrain/ or named like a deploy or break-glass role
# would otherwise be exempt too. Actions on roles and users only (IAM's own resource types).
ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:PassRole",
    "sts:AssumeRole",
)
USER_ACTIONS = (
    "iam:CreateUser",
    "iam:DeleteUser",
    "iam:UpdateUser",
    "iam:AttachUserPolicy",
    "iam:DetachUserPolicy",
    "iam:PutUserPolicy",
    "iam:DeleteUserPolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:DeleteLoginProfile",
    "iam:TagUser",
    "iam:UntagUser",
    "iam:EnableMFADevice",
    "iam:DeactivateMFADevice",
    "iam:ResyncMFADevice",
)
# Fast trip's queue poller: its mapping has an ARN of its own, named for the function only by
# the lambda:FunctionArn condition key (Lambda Developer Guide, "Resources and conditions").
MAPPING_ACTIONS = ("lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping")


def list_exempt_principals(fleet: Fleet, account: Account) -> list[str]:
    """ARN patterns of the principals neither SCP denies anything, in `account`."""
    own = account.id
    exempt = [
        f"arn:aws:iam::{own}:role{ROLE_PATH}*",
        f"arn:aws:iam::{own}:role/{CDK_ROLES}",
        f"arn:aws:iam::{own}:role/{fleet.operator_role}",
    ]
    for name in account.break_glass:  # a user or a role: the config does not say which
        exempt += [f"arn:aws:iam::{own}:user/{name}", f"arn:aws:iam::{own}:role/{name}"]
    # An Identity Center permission set's role in the account: AWSReservedSSO_<set>_<suffix>
    # under /aws-reserved/sso.amazonaws.com/, with or without a Region in the path (IAM
    # Identity Center User Guide, "Referencing permission sets in resource policies ... and
    # SCPs"). Nobody in the account can change such a role.
    for name in fleet.break_glass_permission_sets:
        exempt.append(
            f"arn:aws:iam::{own}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_{name}_*"
        )
    return list(dict.fromkeys(exempt))


# The service-managed StackSets execution role: "By default, StackSets with service-managed
# permissions creates an execution role named stacksets-exec-* in each target account. StackSets
# attaches the AdministratorAccess policy to this role" (CloudFormation User Guide, "Configure a
# custom execution role template for StackSets"); the management account's service-linked role
# assumes it to deploy ("AllowAssumeRoleInMemberAccounts": sts:AssumeRole on
# arn:aws:iam::*:role/stacksets-exec-*, AWS Managed Policy Reference,
# CloudFormationStackSetsOrgAdminServiceRolePolicy). Every guard delivered by StackSets is
# created, updated and deleted as this role, so it is exempt; being exempt, it is a resource of
# ROLE_ACTIONS below: nobody else in the account may assume, pass or change it. The payer's
# service-linked role assumes it from the management account, which no SCP binds.
STACKSETS_EXECUTION_ROLE = "stacksets-exec-*"
# A StackSets stack instance is a stack named `StackSet-<stack set name>-<id>` in the member
# (not found in AWS's documentation; as the emulators model it, e.g. faiscadev/fakecloud pull
# request 2534): the guard's stacks there, beside runawaytrain's own `runawaytrain-*`.
STACKSET_STACKS = f"arn:aws:cloudformation:*:*:stack/StackSet-{PREFIX}-*/*"


def list_org_exempt_principals(fleet: Fleet, account_id: str = "*") -> list[str]:
    """With an `organization`: the principals exempt in every member (`account_id` "*" for an
    OU's SCP, or the placeholder the quarantine template fills). No CDK roles: members are
    delivered by StackSets, never bootstrapped; no per-account break_glass (added per account)."""
    exempt = [
        f"arn:aws:iam::{account_id}:role{ROLE_PATH}*",
        f"arn:aws:iam::{account_id}:role/{fleet.operator_role}",
        f"arn:aws:iam::{account_id}:role/{STACKSETS_EXECUTION_ROLE}",
    ]
    exempt += [
        f"arn:aws:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_{name}_*"
        for name in fleet.break_glass_permission_sets
    ]
    return list(dict.fromkeys(exempt))


def list_quarantine_actions() -> list[str]:
    """Every action the quarantine denies: IAM writes, the launch block's, the extras, in that
    order, which is the order the pieces fill (a piece that fails to attach, the quota reached,
    must not be the one holding PassRole or RunInstances); an exact name a wildcard of the list
    already matches is left out (it would only take room)."""
    ordered = list(
        dict.fromkeys((*QUARANTINE_IAM_ACTIONS, *LAUNCH_ACTIONS, *QUARANTINE_EXTRA_ACTIONS))
    )
    wildcards = [action.lower() for action in ordered if "*" in action]
    return [
        action
        for action in ordered
        if "*" in action or not any(fnmatchcase(action.lower(), w) for w in wildcards)
    ]


def build_quarantine_policies(fleet: Fleet, account: Account) -> list[dict[str, Any]]:
    """Attached together on a trip: no compute, no purchases, no Bedrock, no IAM change, no
    invoking the guard (a restore) but by the exempt principals. The first document holds the
    statements with resources of their own, then the actions fill it and as many more as needed
    (each within MAX_SCP_CHARACTERS; the config refuses more than MAX_QUARANTINE_POLICIES).
    With an `organization`, the quarantine Lambda builds the same at the trip from
    `build_quarantine_template` (lambda/quarantine/documents.py holds the one builder)."""
    if fleet.organization is not None:
        template = build_quarantine_template(fleet)
        exempt = [p.replace(ACCOUNT, account.id) for p in template.exempt]
        exempt = list(
            dict.fromkeys(exempt + list_break_glass_principals(account.id, account.break_glass))
        )
        return build_quarantine_documents(template, account.id, exempt)
    template = QuarantineTemplate(
        actions=tuple(list_quarantine_actions()),
        own_functions=f"arn:aws:lambda:*:{ACCOUNT}:function:{_OURS}",
        payer_bus=_payer_bus(fleet),
        guard_roles=f"arn:aws:iam::{ACCOUNT}:role{ROLE_PATH}*",
        exempt=(),
    )
    return build_quarantine_documents(template, account.id, list_exempt_principals(fleet, account))


def build_quarantine_template(fleet: Fleet) -> QuarantineTemplate:
    """What the quarantine Lambda builds an account's quarantine from at the trip (fleets with an
    `organization`): the org-wide exemptions (`list_org_exempt_principals`), scoped to the
    account; the Lambda adds the account's break_glass principals from its settings."""
    return QuarantineTemplate(
        actions=tuple(list_quarantine_actions()),
        own_functions=f"arn:aws:lambda:*:{ACCOUNT}:function:{_OURS}",
        payer_bus=_payer_bus(fleet),
        guard_roles=f"arn:aws:iam::{ACCOUNT}:role{ROLE_PATH}*",
        exempt=tuple(list_org_exempt_principals(fleet, ACCOUNT)),
    )


def build_quarantine_policy(fleet: Fleet, account: Account) -> dict[str, Any]:
    """The first of `build_quarantine_policies` (named `<prefix><account id>`, as before the
    split): what the drill's payer stand-in still creates alone."""
    return build_quarantine_policies(fleet, account)[0]


def build_guard_protection_policy(fleet: Fleet, account: Account) -> dict[str, Any]:
    """Standing: the guard's resources change only through the exempt principals, and only the
    guard's own roles report to the payer's bus (a member cannot forge its guard's events)."""
    statements = _protection_statements(fleet, list_exempt_principals(fleet, account), account.id)
    return {"Version": "2012-10-17", "Statement": statements}


def build_guard_protection_policies(fleet: Fleet, account: Account) -> list[dict[str, Any]]:
    """The guard protection as attached: `build_guard_protection_policy`'s statements, in order,
    filling one document after the other (each within MAX_SCP_CHARACTERS), as the quarantine is
    split. One document for the sample fleet; more break-glass principals make two, and the
    config refuses an account whose protection and quarantine together need more SCPs than the
    target has room for beside FullAWSAccess (MAX_SCPS_PER_TARGET)."""
    return _split(build_guard_protection_policy(fleet, account)["Statement"])


def build_ou_protection_policies(fleet: Fleet) -> list[dict[str, Any]]:
    """With an `organization`: the guard protection as one set of SCPs attached to every target
    OU (AttachPolicy's TargetId is "the root, OU, or account", Organizations API Reference; so is
    AWS::Organizations::Policy TargetIds), which binds every account in it and in the OUs below
    ("If you attach an SCP to an OU, it affects all accounts in that OU and in any child OUs",
    AttachPolicy): the same statements for every member, with the org-wide exemptions plus the
    break_glass principals of the listed accounts by full ARN (a principal of another account
    never matches them). The config refuses a set that outgrows the OU (config.py)."""
    exempt = list_org_exempt_principals(fleet)
    for account in fleet.sub_accounts:
        exempt += list_break_glass_principals(account.id, account.break_glass)
    statements = _protection_statements(
        fleet, list(dict.fromkeys(exempt)), "*", extra_resources=(STACKSET_STACKS,)
    )
    return _split(statements)


def _protection_statements(
    fleet: Fleet, exempt: list[str], account_id: str, extra_resources: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    # One statement for the guard's resources and the exempt principals: an action matches only
    # resources of its own type, so listing every action with every resource denies nothing
    # more, and the exemptions (the condition) are written once, in 5,120 characters.
    users = [arn for arn in exempt if ":user/" in arn]
    actions = [action for group, _ in GUARD_RESOURCE_ACTIONS for action in group]
    actions += ["lambda:InvokeFunction", *ROLE_ACTIONS, *(USER_ACTIONS if users else ())]
    resources = [resource for _, group in GUARD_RESOURCE_ACTIONS for resource in group]
    resources += [*extra_resources, *(arn for arn in exempt if ":role/" in arn), *users]
    unless_exempt = {"ArnNotLike": {"aws:PrincipalArn": exempt}}
    our_functions = f"arn:aws:lambda:*:{account_id}:function:{_OURS}"
    return [
        # Invoking the guard can restore (undo a trip): the exempt only.
        _deny("GuardAndExempt", tuple(dict.fromkeys(actions)), resources, unless_exempt),
        _deny(
            "GuardMappings",
            MAPPING_ACTIONS,
            [f"arn:aws:lambda:*:{account_id}:event-source-mapping:*"],
            {**unless_exempt, "ArnLike": {"lambda:FunctionArn": our_functions}},
        ),
        _deny(
            "GuardPolicies",
            MANAGED_POLICY_DETACH_ACTIONS,
            ["*"],
            {**unless_exempt, "ArnLike": {"iam:PolicyARN": list(GUARD_POLICIES)}},
        ),
        _only_the_guard_reports(fleet, account_id),
        {"Sid": "NoLeaving", "Effect": "Deny", "Action": list(LEAVE_ACTIONS), "Resource": "*"},
    ]


def _split(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements, in order, filling one document after the other (each within
    MAX_SCP_CHARACTERS unless one statement alone is larger: the config refuses that)."""
    policies: list[dict[str, Any]] = []
    policy: dict[str, Any] = {"Version": "2012-10-17", "Statement": []}
    for statement in statements:
        policy["Statement"].append(statement)
        if policy_size(policy) > MAX_SCP_CHARACTERS and len(policy["Statement"]) > 1:
            policy["Statement"].pop()
            policies.append(policy)
            policy = {"Version": "2012-10-17", "Statement": [statement]}
    return [*policies, policy]


def _payer_bus(fleet: Fleet) -> str:
    return f"arn:aws:events:*:{fleet.payer.id}:event-bus/{PAYER_BUS_NAME}"


def _only_the_guard_reports(fleet: Fleet, account_id: str) -> dict[str, Any]:
    """Only the guard's roles put events on the payer's bus (a forged release is refused)."""
    only_guard = {
        "ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::{account_id}:role{ROLE_PATH}*"]}
    }
    return _deny("OnlyTheGuardReports", ("events:PutEvents",), [_payer_bus(fleet)], only_guard)
