"""Organisation delivery (issue 23): with `organization:`, members come from the payer's
StackSets (runawaytrain_stack/members.py), never from cdk stacks of their own."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from runawaytrain_stack import scp
from runawaytrain_stack.config import parse_fleet
from runawaytrain_stack.fleet import FleetStacks, add_fleet_stacks, new_app
from runawaytrain_stack.names import MEMBER_GUARD_FUNCTION_NAME

ORG_ID = "o-abcdef1234"
OU = "ou-ab12-cdef3456"
ORG_FLEET_YAML = f"""\
defaults:
  notify: [ops@example.com]
  ec2_limit: 10
organization:
  id: {ORG_ID}
  target_ous: [{OU}]
payer:
  id: "111111111111"
  name: payer
accounts:
  - id: "222222222222"
    name: same-as-defaults
  - id: "333333333333"
    name: elsewhere
    home_region: eu-west-1
    regions: [eu-west-1, eu-central-1]
  - id: "444444444444"
    name: no-fast-trip
    fast_trip: false
"""
MEMBER_IDS = ("222222222222", "333333333333", "444444444444")


@pytest.fixture(scope="module")
def org_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, FleetStacks, Path]:
    out = tmp_path_factory.mktemp("org")
    app = new_app(outdir=str(out))
    stacks = add_fleet_stacks(app, parse_fleet(ORG_FLEET_YAML, "org.yaml"))
    app.synth()
    return app, stacks, out


def _stack_sets(stacks: FleetStacks) -> dict[str, dict]:
    assert stacks.members is not None
    template = Template.from_stack(stacks.members).to_json()
    return {
        r["Properties"]["StackSetName"]: r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudFormation::StackSet"
    }


def test_no_member_gets_a_cdk_stack_of_its_own(org_app) -> None:
    app, stacks, _ = org_app
    names = {s.stack_name for s in app.synth().stacks}
    assert set(stacks.guards) == {"payer"}
    assert not any(n.startswith("runawaytrain-guard-") and "payer" not in n for n in names)
    assert "runawaytrain-members" in names
    assert {"runawaytrain-code-us-east-1", "runawaytrain-code-eu-west-1"} <= names


def test_the_default_group_targets_the_ous_but_other_groups_accounts(org_app) -> None:
    _, stacks, _ = org_app
    sets = _stack_sets(stacks)
    default = sets["runawaytrain-guard-default"]["StackInstancesGroup"][0]
    assert default["Regions"] == ["us-east-1"]
    assert default["DeploymentTargets"] == {
        "OrganizationalUnitIds": [OU],
        "AccountFilterType": "DIFFERENCE",
        "Accounts": ["333333333333", "444444444444"],  # the listed member on defaults is not
    }


def test_another_group_targets_its_accounts_within_the_ous(org_app) -> None:
    _, stacks, _ = org_app
    sets = _stack_sets(stacks)
    guard = next(p for n, p in sets.items() if n.startswith("runawaytrain-guard-eu-west-1"))[
        "StackInstancesGroup"
    ][0]
    assert guard["Regions"] == ["eu-west-1"]
    assert guard["DeploymentTargets"] == {
        "OrganizationalUnitIds": [OU],
        "AccountFilterType": "INTERSECTION",
        "Accounts": ["333333333333"],
    }
    forwarders = next(p for n, p in sets.items() if n.startswith("runawaytrain-fast-trip-eu-west"))
    assert forwarders["StackInstancesGroup"][0]["Regions"] == ["eu-central-1"]
    # A group without fast trip has a guard StackSet only.
    assert any(n.endswith("nofasttrip") for n in sets)
    assert not any(
        n.startswith("runawaytrain-fast-trip-") and n.endswith("nofasttrip") for n in sets
    )


def test_every_stack_set_deploys_itself_to_joining_accounts_in_parallel(org_app) -> None:
    _, stacks, _ = org_app
    for properties in _stack_sets(stacks).values():
        assert properties["PermissionModel"] == "SERVICE_MANAGED"
        assert properties["CallAs"] == "SELF"
        assert properties["ManagedExecution"] == {"Active": True}
        assert properties["OperationPreferences"] == {
            "RegionConcurrencyType": "PARALLEL",
            "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
            "FailureTolerancePercentage": 10,
            "MaxConcurrentPercentage": 100,
        }
        assert "TemplateURL" in properties


def test_only_the_default_group_deploys_itself_to_joining_accounts(org_app) -> None:
    """Automatic deployment ignores account filters (CloudFormation User Guide, "Enable or
    disable automatic deployments for StackSets in AWS Organizations"): a listed group's set
    with it on would guard every joining account a second time."""
    _, stacks, _ = org_app
    for name, properties in _stack_sets(stacks).items():
        if name.endswith("-default"):
            assert properties["AutoDeployment"]["Enabled"] is True, name
            assert properties["AutoDeployment"]["RetainStacksOnAccountRemoval"] is False
        else:
            assert properties["AutoDeployment"] == {"Enabled": False}, name


def test_forwarders_follow_their_guard_stack_set(org_app) -> None:
    _, stacks, _ = org_app
    template = Template.from_stack(stacks.members).to_json()
    for logical_id, resource in template["Resources"].items():
        name = resource["Properties"]["StackSetName"]
        if name.startswith("runawaytrain-fast-trip-"):
            assert resource["DependsOn"], logical_id
            if name.endswith("-default"):  # the only set deploying itself to joiners
                assert resource["Properties"]["AutoDeployment"]["DependsOn"], logical_id


def _member_templates(out: Path) -> list[Path]:
    return sorted(out.glob("runawaytrainmembers*.template.json"))


def test_the_member_templates_name_no_member_and_reserve_no_concurrency(org_app) -> None:
    _, _, out = org_app
    templates = _member_templates(out)
    assert len(templates) == 5  # 3 guards; forwarders for the default and eu-west-1 groups
    for path in templates:
        text = path.read_text()
        assert not any(member in text for member in MEMBER_IDS), path.name
        assert "ReservedConcurrentExecutions" not in text, path.name
    guards = [p for p in templates if "forwarder" not in p.name]
    for path in guards:
        functions = [
            r
            for r in json.loads(path.read_text())["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"
        ]
        (guard,) = functions
        env = guard["Properties"]["Environment"]["Variables"]
        assert env["SETTINGS_BUCKET"] == "runawaytrain-settings-111111111111"
        code = guard["Properties"]["Code"]
        home = "eu-west-1" if "euwest1" in path.name else "us-east-1"
        assert code["S3Bucket"] == f"runawaytrain-code-111111111111-{home}"
        assert code["S3Key"].endswith(".zip")


def test_the_cdk_cli_uploads_the_code_to_each_home_regions_bucket(org_app) -> None:
    _, _, out = org_app
    manifest = json.loads((out / "runawaytrain-members.assets.json").read_text())
    destinations = [d for f in manifest["files"].values() for d in f["destinations"].values()]
    code = {
        d["region"]: d["bucketName"]
        for d in destinations
        if d["bucketName"].startswith("runawaytrain-code-")
    }
    assert code == {
        "us-east-1": "runawaytrain-code-111111111111-us-east-1",
        "eu-west-1": "runawaytrain-code-111111111111-eu-west-1",
    }


def test_the_code_bucket_is_readable_within_the_organisation_only(org_app) -> None:
    app, _, _ = org_app
    stack = next(
        s
        for s in app.node.children
        if getattr(s, "stack_name", "") == "runawaytrain-code-eu-west-1"
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "OrganisationReadsCode",
                                "Effect": "Allow",
                                "Principal": {"AWS": "*"},
                                "Condition": {
                                    "StringEquals": {"aws:PrincipalOrgID": ORG_ID},
                                    "ForAnyValue:StringLike": {
                                        "aws:PrincipalOrgPaths": [f"{ORG_ID}/*/{OU}/*"]
                                    },
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_aws_solutions_checks_find_nothing_in_organisation_delivery(org_app) -> None:
    app, _, _ = org_app
    report = AwsSolutionsChecks().validate_scope(app)
    assert [v.rule_name for v in report.violations] == []


def test_without_organization_every_account_keeps_its_own_stacks(test_fleet) -> None:
    app = new_app()
    stacks = add_fleet_stacks(app, test_fleet)
    assert stacks.members is None
    assert set(stacks.guards) == {a.name for a in test_fleet.accounts}


# What the guard-protection SCP protects, by resource type: the ARN each name gives
# (service, ARN built from the name), matched against the SCP's own resource patterns.
ARN_OF_NAME = {
    "AWS::Lambda::Function": ("FunctionName", "arn:aws:lambda:eu-west-1:999999999999:function:{}"),
    "AWS::SNS::Topic": ("TopicName", "arn:aws:sns:eu-west-1:999999999999:{}"),
    "AWS::SQS::Queue": ("QueueName", "arn:aws:sqs:eu-west-1:999999999999:{}"),
    "AWS::Logs::LogGroup": ("LogGroupName", "arn:aws:logs:eu-west-1:999999999999:log-group:{}"),
    "AWS::Events::Rule": ("Name", "arn:aws:events:eu-west-1:999999999999:rule/{}"),
}


def test_what_a_member_template_creates_is_named_inside_the_guard_protection(org_app) -> None:
    """A StackSet names its stacks StackSet-<set>-<id>: unnamed resources would be created as
    StackSet-runawaytrain-..., outside the protection SCP's runawaytrain-* patterns."""
    _, _, out = org_app
    protected = [p for _, patterns in scp.GUARD_RESOURCE_ACTIONS for p in patterns]
    seen = set()
    for path in _member_templates(out):
        for logical_id, resource in json.loads(path.read_text())["Resources"].items():
            if resource["Type"] not in ARN_OF_NAME:
                continue
            prop, arn = ARN_OF_NAME[resource["Type"]]
            name = resource["Properties"].get(prop)
            assert isinstance(name, str), (path.name, logical_id)
            assert any(fnmatchcase(arn.format(name), p) for p in protected), (path.name, name)
            # Named and left behind by a deleted instance, it would block the next creation.
            assert resource.get("DeletionPolicy", "Delete") == "Delete", (path.name, name)
            seen.add(resource["Type"])
    assert seen == set(ARN_OF_NAME)
    guards = [p for p in _member_templates(out) if "forwarder" not in p.name]
    for path in guards:
        names = [
            r["Properties"]["FunctionName"]
            for r in json.loads(path.read_text())["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"
        ]
        assert names == [MEMBER_GUARD_FUNCTION_NAME]


def test_a_listed_groups_sets_wait_for_the_default_ones(org_app) -> None:
    """An account listed into a group leaves the default group in the same deploy: the new
    group's set must not create its named resources while the default one still holds them."""
    _, stacks, _ = org_app
    template = Template.from_stack(stacks.members).to_json()["Resources"]
    ids = {
        r["Properties"]["StackSetName"]: k
        for k, r in template.items()
        if r["Type"] == "AWS::CloudFormation::StackSet"
    }
    default_ids = {ids["runawaytrain-guard-default"], ids["runawaytrain-fast-trip-default"]}
    others = [
        k
        for name, k in ids.items()
        if name.startswith("runawaytrain-guard-") and k not in default_ids
    ]
    assert others
    for logical_id in others:
        assert default_ids <= set(template[logical_id].get("DependsOn", [])), logical_id
