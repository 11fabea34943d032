"""Capacity that bills outside EC2 (issue 21): what every service's module counts, halts and
restores, and the registry of those modules, each beside the EC2 ones and with its restore twin.

Each module (sagemaker_notebooks.py, ...) offers:
- SERVICE, the boto3 client it needs; KIND, what it halts, in words for the mail; NAME, its
  name in accounts.yaml's `halt:` (service_names.py, which says whether it is reversible);
  STOP_KEEPS, what the mail says a halt keeps and loses;
- EXTRA_SERVICES (optional): more boto3 clients it needs; count, halt and restore are then
  given {service: client} instead of the one client (services.client_of);
- PRICE_COMPONENT (optional): its ml.* instances' SageMaker Price List component
  (platoinstancetype, e.g. "Notebook", "Hosting", "Training"), or pricing.FARGATE for Fargate
  tasks (Running.vcpus and memory_gib set); without it, its capacity weighs the unpriced rate
  per vCPU (burn.py);
- EAGER_RECORD (optional, a few items a Region): each tag write's values go to the incident's
  record before it (a refused record fails the tag write); without it they are written once the
  batch is done, and an item halted without them is left halted by restore (ledger.py);
- PRIOR_VALUES = False (optional): its record tag is the incident's id alone, so the record
  naming an item is all restore needs;
- count(client, region) -> [Running]: what bills now in that region;
- halt(client, found, incident) -> ServiceHalt: recorded (a tag) before each change; the
  framework records the batch in the incident's own record first and captures the tags the
  module writes (ledger.py, services.halt_services);
- restore(client, region, incident, dry_run, restart, record) -> ServiceRestore: reads only its
  own records, and trusts a resource's `runawaytrain:` tags only as `record.vouch(tags, arn,
  ...)` returns them (the incident's own record: issue 22 item 7); an irreversible kind
  restores nothing and returns an empty ServiceRestore.
services.py runs them over every region in parallel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error


@dataclass(frozen=True)
class Running:
    """One piece of capacity a service bills for now."""

    kind: str  # the module's KIND
    region: str
    name: str
    arn: str
    instance_type: str  # as the service names it (ml.p3.2xlarge)
    state: str  # as the service says it
    count: int = 1  # instances behind it
    # Where the service bills vCPUs and memory rather than an instance type (Fargate, a Lambda
    # function's concurrency): what one of the `count` weighs; instance_type is then "".
    vcpus: float | None = None
    memory_gib: float | None = None
    # Where the service itself says what one of the `count` costs, not the Price List (a
    # Lightsail bundle's monthly price, Bedrock tokens measured by CloudWatch): USD an hour.
    usd_per_hour: float | None = None

    @property
    def key(self) -> str:
        return f"{self.region}/{self.name}"


class PartialCountError(Exception):
    """A count that may miss some of what runs (a listing AWS cut short): `running` is what was
    counted, the message why it may be short. services.count_services keeps the first and
    reports the region not counted fully (degraded), never a silent undercount."""

    def __init__(self, running: list[Running], why: str) -> None:
        super().__init__(why)
        self.running = running


@dataclass
class ServiceHalt:
    halted: list[Running] = field(default_factory=list)
    waiting: list[Running] = field(default_factory=list)  # not stoppable yet: the next run
    kept: list[Running] = field(default_factory=list)  # `halt:` does not name its kind: reported
    errors: list[str] = field(default_factory=list)

    def merge(self, other: ServiceHalt) -> None:
        self.halted += other.halted
        self.waiting += other.waiting
        self.kept += other.kept
        self.errors += other.errors


@dataclass
class ServiceRestore:
    restored: list[str] = field(default_factory=list)  # "region/name"
    not_yet: list[str] = field(default_factory=list)  # still stopping: restore again
    errors: dict[str, str] = field(default_factory=dict)
    # "KIND region/id" -> why its tags were not trusted (ledger.Record.vouch): left alone
    refused: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)  # a tag the record overruled

    def merge(self, other: ServiceRestore) -> None:
        self.restored += other.restored
        self.not_yet += other.not_yet
        self.errors.update(other.errors)
        self.refused.update(other.refused)
        self.warnings.update(other.warnings)


def untag_resource(client: Any, arn: str, keys: list[str], where: str, errors: list[str]) -> None:
    """Take a record's tags off: UntagResource(resourceArn, tagKeys), the call Batch, ECS and
    EKS share. A failure is said in `errors`, never raised (the halt or restore goes on)."""
    try:
        client.untag_resource(resourceArn=arn, tagKeys=keys)
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: untagging: {describe_error(error)}")
