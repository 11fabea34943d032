"""Fast trip: every watched Region forwards launches to the home Region's bus, where they are
queued for the guard; Lambda's poller hands a burst to the guard as one batch.

The shared test fleet: root (home eu-central-1, `regions` unset: the 17 default Regions), prod
(home eu-west-1, `regions: [eu-west-1, us-east-1]`), sandbox (`fast_trip: false`). This module's
own fleet adds a home in an opt-in Region and `regions:` without the home Region.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fast_trip import QUEUE_DRAIN_ACTIONS, build_launch_pattern
from runawaytrain_stack.fleet import FleetStacks, add_fleet_stacks, new_app
from runawaytrain_stack.fleet_model import (
    DEFAULT_ENABLED_REGIONS,
    Fleet,
    list_fast_trip_regions,
)
from runawaytrain_stack.permissions import FAST_TRIP_QUEUE_ACTIONS
from runawaytrain_stack.scp import list_exempt_principals
from tests.stack.template_policies import list_guard_statements

ROOT, PROD = "100000000001", "200000000002"
EC2_BRANCH = {
    "source": ["aws.ec2"],
    "detail-type": ["EC2 Instance State-change Notification"],
    "detail": {"state": ["pending"]},
}


def branch(source: str, detail_type: str, **detail: list[str]) -> dict[str, Any]:
    return {"source": [source], "detail-type": [detail_type], "detail": detail}


# One branch per kind of event that announces capacity, each in its billing states only
# (guard/launch_events.py has the sources).
LAUNCH_PATTERN = {
    "$or": [
        EC2_BRANCH,
        branch(
            "aws.sagemaker",
            "SageMaker Notebook Instance State Change",
            NotebookInstanceStatus=["Pending", "InService"],
        ),
        branch(
            "aws.sagemaker",
            "SageMaker Endpoint State Change",
            EndpointStatus=["Creating", "InService"],
        ),
        branch(
            "aws.sagemaker",
            "SageMaker Training Job State Change",
            TrainingJobStatus=["InProgress"],
        ),
        branch(
            "aws.sagemaker",
            "SageMaker Processing Job State Change",
            ProcessingJobStatus=["InProgress"],
        ),
        branch(
            "aws.sagemaker",
            "SageMaker Transform Job State Change",
            TransformJobStatus=["InProgress"],
        ),
        branch(
            "aws.ecs",
            "ECS Task State Change",
            lastStatus=["PENDING", "RUNNING"],
            desiredStatus=["RUNNING"],
        ),
        branch("aws.batch", "Batch Job State Change", status=["RUNNING"]),
        branch(
            "aws.rds",
            "RDS DB Instance Event",
            EventID=["RDS-EVENT-0005", "RDS-EVENT-0088", "RDS-EVENT-0154"],
        ),
        branch("aws.rds", "RDS DB Cluster Event", EventID=["RDS-EVENT-0151", "RDS-EVENT-0153"]),
    ]
}
# EC2 User Guide, "State change events for Amazon EC2 instances" (a launch enters `pending`).
LAUNCH_EVENT = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": PROD,
    "time": "2026-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": [f"arn:aws:ec2:us-east-1:{PROD}:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "pending"},
}
OWN_FLEET_YAML = """\
defaults:
  notify: [team@example.com]
  ec2_limit: 1
payer:
  id: "100000000001"
  name: hub
  home_region: ap-east-1
accounts:
  - id: "200000000002"
    name: edge
    home_region: us-east-1
    regions: [us-west-2, eu-west-1]
    schedule_minutes: 120
