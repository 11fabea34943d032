"""SageMaker Studio apps (issue 21): counted on their ML instance (never the free `system` one),
deleted at a trip only where halt: names sagemaker-apps (recorded first), never restored."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.service_names import REVERSIBLE, resolve_halt
from guard.settings import Action, Mode, Settings
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "SageMaker Studio app"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def domain() -> str:
    return str(
        sagemaker()
        .create_domain(
            DomainName="research",
            AuthMode="IAM",
            DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/studio"},
            SubnetIds=["subnet-1"],
            VpcId="vpc-1",
        )["DomainArn"]
        .rsplit("/", 1)[1]
    )


def create_app(domain_id: str, app_type: str, name: str, instance_type: str, **owner: str) -> str:
    owner = owner or {"SpaceName": "team"}
    return str(
        sagemaker().create_app(
            DomainId=domain_id,
            AppType=app_type,
            AppName=name,
            ResourceSpec={"InstanceType": instance_type},
            **owner,
        )["AppArn"]
    )


def status(domain_id: str, app_type: str, name: str, **owner: str) -> str:
    owner = owner or {"SpaceName": "team"}
    app = sagemaker().describe_app(DomainId=domain_id, AppType=app_type, AppName=name, **owner)
    return str(app["Status"])


def tags(arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sagemaker().list_tags(ResourceArn=arn)["Tags"]}


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def settings(inbox: Any, mode: Mode = Mode.ENFORCE) -> Settings:
    """halt: names sagemaker-apps (a delete ends the kernels for good: not in the default)."""
    chosen = resolve_halt([REVERSIBLE, "sagemaker-apps"])
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode, halt=chosen)


@pytest.fixture
def studio(strict: Any) -> str:
    return domain()


def test_a_trip_deletes_billed_apps_records_them_and_restore_gives_nothing_back(
    studio, inbox, clients
):
    lab = create_app(studio, "JupyterLab", "default", "ml.g5.xlarge")
    create_app(studio, "KernelGateway", "datascience", "ml.m5.large", UserProfileName="ana")
    create_app(studio, "JupyterServer", "default", "system", UserProfileName="ana")
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert sorted(report.services_halted[KIND]) == [
        f"{REGION}/{studio}/space:team/JupyterLab/default",
        f"{REGION}/{studio}/user:ana/KernelGateway/datascience",
    ]
    assert status(studio, "JupyterLab", "default") in ("Deleting", "Deleted")
    assert status(studio, "JupyterServer", "default", UserProfileName="ana") == "InService"
    assert tags(lab) == {INCIDENT_TAG: report.incident}
    assert "/home/sagemaker-user" in inbox.messages()[0]["Message"]

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["services_restored"] == []
    assert status(studio, "JupyterLab", "default") == "Deleted"


def test_by_default_a_trip_keeps_apps_and_says_what_they_burn(studio, inbox, clients):
    create_app(studio, "CodeEditor", "default", "ml.t3.large")
    launch(2)

    report = run_guard(
        Settings(ec2limit=1, snstopic=inbox.topic_arn), Invocation(), clients, ACCOUNT
    )

    assert report.services_kept == {KIND: [f"{REGION}/{studio}/space:team/CodeEditor/default"]}
    assert status(studio, "CodeEditor", "default") == "InService"
    assert "halt: does not name sagemaker-apps" in inbox.messages()[0]["Message"]


def test_dry_run_deletes_nothing(studio, inbox, clients):
    lab = create_app(studio, "JupyterLab", "default", "ml.g5.xlarge")
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {
        KIND: [f"{REGION}/{studio}/space:team/JupyterLab/default"]
    }
    assert status(studio, "JupyterLab", "default") == "InService"
    assert tags(lab) == {}


def test_a_pending_app_waits_for_the_next_run(strict, inbox, clients):
    now = [0.0]
    strict.clock = lambda: now[0]
    strict.pending_seconds = 300
    studio = domain()
    create_app(studio, "JupyterLab", "default", "ml.g5.xlarge")
    launch(2)
    name = f"{REGION}/{studio}/space:team/JupyterLab/default"

    first = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert KIND not in first.services_halted
    assert first.services_waiting == {KIND: [name]}
    assert first.action_errors == []
    assert status(studio, "JupyterLab", "default") == "Pending"

    now[0] += 301  # InService now
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert later.services_halted == {KIND: [name]}
    assert status(studio, "JupyterLab", "default") == "Deleting"


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on."""


def test_the_record_goes_on_before_the_delete(studio, inbox, clients):
    lab = create_app(studio, "JupyterLab", "default", "ml.g5.xlarge")
    launch(2)
    made: list[str] = []
    client = clients.client("sagemaker", REGION)
    client.meta.events.register("before-call.sagemaker.AddTags", lambda **_: made.append("Tag"))

    def timeout(**_: Any) -> None:
        made.append("Delete")
        raise LambdaTimeout

    client.meta.events.register("before-call.sagemaker.DeleteApp", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made == ["Tag", "Delete"]
    assert tags(lab)[INCIDENT_TAG]
    assert status(studio, "JupyterLab", "default") == "InService"


def test_a_delete_aws_refuses_takes_the_record_off_again(studio, inbox, clients):
    lab = create_app(studio, "JupyterLab", "default", "ml.g5.xlarge")
    launch(2)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ResourceInUse", "Message": "busy"}}, "DeleteApp")

    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.DeleteApp", refuse
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert KIND not in report.services_halted
    name = f"{studio}/space:team/JupyterLab/default"
    assert f"{REGION}: {KIND} {name}: deleting: ResourceInUse: busy" in report.action_errors
    assert tags(lab) == {}


def test_a_timeout_after_the_delete_keeps_the_record(studio, inbox, clients):
    """A read timeout after AWS began deleting the app: the record stays (no ClientError)."""
    lab = create_app(studio, "JupyterLab", "default", "ml.g5.xlarge")
    launch(2)

    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://api.sagemaker.eu-west-1.amazonaws.com")

    clients.client("sagemaker", REGION).meta.events.register(
        "after-call.sagemaker.DeleteApp", timeout
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert any("deleting: ReadTimeoutError" in e for e in report.action_errors)
    assert tags(lab)[INCIDENT_TAG] == report.incident
