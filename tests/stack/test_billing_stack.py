"""The payer's billing stack: one alarm per budgeted account, and the route to its guard."""

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from guard.invocation import Trigger, parse_invocation
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet import add_fleet_stacks, new_app

PAYER, PROD, SANDBOX = "100000000001", "200000000002", "300000000003"


def partition_arn(rest: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, rest]]}


@pytest.fixture(scope="module")
def billing(test_app) -> Template:
    _, stacks = test_app
    return Template.from_stack(stacks.billing)


@pytest.fixture(scope="module")
def forwarder_id(billing: Template) -> str:
    roles = billing.find_resources(
        "AWS::IAM::Role",
        {"Properties": {"Policies": [{"PolicyName": "ForwardBillingAlarms"}]}},
    )
    (role_id,) = roles
    return role_id


def test_billing_stack_lives_in_the_payer_in_us_east_1(test_app) -> None:
    _, stacks = test_app
    billing = stacks.billing
    assert (billing.stack_name, billing.account, billing.region) == (
        "runawaytrain-billing",
        PAYER,
        "us-east-1",
    )


def test_deploys_after_the_guard_stacks_whose_buses_it_targets(test_app) -> None:
    _, stacks = test_app
    depends_on = {stack.stack_name for stack in stacks.billing.dependencies}
    assert depends_on == {"runawaytrain-guard-root", "runawaytrain-guard-prod"}


def test_one_alarm_per_budgeted_account_only(billing: Template) -> None:
    billing.resource_count_is("AWS::CloudWatch::Alarm", 2)
    billing.resource_count_is("AWS::Events::Rule", 2)


@pytest.mark.parametrize(
    ("name", "account_id", "budget"), [("root", PAYER, 50), ("prod", PROD, 5000.5)]
)
def test_alarm_watches_the_accounts_estimated_charges_against_its_budget(
    billing: Template, name: str, account_id: str, budget: float
) -> None:
    topic_id = next(iter(billing.find_resources("AWS::SNS::Topic")))
    billing.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"runawaytrain-billing-{name}",
            "Namespace": "AWS/Billing",
            "MetricName": "EstimatedCharges",
            "Dimensions": [
                {"Name": "Currency", "Value": "USD"},
                {"Name": "LinkedAccount", "Value": account_id},
            ],
            "Statistic": "Maximum",
            "Period": 21600,
            "EvaluationPeriods": 1,
            "Threshold": budget,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


@pytest.mark.parametrize(
    ("name", "account_id", "region"),
    [("root", PAYER, "eu-central-1"), ("prod", PROD, "eu-west-1")],
)
def test_rule_forwards_alarm_to_the_guards_bus_in_its_home_region(
    billing: Template, forwarder_id: str, name: str, account_id: str, region: str
) -> None:
    billing.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": Match.absent(),  # the default bus: where CloudWatch sends alarm events
            "EventPattern": {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {
                    "alarmName": [f"runawaytrain-billing-{name}"],
                    "state": {"value": ["ALARM"]},
                },
            },
            "Targets": [
                {
                    "Arn": partition_arn(
                        f":events:{region}:{account_id}:event-bus/runawaytrain-billing-trips"
                    ),
                    "Id": "Target0",
                    "RoleArn": {"Fn::GetAtt": [forwarder_id, "Arn"]},
                }
            ],
        },
    )


def test_forwarder_may_only_put_events_on_guard_billing_buses(billing: Template) -> None:
    billing.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Condition": {"StringEquals": {"aws:SourceAccount": PAYER}},
                        }
                    )
                ]
            },
            "Path": "/runawaytrain/",
            "RoleName": "runawaytrain-billing-forwarder",
            "Policies": [
                {
                    "PolicyName": "ForwardBillingAlarms",
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Action": "events:PutEvents",
                                "Effect": "Allow",
                                "Resource": partition_arn(
                                    ":events:*:*:event-bus/runawaytrain-billing-trips"
                                ),
                            }
                        ],
                        "Version": "2012-10-17",
                    },
                }
            ],
        },
    )


def test_payer_notify_list_hears_alarms_on_an_encrypted_ssl_only_topic(billing: Template) -> None:
    billing.resource_count_is("AWS::SNS::Subscription", 1)
    billing.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "team@example.com"}
    )
    billing.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    billing.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}
    )
    billing.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": {"StringEquals": {"aws:SourceAccount": PAYER}},
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_key_lets_cloudwatch_encrypt_alarm_notifications(billing: Template) -> None:
    billing.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": {"StringEquals": {"aws:SourceAccount": PAYER}},
                            }
                        )
                    ]
                )
            }
        },
    )


# The event CloudWatch puts on the payer's default bus (CloudWatch User Guide, "Alarm events
# and EventBridge"); bus-to-bus forwarding delivers it unchanged, `account` still the payer's.
ALARM_EVENT = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": PAYER,
    "time": "2026-01-02T17:04:40Z",
    "region": "us-east-1",
    "resources": [f"arn:aws:cloudwatch:us-east-1:{PAYER}:alarm:runawaytrain-billing-prod"],
    "detail": {
        "alarmName": "runawaytrain-billing-prod",
        "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "2026-01-02"},
        "previousState": {"value": "OK"},
        "configuration": {"metrics": []},
    },
}


def event_pattern(template: Template, alarm_name: str) -> EventPattern:
    rules = template.find_resources("AWS::Events::Rule")
    (pattern,) = [
        rule["Properties"]["EventPattern"]
        for rule in rules.values()
        if rule["Properties"]["EventPattern"].get("detail", {}).get("alarmName") == [alarm_name]
    ]
    return EventPattern.load(json.dumps(pattern))


def test_alarm_event_passes_both_rules_and_reaches_the_guard_as_a_billing_trip(
    test_app, billing: Template
) -> None:
    _, stacks = test_app
    guard_rules = Template.from_stack(stacks.guards["prod"])
    assert event_pattern(billing, "runawaytrain-billing-prod").matches_event(ALARM_EVENT)
    assert event_pattern(guard_rules, "runawaytrain-billing-prod").matches_event(ALARM_EVENT)
    invocation = parse_invocation(ALARM_EVENT)
    assert (invocation.trigger, invocation.alarm_name) == (
        Trigger.BILLING_ALARM,
        "runawaytrain-billing-prod",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"detail": {**ALARM_EVENT["detail"], "state": {"value": "OK"}}},
        {"detail": {**ALARM_EVENT["detail"], "alarmName": "runawaytrain-billing-root"}},
        {"account": SANDBOX},
    ],
    ids=["back-to-ok", "another-accounts-alarm", "raised-outside-the-payer"],
)
def test_guard_bus_ignores_other_alarm_events(test_app, change: dict[str, Any]) -> None:
    _, stacks = test_app
    guard_rules = Template.from_stack(stacks.guards["prod"])
    pattern = event_pattern(guard_rules, "runawaytrain-billing-prod")
    assert not pattern.matches_event({**ALARM_EVENT, **change})


def test_fleet_without_budgets_has_no_billing_stack() -> None:
    fleet = parse_fleet(
        'payer: {id: "111111111111", name: p, notify: [a@example.com], ec2_limit: 1}\n'
    )
    stacks = add_fleet_stacks(new_app(), fleet)
    assert stacks.billing is None
    assert list(stacks.guards) == ["p"]
