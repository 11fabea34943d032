"""Lock IAM users (and roles) out after a trip, recording exactly what changed for restore.

Users: attach AWSDenyAll (an explicit deny beats every allow) and set every *active* access key
Inactive. Roles: attach AWSDenyAll. Nothing is ever deleted, and no inline policy is ever written:
whoever may put an inline policy may write any policy, so the guard's role may only attach, by an
`iam:PolicyARN` condition, AWSDenyAll (an AWS managed policy: "You cannot change the permissions
defined in AWS managed policies", IAM User Guide, "AWS managed policies") and its stack's
launch-block policy (launch_block.py). A role needs no separate session revocation: "Permissions
assigned to temporary security credentials are evaluated each time they are used to make an AWS
request" (IAM User Guide, "Disabling permissions for temporary security credentials"), so the deny
on the role refuses the sessions issued before the trip as well as after.

A principal that already holds its quota of managed policies (10 by default, up to 20: IAM User
Guide, "IAM and AWS STS quotas") cannot take AWSDenyAll: IAM answers LimitExceeded. It is reported
as not locked out, saying so and what to do (its keys are Inactive all the same); its record stays
`partial`, so the next run while the incident is open attaches the deny once a slot is free.

The record lives on the principal itself as IAM tags (`runawaytrain:*`): it survives the guard,
it is readable by restore from any machine, and it is written *before* acting, so an interrupted
lockout still leaves a record restore can act on (restore tolerates steps that never happened).
Keys are deactivated before the deny is attached: a leaked key stops working even if the deny
fails. The record says `partial` until every step succeeded; a partial lockout is finished by a
later run (LOCK_TAG), never skipped as "already locked": the next trip, or, while the incident is
open, any run below the limit (`unfinished_only`). Only a principal whose record names the
incident being tripped, complete, and whose deny is really in place counts as already locked:
tags left behind (an undo by hand, an incident since closed) never spare anyone.

Records written by guards before this version may say `deny=inline` (an inline deny put at a full
quota) or `revoked-sessions=yes` (an inline revocation on a role): restore still removes those,
with credentials that may delete inline policies (`runawaytrain restore`, the operator role).

The tags stay the visible marker; restore trusts them only as the incident's own record
vouches for them (ledger.py): every principal's record (incident, deny, the keys to deactivate)
is planned from reads first (`plan_lock`), all written in one parameter write, then acted on.

IAM: iam:ListUsers, iam:ListRoles, iam:ListUserTags, iam:ListRoleTags, iam:ListAccessKeys,
iam:UpdateAccessKey, iam:ListAttachedUserPolicies, iam:ListAttachedRolePolicies,
iam:ListUserPolicies, iam:ListRolePolicies (an older record's inline deny),
iam:AttachUserPolicy, iam:AttachRolePolicy (AWSDenyAll only, roles only with users+roles),
iam:TagUser, iam:TagRole; sts:GetCallerIdentity (to find its own role).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.iam_principals import attached_policies, write_tags
from guard.iam_principals import list_principals as list_all_principals
from guard.incident import INCIDENT_TAG, LOCK_TAG, TAG_PREFIX
from guard.ledger import PRINCIPALS, Ledger
from guard.logs import get_logger
from guard.parallel import map_in_parallel
from guard.principals import Kind, Principal, Protection, claims_locked_by, skip_reason
from guard.settings import Lockout

LOG = get_logger("lockout")

DENY_ALL = "AWSDenyAll"
INLINE_DENY = "runawaytrain-deny-all"
REVOKE_SESSIONS = "runawaytrain-revoke-sessions"
# "managed": we attached AWSDenyAll; "none": it was attached already; "inline": INLINE_DENY
# (older guards only)
DENY_TAG = f"{TAG_PREFIX}deny"
KEYS_TAG = f"{TAG_PREFIX}deactivated-keys"  # the key ids we set Inactive (space-separated)
# "yes" when an older guard put REVOKE_SESSIONS on a role; this one never does
REVOKE_TAG = f"{TAG_PREFIX}revoked-sessions"
ACTIVE = "active-keys"  # in a plan only (never a tag): the keys this run deactivates
# IAM refuses a managed policy beyond the principal's quota (10 by default, up to 20) with
# LimitExceeded. Source: IAM User Guide, "IAM and AWS STS quotas". The quota is not read here:
# attach, and on that error report the principal as not locked, so either quota works.
QUOTA_ERROR = "LimitExceeded"
IAM_WORKERS = 8  # IAM throttles per account; the shared client retries what it refuses


@dataclass
class LockoutResult:
    locked_users: list[str] = field(default_factory=list)
    locked_roles: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # "user/alice" -> why not touched
    errors: dict[str, str] = field(default_factory=dict)  # "user/bob" -> what failed


def deny_all_arn(partition: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{DENY_ALL}"


def list_principals(iam: Any, scope: Lockout) -> list[Principal]:
    """Every user (and role, for users+roles) with its tags."""
    kinds = [Kind.USER] + ([Kind.ROLE] if scope is Lockout.USERS_AND_ROLES else [])
    return list_all_principals(iam, kinds)


def lock_out(
    iam: Any,
    scope: Lockout,
    *,
    incident: str,
    protection: Protection,
    partition: str,
    ledger: Ledger,
    unfinished_only: bool = False,
) -> LockoutResult:
    """Lock every principal in scope except the protected ones; one failure never stops the rest.
    `unfinished_only`: only finish the lockouts `incident` left partial (a run below the limit
    while the incident is open), touching and reporting nobody else."""
    result = LockoutResult()
    if scope is Lockout.NONE:
        return result
    principals = list_principals(iam, scope)
    if unfinished_only:
        principals = [p for p in principals if left_partial_by(p, incident)]
    targets = []
    for principal in principals:
        reason = skip_reason(principal, protection)
        claimed = reason is None and claims_locked_by(principal, incident)
        if claimed and _deny_in_place(iam, principal, partition):
            reason = f"already locked by incident {incident}"
        if reason is None:
            targets.append(principal)
        else:
            result.skipped[principal.key] = reason
            LOG.info("principal_skipped", extra={"principal": principal.key, "reason": reason})

    # Record first (ledger.py): each principal's record (its deny, the keys to deactivate) is
    # planned from reads, then all are written in one parameter write, then the locks go on.
    plans = plan_locks(iam, targets, incident, partition, result)
    values = {
        key: {k: v for k, v in record.items() if k not in (ACTIVE, LOCK_TAG)}
        for key, (_, record) in plans.items()
    }
    recording = ledger.write(ledger.home_region, PRINCIPALS, [], values)
    if recording is not None:
        for key in plans:
            result.errors[key] = f"not locked out: recording it failed ({recording})"
        return result

    def lock_one(planned: tuple[Principal, dict[str, str]]) -> tuple[Principal, str | None]:
        principal, record = planned
        try:
            if principal.kind is Kind.USER:
                lock_user(iam, principal, record, partition)
            else:
                lock_role(iam, principal, record, partition)
        except ClientError as error:
            return principal, _why_not_locked(principal, error)
        except BotoCoreError as error:
            return principal, describe_error(error)
        return principal, None

    for principal, error in map_in_parallel(lock_one, list(plans.values()), IAM_WORKERS):
        if error is not None:
            result.errors[principal.key] = error
            LOG.error("lockout_failed", extra={"principal": principal.key, "error": error})
            continue
        locked = result.locked_users if principal.kind is Kind.USER else result.locked_roles
        locked.append(principal.name)
        LOG.info("principal_locked", extra={"principal": principal.key, "incident": incident})
    result.locked_users.sort()
    result.locked_roles.sort()
    return result


def plan_locks(
    iam: Any, targets: list[Principal], incident: str, partition: str, result: LockoutResult
) -> dict[str, tuple[Principal, dict[str, str]]]:
    """{key: (principal, its plan_lock record)}, all read at once; a failed read is an error."""

    def plan_one(principal: Principal) -> tuple[Principal, dict[str, str] | str]:
        try:
            return principal, plan_lock(iam, principal, incident, partition)
        except (ClientError, BotoCoreError) as error:
            return principal, describe_error(error)

    plans: dict[str, tuple[Principal, dict[str, str]]] = {}
    for principal, planned in map_in_parallel(plan_one, targets, IAM_WORKERS):
        if isinstance(planned, str):
            result.errors[principal.key] = planned
        else:
            plans[principal.key] = principal, planned
    return plans


def plan_lock(iam: Any, principal: Principal, incident: str, partition: str) -> dict[str, str]:
    """The record of `principal`'s lockout, before anything is changed (written to the
    incident's record, then as tags): its deny, and for a user the keys to deactivate."""
    record = _start_record(iam, principal, incident, partition)
    if principal.kind is Kind.ROLE:
        return record
    keys = iam.list_access_keys(UserName=principal.name)["AccessKeyMetadata"]
    active = [key["AccessKeyId"] for key in keys if key["Status"] == "Active"]
    recorded = principal.tags.get(KEYS_TAG, "").split() if _finishing(principal) else []
    record[KEYS_TAG] = " ".join(dict.fromkeys(recorded + active))
    record[ACTIVE] = " ".join(active)
    return record


