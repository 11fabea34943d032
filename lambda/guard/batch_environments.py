"""AWS Batch managed compute environments: disabled at a trip, enabled again by restore.

What a compute environment bills is its capacity: EC2 and Spot environments run EC2 instances
(Batch launches them; the EC2 census counts them and the EC2 halt stops them), Fargate ones run
each job as a Fargate task, billed by its vCPUs and memory (batch_jobs.py weighs those). So an
environment weighs nothing here (count 0): its money is weighed once, where it burns. What the
halt here adds is that Batch places no more work and keeps no capacity warm:
- state DISABLED: "the Batch scheduler doesn't attempt to place jobs within the environment",
  managed environments "don't scale out", but "Jobs in a STARTING or RUNNING state continue to
  progress normally" and a DISABLED environment "may continue to incur billing charges ... a
  non-zero minvCpus" (Batch API Reference, ComputeEnvironmentDetail.state);
- minvCpus 0: minvCpus is kept "even if the compute environment is DISABLED"
  (ComputeResourceUpdate.minvCpus); at 0, idle instances scale down to nothing ("When an
  instance is idle, the instance scales down to the minvCpus value", ibid. state).
desiredvCpus is never sent: "Batch doesn't support changing the desired number of vCPUs of an
existing compute environment" and an update "must be greater than or equal to the current
desiredvCpus" (ComputeResourceUpdate.desiredvCpus); a lower one is refused with "Manually scaling
down compute environment is not supported. Disconnecting job queues from compute environment
will cause it to scale-down to minvCpus." (quoted in opensupplyhub/open-apparel-registry#2043).
Batch moves desiredvCpus itself between min and max. minvCpus does not apply to Fargate ("Don't
specify it", ibid.): a Fargate environment is only disabled. maxvCpus is left alone.

Counted: every MANAGED environment that is ENABLED (and not being deleted), idle ones too. An
idle one (desiredvCpus and minvCpus 0, or a Fargate one with no work) holds nothing now, but it
is what starts capacity for the next job: a job queued after the trip, on an enabled queue,
would be placed on it and launch instances (the EC2 census would see them a run later) or
Fargate tasks. So a trip disables them all (insider review), and the mail lists the idle ones
as present with no instances of their own. Only one whose status is VALID or INVALID is updated
(cloud-custodian's batch compute environment update acts on the same statuses): one CREATING
or UPDATING waits for the next run while the incident is open.

Record, then change: the environment is tagged with the incident, its prior state and (EC2/Spot)
its prior minvCpus before the update; a refused update takes them off again. Restore (only with
restart: enabling lets Batch launch instances again, as a start bills) puts state and minvCpus
back exactly and removes the tags; without restart the record stays. Tags are read from
DescribeComputeEnvironments (`tags`), so restore needs no ListTagsForResource.

IAM: batch:DescribeComputeEnvironments (no resource-level permissions),
batch:UpdateComputeEnvironment (compute-environment ARNs), batch:TagResource /
batch:UntagResource (compute-environment ARNs, runawaytrain:* keys).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore, untag_resource

LOG = get_logger("batch_environments")

SERVICE = "batch"
KIND = "Batch compute environment"
NAME = "batch-environments"
# A few per Region: each item's prior values go to the incident's record before its change
# (services.py), so a Lambda timeout between the two never leaves one without them (ledger.py).
EAGER_RECORD = True
PRIOR_STATE_TAG = f"{TAG_PREFIX}prior-state"
PRIOR_MIN_TAG = f"{TAG_PREFIX}prior-minvcpus"
RECORD_TAGS = (INCIDENT_TAG, PRIOR_STATE_TAG, PRIOR_MIN_TAG)
FARGATE = ("FARGATE", "FARGATE_SPOT")
UPDATABLE = ("VALID", "INVALID")  # CREATING, UPDATING, DELETING, DELETED: not (yet)
GONE = ("DELETING", "DELETED")
NAMES_PER_DESCRIBE = 100  # DescribeComputeEnvironments computeEnvironments: up to 100 (API Ref.)
STOP_KEEPS = (
    "Disabled, minvCpus 0: Batch places no new jobs there and lets idle instances go; jobs "
    "already RUNNING go on (batch-jobs in halt: terminates them); its EC2 instances are in the "
    "EC2 count and halt above. Queued jobs stay queued. Restore with restart_instances enables "
    "it again with its minvCpus."
)


def environments(batch: Any, names: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Every compute environment of the region (or those named, 100 a call)."""
    wanted = list(names)
    if not wanted:
        pages = batch.get_paginator("describe_compute_environments").paginate()
        return [env for page in pages for env in page["computeEnvironments"]]
    found = []
    for start in range(0, len(wanted), NAMES_PER_DESCRIBE):
        chunk = wanted[start : start + NAMES_PER_DESCRIBE]
        found += batch.describe_compute_environments(computeEnvironments=chunk)[
            "computeEnvironments"
        ]
    return found


