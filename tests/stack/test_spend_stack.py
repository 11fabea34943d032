"""The spend watcher in the payer's billing stack, and the spend-rate route to each guard.

Its own fleet (a CUR location, spend limits on a budgeted and an unbudgeted account), so the
shared test fleets and their exact resource counts stay as they are; cdk-nag and cfn-lint run
over this app too.
"""

import json
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from guard.invocation import Trigger, parse_invocation
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet import FleetStacks, add_fleet_stacks, new_app
from tests.stack.test_cfn_lint import lint_assembly
from tests.stack.test_nag import describe_violations

PAYER, PROD, SANDBOX = "100000000001", "200000000002", "300000000003"
SPEND_FLEET_YAML = """\
defaults:
  notify: [team@example.com]
cur: {bucket: payer-cur, prefix: organization-aws-cur, report_name: organization_aws_cur}
payer:
  id: "100000000001"
  name: root
  ec2_limit: 1
  monthly_budget_usd: 50
accounts:
  - id: "200000000002"
    name: prod
    ec2_limit: 40
    home_region: eu-west-1
    monthly_budget_usd: 5000
    max_spend_per_day_usd: 750
  - id: "300000000003"
    name: sandbox
    ec2_limit: 0
    max_spend_per_day_usd: 25.5
"""

# What lambda/spend/watch.py puts on the payer's default bus; forwarding keeps it unchanged.
SPEND_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Spend Rate Exceeded",
    "source": "runawaytrain.spend",
    "account": PAYER,
    "time": "2026-11-26T18:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "account": SANDBOX,
        "spend_24h_usd": 31.2,
        "limit_usd": 25.5,
        "newest_data": "2026-11-26T09:00:00+00:00",
        "delivery": "20261126T090000Z",
    },
}


@pytest.fixture(scope="module")
def spend_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, FleetStacks]:
    app = new_app(outdir=str(tmp_path_factory.mktemp("spend-fleet")))
    stacks = add_fleet_stacks(app, parse_fleet(SPEND_FLEET_YAML, "spend-fleet.yaml"))
    app.synth()
    return app, stacks


@pytest.fixture(scope="module")
def billing(spend_app: tuple[App, FleetStacks]) -> Template:
    return Template.from_stack(spend_app[1].billing)


def spend_patterns(template: Template) -> dict[str, EventPattern]:
    """Account id -> the pattern of the rule that matches its spend-rate trips."""
    found = {}
    for rule in template.find_resources("AWS::Events::Rule").values():
        pattern = rule["Properties"].get("EventPattern", {})
        if pattern.get("source") == ["runawaytrain.spend"]:
            (account,) = pattern["detail"]["account"]
            found[account] = EventPattern.load(json.dumps(pattern))
    return found


def test_watcher_runs_hourly_with_the_fleet_limits_and_cur_location(billing: Template) -> None:
    billing.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "spend.handler.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "cur_bucket": "payer-cur",
                        "cur_prefix": "organization-aws-cur",
                        "cur_report": "organization_aws_cur",
                        "limits": json.dumps({PROD: 750.0, SANDBOX: 25.5}, sort_keys=True),
                        "state_parameter": "/runawaytrain/spend/last-delivery",
                    }
                )
            },
        },
    )
    billing.has_resource_properties(
        "AWS::Events::Rule", {"ScheduleExpression": "rate(1 hour)", "State": "ENABLED"}
    )


def test_watcher_reads_only_its_report_prefix(billing: Template) -> None:
    billing.has_resource_properties(
        "AWS::IAM::Role",
        {
            "Policies": [
                {
                    "PolicyName": "SpendWatcher",
                    "PolicyDocument": {
                        "Statement": Match.array_with(
                            [
                                Match.object_like(
                                    {
                                        "Sid": "ReadCur",
                                        "Action": "s3:GetObject",
                                        "Resource": {
                                            "Fn::Join": [
                                                "",
                                                [
                                                    "arn:",
                                                    {"Ref": "AWS::Partition"},
                                                    ":s3:::payer-cur/organization-aws-cur/"
                                                    "organization_aws_cur/*",
                                                ],
                                            ]
                                        },
                                    }
                                )
                            ]
                        )
                    },
                }
            ]
        },
    )


def test_spend_event_passes_both_rules_and_reaches_the_guard_as_a_spend_trip(
    spend_app: tuple[App, FleetStacks], billing: Template
) -> None:
    payer_rules = spend_patterns(billing)
    assert sorted(payer_rules) == [PROD, SANDBOX]  # one forwarding rule per spend limit
    assert payer_rules[SANDBOX].matches_event(SPEND_EVENT)
    assert not payer_rules[PROD].matches_event(SPEND_EVENT)
    guard_rules = spend_patterns(Template.from_stack(spend_app[1].guards["sandbox"]))
    assert guard_rules[SANDBOX].matches_event(SPEND_EVENT)
    invocation = parse_invocation(SPEND_EVENT)
    assert invocation.trigger is Trigger.SPEND_RATE
    assert invocation.spend is not None and invocation.spend.spend_24h_usd == 31.2


@pytest.mark.parametrize(
    "change",
    [{"account": SANDBOX}, {"detail": {**SPEND_EVENT["detail"], "account": PROD}}],
    ids=["sent-outside-the-payer", "another-accounts-trip"],
)
def test_guard_bus_ignores_other_spend_events(
    spend_app: tuple[App, FleetStacks], change: dict[str, Any]
) -> None:
    guard_rules = spend_patterns(Template.from_stack(spend_app[1].guards["sandbox"]))
    assert not guard_rules[SANDBOX].matches_event({**SPEND_EVENT, **change})


def test_unbudgeted_spend_limited_account_gets_a_bus_with_only_the_spend_rule(
    spend_app: tuple[App, FleetStacks],
) -> None:
    sandbox = Template.from_stack(spend_app[1].guards["sandbox"])
    (bus_id,) = sandbox.find_resources(
        "AWS::Events::EventBus", {"Properties": {"Name": "runawaytrain-billing-trips"}}
    )
    on_bus = {"Properties": {"EventBusName": {"Ref": bus_id}}}
    rules = sandbox.find_resources("AWS::Events::Rule", on_bus)
    patterns = [r["Properties"]["EventPattern"] for r in rules.values()]
    assert [p["source"] for p in patterns] == [["runawaytrain.spend"]]


def test_aws_solutions_checks_find_nothing(spend_app: tuple[App, FleetStacks]) -> None:
    assert describe_violations(spend_app[0]) == []


def test_cfn_lint_passes_on_every_template(spend_app: tuple[App, FleetStacks]) -> None:
    app, stacks = spend_app
    findings = lint_assembly(app.outdir)
    # Guards, billing, payer, fast-trip Regions.
    assert len(findings) == len(stacks.guards) + 2 + sum(map(len, stacks.fast_trip.values()))
    assert findings == {name: [] for name in findings}


def test_watcher_role_allows_exactly_the_calls_its_code_makes(billing: Template) -> None:
    """lambda/spend: cur.py lists and reads the CUR, watch.py puts events, publishes and keeps
    the last delivery in SSM; the log statement is Lambda's own."""
    (role,) = billing.find_resources(
        "AWS::IAM::Role", {"Properties": {"Policies": [{"PolicyName": "SpendWatcher"}]}}
    ).values()
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = set()
    for statement in statements:
        found = statement["Action"]
        actions.update([found] if isinstance(found, str) else found)
    assert actions == {
        "s3:ListBucket",
        "s3:GetObject",
        "events:PutEvents",
        "sns:Publish",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "ssm:GetParameter",
        "ssm:PutParameter",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
