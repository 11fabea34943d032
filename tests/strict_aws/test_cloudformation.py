"""Strict CloudFormation: ListStackResources and DescribeStackResources list every resource of the
template (logical id, type, status; the physical id of what was created) and never retry creating
what moto's CloudFormation did not make. The guard stack's rule on its own bus (EventBusName a Ref
to the bus) is such a resource: moto fails to create it, and without this layer every later
ListStackResources raised again (moto_server: HTTP 500)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from strict_aws import StrictAWS
from tests.strict_aws.ec2_calls import REGION

STACK = "guard"
TEMPLATE = {
    "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "billing"}},
        "BusRuleByName": {
            "Type": "AWS::Events::Rule",
            "DependsOn": "Bus",
            "Properties": {
                "Name": "forward",
                "EventBusName": "billing",
                "EventPattern": {"source": ["aws.cloudwatch"]},
            },
        },
        "BusRule": {  # moto: Ref of its EventBus is the model, PutRule fails on it
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": {"Ref": "Bus"},
                "EventPattern": {"source": ["aws.cloudwatch"]},
            },
        },
        "Subscription": {  # moto's CloudFormation has no such type
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "email",
                "Endpoint": "ops@example.com",
            },
        },
        "Skipped": {"Type": "AWS::SNS::Topic", "Condition": "Never"},
    },
}


def deployed() -> Any:
    """The stack as `cdk deploy` makes it: a change set, created then executed (moto raises on
    the rule, as moto_server answered the CDK CLI with a 500, and keeps the stack)."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_change_set(
        StackName=STACK,
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(TEMPLATE),
    )
    with pytest.raises(AttributeError):
        cloudformation.execute_change_set(StackName=STACK, ChangeSetName="cdk-deploy-change-set")
    return cloudformation


def test_list_stack_resources_lists_every_resource_once_and_creates_nothing(
    strict: StrictAWS,
) -> None:
    cloudformation = deployed()
    summaries = {
        r["LogicalResourceId"]: r
        for r in cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }
    assert sorted(summaries) == ["Bus", "BusRule", "BusRuleByName", "Subscription", "Topic"]
    topic, bus = summaries["Topic"], summaries["Bus"]
    assert (topic["ResourceType"], topic["ResourceStatus"]) == (
        "AWS::SNS::Topic",
        "CREATE_COMPLETE",
    )
    assert topic["PhysicalResourceId"].startswith(f"arn:aws:sns:{REGION}:")
    assert (bus["PhysicalResourceId"], bus["ResourceStatus"]) == ("billing", "CREATE_COMPLETE")
    # a rule on a custom bus: "<bus>|<rule>" (CloudFormation User Guide, AWS::Events::Rule, Ref)
    assert summaries["BusRuleByName"]["PhysicalResourceId"] == "billing|forward"
    for logical in ("BusRule", "Subscription"):
        summary = summaries[logical]
        assert summary["ResourceStatus"] == "CREATE_FAILED"
        assert "PhysicalResourceId" not in summary
        assert "not created by the emulator" in summary["ResourceStatusReason"]
    assert summaries["Subscription"]["ResourceType"] == "AWS::SNS::Subscription"
    rules = boto3.client("events", region_name=REGION).list_rules(EventBusName="billing")
    assert [r["Name"] for r in rules["Rules"]] == ["forward"]  # listing retried nothing


def test_describe_stack_resources_answers_the_same_and_one_by_logical_id(
    strict: StrictAWS,
) -> None:
    cloudformation = deployed()
    resources = cloudformation.describe_stack_resources(StackName=STACK)["StackResources"]
    assert [r["LogicalResourceId"] for r in resources] == [
        "Topic",
        "Bus",
        "BusRuleByName",
        "BusRule",
        "Subscription",
    ]
    assert {r["StackName"] for r in resources} == {STACK}
    (bus,) = cloudformation.describe_stack_resources(StackName=STACK, LogicalResourceId="Bus")[
        "StackResources"
    ]
    assert (bus["ResourceType"], bus["PhysicalResourceId"]) == ("AWS::Events::EventBus", "billing")