"""


def partition_arn(rest: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, rest]]}


@pytest.fixture(scope="module")
def stacks(test_app: tuple[App, FleetStacks]) -> FleetStacks:
    return test_app[1]


@pytest.fixture(scope="module")
def prod(stacks: FleetStacks) -> Template:
    return Template.from_stack(stacks.guards["prod"])


@pytest.fixture(scope="module")
def own_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, FleetStacks]:
    app = new_app(outdir=str(tmp_path_factory.mktemp("fast-trip-fleet")))
    stacks = add_fleet_stacks(app, parse_fleet(OWN_FLEET_YAML, "fast-trip-fleet.yaml"))
    app.synth()
    return app, stacks


def region_of(stack: Any) -> str:
    return str(stack.region)


def only_id(template: Template, resource_type: str, props: dict[str, Any] | None = None) -> str:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found))


def test_every_rule_uses_the_one_launch_pattern() -> None:
    assert build_launch_pattern() == LAUNCH_PATTERN


def test_the_pattern_fits_eventbridges_size_quota() -> None:
    """EventBridge User Guide, "Amazon EventBridge quotas": Event pattern size, 2,048
    characters by default; counted as CloudFormation sends it and as indented."""
    assert len(json.dumps(build_launch_pattern(), separators=(",", ":"))) <= 2048
    assert len(json.dumps(build_launch_pattern())) <= 2048


def service_event(source: str, detail_type: str, **detail: str) -> dict[str, Any]:
    return {**LAUNCH_EVENT, "source": source, "detail-type": detail_type, "detail": detail}


SM, NOTEBOOK = "aws.sagemaker", "SageMaker Notebook Instance State Change"
ENDPOINT, TRAINING = "SageMaker Endpoint State Change", "SageMaker Training Job State Change"
TASK, JOB, DB = "ECS Task State Change", "Batch Job State Change", "RDS DB Instance Event"


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        (service_event(SM, ENDPOINT, EndpointStatus="Creating"), True),
        (service_event(SM, ENDPOINT, EndpointStatus="Deleting"), False),
        (service_event(SM, NOTEBOOK, NotebookInstanceStatus="Pending"), True),
        (service_event(SM, NOTEBOOK, NotebookInstanceStatus="Stopped"), False),
        (service_event(SM, TRAINING, TrainingJobStatus="InProgress"), True),
        (service_event(SM, TRAINING, TrainingJobStatus="Completed"), False),
        (service_event("aws.ecs", TASK, lastStatus="PENDING", desiredStatus="RUNNING"), True),
        (service_event("aws.ecs", TASK, lastStatus="RUNNING", desiredStatus="STOPPED"), False),
        (service_event("aws.batch", JOB, status="RUNNING"), True),
        (service_event("aws.batch", JOB, status="SUCCEEDED"), False),
        (service_event("aws.rds", DB, EventID="RDS-EVENT-0005"), True),
        (service_event("aws.rds", DB, EventID="RDS-EVENT-0006"), False),  # a reboot
        # A SageMaker field under another service's detail-type matches nothing.
        (service_event("aws.ecs", TASK, EndpointStatus="Creating"), False),
    ],
)
def test_pattern_matches_other_services_entering_a_billing_state_only(
    event: dict[str, Any], matches: bool
) -> None:
    pattern = EventPattern.load(json.dumps(build_launch_pattern()))
    assert pattern.matches_event(event) is matches


@pytest.mark.parametrize(
    ("change", "matches"),
    [
        ({}, True),
        ({"detail": {"instance-id": "i-1", "state": "running"}}, False),
        ({"detail": {"instance-id": "i-1", "state": "stopping"}}, False),
        ({"source": "aws.autoscaling"}, False),
    ],
    ids=["launch", "running", "stopping", "other-source"],
)
def test_launch_pattern_matches_instances_entering_pending_only(
    change: dict[str, Any], matches: bool
) -> None:
    pattern = EventPattern.load(json.dumps(build_launch_pattern()))
    assert pattern.matches_event({**LAUNCH_EVENT, **change}) is matches


def test_regions_follow_the_regions_key_or_default_to_the_enabled_by_default_set(
    stacks: FleetStacks,
) -> None:
    assert len(DEFAULT_ENABLED_REGIONS) == len(set(DEFAULT_ENABLED_REGIONS)) == 17
    assert [region_of(s) for s in stacks.fast_trip["prod"]] == ["us-east-1"]
    expected = [r for r in DEFAULT_ENABLED_REGIONS if r != "eu-central-1"]
    assert [region_of(s) for s in stacks.fast_trip["root"]] == expected


def test_home_region_gets_no_region_stack(stacks: FleetStacks) -> None:
    for name, regional in stacks.fast_trip.items():
        home = stacks.guards[name].region
        assert home not in [region_of(s) for s in regional]


def test_home_in_an_opt_in_region_is_watched_too() -> None:
    fleet = parse_fleet(OWN_FLEET_YAML)
    assert list_fast_trip_regions(fleet.payer) == (*DEFAULT_ENABLED_REGIONS, "ap-east-1")
    assert list_fast_trip_regions(fleet.sub_accounts[0]) == ("us-west-2", "eu-west-1")


def test_region_stacks_are_named_for_the_guard_and_region(
    own_app: tuple[App, FleetStacks],
) -> None:
    _, stacks = own_app
    hub = stacks.fast_trip["hub"]
    assert len(hub) == 17  # every default Region; the home ap-east-1 holds the guard
    assert {(s.stack_name, s.account, s.region) for s in stacks.fast_trip["edge"]} == {
        ("runawaytrain-guard-edge-us-west-2", PROD, "us-west-2"),
        ("runawaytrain-guard-edge-eu-west-1", PROD, "eu-west-1"),
    }


@pytest.mark.parametrize(
    ("name", "account_id", "home"), [("root", ROOT, "eu-central-1"), ("prod", PROD, "eu-west-1")]
)
def test_each_region_stack_holds_one_rule_forwarding_launches_to_the_home_bus(
    stacks: FleetStacks, name: str, account_id: str, home: str
) -> None:
    for stack in stacks.fast_trip[name]:
        template = Template.from_stack(stack)
        resources = template.to_json()["Resources"]
        assert [r["Type"] for r in resources.values()] == ["AWS::Events::Rule"], stack.stack_name
        template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "EventBusName": Match.absent(),  # the default bus: where EC2 sends its events
                "EventPattern": LAUNCH_PATTERN,
                "Targets": [
                    {
                        "Arn": partition_arn(
                            f":events:{home}:{account_id}:event-bus/runawaytrain-fast-trip"
                        ),
                        "Id": "FastTripBus",
                        "RoleArn": partition_arn(
                            f":iam::{account_id}:role/runawaytrain/runawaytrain-fast-trip-forwarder"
                        ),
                    }
                ],
            },
        )


def test_region_stacks_deploy_after_the_guard_with_the_home_bootstrap_roles(
    test_app: tuple[App, FleetStacks],
) -> None:
    app, stacks = test_app
    artifacts = json.loads((Path(app.outdir) / "manifest.json").read_text())["artifacts"]
    role = f"arn:${{AWS::Partition}}:iam::{PROD}:role/cdk-runaway"
    for stack in stacks.fast_trip["prod"]:
        artifact = artifacts[stack.artifact_id]
        assert artifact["dependencies"] == ["runawaytrain-guard-prod"]
        assert artifact["properties"]["assumeRoleArn"] == f"{role}-deploy-role-{PROD}-eu-west-1"
        assert (
            artifact["properties"]["cloudFormationExecutionRoleArn"]
            == f"{role}-cfn-exec-role-{PROD}-eu-west-1"
        )
        # Nothing that needs the Region bootstrapped: no assets, no bootstrap version check.
        assert "requiresBootstrapStackVersion" not in artifact["properties"]
        assert "Parameters" not in Template.from_stack(stack).to_json()


def test_fast_trip_false_adds_no_queue_bus_rule_poller_or_region_stack(
    stacks: FleetStacks,
) -> None:
    assert "sandbox" not in stacks.fast_trip
    sandbox = Template.from_stack(stacks.guards["sandbox"])
    for resource_type in (
        "AWS::SQS::Queue",
        "AWS::Events::EventBus",
        "AWS::Events::Rule",
        "AWS::Lambda::EventSourceMapping",
    ):
        sandbox.resource_count_is(resource_type, 0)
    sandbox.resource_count_is("AWS::IAM::Role", 3)  # the guard's, the scheduler's, the reader's


def test_poller_hands_the_guard_whole_bursts(prod: Template) -> None:
    queue_id = only_id(prod, "AWS::SQS::Queue")
    function_id = only_id(prod, "AWS::Lambda::Function")
    prod.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": function_id},
            "BatchSize": 10000,
            "MaximumBatchingWindowInSeconds": 5,
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    )
    # The guard still runs one at a time.
    prod.has_resource_properties("AWS::Lambda::Function", {"ReservedConcurrentExecutions": 1})


def test_queue_is_encrypted_and_outlasts_throttled_retries(prod: Template) -> None:
    (function,) = prod.find_resources("AWS::Lambda::Function").values()
    (queue,) = prod.find_resources("AWS::SQS::Queue").values()
    properties = queue["Properties"]
    assert properties["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]
    assert properties["SqsManagedSseEnabled"] is True
    assert properties["MessageRetentionPeriod"] == 3600  # an hour: beyond it, the schedule rules


def test_queue_keeps_prompts_for_a_schedule_period_when_longer_than_an_hour(
    own_app: tuple[App, FleetStacks],
) -> None:
    edge = Template.from_stack(own_app[1].guards["edge"])
    edge.has_resource_properties("AWS::SQS::Queue", {"MessageRetentionPeriod": 120 * 60})


def test_queue_admits_only_tls_and_the_two_fast_trip_rules(
    prod: Template, test_fleet: Fleet
) -> None:
    queue_id = only_id(prod, "AWS::SQS::Queue")
    forwarded = only_id(prod, "AWS::Events::Rule", {"EventBusName": "runawaytrain-fast-trip"})
    home = only_id(
        prod, "AWS::Events::Rule", {"EventBusName": Match.absent(), "EventPattern": LAUNCH_PATTERN}
    )
    (policy,) = prod.find_resources("AWS::SQS::QueuePolicy").values()
    own = next(a for a in test_fleet.accounts if a.name == "prod")
    assert policy["Properties"]["Queues"] == [{"Ref": queue_id}]
    queue_arn = {"Fn::GetAtt": [queue_id, "Arn"]}
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": queue_arn,
        },
        {
            "Action": "sqs:SendMessage",
            "Condition": {
                "ArnEquals": {
                    "aws:SourceArn": [
                        {"Fn::GetAtt": [forwarded, "Arn"]},
                        {"Fn::GetAtt": [home, "Arn"]},
                    ]
                }
            },
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": queue_arn,
            "Sid": "OnlyFastTripRules",
        },
        {  # issue 22: evaluated in tests/payer/test_scp_protection.py
            "Action": list(QUEUE_DRAIN_ACTIONS),
            "Condition": {
                "ArnNotLike": {"aws:PrincipalArn": list_exempt_principals(test_fleet, own)}
            },
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": queue_arn,
            "Sid": "OnlyTheExemptDrainOrChange",
        },
    ]


def test_home_launches_and_forwarded_launches_are_queued(prod: Template) -> None:
    queue_id = only_id(prod, "AWS::SQS::Queue")
    bus_id = only_id(prod, "AWS::Events::EventBus", {"Name": "runawaytrain-fast-trip"})
    target = [{"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}, "Id": "FastTripQueue"}]
    prod.has_resource(
        "AWS::Events::Rule",
        {
            "Properties": {
                "EventBusName": "runawaytrain-fast-trip",
                "EventPattern": LAUNCH_PATTERN,
                "Targets": target,
            },
            "DependsOn": [bus_id],
        },
    )
    prod.has_resource_properties(
        "AWS::Events::Rule",
        {"EventBusName": Match.absent(), "EventPattern": LAUNCH_PATTERN, "Targets": target},
    )


def test_home_outside_the_regions_key_gets_no_home_rule(
    own_app: tuple[App, FleetStacks],
) -> None:
    edge = Template.from_stack(own_app[1].guards["edge"])
    rules = edge.find_resources("AWS::Events::Rule")
    assert [r["Properties"].get("EventBusName") for r in rules.values()] == [
        "runawaytrain-fast-trip"
    ]
    (policy,) = edge.find_resources("AWS::SQS::QueuePolicy").values()
    allow = policy["Properties"]["PolicyDocument"]["Statement"][1]
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": [next(iter(rules)), "Arn"]}
    ]


def test_forwarder_may_only_put_events_on_the_fast_trip_bus(prod: Template) -> None:
    bus_id = only_id(prod, "AWS::Events::EventBus", {"Name": "runawaytrain-fast-trip"})
    prod.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": "runawaytrain-fast-trip-forwarder",
            "Path": "/runawaytrain/",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Condition": {"StringEquals": {"aws:SourceAccount": PROD}},
                    }
                ],
                "Version": "2012-10-17",
            },
            "Policies": [
                {
                    "PolicyName": "ForwardLaunches",
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Action": "events:PutEvents",
                                "Effect": "Allow",
                                "Resource": {"Fn::GetAtt": [bus_id, "Arn"]},
                            }
                        ],
                        "Version": "2012-10-17",
                    },
                }
            ],
        },
    )


def test_guard_role_may_read_exactly_its_own_queue(prod: Template) -> None:
    queue_id = only_id(prod, "AWS::SQS::Queue")
    statements = list_guard_statements(prod.to_json())
    sqs = [s for s in statements if "sqs:" in json.dumps(s["Action"])]
    assert sqs == [
        {
            "Sid": "PollFastTripQueue",
            "Action": list(FAST_TRIP_QUEUE_ACTIONS),
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        }
    ]
    assert sorted(FAST_TRIP_QUEUE_ACTIONS) == [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
