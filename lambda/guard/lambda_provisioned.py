"""Lambda provisioned concurrency: removed at a trip, put back exactly by restore.

Provisioned concurrency bills while it is configured, invoked or not ("Provisioned concurrency
runs continually and is billed separately from initialization and invocation costs", Lambda
Developer Guide, "Managing Lambda provisioned concurrency"). Removing it loses no event: the
function goes on running on standard (on-demand) concurrency, as it does for whatever exceeds
its provisioned concurrency ("When all provisioned concurrency is in use, the function scales up
normally", same guide), with cold starts. So the kind is reversible, halted by default.

Census, at most one call per region when no function has a published version: provisioned
concurrency exists only on a published version or an alias of one ("Provisioned Concurrency is
not supported on the unpublished version of the function ($LATEST)", same guide), so one listing
of every version (ListFunctions FunctionVersion=ALL, 50 a page) finds the functions that can
have it, and only those are asked (ListProvisionedConcurrencyConfigs takes one FunctionName: no
call lists a region's configurations), all at once. Rejected cheaper tests: the CloudWatch
metric ProvisionedConcurrentExecutions is emitted "for each invocation of an alias or version
with provisioned concurrency" (same guide), so an idle configuration, billing all the same, sends
none; GetAccountSettings' UnreservedConcurrentExecutions is documented as the quota "minus the
capacity that's reserved for individual functions with PutFunctionConcurrency" (API Reference,
AccountLimit), not provisioned concurrency.

Weighed: one Running per configured alias or version, `count` its allocated environments
(AllocatedProvisionedConcurrentExecutions), each with the vCPUs of its memory ("At 1,769 MB, a
function has the equivalent of one vCPU", Developer Guide, "Configuring Lambda function
memory"), the largest of the function's published versions.

Record, then change: the function is tagged with the incident and, per qualifier,
`runawaytrain:provisioned:<qualifier>` = the requested executions, then each configuration is
deleted (DeleteProvisionedConcurrencyConfig). A refused delete takes its record off again. A
configuration added again while the incident is open (by hand, or an Application Auto Scaling
scheduled action, which this kind does not suspend) is deleted again at the next run and keeps
its first record. Restore (with `restart`, as every start: it bills again) puts each back with
PutProvisionedConcurrencyConfig, which is asynchronous (202, "Allocated
ProvisionedConcurrentExecutions": 0, "Status": "IN_PROGRESS", then READY: "Lambda starts
allocating provisioned concurrency after a minute or two", same guide), and removes the records.
A function the incident throttled (lambda_functions.py, reserved concurrency 0) cannot take its
provisioned concurrency back ("You can't allocate more provisioned concurrency than reserved
concurrency for a function"): it waits, `not_yet`, for the restore that lifts the throttle.
The guard's own function and runawaytrain's stacks are never touched (lambda_functions.is_own,
is_own_stack: exact names, no name prefix).

IAM: lambda:ListFunctions (no resource-level permissions); lambda:ListProvisionedConcurrencyConfigs,
lambda:GetFunctionConcurrency, lambda:ListTags, lambda:TagResource / lambda:UntagResource
(runawaytrain:* keys) on function ARNs; lambda:DeleteProvisionedConcurrencyConfig and
lambda:PutProvisionedConcurrencyConfig on function version and alias ARNs (function:<name>:<q>).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.lambda_functions import (
    MB_PER_VCPU,
    is_own,
    is_own_stack,
    list_functions,
    untag_record,
)
from guard.ledger import Record
from guard.logs import get_logger
from guard.parallel import map_in_parallel
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("lambda_provisioned")

SERVICE = "lambda"
KIND = "Lambda provisioned concurrency"
NAME = "lambda-provisioned-concurrency"  # in accounts.yaml's `halt:`
RECORD_PREFIX = f"{TAG_PREFIX}provisioned:"  # + qualifier: the requested executions before
LATEST = "$LATEST"
LIST_PAGE = 50  # ListProvisionedConcurrencyConfigs MaxItems: 1-50
WORKERS = 16  # one listing per function with a published version, at once
STOP_KEEPS = (
    "Kept: the function, its versions and aliases, and every event: invocations run on "
    "on-demand concurrency (cold starts). Lost: the pre-initialized environments. Restore with "
    "restart_instances puts each configuration back (allocation takes a few minutes)."
)


def count(client: Any, region: str) -> list[Running]:
    """Every alias or version with provisioned concurrency, one Running each."""
    memory: dict[str, int] = {}  # function name -> largest published version's memory (MB)
    arns: dict[str, str] = {}
    for version in list_functions(client, FunctionVersion="ALL"):
        name = version["FunctionName"]
        if version.get("Version", LATEST) == LATEST or is_own(name):
            continue
        memory[name] = max(memory.get(name, 0), int(version.get("MemorySize", 128)))
        arns[name] = version["FunctionArn"].rsplit(":", 1)[0]  # the version's ARN, unqualified

    def configured(name: str) -> list[Running]:
        return [
            Running(
                kind=KIND,
                region=region,
                name=f"{name}:{config['FunctionArn'].rsplit(':', 1)[1]}",
                arn=arns[name],
                instance_type="",
                state=config.get("Status", "READY"),
                count=int(config.get("AllocatedProvisionedConcurrentExecutions", 0)),
                vcpus=round(memory[name] / MB_PER_VCPU, 3),
            )
            for config in _configs(client, name)
        ]

    return [
        item for found in map_in_parallel(configured, sorted(memory), WORKERS) for item in found
    ]


def halt(client: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Record, then delete, the provisioned concurrency of one function (`found`: its
    configured aliases and versions, halt_services gives one function's at once)."""
    outcome = ServiceHalt()
    function, arn, region = found[0].name.rsplit(":", 1)[0], found[0].arn, found[0].region
    where = f"{region}: {KIND} {function}"
    try:
        if is_own(function):
            return outcome
        tags = client.list_tags(Resource=arn).get("Tags", {})
        if is_own_stack(tags):
            LOG.info("own_function_skipped", extra={"function": function})
            return outcome
        requested = {
            config["FunctionArn"].rsplit(":", 1)[1]: config[
                "RequestedProvisionedConcurrentExecutions"
            ]
            for config in _configs(client, function)
        }
    except (ClientError, BotoCoreError) as error:
        outcome.errors.append(f"{where}: reading: {describe_error(error)}")
        return outcome
    if not requested:
        return outcome  # removed since the count
    ours = tags.get(INCIDENT_TAG) == incident
    record = {
        f"{RECORD_PREFIX}{qualifier}": (
            tags[f"{RECORD_PREFIX}{qualifier}"]
            if ours and f"{RECORD_PREFIX}{qualifier}" in tags  # added again: keep the first
            else str(count)
        )
        for qualifier, count in requested.items()
    }
    try:
        client.tag_resource(Resource=arn, Tags={INCIDENT_TAG: incident, **record})
    except (ClientError, BotoCoreError) as error:  # removed all the same, reported
        by_hand = ", ".join(f"{key[len(RECORD_PREFIX) :]}={n}" for key, n in record.items())
        outcome.errors.append(
            f"{where}: recording: {describe_error(error)}; removed all the same: after restore, "
            f"put its provisioned concurrency back by hand ({by_hand})"
        )
    by_name = {item.name: item for item in found}
    for qualifier in requested:
        key = f"{RECORD_PREFIX}{qualifier}"
        try:
            client.delete_provisioned_concurrency_config(FunctionName=function, Qualifier=qualifier)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}:{qualifier}: removing: {describe_error(error)}")
            if not (ours and key in tags):  # no record of a change that did not happen
                _untag(client, arn, [key], where=f"{where}:{qualifier}", errors=outcome.errors)
            continue
        halted = by_name.get(f"{function}:{qualifier}") or Running(
            kind=KIND,
            region=region,
            name=f"{function}:{qualifier}",
            arn=arn,
            instance_type="",
            state="READY",
            count=0,
            vcpus=found[0].vcpus,
        )
        outcome.halted.append(halted)
        LOG.info(
            "provisioned_concurrency_removed",
            extra={"region": region, "function": function, "qualifier": qualifier},
        )
    return outcome


