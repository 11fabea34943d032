"""The settings publisher (lambda/settings): the bucket ends up holding exactly the synthesized
documents, writing only what changed and deleting the documents of accounts no longer listed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from settings.handler import publish
from settings.plan import DocumentError, plan_publish, render
from strict_aws import strict_aws

REGION = "us-east-1"
ASSETS = "cdk-assets"
STORE = "runawaytrain-settings-111111111111"
PROD = "222222222222"
STAGING = "333333333333"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws(), strict_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=ASSETS)
        client.create_bucket(Bucket=STORE)
        client.put_bucket_versioning(Bucket=STORE, VersioningConfiguration={"Status": "Enabled"})
        yield client


def synthesize(s3: Any, accounts: dict[str, dict[str, str]], key: str = "a1.json") -> str:
    document = {"defaults": {"ec2limit": "3", "notify": "all@example.com"}, "accounts": accounts}
    s3.put_object(Bucket=ASSETS, Key=key, Body=json.dumps(document).encode())
    return key


def run(s3: Any, key: str) -> dict[str, Any]:
    return publish(s3, document_bucket=ASSETS, document_key=key, settings_bucket=STORE)


def stored(s3: Any) -> dict[str, dict[str, str]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=STORE).get("Contents", [])]
    return {k: json.loads(s3.get_object(Bucket=STORE, Key=k)["Body"].read()) for k in keys}


def test_first_run_writes_each_account_and_the_defaults(s3: Any) -> None:
    key = synthesize(s3, {PROD: {"ec2limit": "40"}, STAGING: {"ec2limit": "10"}})
    summary = run(s3, key)
    assert summary["written"] == [
        "accounts/222222222222.json",
        "accounts/333333333333.json",
        "defaults.json",
    ]
    assert stored(s3) == {
        "defaults.json": {"ec2limit": "3", "notify": "all@example.com"},
        f"accounts/{PROD}.json": {"ec2limit": "40"},
        f"accounts/{STAGING}.json": {"ec2limit": "10"},
    }


def test_a_second_run_with_nothing_changed_writes_nothing(s3: Any) -> None:
    key = synthesize(s3, {PROD: {"ec2limit": "40"}})
    run(s3, key)
    versions = s3.list_object_versions(Bucket=STORE)["Versions"]
    summary = run(s3, key)
    assert (summary["written"], summary["deleted"], summary["unchanged"]) == ([], [], 2)
    assert s3.list_object_versions(Bucket=STORE)["Versions"] == versions  # no new version


def test_a_change_rewrites_only_that_account_and_a_removed_account_is_deleted(s3: Any) -> None:
    run(s3, synthesize(s3, {PROD: {"ec2limit": "40"}, STAGING: {"ec2limit": "10"}}))
    summary = run(s3, synthesize(s3, {PROD: {"ec2limit": "41"}}, key="a2.json"))
    assert summary["written"] == [f"accounts/{PROD}.json"]
    assert summary["deleted"] == [f"accounts/{STAGING}.json"]
    assert stored(s3) == {
        "defaults.json": {"ec2limit": "3", "notify": "all@example.com"},
        f"accounts/{PROD}.json": {"ec2limit": "41"},
    }


def test_a_document_someone_deleted_or_edited_is_put_back(s3: Any) -> None:
    key = synthesize(s3, {PROD: {"ec2limit": "40"}})
    run(s3, key)
    s3.delete_object(Bucket=STORE, Key="defaults.json")
    s3.put_object(Bucket=STORE, Key=f"accounts/{PROD}.json", Body=b'{"ec2limit": "400"}')
    assert run(s3, key)["written"] == [f"accounts/{PROD}.json", "defaults.json"]
    assert stored(s3)[f"accounts/{PROD}.json"] == {"ec2limit": "40"}


def test_objects_that_are_not_documents_are_left_alone() -> None:
    desired = render({"defaults": {}, "accounts": {}})
    plan = plan_publish(desired, {"README.txt": '"x"', "accounts/notes.txt": '"y"'})
    assert plan.deletes == []


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"defaults": {}},
        {"defaults": {}, "accounts": {"prod": {}}},
        {"defaults": [], "accounts": {}},
    ],
)
def test_a_document_not_shaped_as_the_stack_writes_it_is_refused(document: Any) -> None:
    with pytest.raises(DocumentError):
        render(document)
