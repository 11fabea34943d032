"""The payer stack's moving parts, made with API calls where the emulator cannot deploy them.

moto's CloudFormation does not create AWS::Organizations::Policy, and moto invokes no Lambda
targets of EventBridge rules. The tests and the drill build the same things from the same
builders the stack uses (scp.py, payer_bus.py, quarantine.py), and route the rule to an SQS
queue, from which they hand each event to the quarantine Lambda's code (`quarantine.handler.act`)
as EventBridge would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runawaytrain_cli.drill.queues import drain_bodies
from runawaytrain_stack.fleet_model import Fleet
from runawaytrain_stack.names import (
    PAYER_BUS_NAME,
    PROTECTION_POLICY_PREFIX,
    QUARANTINE_TAG,
    name_quarantine_policy,
)
from runawaytrain_stack.payer_wiring import build_bus_statement, build_request_pattern
from runawaytrain_stack.scp import (
    build_guard_protection_policy,
    build_quarantine_policies,
    render,
)

RULE_NAME = "runawaytrain-payer-quarantine-requests"


@dataclass(frozen=True)
class PayerStandIn:
    bus_arn: str
    requests_queue_url: str  # where the quarantine rule's events arrive
    policies: dict[str, str]  # policy name -> id
    pieces: dict[str, int]  # account id -> how many quarantine SCPs (the stack's `pieces`)


def stand_in_payer(session: Any, fleet: Fleet, region: str) -> PayerStandIn:
    """In the payer account of `session`: the SCPs (protection ones attached), the bus with its
    policy, and the quarantine rule targeting a queue."""
    organizations = session.client("organizations", region_name="us-east-1")
    policies = {}
    pieces: dict[str, int] = {}
    for account in fleet.sub_accounts:
        documents = []  # (name, document, attached now)
        if account.quarantine:
            quarantine = build_quarantine_policies(fleet, account)
            pieces[account.id] = len(quarantine)
            for index, piece in enumerate(quarantine):
                documents.append((name_quarantine_policy(account.id, index), piece, False))
        if fleet.protect_guards:
            protection = build_guard_protection_policy(fleet, account)
            documents.append((f"{PROTECTION_POLICY_PREFIX}{account.id}", protection, True))
        for name, document, attach in documents:
            tags = [] if attach else [{"Key": QUARANTINE_TAG, "Value": account.id}]
            created = organizations.create_policy(
                Name=name,
                Description="runawaytrain (stand-in for the payer stack)",
                Type="SERVICE_CONTROL_POLICY",
                Content=render(document),
                Tags=tags,
            )["Policy"]["PolicySummary"]
            policies[created["Name"]] = created["Id"]
            if attach:
                organizations.attach_policy(PolicyId=created["Id"], TargetId=account.id)
    events = session.client("events", region_name=region)
    try:  # `cdk deploy` into the emulator creates the bus; the tests do not deploy
        bus_arn = events.describe_event_bus(Name=PAYER_BUS_NAME)["Arn"]
    except events.exceptions.ResourceNotFoundException:
        bus_arn = events.create_event_bus(Name=PAYER_BUS_NAME)["EventBusArn"]
    events.put_permission(
        EventBusName=PAYER_BUS_NAME,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [build_bus_statement(fleet)]}),
    )
    sqs = session.client("sqs", region_name=region)
    queue_url = sqs.create_queue(QueueName="runawaytrain-payer-quarantine-requests")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name=RULE_NAME,
        EventBusName=PAYER_BUS_NAME,
        EventPattern=json.dumps(build_request_pattern(fleet)),
    )
    events.put_targets(
        Rule=RULE_NAME, EventBusName=PAYER_BUS_NAME, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    return PayerStandIn(bus_arn, queue_url, policies, pieces)


def take_requests(session: Any, stand_in: PayerStandIn, region: str) -> list[dict[str, Any]]:
    """The events the quarantine rule delivered since the last call, oldest first."""
    return drain_bodies(session.client("sqs", region_name=region), stand_in.requests_queue_url)