def restore(
    client: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Put back the provisioned concurrency `incident` removed (with `restart` only: it bills
    again), exactly as recorded, and take the records off."""
    outcome = ServiceRestore()
    for function in list_functions(client):
        name, arn = function["FunctionName"], function["FunctionArn"]
        try:
            tags = record.vouch(client.list_tags(Resource=arn).get("Tags", {}), arn, name)
            records = {
                key[len(RECORD_PREFIX) :]: value
                for key, value in tags.items()
                if key.startswith(RECORD_PREFIX)
            }
            if tags.get(INCIDENT_TAG) != incident:
                continue
            if not any(k.startswith(TAG_PREFIX) and k != INCIDENT_TAG for k in tags):
                # The incident tag alone: left by the throttle's restore running beside this
                # one (each removes it only after its own records); nothing to give back.
                if not dry_run:
                    client.untag_resource(Resource=arn, TagKeys=[INCIDENT_TAG])
                continue
            if not records:
                continue
            wheres = [f"{region}/{name}:{qualifier}" for qualifier in sorted(records)]
            reserved = client.get_function_concurrency(FunctionName=name).get(
                "ReservedConcurrentExecutions"
            )
            wanted = sum(int(value) for value in records.values())
            if not restart or (reserved is not None and reserved < wanted):
                outcome.not_yet += wheres  # or throttled still: restore again once it is lifted
                continue
        except (ClientError, BotoCoreError, ValueError) as error:
            outcome.errors[f"{KIND} {region}/{name}"] = describe_error(error)
            continue
        for qualifier, value in sorted(records.items()):
            where = f"{region}/{name}:{qualifier}"
            if dry_run:
                outcome.restored.append(where)
                continue
            try:
                client.put_provisioned_concurrency_config(
                    FunctionName=name,
                    Qualifier=qualifier,
                    ProvisionedConcurrentExecutions=int(value),
                )
                untag_record(client, arn, [f"{RECORD_PREFIX}{qualifier}"])
                outcome.restored.append(where)
            except (ClientError, BotoCoreError, ValueError) as error:
                outcome.errors[f"{KIND} {where}"] = describe_error(error)
    return outcome


def _configs(client: Any, function: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_provisioned_concurrency_configs").paginate(
        FunctionName=function, PaginationConfig={"PageSize": LIST_PAGE}
    )
    return [config for page in pages for config in page.get("ProvisionedConcurrencyConfigs", [])]


def _untag(client: Any, arn: str, keys: list[str], *, where: str, errors: list[str]) -> None:
    try:
        untag_record(client, arn, keys)
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: untagging: {describe_error(error)}")
