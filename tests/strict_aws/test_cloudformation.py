"""Strict CloudFormation: ListStackResources and DescribeStackResources list every resource of the
template (logical id, type, status; the physical id of what was created) and never retry creating
what moto's CloudFormation did not make (a rule on a bus that does not exist: without this layer
every later ListStackResources raised again, moto_server: HTTP 500). A rule whose EventBusName is
a Ref to the stack's own bus is created, as on AWS (the guard's billing rule, the payer's
quarantine rule); moto failed on it, and lost every resource after it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

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
        "BusRule": {  # moto alone: Ref of its EventBus is the model, PutRule failed on it
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": "by-ref",
                "EventBusName": {"Ref": "Bus"},
                "EventPattern": {"source": ["aws.cloudwatch"]},
            },
        },
        "Dashboard": {  # after the rule: moto alone never created it
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {"DashboardName": "fleet", "DashboardBody": '{"widgets": []}'},
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
        "OrphanRule": {  # its bus does not exist: AWS fails it too
            "Type": "AWS::Events::Rule",
            "Properties": {"EventBusName": "gone", "EventPattern": {"source": ["aws.ec2"]}},
        },
    },
}


def deployed() -> Any:
    """The stack as `cdk deploy` makes it: a change set, created then executed (moto raises on
    the orphan rule, as moto_server answers the CDK CLI with a 500, and keeps the stack)."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_change_set(
        StackName=STACK,
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(TEMPLATE),
    )
    with pytest.raises(ResponseParserError):  # moto answers events' JSON error in a query API
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
    assert sorted(summaries) == [
        "Bus",
        "BusRule",
        "BusRuleByName",
        "Dashboard",
        "OrphanRule",
        "Subscription",
        "Topic",
    ]
    topic, bus = summaries["Topic"], summaries["Bus"]
    assert (topic["ResourceType"], topic["ResourceStatus"]) == (
        "AWS::SNS::Topic",
        "CREATE_COMPLETE",
    )
    assert topic["PhysicalResourceId"].startswith(f"arn:aws:sns:{REGION}:")
    assert (bus["PhysicalResourceId"], bus["ResourceStatus"]) == ("billing", "CREATE_COMPLETE")
    # a rule on a custom bus: "<bus>|<rule>" (CloudFormation User Guide, AWS::Events::Rule, Ref)
    assert summaries["BusRuleByName"]["PhysicalResourceId"] == "billing|forward"
    assert summaries["BusRule"]["PhysicalResourceId"] == "billing|by-ref"
    assert summaries["Dashboard"]["ResourceStatus"] == "CREATE_COMPLETE"
    for logical in ("OrphanRule", "Subscription"):
        summary = summaries[logical]
        assert summary["ResourceStatus"] == "CREATE_FAILED"
        assert "PhysicalResourceId" not in summary
        assert "not created by the emulator" in summary["ResourceStatusReason"]
    assert summaries["Subscription"]["ResourceType"] == "AWS::SNS::Subscription"
    rules = boto3.client("events", region_name=REGION).list_rules(EventBusName="billing")
    assert sorted(r["Name"] for r in rules["Rules"]) == ["by-ref", "forward"]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):  # listing retried nothing
        boto3.client("events", region_name=REGION).list_rules(EventBusName="gone")


def test_a_rule_on_the_stacks_own_bus_and_what_follows_it_are_created(strict: StrictAWS) -> None:
    """The payer stack's quarantine rule names its bus by Ref; its watchdog and dashboard come
    after it in the template, and went missing in the drill's deploy."""
    deployed()
    (rule,) = boto3.client("events", region_name=REGION).list_rules(
        EventBusName="billing", NamePrefix="by-ref"
    )["Rules"]
    assert rule["EventBusName"] == "billing"
    dashboard = boto3.client("cloudwatch", region_name=REGION).get_dashboard(DashboardName="fleet")
    assert json.loads(dashboard["DashboardBody"]) == {"widgets": []}


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
        "Dashboard",
        "Subscription",
        "OrphanRule",
    ]
    assert {r["StackName"] for r in resources} == {STACK}
    (bus,) = cloudformation.describe_stack_resources(StackName=STACK, LogicalResourceId="Bus")[
        "StackResources"
    ]
    assert (bus["ResourceType"], bus["PhysicalResourceId"]) == ("AWS::Events::EventBus", "billing")
