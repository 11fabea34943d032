"""Strict CloudFormation: ListStackResources and DescribeStackResources answer every resource of
the stack's template, each with its logical id, type and status, and never create anything.

AWS: ListStackResources "returns descriptions of all resources of the specified stack"; each
StackResourceSummary has LogicalResourceId, ResourceType, ResourceStatus and LastUpdatedTimestamp
(required), PhysicalResourceId and ResourceStatusReason (CloudFormation API Reference,
ListStackResources and StackResourceSummary; DescribeStackResources and StackResource likewise,
with StackName, StackId and Timestamp). A resource whose Condition is false is not created and
not listed.

moto iterates the stack's lazy resource map to answer them, and that map creates, again, every
resource its CloudFormation did not create at deploy time: an unsupported type (None: listed
without a logical id) or one whose creation raised. A `cdk deploy`ed guard stack has one of the
latter: an AWS::Events::Rule whose EventBusName is a Ref to the stack's own bus (moto's EventBus
has no physical id, so the Ref resolves to the model and PutRule fails on `.split`), so every
ListStackResources and DescribeStackResources on that stack raised again and moto_server
answered an HTTP 500 page (botocore: ResponseParserError).

The Ref itself is mended too: moto's EventBus gets the physical id AWS gives it, its name
(Ref returns "The name of the new event bus": CloudFormation Template Reference,
AWS::Events::EventBus, "Return values"). Before, every resource CloudFormation created after
such a rule was lost: the change set's ExecuteChangeSet raised (HTTP 500), the CDK CLI's retry
found nothing left to add and reported the stack complete, so the payer stack's watchdog and
dashboard were never made.

Here they read only what moto made: a created resource is CREATE_COMPLETE with its physical id
(an event bus's is its name, as AWS's Ref of an AWS::Events::EventBus returns; a rule's on a
custom bus is "<bus>|<rule>", as AWS's Ref of an AWS::Events::Rule returns, CloudFormation User
Guide, AWS::Events::Rule, "Ref"; moto: the rule's name alone, which DescribeRule then looks up on
the default bus and does not find); a resource moto
did not create is listed CREATE_FAILED, without a physical id, its reason saying so (the stack
itself still reads as moto left it: AWS would have rolled it back). LogicalResourceId on
DescribeStackResources keeps that one resource; a call without StackName is moto's own.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.parsing import get_model_map
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult
from moto.events.models import EventBus

from strict_aws.patches import Patches

_ORIGINAL_DESCRIBE = CloudFormationResponse.describe_stack_resources
CREATED = "CREATE_COMPLETE"
NOT_CREATED = "CREATE_FAILED"


def install(patches: Patches) -> None:
    patches.set(CloudFormationResponse, "list_stack_resources", _list_stack_resources)
    patches.set(CloudFormationResponse, "describe_stack_resources", _describe_stack_resources)
    patches.set(EventBus, "physical_resource_id", property(lambda bus: bus.name))


def _list_stack_resources(self: CloudFormationResponse) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    summaries = [
        {
            "LogicalResourceId": r["LogicalResourceId"],
            "ResourceType": r["ResourceType"],
            "ResourceStatus": r["ResourceStatus"],
            "LastUpdatedTimestamp": stack.creation_time,
            **{k: r[k] for k in ("PhysicalResourceId", "ResourceStatusReason") if k in r},
        }
        for r in stack_resources(stack)
    ]
    return ActionResult({"StackResourceSummaries": summaries})


def _describe_stack_resources(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("StackName")
    if name is None:  # by PhysicalResourceId: moto's own answer
        return _ORIGINAL_DESCRIBE(self)
    stack = self.cloudformation_backend.get_stack(name)
    logical = self._get_param("LogicalResourceId")
    resources = [
        {
            "StackName": stack.name,
            "StackId": stack.stack_id,
            "Timestamp": stack.creation_time,
            **r,
        }
        for r in stack_resources(stack)
        if logical is None or r["LogicalResourceId"] == logical
    ]
    return ActionResult({"StackResources": resources})


def stack_resources(stack: Any) -> list[dict[str, str]]:
    """The template's resources in order: logical id, type, status, and the physical id of each
    one moto created (nothing is created here)."""
    resource_map = stack.resource_map
    made = resource_map._parsed_resources  # what moto's CloudFormation created (and parameters)
    found = []
    for logical, definition in resource_map._resource_json_map.items():
        resource_type = str(definition.get("Type", ""))
        condition = definition.get("Condition")
        if condition and not resource_map.lazy_condition_map[condition]:
            continue
        entry = {"LogicalResourceId": logical, "ResourceType": resource_type}
        resource = made.get(logical)
        physical = _physical_id(resource, resource_type) if resource is not None else None
        if physical:
            entry.update(PhysicalResourceId=physical, ResourceStatus=CREATED)
        else:
            entry.update(ResourceStatus=NOT_CREATED, ResourceStatusReason=_why(resource_type))
        found.append(entry)
    return found


def _physical_id(resource: Any, resource_type: str) -> str | None:
    physical = getattr(resource, "physical_resource_id", None)
    bus = getattr(resource, "event_bus_name", "default")
    if physical and resource_type == "AWS::Events::Rule" and bus != "default":
        physical = f"{bus}|{physical}"  # a rule on a custom bus: "<bus>|<rule>"
    return str(physical) if physical else None


def _why(resource_type: str) -> str:
    if not resource_type.startswith("Custom::") and resource_type not in get_model_map():
        return f"not created by the emulator: moto's CloudFormation has no {resource_type}"
    return "not created by the emulator: moto's CloudFormation failed to create it"
