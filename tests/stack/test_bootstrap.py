"""Bootstrap environments per account and the narrow CloudFormation execution policy."""

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
