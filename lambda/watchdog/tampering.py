"""Whether a member's mail path or trip wiring was changed, finding by finding (pure, no AWS).

What an insider with admin rights can do that the guard-protection SCP cannot refuse (it cannot
name a subscription, or it was not deployed), the watchdog notices: an address unsubscribed or
given a filter policy that drops the guard's mails, the topic's key disabled or scheduled for
deletion, a statement removed from (or added to) the billing bus's or the fast-trip queue's
policy. containment.py reads the facts; `find_tampering` compares them with what the guard
stack deployed (template.py); `next_findings` mails each finding once, and again only after it
cleared and came back. Every finding has a key that stays the same while the finding does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from watchdog.template import Expected

# SNS deletes an email subscription nobody confirmed after 48 hours (What's New, 2023-05-10,
# "Amazon SNS now supports automatic deletion of unconfirmed subscriptions ... 48 hours"). A
# subscription still pending that long after the guard stack's last deploy was not made by it.
PENDING_GRACE = timedelta(hours=48)
# KMS DescribeKey KeyState (KMS API Reference, KeyMetadata): only Enabled encrypts. SNS refuses
# to publish to a topic whose key is not (SNS API Reference, Publish: KMSDisabled,
# KMSInvalidState), so the guard's mails fail.
KEY_USABLE = "Enabled"
_ACCOUNT_ROOT = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")


@dataclass(frozen=True)
class Finding:
    key: str  # the same while the finding is the same: what is remembered as mailed
    text: str  # one line of the mail


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    protocol: str
    confirmed: bool  # SNS lists an unconfirmed one with SubscriptionArn "PendingConfirmation"
    filter_policy: str = ""  # GetSubscriptionAttributes FilterPolicy, "" when none


@dataclass
class Seen:
    """What the reader role read in the member; None where not read."""

    refused: str | None = None  # the reader role or the guard stack could not be read: why
    deployed_at: datetime | None = None  # the guard stack's LastUpdatedTime or CreationTime
    expected: Expected | None = None
    subscriptions: list[Subscription] = field(default_factory=list)
    key_state: str | None = None
    key_deletion: str = ""  # DeletionDate when PendingDeletion
    buses: dict[str, list[Any] | None] = field(default_factory=dict)  # None: the bus is gone
    queues: dict[str, list[Any] | None] = field(default_factory=dict)  # None: the queue is gone
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (what, error)


def find_tampering(seen: Seen, now: datetime) -> list[Finding]:
    if seen.refused is not None:  # nothing to compare with (handler.py logs it)
        return []
    found = [
        Finding(f"unreadable:{what}", f"could not read {what} ({why})")
        for what, why in seen.unreadable
    ]
    expected = seen.expected
    if expected is None:
        return found
    found += [
        Finding(f"unresolved:{part}", f"could not compare {part}") for part in expected.unresolved
    ]
    found += _notify_findings(seen, expected, now)
    if seen.key_state is not None and seen.key_state != KEY_USABLE:
        when = f" (deleted on {seen.key_deletion})" if seen.key_deletion else ""
        found.append(
            Finding(
                f"key:{seen.key_state}",
                f"the notify topic's key {expected.key_id} is {seen.key_state}{when}: SNS "
                "refuses to publish to the topic, no guard mail is delivered",
            )
        )
    for name, statements in sorted(seen.buses.items()):
        found += _policy_findings(
            f"billing bus {name}",
            f"bus:{name}",
            expected.bus_policies.get(name, []),
            statements,
            "billing and spend trips from the payer are refused at the bus",
        )
    for url, statements in sorted(seen.queues.items()):
        found += _policy_findings(
            f"fast-trip queue {url.rsplit('/', 1)[-1]}",
            f"queue:{url}",
            expected.queue_policies.get(url, []),
            statements,
            "launch events may no longer reach the guard, or others may read its queue",
        )
    return found


def _notify_findings(seen: Seen, expected: Expected, now: datetime) -> list[Finding]:
    found = []
    for endpoint in expected.emails:
        mine = [
            s
            for s in seen.subscriptions
            if s.protocol == "email" and s.endpoint.lower() == endpoint.lower()
        ]
        confirmed = [s for s in mine if s.confirmed]
        if not mine:
            found.append(
                Finding(
                    f"notify:{endpoint}:missing",
                    f"notify address {endpoint} is not subscribed to the guard's topic "
                    "(unsubscribed, deleted, or not confirmed within SNS's 48 hours): it "
                    "receives none of the guard's mails",
                )
            )
        elif not confirmed:
            deployed = seen.deployed_at
            if deployed is not None and now - deployed > PENDING_GRACE:
                found.append(
                    Finding(
                        f"notify:{endpoint}:pending",
                        f"notify address {endpoint} has not confirmed its subscription, "
                        f"{int((now - deployed).total_seconds() // 3600)} hours after the guard "
                        "stack's last deploy: SNS delivers nothing to it",
                    )
                )
        for subscription in confirmed:
            if subscription.filter_policy and endpoint not in expected.filtered:
                policy = subscription.filter_policy
                found.append(
                    Finding(
                        f"notify:{endpoint}:filter:{_digest(policy)}",
                        f"notify address {endpoint}'s subscription has a filter policy the "
                        f"guard stack did not set ({policy[:200]}): SNS drops every guard mail "
                        "it does not match",
                    )
                )
    return found


def _policy_findings(
    label: str, key: str, expected: list[Any], live: list[Any] | None, consequence: str
) -> list[Finding]:
    if live is None:
        return [Finding(f"{key}:gone", f"{label} no longer exists: {consequence}")]
    want = {_canonical(s): s for s in expected}
    have = {_canonical(s): s for s in live}
    found = [
        Finding(
            f"{key}:missing:{_digest(c)}",
            f"{label}'s policy lost a statement the guard stack set ({_summary(s)}): "
            + consequence,
        )
        for c, s in sorted(want.items())
        if c not in have
    ]
    found += [
        Finding(
            f"{key}:added:{_digest(c)}",
            f"{label}'s policy has a statement the guard stack did not set ({_summary(s)})",
        )
        for c, s in sorted(have.items())
        if c not in want
    ]
    return found


def _canonical(statement: Any) -> str:
    """Equal for two statements that mean the same: Sid left out, a single value as a list of
    one, lists sorted, an account's root ARN as the account id, a "*" principal as {"AWS": "*"}."""
    if not isinstance(statement, dict):
        return json.dumps(statement, sort_keys=True, default=str)
    body = {k: v for k, v in statement.items() if k != "Sid"}
    if body.get("Principal") == "*":
        body["Principal"] = {"AWS": "*"}
    return json.dumps(_normalize(body), sort_keys=True)


