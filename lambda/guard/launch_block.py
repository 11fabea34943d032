"""Refuse new launches in a tripped account from inside: attach the guard stack's launch-block
policy (a customer managed policy denying every action that starts billing compute, listed in
runawaytrain_stack/launch_actions.py) to every user and role the guard may touch, whatever
`lockout` says; restore detaches exactly what one incident attached.

Who is never touched is principals.py's table (break-glass, the guard's own and its stack's
roles, AWS's service-linked and Identity Center roles, organization and CDK roles), each skip
reported with its reason. The record is a tag on the principal naming the incident, written
before the policy is attached: an interrupted run leaves a record restore acts on (a detach of a
policy never attached is ignored). A principal that carries the policy under this incident's
record is skipped; one whose record names another incident is taken over (that incident is
closed: tags left behind never spare anyone); one that carries the policy with no record is left
alone and said so (restore will not detach what runawaytrain did not attach).

How soon it works: IAM is eventually consistent. Attach calls go to the one IAM control plane
(us-east-1), which then "propagates configuration changes to the IAM data planes in every
enabled AWS Region" (IAM User Guide, "Resilience in AWS Identity and Access Management"), and a
change may not be visible at once ("Changes that I make are not always immediately visible",
IAM User Guide, "Troubleshooting IAM"). AWS gives no bound: a launch in the first seconds after
the trip may still be allowed, and the next run stops it. The payer's quarantine SCP, the other
side of the same refusal, "takes effect immediately" as Organizations documents it
(Organizations User Guide, "Attaching and detaching service control policies").

The policy is read before anything is attached, and attached only if its default version denies
and allows nothing: an admin of the account can write a new default version (CreatePolicyVersion),
and a version that allows would make the trip a grant to every principal it touches. Such a
policy is not attached anywhere, and the mail says why.

A principal whose last free managed-policy slot the lockout's AWSDenyAll took (the handler locks
out first) is reported as refused already, not as an error: AWSDenyAll denies launches too.

IAM: iam:GetPolicy, iam:GetPolicyVersion (that policy), iam:AttachUserPolicy,
iam:AttachRolePolicy, iam:DetachUserPolicy, iam:DetachRolePolicy (the launch-block policy only,
by an iam:PolicyARN condition), and the listing and tagging of iam_principals.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.iam_principals import attached_policies, list_principals, remove_tags, who, write_tags
from guard.incident import TAG_PREFIX
from guard.ledger import LAUNCH_BLOCKS, Ledger
from guard.lockout import QUOTA_ERROR, deny_all_arn
from guard.logs import get_logger
from guard.parallel import map_in_parallel
from guard.principals import Kind, Principal, Protection, skip_reason

LOG = get_logger("launch_block")

# On an IAM principal: the incident whose trip attached the launch-block policy to it.
LAUNCH_BLOCK_TAG = f"{TAG_PREFIX}launch-block"
GONE = "NoSuchEntity"  # IAM: the policy is not attached (any more): nothing to detach
IAM_WORKERS = 8  # IAM throttles per account; the shared client retries what it refuses


@dataclass
class LaunchBlockResult:
    blocked: list[str] = field(default_factory=list)  # "user/alice": carries it for the incident
    attached: list[str] = field(default_factory=list)  # of those, attached by this run
    skipped: dict[str, str] = field(default_factory=dict)  # "role/x" -> why it was not touched
    errors: dict[str, str] = field(default_factory=dict)  # "user/bob" -> what IAM refused


def block_launches(
    iam: Any, policy_arn: str, *, incident: str, protection: Protection, ledger: Ledger
) -> LaunchBlockResult:
    """Attach `policy_arn` to every user and role not protected; one failure never stops the
    rest. Nothing is attached unless the policy only denies (see above)."""
    result = LaunchBlockResult()
    refused = why_not_deny_only(iam, policy_arn)
    if refused is not None:
        result.errors["(launch block)"] = f"{policy_arn} not attached anywhere: {refused}"
        LOG.error("launch_block_policy_refused", extra={"policy": policy_arn, "why": refused})
        return result
    targets = []
    for principal in list_principals(iam):
        reason = skip_reason(principal, protection)
        if reason is None:
            targets.append(principal)
        else:
            result.skipped[principal.key] = reason

    # Record first (ledger.py), in one write: restore lifts the block only from principals this
    # record names (the tag alone, anyone may write).
    recording = ledger.write(ledger.home_region, LAUNCH_BLOCKS, [p.key for p in targets])
    if recording is not None:
        for principal in targets:
            result.errors[principal.key] = f"not blocked: recording it failed ({recording})"
        return result

    def block_one(principal: Principal) -> tuple[Principal, str | bool, str | None]:
        try:
            return principal, block_principal(iam, principal, policy_arn, incident), None
        except (ClientError, BotoCoreError) as error:
            return principal, False, describe_error(error)

    for principal, outcome, error in map_in_parallel(block_one, targets, IAM_WORKERS):
        if error is not None:
            result.errors[principal.key] = error
            LOG.error("launch_block_failed", extra={"principal": principal.key, "error": error})
        elif isinstance(outcome, str):
            result.skipped[principal.key] = outcome
        else:
            result.blocked.append(principal.key)
            if outcome:
                result.attached.append(principal.key)
    result.blocked.sort()
    result.attached.sort()
    LOG.info(
        "launches_blocked",
        extra={"incident": incident, "blocked": len(result.blocked), "errors": len(result.errors)},
    )
    return result


def why_not_deny_only(iam: Any, policy_arn: str) -> str | None:
    """None when the policy's default version has statements and every one denies; else why
    it must not be attached."""
    version = iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    if isinstance(document, str):  # boto3 decodes it; other clients may hand the text over
        document = json.loads(unquote(document))
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    if not statements:
        return f"its default version {version} has no statement"
    allowing = [s for s in statements if not isinstance(s, dict) or s.get("Effect") != "Deny"]
    if allowing:
        return (
            f"its default version {version} does not only deny ({len(allowing)} statement(s) "
            "not Deny): someone rewrote it; redeploy the guard stack"
        )
    return None


def block_principal(iam: Any, principal: Principal, policy_arn: str, incident: str) -> str | bool:
    """Record, then attach. Whether this call attached it (the principal carries the policy for
    `incident` now either way); or why it was left alone."""
    policies = attached_policies(iam, principal.kind, principal.name)
    attached = policy_arn in policies
    recorded = principal.tags.get(LAUNCH_BLOCK_TAG)
    if attached and recorded is None:
        return "carries the launch-block policy, not attached by runawaytrain: left as it is"
    if recorded != incident:
        write_tags(iam, principal.kind, principal.name, {LAUNCH_BLOCK_TAG: incident})
    if attached:
        return False
    try:
        if principal.kind is Kind.USER:
            iam.attach_user_policy(UserName=principal.name, PolicyArn=policy_arn)
        else:
            iam.attach_role_policy(RoleName=principal.name, PolicyArn=policy_arn)
    except ClientError as error:
        denied = deny_all_arn(policy_arn.split(":")[1]) in policies
        if error.response.get("Error", {}).get("Code") != QUOTA_ERROR or not denied:
            raise
        return (
            "holds its quota of managed policies, one of them AWSDenyAll (the lockout's), "
            "which refuses its launches already"
        )
    return True


def lift_launch_block(iam: Any, principal: Principal, policy_arn: str, dry_run: bool) -> None:
    """Detach the policy from a principal this incident recorded, then remove the record. Only
    `policy_arn` (the stack's, from the settings) is ever detached: the record is a tag, and a
    tag can be forged, so it names the incident and never the policy."""
    if dry_run:
        return
    detach = iam.detach_user_policy if principal.kind is Kind.USER else iam.detach_role_policy
    try:
        detach(**who(principal), PolicyArn=policy_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != GONE:
            raise
    remove_tags(iam, principal, [LAUNCH_BLOCK_TAG])
