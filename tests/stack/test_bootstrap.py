"""Bootstrap environments per account and the narrow CloudFormation execution policy."""

import json
from pathlib import Path

from runawaytrain_stack.bootstrap import build_execution_policy, list_bootstrap_environments
from runawaytrain_stack.config import parse_fleet


def test_payer_outside_us_east_1_is_bootstrapped_for_the_billing_stack_too(test_fleet) -> None:
    assert list_bootstrap_environments(test_fleet, test_fleet.payer) == [
        "aws://100000000001/eu-central-1",
        "aws://100000000001/us-east-1",
    ]
    prod = test_fleet.sub_accounts[0]
    assert list_bootstrap_environments(test_fleet, prod) == ["aws://200000000002/eu-west-1"]


def test_payer_without_budgets_needs_only_its_home_region() -> None:
    fleet = parse_fleet(
        'payer: {id: "111111111111", name: p, notify: [a@example.com], ec2_limit: 1,'
        " home_region: eu-west-1}\n"
    )
    assert list_bootstrap_environments(fleet, fleet.payer) == ["aws://111111111111/eu-west-1"]


def test_execution_policy_narrows_every_service_wildcard_to_runawaytrain_resources() -> None:
    for statement in build_execution_policy()["Statement"]:
        if any(action.endswith(":*") for action in statement["Action"]):
            assert statement["Resource"] != ["*"], statement
            assert all("runawaytrain" in arn for arn in statement["Resource"]), statement


def test_execution_policy_allows_passing_only_runawaytrain_roles() -> None:
    roles = [s for s in build_execution_policy()["Statement"] if s["Sid"] == "Roles"]
    assert roles == [
        {
            "Sid": "Roles",
            "Effect": "Allow",
            "Action": ["iam:*"],
            "Resource": ["arn:aws:iam::*:role/runawaytrain/*"],
        }
    ]


def statements_by_sid() -> dict[str, dict]:
    return {s["Sid"]: s for s in build_execution_policy()["Statement"]}


def test_execution_policy_lets_cloudformation_build_fast_trip_in_any_region() -> None:
    """Region stacks deploy with the home Region's execution role, so nothing names a Region."""
    found = statements_by_sid()
    assert found["FastTripQueues"]["Resource"] == ["arn:aws:sqs:*:*:runawaytrain-*"]
    assert (
        "arn:aws:events:*:*:event-bus/runawaytrain-fast-trip"
        in (found["EventBusAndRules"]["Resource"])
    )
    assert "arn:aws:events:*:*:rule/runawaytrain-*" in found["EventBusAndRules"]["Resource"]


def test_event_source_mappings_are_managed_only_for_runawaytrain_functions() -> None:
    pollers = statements_by_sid()["FastTripPollers"]
    assert sorted(pollers["Action"]) == [
        "lambda:CreateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
    ]
    assert pollers["Condition"] == {
        "StringLike": {"lambda:FunctionArn": "arn:aws:lambda:*:*:function:runawaytrain-*"}
    }


def test_execution_policy_names_every_bus_and_role_path_the_templates_create(sample_app) -> None:
    app, _ = sample_app
    found = statements_by_sid()
    buses, paths = set(), set()
    for template in Path(app.outdir).glob("*.template.json"):
        for resource in json.loads(template.read_text())["Resources"].values():
            if resource["Type"] == "AWS::Events::EventBus":
                buses.add(f"arn:aws:events:*:*:event-bus/{resource['Properties']['Name']}")
            if resource["Type"] == "AWS::IAM::Role":
                paths.add(resource["Properties"]["Path"])
    assert buses == {
        "arn:aws:events:*:*:event-bus/runawaytrain-billing-trips",
        "arn:aws:events:*:*:event-bus/runawaytrain-fast-trip",
        "arn:aws:events:*:*:event-bus/runawaytrain-payer",
    }
    assert buses <= set(found["EventBusAndRules"]["Resource"])
    assert paths == {"/runawaytrain/"}
