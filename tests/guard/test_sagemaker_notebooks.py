"""SageMaker notebook instances (issue 21): counted beside EC2, stopped at a trip (recorded
first), started again by restore; one still starting at the trip is stopped by the next run
while the incident is open."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from guard import sagemaker_notebooks, services
from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.notify import compose_body
from guard.services import count_services
from guard.settings import Action, Mode, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)


def sagemaker(region: str = REGION) -> Any:
    return boto3.client("sagemaker", region_name=region)


def create_notebook(name: str, region: str = REGION, kind: str = "ml.p3.2xlarge") -> str:
    return str(
        sagemaker(region).create_notebook_instance(
            NotebookInstanceName=name,
            InstanceType=kind,
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/notebooks",
        )["NotebookInstanceArn"]
    )


def status(name: str, region: str = REGION) -> str:
    return str(
        sagemaker(region).describe_notebook_instance(NotebookInstanceName=name)[
            "NotebookInstanceStatus"
        ]
    )


def tags(arn: str, region: str = REGION) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sagemaker(region).list_tags(ResourceArn=arn)["Tags"]}


def launch(count: int) -> list[str]:
    response = boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )
    return [instance["InstanceId"] for instance in response["Instances"]]


def settings(inbox: Any, mode: Mode = Mode.ENFORCE) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode)


def test_a_trip_stops_the_notebooks_and_restore_starts_them(strict, inbox, clients):
    arn = create_notebook("vision")
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services == {"SageMaker notebook instance": {REGION: 1}}
    assert report.services_halted == {"SageMaker notebook instance": [f"{REGION}/vision"]}
    assert status("vision") == "Stopped"  # pending_seconds 0: Stopping ends at once
    assert tags(arn)[INCIDENT_TAG] == report.incident
    body = inbox.messages()[0]["Message"]
    assert f"Stopped 1 SageMaker notebook instance(s): {REGION}/vision" in body
    assert "Kept: its ML storage volume (/home/ec2-user/SageMaker)" in body

    kept = run_restore(settings(inbox), NO_RESTART, clients, ACCOUNT)

    assert kept.restore["services_not_yet"] == [f"{REGION}/vision"]
    assert status("vision") == "Stopped"  # a start bills again: only when asked to restart
    assert tags(arn)[INCIDENT_TAG] == report.incident

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["services_restored"] == [f"{REGION}/vision"]
    assert status("vision") == "InService"
    assert INCIDENT_TAG not in tags(arn)
    assert f"Started again (other services): {REGION}/vision" in compose_body(restored)


def test_a_notebook_still_starting_at_the_trip_is_stopped_by_the_next_run(
    strict, clock, inbox, clients
):
    strict.pending_seconds = 300
    launch(2)
    create_notebook("late")

    first = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert first.services_waiting == {"SageMaker notebook instance": [f"{REGION}/late"]}
    assert status("late") == "Pending"

    clock(301)  # InService now
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert later.services_halted == {"SageMaker notebook instance": [f"{REGION}/late"]}
    assert status("late") in ("Stopping", "Stopped")


def test_dry_run_says_what_it_would_stop_and_stops_nothing(strict, inbox, clients):
    create_notebook("vision")
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {"SageMaker notebook instance": [f"{REGION}/vision"]}
    assert report.services_halted == {}
    assert status("vision") == "InService"


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_before_the_stop_and_a_timeout_between_restores_cleanly(
    strict, inbox, clients
):
    arn = create_notebook("vision")
    launch(2)
    made: list[str] = []
    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.AddTags", lambda **_: made.append("AddTags")
    )

    def timeout(**_: Any) -> None:
        made.append("StopNotebookInstance")
        raise LambdaTimeout

    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.StopNotebookInstance", timeout
    )
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made.index("AddTags") < made.index("StopNotebookInstance")
    assert INCIDENT_TAG in tags(arn) and status("vision") == "InService"

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == []  # nothing was stopped: nothing started
    assert status("vision") == "InService"
    assert INCIDENT_TAG not in tags(arn)


def test_a_stop_aws_refuses_takes_the_record_off_again(strict, inbox, clients):
    """Stopped by its owner between the count and the stop: AWS refuses ours; the incident must
    not claim it, or restore with restart would start what the incident never stopped."""
    arn = create_notebook("vision")
    launch(2)

    def stopped_meanwhile(**_: Any) -> None:
        sagemaker().stop_notebook_instance(NotebookInstanceName="vision")

    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.StopNotebookInstance", stopped_meanwhile
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert any("stopping SageMaker notebook instance vision" in e for e in report.action_errors)
    assert INCIDENT_TAG not in tags(arn)
    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert restored.restore["services_restored"] == []
    assert status("vision") == "Stopped"


def test_a_region_whose_notebooks_cannot_be_read_makes_the_run_degraded(strict, inbox, clients):
    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "List")

    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.ListNotebookInstances", refuse
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.verdict == "degraded"
    assert list(report.service_errors) == [f"SageMaker notebook instance in {REGION}"]
    body = inbox.messages()[0]["Message"]
    assert f"Could NOT count SageMaker notebook instance in {REGION}: ThrottlingException" in body
    assert report.region_errors == {}  # Regions only: the last-run record keeps them as such


def test_a_region_botocore_does_not_list_for_the_service_is_closed_and_not_asked(monkeypatch):
    monkeypatch.setattr(services, "MODULES", (sagemaker_notebooks,))  # the other kinds apart
    asked: list[str] = []

    def client_for(service: str, region: str) -> Any:
        asked.append(region)
        return EmptySageMaker()

    def offered_in(service: str) -> list[str]:  # botocore knows xx-nowhere-1 (EC2 is there)
        return {"sagemaker": ["us-east-1"], "ec2": ["us-east-1", "xx-nowhere-1"]}[service]

    census = count_services(["us-east-1", "xx-nowhere-1"], client_for, 2, offered_in)

    assert set(asked) == {"us-east-1"}  # one client per module (and its extra services)
    assert census.closed["SageMaker notebook instance in xx-nowhere-1"] == (
        "not offered in this region"
    )
    assert "SageMaker notebook instance in us-east-1" not in census.closed
    assert census.errors == {}


def test_a_region_newer_than_botocore_is_asked_not_closed(monkeypatch):
    """An enabled region the runtime's botocore does not know yet: whatever runs there is
    counted, not silently left out."""
    monkeypatch.setattr(services, "MODULES", (sagemaker_notebooks,))
    asked: list[str] = []

    def client_for(service: str, region: str) -> Any:
        asked.append(region)
        return EmptySageMaker()

    def offered_in(service: str) -> list[str]:
        return ["us-east-1"]  # xx-newest-1 is in no list: botocore predates it

    census = count_services(["us-east-1", "xx-newest-1"], client_for, 2, offered_in)

    assert set(asked) == {"us-east-1", "xx-newest-1"}
    assert census.closed == {}


class EmptySageMaker:
    def get_paginator(self, _: str) -> Any:
        return self

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [EmptyPage()]


class EmptyPage(dict[str, Any]):
    """Any list call's page, empty (the other SageMaker kinds ask the same client)."""

    def __missing__(self, _: str) -> list[Any]:
        return []


