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

Record, then change: the function is tagged with the incident and its record, every qualifier's
requested executions in as few tags as hold them (RECORD_KEY: "live=5 1=3", then RECORD_KEY-2,
...), only as many as the function's 50 tags leave room for; then each RECORDED configuration is
deleted (DeleteProvisionedConcurrencyConfig): nothing is deleted that is not recorded, and a
record AWS refuses to write deletes nothing. A delete AWS refuses (ClientError) takes its part of
the record off again; a timeout keeps it (the delete may have happened: restore puts back what
is recorded either way). A record already there (added again while the incident is open, by
hand or by an Application Auto Scaling scheduled action, which this kind does not suspend; or
an older incident's never restored) holds the oldest values and is kept. Restore (with
`restart`, as every start: it bills again) puts each back with PutProvisionedConcurrencyConfig,
which is asynchronous (202, "Allocated ProvisionedConcurrentExecutions": 0, "Status":
"IN_PROGRESS", then READY: "Lambda starts allocating provisioned concurrency after a minute or
two", same guide), and removes what it put back from the record; an alias or version deleted
since (ResourceNotFoundException) has nothing to put back and leaves the record too.
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

from guard.census import describe_error, refused
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
# A few per Region: each item's prior values go to the incident's record before its change
# (services.py), so a Lambda timeout between the two never leaves one without them (ledger.py).
EAGER_RECORD = True
# The record: "qualifier=executions ..." (requested before the trip) in RECORD_KEY, then
# RECORD_KEY-2, ... as many values as it takes. Lambda tags: key up to 128 characters, value up
# to 256, 50 a function (Lambda Developer Guide, "Using tags on Lambda functions"; Tagging AWS
# Resources User Guide, "Tag naming limits and requirements"); a qualifier ([a-zA-Z0-9$_-],
# up to 128 characters, API Reference PutProvisionedConcurrencyConfig) would not fit in a key.
RECORD_KEY = f"{TAG_PREFIX}provisioned-concurrency"
TAG_VALUE_MAX = 256
TAGS_MAX = 50
AWS_PREFIX = "aws:"  # AWS's own tags: not counted against TAGS_MAX
PAIR, SEPARATOR = "=", " "  # both allowed in tag values, neither in a qualifier
NOT_FOUND = "ResourceNotFoundException"  # an alias or version deleted since the trip
# Halted before the throttle of the same function (services.halt_services runs the two in turn):
# AWS refuses a reservation below the function's provisioned concurrency.
HALT_FIRST = True
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
    configured aliases and versions, halt_services gives one function's at once). Only what
    the record holds is deleted."""
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
            config["FunctionArn"].rsplit(":", 1)[1]: int(
                config["RequestedProvisionedConcurrentExecutions"]
            )
            for config in _configs(client, function)
        }
        before = read_record(tags)
    except (ClientError, BotoCoreError, ValueError) as error:
        outcome.errors.append(f"{where}: reading: {describe_error(error)}")
        return outcome
    if not requested:
        return outcome  # removed since the count
    # A record there already (added again since, or an older incident's never restored) holds
    # the OLDEST prior values: kept; the qualifiers configured since are added after it.
    record = {**before, **{q: n for q, n in requested.items() if q not in before}}
    values = fit_record(encode_record(record), tags)
    recorded = decode_values(values)
    unrecorded = sorted(set(requested) - set(recorded))
    if unrecorded:
        outcome.errors.append(
            f"{where}: not removed from {', '.join(unrecorded)}: no room for its record "
            f"({TAGS_MAX} tags a function); remove some tags, the next run removes it"
        )
    if recorded.keys() & requested.keys():
        try:
            client.tag_resource(Resource=arn, Tags={INCIDENT_TAG: incident, **keyed(values)})
        except (ClientError, BotoCoreError) as error:  # unrecorded: not removed
            outcome.errors.append(f"{where}: not removed: recording: {describe_error(error)}")
            return outcome
        _remove(client, found, requested, (before, recorded, len(values)), outcome)
    return outcome


def _remove(
    client: Any,
    found: list[Running],
    requested: dict[str, int],
    records: tuple[dict[str, int], dict[str, int], int],
    outcome: ServiceHalt,
) -> None:
    """Delete each recorded configuration; one AWS refuses leaves the record (unless an
    earlier run recorded it)."""
    before, recorded, keys = records
    function, arn, region = found[0].name.rsplit(":", 1)[0], found[0].arn, found[0].region
    where = f"{region}: {KIND} {function}"
    by_name = {item.name: item for item in found}
    refused_new = set()
    for qualifier in sorted(recorded.keys() & requested.keys()):
        try:
            client.delete_provisioned_concurrency_config(FunctionName=function, Qualifier=qualifier)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}:{qualifier}: removing: {describe_error(error)}")
            # Refused: no record of a change that did not happen (a record from before stays).
            # A timeout may come after the delete: the record stays, restore puts it back.
            if refused(error) and qualifier not in before:
                refused_new.add(qualifier)
            continue
        outcome.halted.append(
            by_name.get(f"{function}:{qualifier}")
            or Running(
                kind=KIND,
                region=region,
                name=f"{function}:{qualifier}",
                arn=arn,
                instance_type="",
                state="READY",
                count=0,
                vcpus=found[0].vcpus,
            )
        )
        LOG.info(
            "provisioned_concurrency_removed",
            extra={"region": region, "function": function, "qualifier": qualifier},
        )
    if refused_new:
        left = {q: n for q, n in recorded.items() if q not in refused_new}
        try:
            rewrite_record(client, arn, left, had=keys)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: untagging: {describe_error(error)}")


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
            if tags.get(INCIDENT_TAG) != incident:
                continue
            if not any(k.startswith(TAG_PREFIX) and k != INCIDENT_TAG for k in tags):
                # The incident tag alone: left by the throttle's restore running beside this
                # one (each removes it only after its own records); nothing to give back.
                if not dry_run:
                    client.untag_resource(Resource=arn, TagKeys=[INCIDENT_TAG])
                continue
            records = read_record(tags)
            if not records:
                continue
            wheres = [f"{region}/{name}:{qualifier}" for qualifier in sorted(records)]
            reserved = client.get_function_concurrency(FunctionName=name).get(
                "ReservedConcurrentExecutions"
            )
            wanted = sum(records.values())
            if not restart or (reserved is not None and reserved < wanted):
                outcome.not_yet += wheres  # or throttled still: restore again once it is lifted
                continue
        except (ClientError, BotoCoreError, ValueError) as error:
            outcome.errors[f"{KIND} {region}/{name}"] = describe_error(error)
            continue
        if dry_run:
            outcome.restored += wheres
            continue
        _put_back(client, f"{region}/{name}", arn, (records, len(record_keys_of(tags))), outcome)
    return outcome


def _put_back(
    client: Any,
    where: str,
    arn: str,
    recorded: tuple[dict[str, int], int],
    outcome: ServiceRestore,
) -> None:
    """Put each recorded configuration back, then rewrite the record with what is left."""
    records, keys = recorded
    name = where.split("/", 1)[1]
    left = dict(records)
    for qualifier, value in sorted(records.items()):
        try:
            client.put_provisioned_concurrency_config(
                FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=value
            )
            outcome.restored.append(f"{where}:{qualifier}")
        except (ClientError, BotoCoreError) as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code != NOT_FOUND:
                outcome.errors[f"{KIND} {where}:{qualifier}"] = describe_error(error)
                continue
            # Its alias or version deleted since: nothing to put back; that part goes.
            LOG.info("provisioned_target_gone", extra={"function": name, "qualifier": qualifier})
        del left[qualifier]
    try:
        if left != records:
            rewrite_record(client, arn, left, had=keys)
    except (ClientError, BotoCoreError) as error:
        outcome.errors[f"{KIND} {where}"] = describe_error(error)


def encode_record(record: dict[str, int]) -> list[str]:
    """`qualifier=executions` pairs, space-separated, as few tag values as hold them (a value
    holds TAG_VALUE_MAX characters; one pair, a qualifier of at most 128 characters, always
    fits), in the record's order: what was recorded first stays in the first values."""
    values: list[str] = []
    for qualifier, executions in record.items():
        pair = f"{qualifier}{PAIR}{executions}"
        if values and len(values[-1]) + len(SEPARATOR) + len(pair) <= TAG_VALUE_MAX:
            values[-1] += SEPARATOR + pair
        else:
            values.append(pair)
    return values


def decode_values(values: list[str]) -> dict[str, int]:
    """The record of its tag values; ValueError if one was edited into something else."""
    record: dict[str, int] = {}
    for value in values:
        for pair in value.split(SEPARATOR):
            if pair:
                qualifier, _, executions = pair.rpartition(PAIR)
                if not qualifier:
                    raise ValueError(f"unreadable record {pair!r}")
                record[qualifier] = int(executions)
    return record


def record_key(number: int) -> str:
    """The record's tag keys: RECORD_KEY, then RECORD_KEY-2, RECORD_KEY-3, ..."""
    return RECORD_KEY if number == 1 else f"{RECORD_KEY}-{number}"


def record_keys_of(tags: dict[str, str]) -> list[str]:
    """The record's keys a function carries, in order."""
    keys = []
    while record_key(len(keys) + 1) in tags:
        keys.append(record_key(len(keys) + 1))
    return keys


def read_record(tags: dict[str, str]) -> dict[str, int]:
    """{qualifier: requested executions} of the record on a function ({} if none)."""
    return decode_values([tags[key] for key in record_keys_of(tags)])


def keyed(values: list[str]) -> dict[str, str]:
    return {record_key(number): value for number, value in enumerate(values, 1)}


def fit_record(values: list[str], tags: dict[str, str]) -> list[str]:
    """The leading values that fit in the function's tags with the incident tag: a resource
    holds at most TAGS_MAX tags, those with the aws: prefix not counted (Tagging AWS Resources
    User Guide, "Tag naming limits and requirements"); a record key already there is reused."""
    own = {k for k in tags if not k.startswith(AWS_PREFIX)} - set(record_keys_of(tags))
    room = TAGS_MAX - len(own | {INCIDENT_TAG})
    return values[: max(room, 0)]


def rewrite_record(client: Any, arn: str, record: dict[str, int], *, had: int) -> None:
    """The record now `record`: its values rewritten, the keys it no longer needs (of the
    `had` there were) removed, and with the last one the incident tag unless another kind's
    record stays (untag_record)."""
    values = encode_record(record)
    if values:
        client.tag_resource(Resource=arn, Tags=keyed(values))
    surplus = [record_key(number) for number in range(len(values) + 1, had + 1)]
    if not values:
        untag_record(client, arn, surplus)
    elif surplus:
        client.untag_resource(Resource=arn, TagKeys=surplus)


def _configs(client: Any, function: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_provisioned_concurrency_configs").paginate(
        FunctionName=function, PaginationConfig={"PageSize": LIST_PAGE}
    )
    return [config for page in pages for config in page.get("ProvisionedConcurrencyConfigs", [])]