def _normalize(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v, k) for k, v in value.items()}
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if isinstance(item, dict | list):
            out.append(json.dumps(_normalize(item), sort_keys=True))
            continue
        text = str(item)
        root = _ACCOUNT_ROOT.match(text)
        if root:
            text = root.group(1)
        if key in ("Action", "NotAction"):
            text = text.lower()  # action names are case-insensitive (IAM User Guide, Action)
        out.append(text)
    return sorted(out)


def _summary(statement: Any) -> str:
    if not isinstance(statement, dict):
        return str(statement)[:200]
    actions = statement.get("Action", statement.get("NotAction", ""))
    principal = statement.get("Principal", "")
    text = f"{statement.get('Effect', '?')} {_listed(actions)} for {_listed(principal)}"
    if statement.get("Condition"):
        text += " with conditions"
    return text[:200]


def _listed(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(_listed(v) for v in value.values())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def next_findings(
    found: list[Finding], mailed: tuple[str, ...]
) -> tuple[list[Finding], tuple[str, ...]]:
    """What to mail now (the findings not mailed before) and what to remember once mailed: the
    findings present now. A finding that cleared is forgotten, so its return is mailed again."""
    new = [f for f in found if f.key not in mailed]
    return new, tuple(sorted({f.key for f in found}))