def lock_user(iam: Any, user: Principal, record: dict[str, str], partition: str) -> None:
    """Lock `user` as `record` (plan_lock) says: tags, keys, deny."""
    name = user.name
    record = dict(record)
    active = record.pop(ACTIVE, "").split()
    write_tags(iam, Kind.USER, name, record)
    for key_id in active:  # first: a leaked key stops working even if the deny then fails
        iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
    if record[DENY_TAG] != "none":
        _deny(iam, Kind.USER, name, partition)
    write_tags(iam, Kind.USER, name, {LOCK_TAG: "complete"})


def lock_role(iam: Any, role: Principal, record: dict[str, str], partition: str) -> None:
    """Lock `role` as `record` (plan_lock) says: tags, deny."""
    name = role.name
    write_tags(iam, Kind.ROLE, name, record)
    if record[DENY_TAG] != "none":
        _deny(iam, Kind.ROLE, name, partition)
    write_tags(iam, Kind.ROLE, name, {LOCK_TAG: "complete"})


def _deny_in_place(iam: Any, principal: Principal, partition: str) -> bool:
    """The deny the principal's record names is attached (AWSDenyAll) or put (inline)."""
    if principal.tags.get(DENY_TAG) == "inline":
        if principal.kind is Kind.USER:
            pages = iam.get_paginator("list_user_policies").paginate(UserName=principal.name)
        else:
            pages = iam.get_paginator("list_role_policies").paginate(RoleName=principal.name)
        return any(INLINE_DENY in page["PolicyNames"] for page in pages)
    return deny_all_arn(partition) in attached_policies(iam, principal.kind, principal.name)


