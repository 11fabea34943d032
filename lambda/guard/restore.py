"""Undo exactly one incident, from the records it left on what it changed.

Only what the incident did is undone: the deny it attached (not one that was there before), the
launch-block policy it attached (launch_block.py), the inline policies an older guard put (this
one puts none; removing them needs iam:DeleteUserPolicy / iam:DeleteRolePolicy, which the guard's
role no longer has: `runawaytrain restore` runs with the operator role, and a restore inside the
account reports the refusal and keeps the record), the keys it
deactivated (a key already inactive stays inactive), the Auto Scaling processes it suspended (not
those suspended before), the warm pools it set to Stopped, the fleet capacities it set to 0,
the stop protection it lifted, and its tags. Instances are started only when asked
(`restart_instances`); until then they keep their incident tag, so a later restore can still
start them, and their Auto Scaling groups stay suspended (health checks would terminate them).
With restart, the groups are resumed only once their instances run again. Cancelled Spot requests
and terminated Spot instances cannot be brought back: the cancelled requests are listed (from
their records, so even when the trip died before its mail) and their records cleared. Running a
restore twice changes nothing the second time.

Restore trusts a tag only where the incident's own record vouches for it (ledger.py, issue 22
item 7): instances are started only if they are in the record and still carry the tag; groups
resumed, principals unlocked and launch blocks lifted only where the record names them, with the
values it recorded. What carries the incident's tags without being in its record is left alone
and listed (`unrecorded`: "tagged with the incident but not in its record"). An incident with no
record at all (tripped before the record existed, or made up) undoes nothing: see `NO_RECORD`.
Once a restore leaves nothing to undo, it deletes the record.

Every record is written before its change (halt.py), so a trip that crashed or timed out between
the two leaves records of changes that never happened; undoing one of those sets what already is:
a key still Active is left alone, a deny never attached answers NoSuchEntity (ignored), protection
still on is set on again, a process never suspended is resumed (the Auto Scaling API Reference
lists no error for it), a fleet never zeroed is set to the capacity it has (the EC2 API Reference
lists no error for an unchanged target). tests/guard/test_record_first.py crashes a trip between
every record and its change and restores.

IAM: iam:ListUsers, iam:ListRoles, iam:ListUserTags, iam:ListRoleTags, iam:ListAccessKeys,
iam:UpdateAccessKey, iam:DetachUserPolicy, iam:DetachRolePolicy (AWSDenyAll and the
launch-block policy only), iam:DeleteUserPolicy, iam:DeleteRolePolicy (older records' inline
runawaytrain-* policies only; not the guard's role), iam:UntagUser, iam:UntagRole,
and the Auto Scaling, warm pool, instance and fleet permissions named in auto_scaling.py,
warm_pools.py, instances.py and spot.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.auto_scaling import resume_groups
from guard.census import describe_error
from guard.iam_principals import list_principals
from guard.incident import INCIDENT_TAG, LOCK_TAG
from guard.instances import Waiting, restore_instances
from guard.launch_block import LAUNCH_BLOCK_TAG, lift_launch_block
from guard.ledger import (
    AUTO_SCALING,
    FLEETS,
    INSTANCES,
    LAUNCH_BLOCKS,
    PRINCIPALS,
    ROOT,
    WARM_POOLS,
    LedgerError,
    Records,
    delete_record,
    read_record,
)
from guard.lockout import (
    DENY_TAG,
    INLINE_DENY,
    KEYS_TAG,
    REVOKE_SESSIONS,
    REVOKE_TAG,
    deny_all_arn,
)
from guard.logs import get_logger
from guard.parallel import map_in_parallel
from guard.principals import Kind, Principal
from guard.spot import cancelled_requests, restore_fleets
from guard.warm_pools import restore_warm_pools

LOG = get_logger("restore")

RECORD_TAGS = (INCIDENT_TAG, LOCK_TAG, DENY_TAG, KEYS_TAG, REVOKE_TAG)
REGION_WORKERS = 32  # one thread per region, as the census
GONE = "NoSuchEntity"  # IAM: the policy or key is not there (any more): nothing to undo
# How long restore waits for restarted instances to reach running (or fall back to stopped,
# e.g. for want of kms:CreateGrant on a customer managed key) before it resumes Auto Scaling.
RESTART_WAIT_S = 180.0
NOT_IN_RECORD = "tagged with the incident but not in its record: not started"
NO_RECORD = (
    "incident {incident} has no record written by the guard ({root}/{incident}/ in any Region): "
    "either it was tripped before the guard kept one, or nobody tripped it (anyone may tag a "
    "resource with a made-up incident id). Nothing was started, resumed or unlocked from its "
    "tags. Check each resource tagged runawaytrain:incident={incident} and undo it by hand "
    "(`runawaytrain restore --dry-run` lists them under `unrecorded`)"
)


@dataclass
class RestoreResult:
    incident: str
    dry_run: bool = False
    unlocked_users: list[str] = field(default_factory=list)
    unlocked_roles: list[str] = field(default_factory=list)
    launch_unblocked: list[str] = field(default_factory=list)  # "user/x": launch block detached
    keys_reactivated: list[str] = field(default_factory=list)
    resumed_asgs: dict[str, list[str]] = field(default_factory=dict)  # "region/name" -> processes
    started_instances: list[str] = field(default_factory=list)
    still_stopped: list[str] = field(default_factory=list)  # tagged, not started (no restart asked)
    fell_back: dict[str, str] = field(default_factory=dict)  # started, then stopped again: why
    kept_suspended: dict[str, str] = field(default_factory=dict)  # "region/group" -> why
    warm_pools_restored: dict[str, str] = field(default_factory=dict)  # "region/group" -> what
    warm_pools_kept: dict[str, str] = field(default_factory=dict)  # "region/group" -> why Stopped
    reprotected: list[str] = field(default_factory=list)  # stop protection put back
    fleets_restored: dict[str, str] = field(default_factory=dict)  # fleet id -> capacities
    # "region/request id" of the Spot requests the incident cancelled: they cannot be reopened
    spot_requests_cancelled: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # "region/i-..." or "user/x" -> why its incident tags were not trusted (ledger.py): left alone
    unrecorded: dict[str, str] = field(default_factory=dict)
    record_warnings: dict[str, str] = field(default_factory=dict)  # a tag the record overruled

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verb = "would undo" if self.dry_run else "undid"
        parts = [
            f"{len(self.unlocked_users)} user(s) and {len(self.unlocked_roles)} role(s) unlocked",
            f"{len(self.launch_unblocked)} principal(s) allowed to launch again",
            f"{len(self.keys_reactivated)} access key(s) reactivated",
            f"{len(self.resumed_asgs)} Auto Scaling group(s) resumed",
            f"{len(self.started_instances)} instance(s) started",
        ]
        if self.fell_back:
            parts.append(f"{len(self.fell_back)} instance(s) stopped again after starting")
        if self.still_stopped:
            parts.append(f"{len(self.still_stopped)} instance(s) left stopped")
        if self.kept_suspended:
            parts.append(f"{len(self.kept_suspended)} Auto Scaling group(s) kept suspended")
        if self.warm_pools_restored:
            parts.append(f"{len(self.warm_pools_restored)} warm pool(s) put back")
        if self.warm_pools_kept:
            parts.append(f"{len(self.warm_pools_kept)} warm pool(s) kept Stopped")
        if self.reprotected:
            parts.append(f"stop protection put back on {len(self.reprotected)}")
        if self.fleets_restored:
            parts.append(f"{len(self.fleets_restored)} fleet(s) back to their capacity")
        if self.spot_requests_cancelled:
            parts.append(
                f"{len(self.spot_requests_cancelled)} cancelled Spot request(s) cannot be reopened"
            )
        if self.unrecorded:
            parts.append(
                f"{len(self.unrecorded)} tagged with the incident but not in its record: left alone"
            )
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return f"restore {verb} incident {self.incident}: " + ", ".join(parts)

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.unlocked_users
            or self.unlocked_roles
            or self.launch_unblocked
            or self.keys_reactivated
            or self.resumed_asgs
            or self.warm_pools_restored
            or self.started_instances
            or self.reprotected
            or self.fleets_restored
        )


@dataclass(frozen=True)
class Accounts:
    """The clients restore needs: IAM (global) and EC2/Auto Scaling per region."""

    iam: Any
    regions: tuple[str, ...]
    ec2_for: Callable[[str], Any]
    autoscaling_for: Callable[[str], Any]
    partition: str = "aws"
    # The guard stack's launch-block policy: the one policy restore detaches where this incident
    # recorded a launch block (from the settings, never from the record itself).
    launch_block_policy: str = ""
    wait_s: float = RESTART_WAIT_S  # per region, for restarted instances to settle
    sleep: Callable[[float], None] | None = None  # time.sleep unless a test drives a clock
    # The incident's record (ledger.py): each Region's Parameter Store, and the home Region's
    # for the IAM steps. None: records are not looked for (latest_incident from tags only).
    ssm_for: Callable[[str], Any] | None = None
    home_region: str = ""


def read_records(account: Accounts, incident: str) -> tuple[dict[str, Records], dict[str, str]]:
    """({region: the incident's record there}, {region: why it could not be read}), for every
    Region and the home Region, all at once."""
    assert account.ssm_for is not None
    ssm_for = account.ssm_for
    regions = sorted({*account.regions, account.home_region} - {""})

    def read(region: str) -> tuple[str, Records | str]:
        try:
            return region, read_record(ssm_for(region), incident)
        except LedgerError as error:
            return region, str(error)

    records: dict[str, Records] = {}
    errors: dict[str, str] = {}
    for region, found in map_in_parallel(read, regions, REGION_WORKERS):
        if isinstance(found, Records):
            records[region] = found
        else:
            errors[region] = found
    return records, errors


def forget_incident(account: Accounts, records: Mapping[str, Records]) -> dict[str, str]:
    """Delete the incident's record everywhere (restore left nothing to undo); {region: error}."""
    assert account.ssm_for is not None
    ssm_for = account.ssm_for

    def forget(region: str) -> tuple[str, str | None]:
        return region, delete_record(ssm_for(region), records[region])

    found = [region for region, record in records.items() if not record.empty]
    return {
        f"{region} record": error
        for region, error in map_in_parallel(forget, found, REGION_WORKERS)
        if error is not None
    }


def restore_incident(
    account: Accounts,
    incident: str,
    *,
    records: Mapping[str, Records],
    restart_instances: bool = False,
    dry_run: bool = False,
) -> RestoreResult:
    """Undo `incident` as its record (`records`, by Region: read_records) vouches for."""
    result = RestoreResult(incident, dry_run)
    home = records.get(account.home_region, Records())
    locks = home.of(PRINCIPALS)
    blocks = home.of(LAUNCH_BLOCKS, values_expected=False)
    for principal in list_principals(account.iam):
        try:
            blocked = blocks.vouch(principal.tags, principal.key)
            if blocked.get(LAUNCH_BLOCK_TAG) == incident:
                lift(account, principal, result)
            locked = locks.vouch(principal.tags, principal.key)
            if locked.get(INCIDENT_TAG) == incident:
                unlock(account.iam, principal, account.partition, result, locked)
        except (ClientError, BotoCoreError) as error:
            result.errors[principal.key] = describe_error(error)
    for record in (locks, blocks):
        result.unrecorded.update(record.refused)
        result.record_warnings.update(record.warnings)
    regions = [region for region in account.regions if region in records]
    for region_result in map_in_parallel(
        lambda region: restore_region(
            account, region, incident, restart_instances, dry_run, records=records[region]
        ),
        regions,
        REGION_WORKERS,
    ):
        result.resumed_asgs.update(region_result.resumed_asgs)
        result.started_instances += region_result.started_instances
        result.still_stopped += region_result.still_stopped
        result.fell_back.update(region_result.fell_back)
        result.kept_suspended.update(region_result.kept_suspended)
        result.warm_pools_restored.update(region_result.warm_pools_restored)
        result.warm_pools_kept.update(region_result.warm_pools_kept)
        result.reprotected += region_result.reprotected
        result.fleets_restored.update(region_result.fleets_restored)
        result.spot_requests_cancelled += region_result.spot_requests_cancelled
        result.errors.update(region_result.errors)
        result.unrecorded.update(region_result.unrecorded)
        result.record_warnings.update(region_result.record_warnings)
    LOG.info("restored", extra=result.to_dict())
    return result


def unlock(
    iam: Any,
    principal: Principal,
    partition: str,
    result: RestoreResult,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Undo `principal`'s lockout as `tags` (the record's: ledger.Record.vouch) say; every
    record tag it carries comes off."""
    live = principal.tags
    tags = live if tags is None else tags
    name, user = principal.name, principal.kind is Kind.USER
    if not result.dry_run:
        if tags.get(DENY_TAG) == "managed":
            _ignore_gone(
                iam.detach_user_policy if user else iam.detach_role_policy,
                **_who(principal),
                PolicyArn=deny_all_arn(partition),
            )
        # An older guard's inline deny (at a full quota): only those records name one, and
        # deleting it needs the operator's credentials (runawaytrain restore), not the guard's.
        if tags.get(DENY_TAG) == "inline":
            _ignore_gone(
                iam.delete_user_policy if user else iam.delete_role_policy,
                **_who(principal),
                PolicyName=INLINE_DENY,
            )
        if tags.get(REVOKE_TAG) == "yes" and not user:
            _ignore_gone(iam.delete_role_policy, RoleName=name, PolicyName=REVOKE_SESSIONS)
    if user:
        result.keys_reactivated += reactivate_keys(
            iam, name, tags.get(KEYS_TAG, "").split(), result.dry_run
        )
    if not result.dry_run:
        present = [key for key in RECORD_TAGS if key in live]
        (iam.untag_user if user else iam.untag_role)(**_who(principal), TagKeys=present)
    (result.unlocked_users if user else result.unlocked_roles).append(name)
    LOG.info("principal_unlocked", extra={"principal": principal.key, "dry_run": result.dry_run})


def lift(account: Accounts, principal: Principal, result: RestoreResult) -> None:
    """Detach the launch block this incident recorded on the principal."""
    if not account.launch_block_policy:
        result.errors[principal.key] = (
            "its launch block was not lifted: the launch-block policy's ARN is unknown "
            "(launch_block_policy is not set)"
        )
        return
    lift_launch_block(account.iam, principal, account.launch_block_policy, result.dry_run)
    result.launch_unblocked.append(principal.key)
    LOG.info("launch_block_lifted", extra={"principal": principal.key, "dry_run": result.dry_run})


def reactivate_keys(iam: Any, user: str, recorded: list[str], dry_run: bool) -> list[str]:
    """Set Active only the recorded keys that are still there and still Inactive."""
    current = {
        key["AccessKeyId"]: key["Status"]
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    }
    to_activate = [key for key in recorded if current.get(key) == "Inactive"]
    if not dry_run:
        for key_id in to_activate:
            iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Active")
    return to_activate


def restore_region(
    account: Accounts,
    region: str,
    incident: str,
    restart_instances: bool,
    dry_run: bool,
    *,
    records: Records,
) -> RestoreResult:
    """Fleets back first (with target 0 they launch nothing now, and would replace nothing),
    then instances (started and waited for when asked), then warm pools and Auto Scaling: a
    pool or a group is put back only when none of its instances is still stopped by the
    incident; last, the list of the Spot requests it cancelled."""
    result = RestoreResult(incident, dry_run)
    ec2 = account.ec2_for(region)
    try:
        fleets = records.of(FLEETS)
        result.fleets_restored, fleet_errors = restore_fleets(ec2, incident, dry_run, fleets)
        result.unrecorded.update({f"{region}/{f}": why for f, why in fleets.refused.items()})
        result.errors.update({f"{region} {n}": e for n, e in enumerate(fleet_errors)})
        waiting = Waiting(account.wait_s, account.sleep or time.sleep)
        restarted = restore_instances(
            ec2,
            region,
            incident,
            restart=restart_instances,
            dry_run=dry_run,
            waiting_for=waiting,
            record=records.of(INSTANCES, values_expected=False),
        )
        result.unrecorded.update(
            {f"{region}/{instance}": NOT_IN_RECORD for instance in restarted.unrecorded}
        )
        result.started_instances = restarted.started
        result.still_stopped = restarted.still_stopped
        result.fell_back = restarted.fell_back
        result.reprotected = restarted.reprotected
        result.errors.update(restarted.errors)
        pooled = records.of(WARM_POOLS)
        pools = restore_warm_pools(
            account.autoscaling_for(region),
            ec2,
            incident,
            restarted.still_stopped,
            dry_run,
            ledger=pooled,
        )
        result.unrecorded.update({f"{region}/{g}": why for g, why in pooled.refused.items()})
        result.warm_pools_restored = {f"{region}/{g}": done for g, done in pools.restored.items()}
        result.warm_pools_kept = {f"{region}/{g}": why for g, why in pools.kept.items()}
        result.errors.update({f"{region}/{g}": error for g, error in pools.errors.items()})
        groups = records.of(AUTO_SCALING)
        resumed = resume_groups(
            account.autoscaling_for(region),
            ec2,
            incident,
            restarted.still_stopped,
            dry_run,
            record=groups,
        )
        result.unrecorded.update({f"{region}/{g}": why for g, why in groups.refused.items()})
        result.record_warnings.update({f"{region}/{g}": w for g, w in groups.warnings.items()})
        result.resumed_asgs = {f"{region}/{name}": procs for name, procs in resumed.resumed.items()}
        result.kept_suspended = {f"{region}/{name}": why for name, why in resumed.kept.items()}
        cancelled = cancelled_requests(ec2, incident, dry_run)
        result.spot_requests_cancelled = [f"{region}/{request}" for request in cancelled]
    except (ClientError, BotoCoreError) as error:
        result.errors[region] = describe_error(error)
    return result


def recorded_incidents(account: Accounts) -> set[str]:
    """Every incident with a record (ledger.py) in any Region: what only the guard writes."""
    if account.ssm_for is None:
        return set()
    ssm_for = account.ssm_for

    def in_region(region: str) -> set[str]:
        pages = (
            ssm_for(region)
            .get_paginator("get_parameters_by_path")
            .paginate(Path=ROOT, Recursive=True)
        )
        names = [str(p["Name"]) for page in pages for p in page.get("Parameters", [])]
        return {name[len(ROOT) + 1 :].split("/", 1)[0] for name in names}

    regions = sorted({*account.regions, account.home_region} - {""})
    return set().union(*map_in_parallel(in_region, regions, REGION_WORKERS))


def find_incidents(account: Accounts) -> set[str]:
    """Every incident id recorded anywhere in the account (IAM, Auto Scaling, instances)."""
    found = {
        principal.tags[key]
        for principal in list_principals(account.iam)
        for key in (INCIDENT_TAG, LAUNCH_BLOCK_TAG)
        if key in principal.tags
    }

    def in_region(region: str) -> set[str]:
        ec2 = account.ec2_for(region)
        pages = ec2.get_paginator("describe_tags").paginate(
            Filters=[{"Name": "key", "Values": [INCIDENT_TAG]}]
        )
        ids = {tag["Value"] for page in pages for tag in page["Tags"]}
        autoscaling = account.autoscaling_for(region)
        asg_pages = autoscaling.get_paginator("describe_tags").paginate(
            Filters=[{"Name": "key", "Values": [INCIDENT_TAG]}]
        )
        return ids | {tag["Value"] for page in asg_pages for tag in page["Tags"]}

    for ids in map_in_parallel(in_region, account.regions, REGION_WORKERS):
        found |= ids
    return found


def latest_incident(account: Accounts) -> str | None:
    """Incident ids start with their UTC timestamp, so the newest sorts last. The newest with a
    record (ledger.py) if any has one: a made-up, newer id on a tag must not become the incident
    a plain `restore` undoes; only when no incident has a record, the newest on a tag (which
    restore then refuses, NO_RECORD, naming what carries it)."""
    recorded = recorded_incidents(account)
    return max(recorded or find_incidents(account), default=None)


def _who(principal: Principal) -> dict[str, str]:
    return {"UserName" if principal.kind is Kind.USER else "RoleName": principal.name}


def _ignore_gone(call: Callable[..., Any], **params: Any) -> None:
    try:
        call(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != GONE:
            raise
