"""What the guard stack set, read from its own deployed template (pure, no AWS).

The watchdog compares the mail path and the trip wiring of a member with what its guard stack
deployed, not with a copy kept here: the template (CloudFormation GetTemplate) says which
addresses are subscribed, with which filter policy (none), which key encrypts the topic, what the
billing bus and the fast-trip queue grant. Its references are resolved with the stack's own
resources (DescribeStackResources: each resource's physical id), so a policy the stack changes
in a later release is compared as deployed, with nothing to update here.

Physical ids (CloudFormation User Guide, each resource's "Return values", `Ref`): a topic's is its
ARN, a queue's its URL, a key's its key id, a bus's its name, a rule on a custom bus
"<bus>|<rule>" and on the default bus its name, a role's its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class UnresolvedError(ValueError):
    """A template value the watchdog cannot resolve (an intrinsic it does not know)."""


@dataclass(frozen=True)
class Where:
    """The member and the Region the guard stack is deployed in."""

    partition: str
    region: str
    account: str


@dataclass(frozen=True)
class Expected:
    """What the guard stack set, references resolved."""

    topic_arn: str | None = None
    emails: tuple[str, ...] = ()  # the email subscriptions' endpoints
    filtered: tuple[str, ...] = ()  # endpoints the stack itself gave a filter policy
    key_id: str | None = None  # the topic's key (the stack's one AWS::KMS::Key)
    # bus name -> the statements the stack put in its policy
    bus_policies: dict[str, list[Any]] = field(default_factory=dict)
    # queue URL -> the statements of the stack's queue policy
    queue_policies: dict[str, list[Any]] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()  # "what: why" for each part that could not be resolved


def read_expected(template: dict[str, Any], physical: dict[str, str], where: Where) -> Expected:
    """`template`: the guard stack's template; `physical`: logical id -> physical id."""
    resources: dict[str, Any] = template.get("Resources", {})
    resolve = _Resolver(resources, physical, where)
    unresolved: list[str] = []
    topics = [k for k, r in resources.items() if r.get("Type") == "AWS::SNS::Topic"]
    topic_arn = physical.get(topics[0]) if len(topics) == 1 else None
    keys = [k for k, r in resources.items() if r.get("Type") == "AWS::KMS::Key"]
    key_id = physical.get(keys[0]) if len(keys) == 1 else None
    emails, filtered = [], []
    buses: dict[str, list[Any]] = {}
    queues: dict[str, list[Any]] = {}
    for logical, resource in sorted(resources.items()):
        kind, properties = resource.get("Type"), resource.get("Properties", {})
        try:
            if kind == "AWS::SNS::Subscription" and properties.get("Protocol") == "email":
                endpoint = str(resolve(properties["Endpoint"]))
                emails.append(endpoint)
                if properties.get("FilterPolicy"):
                    filtered.append(endpoint)
            elif kind == "AWS::Events::EventBus" and properties.get("Policy"):
                statements = _statements(resolve(properties["Policy"]))
                buses.setdefault(physical.get(logical, logical), []).extend(statements)
            elif kind == "AWS::Events::EventBusPolicy":
                bus = str(resolve(properties.get("EventBusName", "default")))
                statement = properties.get("Statement")
                if statement is None:  # the older form: Action, Principal, Condition
                    raise UnresolvedError("EventBusPolicy without Statement")
                buses.setdefault(bus, []).append(resolve(statement))
            elif kind == "AWS::SQS::QueuePolicy":
                statements = _statements(resolve(properties["PolicyDocument"]))
                for queue in properties.get("Queues", []):
                    queues.setdefault(str(resolve(queue)), []).extend(statements)
        except (UnresolvedError, KeyError, TypeError) as error:
            unresolved.append(f"{kind} {logical} in the template ({error})")
    return Expected(
        topic_arn=topic_arn,
        emails=tuple(emails),
        filtered=tuple(filtered),
        key_id=key_id,
        bus_policies=buses,
        queue_policies=queues,
        unresolved=tuple(unresolved),
    )


def _statements(policy: Any) -> list[Any]:
    if isinstance(policy, str):
        policy = json.loads(policy)
    found = policy.get("Statement", [])
    return list(found) if isinstance(found, list) else [found]


class _Resolver:
    """Ref, Fn::GetAtt <resource>.Arn and Fn::Join: all a guard stack's policies use."""

    def __init__(self, resources: dict[str, Any], physical: dict[str, str], where: Where) -> None:
        self.resources, self.physical, self.where = resources, physical, where

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self._ref(str(argument))
            if name == "Fn::GetAtt":
                logical, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                return self._arn(logical, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return str(separator).join(str(self(p)) for p in self(parts))
            if name.startswith("Fn::"):
                raise UnresolvedError(f"{name} is not resolved by the watchdog")
        return {k: self(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": self.where.partition,
            "AWS::Region": self.where.region,
            "AWS::AccountId": self.where.account,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.physical:
            return self.physical[name]
        named = self.resources.get(name, {})
        if named.get("Type") == "AWS::Events::EventBus" and "Name" in named.get("Properties", {}):
            return str(named["Properties"]["Name"])  # a bus's physical id is its name
        raise UnresolvedError(f"Ref {name}: no such resource in the stack")

    def _arn(self, logical: str, attribute: str) -> str:
        if attribute != "Arn" or logical not in self.resources:
            raise UnresolvedError(f"Fn::GetAtt {logical}.{attribute}")
        kind = self.resources[logical].get("Type", "")
        physical = self._ref(logical)
        p, r, a = self.where.partition, self.where.region, self.where.account
        if kind == "AWS::SQS::Queue":  # https://sqs.<region>.amazonaws.com/<account>/<name>
            return f"arn:{p}:sqs:{r}:{a}:{physical.rstrip('/').rsplit('/', 1)[-1]}"
        if kind == "AWS::Events::Rule":
            return f"arn:{p}:events:{r}:{a}:rule/{physical.replace('|', '/')}"
        if kind == "AWS::Events::EventBus":
            return f"arn:{p}:events:{r}:{a}:event-bus/{physical}"
        if kind == "AWS::KMS::Key":
            return f"arn:{p}:kms:{r}:{a}:key/{physical}"
        if kind == "AWS::SNS::Topic":
            return physical
        if kind == "AWS::IAM::Role":
            path = self.resources[logical].get("Properties", {}).get("Path", "/")
            return f"arn:{p}:iam::{a}:role{path}{physical}"
        raise UnresolvedError(f"Fn::GetAtt {logical}.Arn of a {kind}")
