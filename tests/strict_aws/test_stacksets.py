"""Service-managed StackSets a stack declares (strict_aws/stacksets.py): deployed to the target
OUs' accounts at creation (account filter applied), to accounts created in or moved into a
target OU later (filter ignored, as AWS's automatic deployment does), removed from those that
leave; never the management account."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from strict_aws import StrictAWS
from strict_aws.stacksets import parse_s3_url

REGION = "us-east-1"
BUCKET = "cdk-test-assets-123456789012-us-east-1"
KEY = "member.json"
MEMBER_TEMPLATE = {
    "Resources": {"Probe": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "probe"}}}
}


def _set(name: str, targets: dict[str, Any], *, auto: bool = True, regions=(REGION,)) -> dict:
    return {
        "Type": "AWS::CloudFormation::StackSet",
        "Properties": {
            "StackSetName": name,
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": {"Enabled": auto, "RetainStacksOnAccountRemoval": False}
            if auto
            else {"Enabled": False},
            "TemplateURL": {"Fn::Sub": f"https://s3.{REGION}.${{AWS::URLSuffix}}/{BUCKET}/{KEY}"},
            "StackInstancesGroup": [{"DeploymentTargets": targets, "Regions": list(regions)}],
        },
    }


@pytest.fixture
def org(strict: StrictAWS) -> dict[str, Any]:
    """An organisation with OU `guarded` (and `child` below it) holding `inside`, `excluded`
    and `deep`; `outside` at the root; the member template in the payer's bucket."""
    organizations = boto3.client("organizations", region_name=REGION)
    organizations.create_organization(FeatureSet="ALL")
    root = organizations.list_roots()["Roots"][0]["Id"]
    guarded = organizations.create_organizational_unit(ParentId=root, Name="guarded")
    guarded_id = guarded["OrganizationalUnit"]["Id"]
    child = organizations.create_organizational_unit(ParentId=guarded_id, Name="child")
    child_id = child["OrganizationalUnit"]["Id"]
    ids = {}
    for name, parent in (
        ("inside", guarded_id),
        ("excluded", guarded_id),
        ("deep", child_id),
        ("outside", root),
    ):
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        ids[name] = status["CreateAccountStatus"]["AccountId"]
        if parent != root:
            organizations.move_account(
                AccountId=ids[name], SourceParentId=root, DestinationParentId=parent
            )
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps(MEMBER_TEMPLATE).encode())
    return {"client": organizations, "root": root, "ou": guarded_id, "ids": ids}


def _declare(resources: dict[str, Any], name: str = "runawaytrain-members") -> None:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps({"Resources": resources})
    )


