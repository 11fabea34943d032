"""Read a member's mail path and trip wiring through its reader role, at every check.

Read-only facts for tampering.py: the guard stack's template and resources (what it set), the
notify topic's subscriptions and their filter policies, the topic key's state, the billing bus's
policy, the fast-trip queue's policy. A read that fails is one "could not read" finding; the
others go on. Without the reader role or the stack there is nothing to compare with: `refused`
says why, and the heartbeat watch reports the guard (a guard without its stack goes silent).

IAM, in the member (the reader role, runawaytrain_stack/watchdog_reader.py), each on the guard
stack's own resource: cloudformation:DescribeStacks, ListStackResources, GetTemplate (the
stack); sns:ListSubscriptionsByTopic (the topic); sns:GetSubscriptionAttributes ("*": the
Service Authorization Reference lists no resource type for it); kms:DescribeKey (the topic's key);
events:DescribeEventBus (the billing bus); sqs:GetQueueAttributes (the fast-trip queue).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from watchdog.health import WatchedAccount
from watchdog.inside import Assume
from watchdog.tampering import Seen, Subscription
from watchdog.template import Where, read_expected

PENDING = "PendingConfirmation"  # ListSubscriptionsByTopic's SubscriptionArn for an unconfirmed one
# Not-found codes (EventBridge API Reference, DescribeEventBus: ResourceNotFoundException; SQS
# API Reference, GetQueueAttributes: QueueDoesNotExist, AWS.SimpleQueueService.NonExistentQueue
# in the query protocol).
GONE = frozenset(
    {"ResourceNotFoundException", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"}
)


def read_containment(assume: Assume, account: WatchedAccount, *, reader_role_arn: str) -> Seen:
    region = account.home_region
    try:
        session = assume(reader_role_arn, region)
    except (ClientError, BotoCoreError) as error:
        return Seen(refused=f"{reader_role_arn}: {_describe(error)}")
    seen = Seen()
    try:
        _read(session, account, seen)
    except Exception as error:  # no stack to compare with: the silence alert says why
        return Seen(refused=f"the guard stack {account.stack}: {_describe(error)}")
    return seen


def _read(session: Any, account: WatchedAccount, seen: Seen) -> None:
    region = account.home_region
    cloudformation = session.client("cloudformation", region_name=region)
    (stack,) = cloudformation.describe_stacks(StackName=account.stack)["Stacks"]
    seen.deployed_at = stack.get("LastUpdatedTime") or stack.get("CreationTime")
    partition = str(stack["StackId"]).split(":")[1]
    # ListStackResources pages (DescribeStackResources stops at 100 resources: CloudFormation API
    # Reference).
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=account.stack
        )
        for r in page["StackResourceSummaries"]
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }
    body = cloudformation.get_template(StackName=account.stack)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else dict(body)
    where = Where(partition=partition, region=region, account=account.id)
    expected = seen.expected = read_expected(template, physical, where)

    def step(what: str, read: Any) -> None:
        try:
            read()
        except Exception as error:  # an unparseable answer too: the other reads go on
            seen.unreadable.append((what, _describe(error)))

    if expected.topic_arn is not None:
        sns = session.client("sns", region_name=region)
        step("the notify topic's subscriptions", lambda: _read_subscriptions(sns, expected, seen))
    if expected.key_id is not None:
        kms = session.client("kms", region_name=region)
        step("the notify topic's key", lambda: _read_key(kms, expected.key_id, seen))
    events = session.client("events", region_name=region)
    for bus in expected.bus_policies:
        step(f"billing bus {bus}", lambda bus=bus: _read_bus(events, bus, seen))
    sqs = session.client("sqs", region_name=region)
    for url in expected.queue_policies:
        step(f"queue {url}", lambda url=url: _read_queue(sqs, url, seen))


def _read_subscriptions(sns: Any, expected: Any, seen: Seen) -> None:
    wanted = {e.lower() for e in expected.emails}
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
        TopicArn=expected.topic_arn
    ):
        for listed in page["Subscriptions"]:
            arn = str(listed.get("SubscriptionArn", ""))
            endpoint = str(listed.get("Endpoint", ""))
            confirmed = arn.startswith("arn:")  # "PendingConfirmation" (or "Deleted") is not
            policy = ""
            if confirmed and endpoint.lower() in wanted:
                attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                policy = str(attributes.get("FilterPolicy", ""))
            seen.subscriptions.append(
                Subscription(endpoint, str(listed.get("Protocol", "")), confirmed, policy)
            )


def _read_key(kms: Any, key_id: str, seen: Seen) -> None:
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    seen.key_state = str(metadata.get("KeyState", ""))
    if metadata.get("DeletionDate"):
        seen.key_deletion = str(metadata["DeletionDate"])


def _read_bus(events: Any, name: str, seen: Seen) -> None:
    try:
        policy = events.describe_event_bus(Name=name).get("Policy")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in GONE:
            seen.buses[name] = None
            return
        raise
    seen.buses[name] = _statements(policy)


def _read_queue(sqs: Any, url: str, seen: Seen) -> None:
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in GONE:
            seen.queues[url] = None
            return
        raise
    seen.queues[url] = _statements(attributes.get("Attributes", {}).get("Policy"))


def _statements(policy: str | None) -> list[Any]:
    """A policy's statements; none when the resource has no policy."""
    if not policy:
        return []
    found = json.loads(policy).get("Statement", [])
    return list(found) if isinstance(found, list) else [found]


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', '')}: {details.get('Message', '')}"
    return f"{type(error).__name__}: {error}"
