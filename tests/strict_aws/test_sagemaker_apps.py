"""Strict SageMaker Studio apps (moto has none): Pending, then InService; DeleteApp makes them
Deleting, then Deleted (still listed); refusals; ListApps filters and pages; tags on app ARNs."""

from __future__ import annotations

from typing import Any

import boto3

from strict_aws import StrictAWS
from tests.strict_aws.conftest import FakeClock
from tests.strict_aws.ec2_calls import REGION, error_of


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def domain() -> str:
    arn = sagemaker().create_domain(
        DomainName="research",
        AuthMode="IAM",
        DefaultUserSettings={"ExecutionRole": "arn:aws:iam::123456789012:role/studio"},
        SubnetIds=["subnet-1"],
        VpcId="vpc-1",
    )["DomainArn"]
    return str(arn.rsplit("/", 1)[1])


def test_an_app_is_pending_then_in_service_then_deleting_then_deleted(
    strict: StrictAWS, clock: FakeClock
) -> None:
    studio = domain()
    key = {"DomainId": studio, "SpaceName": "team", "AppType": "JupyterLab", "AppName": "default"}
    arn = sagemaker().create_app(**key, ResourceSpec={"InstanceType": "ml.g5.xlarge"})["AppArn"]

    assert arn.endswith(f":app/{studio}/team/jupyterlab/default")
    assert sagemaker().describe_app(**key)["Status"] == "Pending"
    assert error_of(sagemaker().delete_app, **key)[0] == "ResourceInUse"
    assert error_of(sagemaker().create_app, **key)[0] == "ResourceInUse"
    clock.now += 30
    assert sagemaker().describe_app(**key)["Status"] == "InService"

    sagemaker().add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "1"}])
    sagemaker().add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "2"}])
    assert sagemaker().list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "2"}]

    sagemaker().delete_app(**key)
    assert sagemaker().describe_app(**key)["Status"] == "Deleting"
    clock.now += 30
    listed = sagemaker().list_apps(DomainIdEquals=studio)["Apps"]
    assert [(a["AppName"], a["Status"]) for a in listed] == [("default", "Deleted")]
    assert error_of(sagemaker().delete_app, **key)[0] == "ResourceNotFound"


def test_list_apps_filters_and_pages_and_an_unknown_domain_is_refused(
    strict: StrictAWS, clock: FakeClock
) -> None:
    studio = domain()
    for owner in ("ana", "bo", "cy"):
        sagemaker().create_app(
            DomainId=studio, UserProfileName=owner, AppType="JupyterServer", AppName="default"
        )
    clock.now += 30

    pages = sagemaker().get_paginator("list_apps").paginate(PaginationConfig={"PageSize": 2})
    apps = [app for page in pages for app in page["Apps"]]
    assert [(a["UserProfileName"], a["ResourceSpec"]["InstanceType"]) for a in apps] == [
        ("ana", "system"),
        ("bo", "system"),
        ("cy", "system"),
    ]
    bo = sagemaker().list_apps(UserProfileNameEquals="bo")["Apps"]
    assert [a["UserProfileName"] for a in bo] == ["bo"]
    assert (
        error_of(
            sagemaker().create_app,
            DomainId="d-none",
            SpaceName="team",
            AppType="JupyterLab",
            AppName="default",
        )[0]
        == "ResourceNotFound"
    )