def _stacks(account: str, region: str = REGION) -> list[str]:
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/reader", RoleSessionName="test"
    )["Credentials"]
    cloudformation = boto3.client(
        "cloudformation",
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return [
        s["StackName"]
        for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    ]


def test_creation_deploys_to_the_target_ous_and_below_but_filtered_accounts(org) -> None:
    ids = org["ids"]
    targets = {
        "OrganizationalUnitIds": [org["ou"]],
        "AccountFilterType": "DIFFERENCE",
        "Accounts": [ids["excluded"]],
    }
    _declare({"GuardSet": _set("runawaytrain-guard-default", targets)})
    assert all(s.startswith("StackSet-runawaytrain-guard-default-") for s in _stacks(ids["inside"]))
    assert len(_stacks(ids["inside"])) == 1
    assert len(_stacks(ids["deep"])) == 1  # an OU below a target OU is targeted too
    assert _stacks(ids["excluded"]) == []
    assert _stacks(ids["outside"]) == []
    assert [s for s in _stacks("123456789012") if s.startswith("StackSet-")] == []


def test_a_change_set_executed_as_cdk_deploy_does_declares_the_sets(org) -> None:
    template = {"Resources": {"GuardSet": _set("g", {"OrganizationalUnitIds": [org["ou"]]})}}
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_change_set(
        StackName="runawaytrain-members",
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
    )
    cloudformation.execute_change_set(
        ChangeSetName="cdk-deploy-change-set", StackName="runawaytrain-members"
    )
    assert len(_stacks(org["ids"]["inside"])) == 1


def test_intersection_deploys_only_to_the_listed_accounts_inside_the_ous(org) -> None:
    ids = org["ids"]
    targets = {
        "OrganizationalUnitIds": [org["ou"]],
        "AccountFilterType": "INTERSECTION",
        "Accounts": [ids["excluded"], ids["outside"]],
    }
    _declare({"Listed": _set("runawaytrain-guard-listed", targets, auto=False)})
    assert len(_stacks(ids["excluded"])) == 1
    assert _stacks(ids["inside"]) == [] and _stacks(ids["outside"]) == []


def test_an_account_created_and_moved_into_a_target_ou_is_deployed_to(org) -> None:
    targets = {"OrganizationalUnitIds": [org["ou"]]}
    _declare({"GuardSet": _set("g", targets, regions=(REGION, "eu-west-1"))})
    client = org["client"]
    new = client.create_account(AccountName="new", Email="new@example.com")
    new_id = new["CreateAccountStatus"]["AccountId"]
    assert _stacks(new_id) == []  # created at the root: not a target yet
    client.move_account(AccountId=new_id, SourceParentId=org["root"], DestinationParentId=org["ou"])
    assert len(_stacks(new_id)) == 1
    assert len(_stacks(new_id, "eu-west-1")) == 1  # every Region of the set


def test_automatic_deployment_ignores_the_account_filter(org) -> None:
    """A DIFFERENCE set still reaches a listed account that joins later (AWS: "Automatic
    deployments do not consider account level targeting filters")."""
    client, ids = org["client"], org["ids"]
    targets = {
        "OrganizationalUnitIds": [org["ou"]],
        "AccountFilterType": "DIFFERENCE",
        "Accounts": [ids["outside"]],
    }
    _declare({"GuardSet": _set("g", targets)})
    assert _stacks(ids["outside"]) == []
    client.move_account(
        AccountId=ids["outside"], SourceParentId=org["root"], DestinationParentId=org["ou"]
    )
    assert len(_stacks(ids["outside"])) == 1


def test_a_set_without_automatic_deployment_does_not_follow_joins(org) -> None:
    _declare({"GuardSet": _set("g", {"OrganizationalUnitIds": [org["ou"]]}, auto=False)})
    client, ids = org["client"], org["ids"]
    client.move_account(
        AccountId=ids["outside"], SourceParentId=org["root"], DestinationParentId=org["ou"]
    )
    assert _stacks(ids["outside"]) == []


def test_an_account_leaving_the_target_ous_loses_its_stacks(org) -> None:
    _declare({"GuardSet": _set("g", {"OrganizationalUnitIds": [org["ou"]]})})
    client, ids = org["client"], org["ids"]
    assert len(_stacks(ids["inside"])) == 1
    client.move_account(
        AccountId=ids["inside"], SourceParentId=org["ou"], DestinationParentId=org["root"]
    )
    assert _stacks(ids["inside"]) == []
    assert len(_stacks(ids["deep"])) == 1  # the others keep theirs


def test_retained_stacks_stay_when_the_account_leaves(org) -> None:
    resource = _set("g", {"OrganizationalUnitIds": [org["ou"]]})
    resource["Properties"]["AutoDeployment"]["RetainStacksOnAccountRemoval"] = True
    _declare({"GuardSet": resource})
    client, ids = org["client"], org["ids"]
    client.move_account(
        AccountId=ids["inside"], SourceParentId=org["ou"], DestinationParentId=org["root"]
    )
    assert len(_stacks(ids["inside"])) == 1


def test_a_dependent_set_is_deployed_after_the_one_it_names(org) -> None:
    guard = _set("guard", {"OrganizationalUnitIds": [org["ou"]]})
    forwarder = {**_set("forwarder", {"OrganizationalUnitIds": [org["ou"]]}), "DependsOn": ["G"]}
    # as members.py writes it: AutoDeployment DependsOn the guard set's ARN (GetAtt StackSetId)
    forwarder["Properties"]["AutoDeployment"]["DependsOn"] = [
        {"Fn::Join": [":", ["arn", {"Fn::GetAtt": ["G", "StackSetId"]}]]}
    ]
    _declare({"F": forwarder, "G": guard})
    names = _stacks(org["ids"]["inside"])
    assert [n.split("-")[1] for n in names] == ["guard", "forwarder"]


def test_deleting_the_declaring_stack_deletes_every_instance(org) -> None:
    _declare({"GuardSet": _set("g", {"OrganizationalUnitIds": [org["ou"]]})})
    boto3.client("cloudformation", region_name=REGION).delete_stack(
        StackName="runawaytrain-members"
    )
    assert _stacks(org["ids"]["inside"]) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://s3.us-east-1.amazonaws.com/b/k/x.json", ("b", "k/x.json")),
        ("https://b.s3.eu-west-1.amazonaws.com/x.json", ("b", "x.json")),
        ("https://s3.amazonaws.com/b/x.json", ("b", "x.json")),
    ],
)
def test_template_urls_of_both_styles_are_read(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected
