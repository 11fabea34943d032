"""Undo exactly one incident, from the records it left on what it changed.

Only what the incident did is undone: the deny it attached (not one that was there before), the
inline policies it put, the keys it deactivated (a key already inactive stays inactive), the Auto
Scaling processes it suspended (not those suspended before), and its tags. Instances are started
only when asked (`restart_instances`); until then they keep their incident tag, so a later restore
can still start them. Running a restore twice changes nothing the second time.

IAM: iam:ListUsers, iam:ListRoles, iam:ListUserTags, iam:ListRoleTags, iam:ListAccessKeys,
iam:UpdateAccessKey, iam:DetachUserPolicy, iam:DetachRolePolicy (AWSDenyAll only),
iam:DeleteUserPolicy, iam:DeleteRolePolicy (runawaytrain-* only), iam:UntagUser, iam:UntagRole,
autoscaling:DescribeTags, autoscaling:DescribeAutoScalingGroups, autoscaling:ResumeProcesses,
autoscaling:DeleteTags, ec2:DescribeTags, ec2:DescribeInstances, ec2:StartInstances,
ec2:DeleteTags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.halt import chunks
from guard.incident import INCIDENT_TAG, SUSPENDED_TAG
from guard.lockout import (
    DENY_TAG,
    INLINE_DENY,
    KEYS_TAG,
    REVOKE_SESSIONS,
    REVOKE_TAG,
    deny_all_arn,
    list_principals,
)
from guard.logs import get_logger
from guard.parallel import map_in_parallel
from guard.principals import Kind, Principal
from guard.settings import Lockout

LOG = get_logger("restore")

RECORD_TAGS = (INCIDENT_TAG, DENY_TAG, KEYS_TAG, REVOKE_TAG)
REGION_WORKERS = 32  # one thread per region, as the census
GONE = "NoSuchEntity"  # IAM: the policy or key is not there (any more): nothing to undo


@dataclass
class RestoreResult:
    incident: str
    dry_run: bool = False
    unlocked_users: list[str] = field(default_factory=list)
    unlocked_roles: list[str] = field(default_factory=list)
    keys_reactivated: list[str] = field(default_factory=list)
    resumed_asgs: dict[str, list[str]] = field(default_factory=dict)  # "region/name" -> processes
    started_instances: list[str] = field(default_factory=list)
    still_stopped: list[str] = field(default_factory=list)  # tagged, not started (no restart asked)
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verb = "would undo" if self.dry_run else "undid"
        parts = [
            f"{len(self.unlocked_users)} user(s) and {len(self.unlocked_roles)} role(s) unlocked",
            f"{len(self.keys_reactivated)} access key(s) reactivated",
            f"{len(self.resumed_asgs)} Auto Scaling group(s) resumed",
            f"{len(self.started_instances)} instance(s) started",
        ]
        if self.still_stopped:
            parts.append(f"{len(self.still_stopped)} instance(s) left stopped (restart not asked)")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        return f"restore {verb} incident {self.incident}: " + ", ".join(parts)

    @property
    def changed_anything(self) -> bool:
        return bool(
            self.unlocked_users
            or self.unlocked_roles
            or self.keys_reactivated
            or self.resumed_asgs
            or self.started_instances
        )


@dataclass(frozen=True)
class Accounts:
    """The clients restore needs: IAM (global) and EC2/Auto Scaling per region."""

    iam: Any
    regions: tuple[str, ...]
    ec2_for: Callable[[str], Any]
    autoscaling_for: Callable[[str], Any]
    partition: str = "aws"


def restore_incident(
    account: Accounts, incident: str, *, restart_instances: bool = False, dry_run: bool = False
) -> RestoreResult:
    result = RestoreResult(incident, dry_run)
    for principal in list_principals(account.iam, Lockout.USERS_AND_ROLES):
        if principal.tags.get(INCIDENT_TAG) != incident:
            continue
        try:
            unlock(account.iam, principal, account.partition, result)
        except (ClientError, BotoCoreError) as error:
            result.errors[principal.key] = describe_error(error)
    for region_result in map_in_parallel(
        lambda region: restore_region(account, region, incident, restart_instances, dry_run),
        account.regions,
        REGION_WORKERS,
    ):
        result.resumed_asgs.update(region_result.resumed_asgs)
        result.started_instances += region_result.started_instances
        result.still_stopped += region_result.still_stopped
        result.errors.update(region_result.errors)
    LOG.info("restored", extra=result.to_dict())
    return result


def unlock(iam: Any, principal: Principal, partition: str, result: RestoreResult) -> None:
    tags, name, user = principal.tags, principal.name, principal.kind is Kind.USER
    if not result.dry_run:
        if tags.get(DENY_TAG) == "managed":
            _ignore_gone(
                iam.detach_user_policy if user else iam.detach_role_policy,
                **_who(principal),
                PolicyArn=deny_all_arn(partition),
            )
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
        present = [key for key in RECORD_TAGS if key in tags]
        (iam.untag_user if user else iam.untag_role)(**_who(principal), TagKeys=present)
    (result.unlocked_users if user else result.unlocked_roles).append(name)
    LOG.info("principal_unlocked", extra={"principal": principal.key, "dry_run": result.dry_run})


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
    account: Accounts, region: str, incident: str, restart_instances: bool, dry_run: bool
) -> RestoreResult:
    result = RestoreResult(incident, dry_run)
    try:
        resume_groups(account.autoscaling_for(region), region, incident, dry_run, result)
        restart_or_list_instances(
            account.ec2_for(region), incident, restart_instances, dry_run, result
        )
    except (ClientError, BotoCoreError) as error:
        result.errors[region] = describe_error(error)
    return result


def resume_groups(
    autoscaling: Any, region: str, incident: str, dry_run: bool, result: RestoreResult
) -> None:
    names = incident_groups(autoscaling, incident)
    for batch in chunks(names, 50):
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(batch))
        for group in groups["AutoScalingGroups"]:
            tags = {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}
            processes = [p for p in tags.get(SUSPENDED_TAG, "").split(",") if p]
            name = group["AutoScalingGroupName"]
            if not dry_run:
                if processes:
                    autoscaling.resume_processes(
                        AutoScalingGroupName=name, ScalingProcesses=processes
                    )
                autoscaling.delete_tags(
                    Tags=[
                        {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key}
                        for key in (INCIDENT_TAG, SUSPENDED_TAG)
                        if key in tags
                    ]
                )
            result.resumed_asgs[f"{region}/{name}"] = processes


def incident_groups(autoscaling: Any, incident: str | None) -> list[str]:
    """Auto Scaling groups carrying the incident tag (any incident when `incident` is None)."""
    filters = [{"Name": "key", "Values": [INCIDENT_TAG]}]
    if incident is not None:
        filters.append({"Name": "value", "Values": [incident]})
    return sorted(
        {
            tag["ResourceId"]
            for page in autoscaling.get_paginator("describe_tags").paginate(Filters=filters)
            for tag in page["Tags"]
            if incident is None or tag["Value"] == incident
        }
    )


def restart_or_list_instances(
    ec2: Any, incident: str, restart: bool, dry_run: bool, result: RestoreResult
) -> None:
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": f"tag:{INCIDENT_TAG}", "Values": [incident]}]
    )
    stopped = [
        instance["InstanceId"]
        for page in pages
        for reservation in page["Reservations"]
        for instance in reservation["Instances"]
        if instance["State"]["Name"] in ("stopped", "stopping")
    ]
    if not restart:
        result.still_stopped += stopped
        return
    for batch in chunks(stopped, 500):
        if not dry_run:
            ec2.start_instances(InstanceIds=list(batch))
            ec2.delete_tags(Resources=list(batch), Tags=[{"Key": INCIDENT_TAG}])
        result.started_instances += batch


def find_incidents(account: Accounts) -> set[str]:
    """Every incident id recorded anywhere in the account (IAM, Auto Scaling, instances)."""
    found = {
        principal.tags[INCIDENT_TAG]
        for principal in list_principals(account.iam, Lockout.USERS_AND_ROLES)
        if INCIDENT_TAG in principal.tags
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
    """Incident ids start with their UTC timestamp, so the newest sorts last."""
    return max(find_incidents(account), default=None)


def _who(principal: Principal) -> dict[str, str]:
    return {"UserName" if principal.kind is Kind.USER else "RoleName": principal.name}


def _ignore_gone(call: Callable[..., Any], **params: Any) -> None:
    try:
        call(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != GONE:
            raise
