"""Organisation delivery: the payer topic's member subscriptions, sharded when they are many.

Each distinct member address is one email subscription on the payer's topic, filtered on the
`notify` attribute (payer_stack.py subscribe_by_notify): N distinct addresses are N resources,
and a stack holds at most 500 (CloudFormation User Guide, "Understand CloudFormation quotas").
Up to MAIL_SUBSCRIPTIONS_PER_STACK addresses the payer's stack holds them, as before; beyond,
they go in `runawaytrain-mail-<n>` stacks beside it, on the topic by its fixed name, each
address in the shard its hash picks (stable while the number of shards stays the same; when it
grows, moved addresses are subscribed anew and must confirm again: docs/deploy.md).
"""

from __future__ import annotations

import hashlib

from aws_cdk import Environment, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.mail_routing import MAIL_STACK_PREFIX, NOTIFY_ATTRIBUTE
from runawaytrain_stack.names import name_payer_topic_arn


def subscribe(scope: Construct, topic: sns.ITopic, addresses: list[str]) -> None:
    """Each address receives the messages whose `notify` String.Array holds it."""
    for address in addresses:
        digest = hashlib.sha256(address.lower().encode()).hexdigest()[:12]
        sns.Subscription(
            scope,
            f"Notify{digest}",
            topic=topic,
            endpoint=address,
            protocol=sns.SubscriptionProtocol.EMAIL,
            filter_policy={
                NOTIFY_ATTRIBUTE: sns.SubscriptionFilter.string_filter(allowlist=[address])
            },
        )


class MailStack(Stack):
    def __init__(self, scope: Construct, *, fleet: Fleet, index: int, addresses: list[str]):
        name = f"{MAIL_STACK_PREFIX}{index}"
        super().__init__(
            scope,
            name,
            stack_name=name,
            env=Environment(account=fleet.payer.id, region=fleet.payer.home_region),
            description=f"runawaytrain payer: member mail subscriptions, shard {index}",
            analytics_reporting=False,
        )
        topic = sns.Topic.from_topic_arn(self, "PayerTopic", name_payer_topic_arn(fleet))
        subscribe(self, topic, addresses)
