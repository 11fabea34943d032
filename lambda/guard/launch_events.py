"""Which EventBridge events announce new capacity: the fast trip's rules match them (the stack
builds every rule's pattern from this table) and the guard reads them (launches.py). Pure data.

Each row is one event AWS puts on the default bus of the Region where the change happens, and
the states that mean capacity starts (or starts again) to bill. Only those: a rule that also
matched routine transitions (stopping, completed, health) would wake the guard all day.

- EC2: "EC2 Instance State-change Notification", `detail.state` pending: a launch or a start
  enters pending (EC2 User Guide, "State change events for Amazon EC2 instances").
- SageMaker AI (EventBridge events reference, "Amazon SageMaker AI events"; SageMaker Developer
  Guide, "Events that Amazon SageMaker AI sends to Amazon EventBridge", which also warns that
  "SageMaker AI may send multiple events to EventBridge for each state change"): notebook
  instances `NotebookInstanceStatus` Pending (created or started) and InService; endpoints
  `EndpointStatus` Creating and InService (InService also follows an update, which may add
  instances); training, processing and transform jobs `...JobStatus` InProgress (their only
  state with instances). The detail is the resource's Describe* output, so the field names are
  the API's (the CDK's generated event classes, aws_cdk.mixins_preview.aws_sagemaker.events,
  list the same properties).
- ECS: "ECS Task State Change" (delivery: durable), `lastStatus` PENDING (the task is placed;
  Fargate bills from the image pull) or RUNNING, with `desiredStatus` RUNNING: a task being
  stopped also reports RUNNING, with desiredStatus STOPPED (ECS Developer Guide, "Amazon ECS
  task state change events"). "ECS Service Action" says nothing a task event does not: the
  tasks a service starts report their own state.
- Batch: "Batch Job State Change", `status` RUNNING. No event is sent for the submission
  (Batch User Guide, "Job state change events"); the instances of an EC2 compute environment
  also launch as EC2 instances (pending, above).
- RDS: "RDS DB Instance Event" `EventID` RDS-EVENT-0005 (created), RDS-EVENT-0088 (started),
  RDS-EVENT-0154 (started again by RDS after seven days stopped), and "RDS DB Cluster Event"
  RDS-EVENT-0151 (cluster started) and RDS-EVENT-0153 (cluster started again after seven days)
  (RDS User Guide, "Amazon RDS event categories and event messages"; EventBridge events
  reference, "Amazon Relational Database Service events").

Not here, on purpose: EKS sends EventBridge nothing about nodes (only add-on and Fargate pod
termination events: EventBridge events reference, "Amazon Elastic Kubernetes Service events");
a managed node group's nodes are EC2 instances launched by its Auto Scaling group, which the
EC2 row already hears. Lambda sends no state-change events at all; its API calls reach
EventBridge only as "AWS API Call via CloudTrail", which needs a trail, and concurrency is not
launched but used. Both are counted by the schedule.

EventBridge limits an event pattern to 2,048 characters by default (EventBridge User Guide,
"Amazon EventBridge quotas": Event pattern size): the pattern below is one `$or` of one
branch per row ("$or" matching, EventBridge User Guide, "Content filtering in Amazon
EventBridge event patterns"), checked against that limit by the stack tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PATTERN_SIZE_MAX = 2048  # EventBridge quota "Event pattern size" (characters), default


@dataclass(frozen=True)
class LaunchEvent:
    """One kind of event that announces capacity, and the states that mean it bills."""

    what: str  # for the report: "SageMaker endpoint"
    source: str
    detail_type: str
    state_field: str  # the detail field holding the state
    states: tuple[str, ...]
    id_field: str  # the detail field naming the resource (an event delivered twice counts once)
    also: tuple[tuple[str, tuple[str, ...]], ...] = ()  # more detail fields that must match

    def pattern(self) -> dict[str, Any]:
        detail: dict[str, list[str]] = {self.state_field: list(self.states)}
        detail.update({field: list(values) for field, values in self.also})
        return {"source": [self.source], "detail-type": [self.detail_type], "detail": detail}


EC2_INSTANCE = LaunchEvent(
    "EC2 instance",
    "aws.ec2",
    "EC2 Instance State-change Notification",
    "state",
    ("pending",),
    "instance-id",
)
LAUNCH_EVENTS: tuple[LaunchEvent, ...] = (
    EC2_INSTANCE,
    LaunchEvent(
        "SageMaker notebook instance",
        "aws.sagemaker",
        "SageMaker Notebook Instance State Change",
        "NotebookInstanceStatus",
        ("Pending", "InService"),
        "NotebookInstanceArn",
    ),
    LaunchEvent(
        "SageMaker endpoint",
        "aws.sagemaker",
        "SageMaker Endpoint State Change",
        "EndpointStatus",
        ("Creating", "InService"),
        "EndpointArn",
    ),
    LaunchEvent(
        "SageMaker training job",
        "aws.sagemaker",
        "SageMaker Training Job State Change",
        "TrainingJobStatus",
        ("InProgress",),
        "TrainingJobArn",
    ),
    LaunchEvent(
        "SageMaker processing job",
        "aws.sagemaker",
        "SageMaker Processing Job State Change",
        "ProcessingJobStatus",
        ("InProgress",),
        "ProcessingJobArn",
    ),
    LaunchEvent(
        "SageMaker transform job",
        "aws.sagemaker",
        "SageMaker Transform Job State Change",
        "TransformJobStatus",
        ("InProgress",),
        "TransformJobArn",
    ),
    LaunchEvent(
        "ECS task",
        "aws.ecs",
        "ECS Task State Change",
        "lastStatus",
        ("PENDING", "RUNNING"),
        "taskArn",
        also=(("desiredStatus", ("RUNNING",)),),
    ),
    LaunchEvent(
        "Batch job", "aws.batch", "Batch Job State Change", "status", ("RUNNING",), "jobArn"
    ),
    LaunchEvent(
        "RDS DB instance",
        "aws.rds",
        "RDS DB Instance Event",
        "EventID",
        ("RDS-EVENT-0005", "RDS-EVENT-0088", "RDS-EVENT-0154"),
        "SourceArn",
    ),
    LaunchEvent(
        "RDS DB cluster",
        "aws.rds",
        "RDS DB Cluster Event",
        "EventID",
        ("RDS-EVENT-0151", "RDS-EVENT-0153"),
        "SourceArn",
    ),
)
_BY_TYPE = {(row.source, row.detail_type): row for row in LAUNCH_EVENTS}


def launch_event_of(source: object, detail_type: object) -> LaunchEvent | None:
    """The row for an event's source and detail-type, or None: not an event the rules match."""
    if not isinstance(source, str) or not isinstance(detail_type, str):
        return None
    return _BY_TYPE.get((source, detail_type))


def build_launch_pattern() -> dict[str, Any]:
    """The one event pattern of every fast-trip rule: any row's event in one of its states."""
    return {"$or": [row.pattern() for row in LAUNCH_EVENTS]}
