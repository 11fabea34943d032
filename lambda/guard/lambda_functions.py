"""Lambda functions: throttled at a trip (reserved concurrency 0), given back their exact
reservation by restore.

A function bills per invocation and duration, so what burns is invocations, which no cheap call
shows: the census lists the region's functions (ListFunctions, 50 a page "even if you set the
number higher", API Reference: one call per 50 functions per region, nothing per function), each
as capacity of count 0 (it weighs nothing; a runaway shows as the bill and the spend trip), with
the vCPUs one execution gets ("At 1,769 MB, a function has the equivalent of one vCPU", Lambda
Developer Guide, "Configuring Lambda function memory") for the mail.

Halt: ReservedConcurrentExecutions 0 ("Set reserved concurrency to 0 to throttle all
invocations", Lambda Developer Guide, "Reserving concurrency"; it applies "to the function as a
whole, including all published versions", API Reference, PutFunctionConcurrency). A reservation
of 0 never lowers the unreserved pool, so AWS's "at least 100 simultaneous executions unreserved"
rule cannot refuse it. Reserving is free (Developer Guide, "Managing Lambda reserved
concurrency"). A function already at 0 is left alone (its owner's or this incident's).

Never throttled (the guard must never halt itself or its machinery): the guard's own function
(AWS_LAMBDA_FUNCTION_NAME, set by Lambda in its environment: not even counted), and every function
CloudFormation made in one of runawaytrain's own stacks, known by exact stack: the stack's ARN
(aws:cloudformation:stack-id, which CloudFormation sets and nobody else can: the aws: prefix is
AWS's own, "You can't edit or delete tag keys with this prefix", Tagging AWS Resources User
Guide, "Tag naming limits and requirements") must start with one of the stack ARN prefixes the
stack gives the guard (`own_stacks`: `arn:aws:cloudformation:<region>:<account>:stack/<name>/`,
runawaytrain_stack/guard.py). Not a name prefix: a function or stack anyone names
`runawaytrain-x` is throttled like any other, and a same-named stack in another Region or account
is not ours. AWS governance functions are not exempted by name either (anyone can name a function
`aws-controltower-x` or a stack `StackSet-x`): Control Tower's own functions are protected by its
mandatory control AWS-GR_LAMBDA_CHANGE_PROHIBITED ("Disallow changes to AWS Lambda functions set
up by AWS Control Tower", an SCP; Control Tower Controls Reference), so AWS refuses the throttle
and the mail says so; any other function an organisation must keep running belongs in a stack
named to the guard the same way.

Record, then change: the function is tagged with the incident and its reservation before the
trip (`runawaytrain:reserved-concurrency`, a number or `none`) before PutFunctionConcurrency; a
refused change takes both tags off again. A function whose throttle someone lifted while the
incident is open is throttled again and keeps its first record. If the record cannot be written
the function is throttled all the same and the mail names the reservation to put back by hand.
Restore (with `restart`, as every start) puts the recorded reservation back
(DeleteFunctionConcurrency for `none`) and removes the tags.

Provisioned concurrency is its own kind (lambda_provisioned.py), removed before any throttle
could be refused for it ("You can't allocate more provisioned concurrency than reserved
concurrency", Developer Guide, "Lambda function scaling"); the two kinds' records share a
function's incident tag, and each restore reads and removes only its own (untag_record).

IAM: lambda:ListFunctions (no resource-level permissions); lambda:GetFunctionConcurrency,
lambda:PutFunctionConcurrency, lambda:DeleteFunctionConcurrency, lambda:ListTags (function ARNs);
lambda:TagResource, lambda:UntagResource (function ARNs, runawaytrain:* keys only).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG, TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("lambda_functions")

SERVICE = "lambda"
KIND = "Lambda function"
NAME = "lambda-functions"  # in accounts.yaml's `halt:`
RESERVED_TAG = f"{TAG_PREFIX}reserved-concurrency"  # the reservation before the trip
NONE = "none"  # no reservation before the trip: the function drew on the unreserved pool
STACK_TAG = "aws:cloudformation:stack-id"  # the stack's ARN, set by CloudFormation only
OWN_STACKS = (
    "own_stacks"  # the guard's variable: runawaytrain's stack ARN prefixes, comma separated
)
OWN_FUNCTION = "AWS_LAMBDA_FUNCTION_NAME"  # Lambda's reserved variable: the guard's own name
MB_PER_VCPU = 1769
PAGE_SIZE = 50  # ListFunctions MaxItems: at most 50
STOP_KEEPS = (
    "Kept: code, configuration, versions and aliases. Lost: every invocation until restore "
    "(synchronous callers get 429 TooManyRequestsException; asynchronous events are retried, "
    "then go to their failure destination). Restore with restart_instances gives each its "
    "reservation back."
)


def count(client: Any, region: str) -> list[Running]:
    """Every function of the region, but the guard's own machinery, as count-0 capacity."""
    found = []
    for function in list_functions(client):
        name = function["FunctionName"]
        if is_own(name):
            continue
        found.append(
            Running(
                kind=KIND,
                region=region,
                name=name,
                arn=function["FunctionArn"],
                instance_type="",
                state=function.get("State", "Active"),
                count=0,
                vcpus=round(function.get("MemorySize", 128) / MB_PER_VCPU, 3),
            )
        )
    return found


