"""Organisation delivery: which member addresses the payer's topic mails, and in which stack
each subscription lives (mail_stack.py builds them; names.py lists the stacks). No CDK here."""

from __future__ import annotations

import hashlib
import math

from runawaytrain_stack.fleet_model import Fleet

# 400 subscriptions beside the payer stack's ~35 other resources stays under CloudFormation's
# 500 per stack (CloudFormation User Guide, "Understand CloudFormation quotas").
MAIL_SUBSCRIPTIONS_PER_STACK = 400
NOTIFY_ATTRIBUTE = "notify"  # the guard's mail attribute (lambda/guard/notify.py)
MAIL_STACK_PREFIX = "runawaytrain-mail-"


def list_member_addresses(fleet: Fleet) -> list[str]:
    """Every distinct address of the members' and the defaults' notify lists that the payer's
    list does not hold (its subscriptions take every message already), as first written."""
    payer = {email.lower() for email in fleet.payer.notify}
    found: dict[str, str] = {}
    members = [*fleet.sub_accounts, *([fleet.defaults] if fleet.defaults else [])]
    for account in members:
        for email in account.notify:
            if email.lower() not in payer:
                found.setdefault(email.lower(), email)
    return [found[key] for key in sorted(found)]


def shard_addresses(addresses: list[str]) -> list[list[str]]:
    """One list per stack: a single one (the payer's) up to MAIL_SUBSCRIPTIONS_PER_STACK, else
    by hash; a shard over the limit (an unlucky hash) spills into one more round of shards."""
    count = max(1, math.ceil(len(addresses) / MAIL_SUBSCRIPTIONS_PER_STACK))
    if count == 1:
        return [addresses]
    while True:
        shards: list[list[str]] = [[] for _ in range(count)]
        for address in addresses:
            digest = int(hashlib.sha256(address.lower().encode()).hexdigest(), 16)
            shards[digest % count].append(address)
        if max(len(s) for s in shards) <= MAIL_SUBSCRIPTIONS_PER_STACK:
            return shards
        count += 1


def list_mail_stacks(fleet: Fleet) -> list[str]:
    """The mail stacks' names: none while the payer's stack holds every subscription."""
    if fleet.organization is None:
        return []
    shards = shard_addresses(list_member_addresses(fleet))
    return (
        [] if len(shards) == 1 else [f"{MAIL_STACK_PREFIX}{i}" for i in range(1, len(shards) + 1)]
    )