@pytest.fixture
def clock(strict: Any) -> Any:
    """The layer's clock made virtual; returns `advance(seconds)`."""
    now = [0.0]
    strict.clock = lambda: now[0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def test_a_sagemaker_only_account_trips_on_its_dollar_limit_in_one_run(strict, inbox, clients):
    """No EC2 instance at all: the notebook weighs as the m5.4xlarge it runs on (16 vCPUs) at the
    unpriced rate of 1 USD per vCPU-hour (burn.py): 16 USD/h against a limit of 5. (moto's
    DescribeInstanceTypes describes no GPU type, so GPUs are not shown here.)"""
    create_notebook("big-box", kind="ml.m5.4xlarge")
    limits = WeightedLimits(usd_per_hour=5)

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=limits),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.count == 0
    assert report.tripped, report.reason
    assert (report.burn["vcpus"], report.burn["usd_per_hour"]) == (16, 16.0)
    assert report.services_halted == {"SageMaker notebook instance": [f"{REGION}/big-box"]}
    assert status("big-box") == "Stopped"

    # Restore without an incident id finds it in the open-incident parameter: no EC2 instance,
    # principal or group carries it.
    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.incident == report.incident
    assert restored.restore["services_restored"] == [f"{REGION}/big-box"]


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    """INFO on, as the handler sets it: an `extra` key LogRecord owns raises only then."""
    configure_logging()


def test_a_notebook_halt_leaves_out_is_counted_and_mailed_not_stopped(strict, inbox, clients):
    create_notebook("vision")
    launch(2)
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=frozenset())

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.tripped and report.stopped  # EC2 is halted all the same
    assert status("vision") == "InService"
    assert report.services_kept == {"SageMaker notebook instance": [f"{REGION}/vision"]}
    assert report.services_halted == {}
    body = inbox.messages()[0]["Message"]
    assert "halt: does not name sagemaker-notebooks" in body


def test_a_timeout_after_the_stop_keeps_the_record_and_restore_starts_it(strict, inbox, clients):
    """An older module, the same rule: a read timeout after AWS stopped the notebook keeps the
    record (no ClientError), and restore starts it."""
    arn = create_notebook("vision")
    launch(2)

    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://api.sagemaker.eu-west-1.amazonaws.com")

    clients.client("sagemaker", REGION).meta.events.register(
        "after-call.sagemaker.StopNotebookInstance", timeout
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert tags(arn)[INCIDENT_TAG] == report.incident
    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)
    assert status("vision") in ("Pending", "InService")
    assert INCIDENT_TAG not in tags(arn)