def is_own(name: str) -> bool:
    """The guard's own function, by its exact name."""
    return name == os.environ.get(OWN_FUNCTION)


def is_own_stack(tags: Mapping[str, str]) -> bool:
    """Made by one of runawaytrain's stacks: its exact stack ARN (region, account, name)."""
    stack = tags.get(STACK_TAG, "")
    prefixes = [p for p in os.environ.get(OWN_STACKS, "").split(",") if p.endswith("/")]
    return bool(stack) and any(stack.startswith(prefix) for prefix in prefixes)


def untag_record(client: Any, arn: str, keys: Iterable[str]) -> None:
    """Take a record's `keys` off a function; the incident tag too unless another record stays
    (a function can carry this kind's reservation record and lambda_provisioned's records at
    once, written and removed by halts and restores running side by side: the tags are read
    again here, not taken from before). Raises what ListTags or UntagResource raises."""
    tags = client.list_tags(Resource=arn).get("Tags", {})
    gone = set(keys)
    if not any(k.startswith(TAG_PREFIX) and k not in gone | {INCIDENT_TAG} for k in tags):
        gone.add(INCIDENT_TAG)
    client.untag_resource(Resource=arn, TagKeys=sorted(gone))


def halt(client: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Record, then set to 0, the reservation of every function in `found` not already at 0."""
    outcome = ServiceHalt()
    for function in found:
        where = f"{function.region}: {KIND} {function.name}"
        try:
            if is_own(function.name):
                continue
            tags = client.list_tags(Resource=function.arn).get("Tags", {})
            if is_own_stack(tags):
                LOG.info("own_function_skipped", extra={"function": function.name})
                continue
            reserved = client.get_function_concurrency(FunctionName=function.name).get(
                "ReservedConcurrentExecutions"
            )
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: reading: {describe_error(error)}")
            continue
        if reserved == 0:
            continue  # throttled already (by its owner, or by this incident's earlier run)
        prior = NONE if reserved is None else str(reserved)
        if tags.get(INCIDENT_TAG) == incident and RESERVED_TAG in tags:
            prior = tags[RESERVED_TAG]  # lifted since this incident throttled it: keep the first
        try:
            client.tag_resource(
                Resource=function.arn, Tags={INCIDENT_TAG: incident, RESERVED_TAG: prior}
            )
        except (ClientError, BotoCoreError) as error:  # throttled all the same, reported
            outcome.errors.append(
                f"{where}: recording: {describe_error(error)}; throttled all the same: after "
                f"restore, set its reserved concurrency back by hand to {prior}"
            )
        try:
            client.put_function_concurrency(
                FunctionName=function.name, ReservedConcurrentExecutions=0
            )
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: throttling: {describe_error(error)}")
            if refused(error) and (tags.get(INCIDENT_TAG) != incident or RESERVED_TAG not in tags):
                _untag(client, function.arn, where, outcome.errors)
            continue
        outcome.halted.append(function)
        LOG.info("function_throttled", extra={"region": function.region, "function": function.name})
    return outcome


def restore(
    client: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Give each function `incident` throttled its recorded reservation back (with `restart`
    only: invocations bill again) and take the record off."""
    outcome = ServiceRestore()
    for function in list_functions(client):
        name, arn = function["FunctionName"], function["FunctionArn"]
        where = f"{region}/{name}"
        try:
            tags = record.vouch(client.list_tags(Resource=arn).get("Tags", {}), arn, name)
            if tags.get(INCIDENT_TAG) != incident or RESERVED_TAG not in tags:
                continue  # not throttled by this incident (its other records are not ours)
            if not restart:
                outcome.not_yet.append(where)
                continue
            outcome.restored.append(where)
            if dry_run:
                continue
            prior = tags.get(RESERVED_TAG, NONE)
            if prior == NONE:
                client.delete_function_concurrency(FunctionName=name)
            else:
                client.put_function_concurrency(
                    FunctionName=name, ReservedConcurrentExecutions=int(prior)
                )
            untag_record(client, arn, [RESERVED_TAG])
        except (ClientError, BotoCoreError, ValueError) as error:
            if where in outcome.restored:
                outcome.restored.remove(where)
            outcome.errors[f"{KIND} {where}"] = describe_error(error)
    return outcome


def list_functions(client: Any, **filters: str) -> list[dict[str, Any]]:
    """Every function of the region (ListFunctions, 50 a page); `FunctionVersion="ALL"` lists
    each published version too."""
    pages = client.get_paginator("list_functions").paginate(
        **filters, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return [function for page in pages for function in page["Functions"]]


def _untag(client: Any, arn: str, where: str, errors: list[str]) -> None:
    try:
        untag_record(client, arn, [RESERVED_TAG])
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: untagging: {describe_error(error)}")