def left_partial_by(principal: Principal, incident: str) -> bool:
    """A lockout `incident` started on this principal and did not complete."""
    return _finishing(principal) and principal.tags.get(INCIDENT_TAG) == incident


def _finishing(principal: Principal) -> bool:
    """A lockout an earlier run started and did not complete."""
    return INCIDENT_TAG in principal.tags and principal.tags.get(LOCK_TAG) == "partial"


def _start_record(iam: Any, principal: Principal, incident: str, partition: str) -> dict[str, str]:
    """The record to write before acting. Finishing a partial lockout keeps its incident and
    what it recorded: a deny it attached is still ours to detach."""
    already_denied = deny_all_arn(partition) in attached_policies(
        iam, principal.kind, principal.name
    )
    if _finishing(principal):
        deny = principal.tags.get(DENY_TAG, "managed")
        if deny == "none" and not already_denied:
            deny = "managed"
        return {INCIDENT_TAG: principal.tags[INCIDENT_TAG], LOCK_TAG: "partial", DENY_TAG: deny}
    deny = "none" if already_denied else "managed"
    return {INCIDENT_TAG: incident, LOCK_TAG: "partial", DENY_TAG: deny}


def _deny(iam: Any, kind: Kind, name: str, partition: str) -> None:
    """Attach AWSDenyAll. Never an inline policy, not even at a full managed-policy quota: the
    guard's role may write none (module docstring)."""
    if kind is Kind.USER:
        iam.attach_user_policy(UserName=name, PolicyArn=deny_all_arn(partition))
    else:
        iam.attach_role_policy(RoleName=name, PolicyArn=deny_all_arn(partition))


def _why_not_locked(principal: Principal, error: ClientError) -> str:
    """What failed, and for a full quota what it means and what to do."""
    described = describe_error(error)
    if error.response.get("Error", {}).get("Code") != QUOTA_ERROR:
        return described
    keys = "; its access keys are Inactive" if principal.kind is Kind.USER else ""
    return (
        f"NOT locked out: {DENY_ALL} could not be attached, the {principal.kind.value} already "
        f"holds its quota of managed policies (10 by default; IAM said {described}){keys}. "
        "Detach one of its managed policies: the next run while the incident is open finishes "
        "the lockout"
    )