def is_fargate(env: dict[str, Any]) -> bool:
    return env.get("computeResources", {}).get("type") in FARGATE


def holds_capacity(env: dict[str, Any]) -> bool:
    """EC2/Spot: instances now or kept warm; Fargate environments hold none of their own."""
    resources = env.get("computeResources", {})
    return resources.get("desiredvCpus", 0) > 0 or resources.get("minvCpus", 0) > 0


def count(batch: Any, region: str) -> list[Running]:
    """Every enabled managed environment: one that holds capacity and one that would start it
    for the next job (module docstring). One DescribeComputeEnvironments page per 100."""
    return [
        Running(
            kind=KIND,
            region=region,
            name=env["computeEnvironmentName"],
            arn=env["computeEnvironmentArn"],
            instance_type="",
            state=env.get("status", "") if holds_capacity(env) else "idle",
            count=0,  # weighed where it burns: the EC2 census, or its Fargate jobs
        )
        for env in environments(batch)
        if env.get("type") == "MANAGED"
        and env.get("state") == "ENABLED"
        and env.get("status") not in GONE
    ]


def halt(batch: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Tag (incident, prior state and minvCpus), then disable with minvCpus 0."""
    outcome = ServiceHalt()
    by_name = {r.name: r for r in found}
    for env in environments(batch, by_name):
        running = by_name[env["computeEnvironmentName"]]
        if env.get("state") != "ENABLED":
            continue  # disabled since the count: nothing to do, nothing to record
        if env.get("status") not in UPDATABLE:
            outcome.waiting.append(running)
            continue
        resources = env.get("computeResources", {})
        fargate = is_fargate(env)
        # Already recorded by this incident (enabled again since): the first record is the
        # prior state, the present one is not.
        recorded_now = env.get("tags", {}).get(INCIDENT_TAG) != incident
        if recorded_now:
            record = {INCIDENT_TAG: incident, PRIOR_STATE_TAG: env["state"]}
            if not fargate:
                record[PRIOR_MIN_TAG] = str(resources.get("minvCpus", 0))
            try:
                batch.tag_resource(resourceArn=running.arn, tags=record)
            except (ClientError, BotoCoreError) as error:
                outcome.errors.append(
                    f"{running.region}: recording {KIND} {running.name}: {describe_error(error)}; "
                    "not disabled (restore could not give its settings back)"
                )
                continue
        update: dict[str, Any] = {"computeEnvironment": running.arn, "state": "DISABLED"}
        if not fargate:
            update["computeResources"] = {"minvCpus": 0}
        try:
            batch.update_compute_environment(**update)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{running.region}: disabling {KIND} {running.name}: {describe_error(error)}"
            )
            if recorded_now and refused(error):  # no record of a change that did not happen
                where = f"{running.region}: {KIND} {running.name}"
                untag_resource(batch, running.arn, list(RECORD_TAGS), where, outcome.errors)
            continue
        outcome.halted.append(running)
        LOG.info("batch_environment_disabled", extra={"region": running.region, "ce": running.name})
    return outcome


def restore(
    batch: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Give the environments `incident` disabled their prior state and minvCpus back (only with
    `restart`), then take the record off."""
    outcome = ServiceRestore()
    for env in environments(batch):
        tags = record.vouch(
            env.get("tags", {}), env["computeEnvironmentArn"], env["computeEnvironmentName"]
        )
        if tags.get(INCIDENT_TAG) != incident:
            continue
        name, arn = env["computeEnvironmentName"], env["computeEnvironmentArn"]
        where = f"{region}/{name}"
        state = tags.get(PRIOR_STATE_TAG, "ENABLED")
        update: dict[str, Any] = {"computeEnvironment": arn, "state": state}
        unchanged = env.get("state") == state
        if PRIOR_MIN_TAG in tags:
            if not tags[PRIOR_MIN_TAG].isdigit():
                outcome.errors[f"{KIND} {where}"] = f"its record {PRIOR_MIN_TAG} is unreadable"
                continue
            low = int(tags[PRIOR_MIN_TAG])
            update["computeResources"] = {"minvCpus": low}
            unchanged &= env.get("computeResources", {}).get("minvCpus") == low
        try:
            if unchanged:
                # Never disabled (a crash between the record and the change), or set back by
                # hand: nothing to give back, the record goes.
                if not dry_run:
                    batch.untag_resource(resourceArn=arn, tagKeys=list(RECORD_TAGS))
                continue
            if not restart or env.get("status") not in UPDATABLE:
                outcome.not_yet.append(where)  # the record stays for the next restore
                continue
            if not dry_run:
                batch.update_compute_environment(**update)
                batch.untag_resource(resourceArn=arn, tagKeys=list(RECORD_TAGS))
        except (ClientError, BotoCoreError) as error:
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
            continue
        outcome.restored.append(where)
    return outcome
