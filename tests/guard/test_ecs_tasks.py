"""Standalone ECS tasks (issue 21): counted beside EC2 by their Fargate vCPUs, stopped at a
trip only where `halt:` names them (irreversible), never restarted; a service's tasks are the
service's."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from guard.handler import run_guard, run_restore
from guard.invocation import Invocation
from guard.logs import configure_logging
from guard.service_names import resolve_halt
from guard.settings import Action, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME
from tests.guard.ecs_fixtures import create_fargate_service, run_fargate_task, service, task_status

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "ECS task"


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def settings(inbox: Any, halt: list[str]) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=resolve_halt(halt))


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def test_by_default_a_task_is_counted_and_left_running(strict, inbox, clients):
    arn = run_fargate_task(REGION)
    launch(2)

    report = run_guard(settings(inbox, ["reversible"]), Invocation(), clients, ACCOUNT)

    assert report.services == {KIND: {REGION: 1}}
    assert report.services_kept == {KIND: [f"{REGION}/prod/{arn.rsplit('/', 1)[1]}"]}
    assert task_status(REGION, arn) == ("RUNNING", "")
    assert "halt: does not name ecs-tasks" in inbox.messages()[0]["Message"]


@pytest.mark.parametrize("halt", [["all"], ["ecs-tasks"]])
def test_a_task_is_stopped_when_halt_names_it_and_restore_leaves_it(strict, inbox, clients, halt):
    arn = run_fargate_task(REGION)
    launch(2)

    report = run_guard(settings(inbox, halt), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {KIND: [f"{REGION}/prod/{arn.rsplit('/', 1)[1]}"]}
    status, reason = task_status(REGION, arn)
    assert status == "STOPPED" and report.incident in reason
    restored = run_restore(
        settings(inbox, halt), Invocation(Action.RESTORE, restart_instances=True), clients, ACCOUNT
    )
    assert restored.restore["services_restored"] == []
    assert task_status(REGION, arn)[0] == "STOPPED"


def deployment_of(region: str, name: str) -> str:
    return str(service(region, name)["deployments"][0]["id"])


def test_a_service_task_is_not_standalone_and_fargate_weighs_its_vcpus(strict, inbox, clients):
    """A service's task (its deployment id in startedBy, group service:<name>, and held by the
    service) is the service module's; the standalone one weighs its task's 2 vCPUs (the
    weighed limits trip at 1)."""
    create_fargate_service(REGION, "web", desired=1)
    run_fargate_task(REGION, startedBy=deployment_of(REGION, "web"), group="service:web")
    arn = run_fargate_task(REGION)
    chosen = Settings(
        ec2limit=10,
        snstopic=inbox.topic_arn,
        halt=resolve_halt(["ecs-tasks"]),
        weighted=WeightedLimits(vcpus=1),
    )

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.services[KIND] == {REGION: 1}
    assert report.services_halted[KIND] == [f"{REGION}/prod/{arn.rsplit('/', 1)[1]}"]


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param({"startedBy": "ecs-svc/1234567890", "group": "service:web"}, id="no-service"),
        pytest.param({"startedBy": "ecs-svc/1234567890", "group": "service:api"}, id="not-its-id"),
        pytest.param({"startedBy": "DEPLOYMENT", "group": "service:api"}, id="beyond-its-count"),
        pytest.param({"startedBy": "DEPLOYMENT"}, id="no-group"),
    ],
)
def test_a_task_dressed_as_a_services_is_standalone_and_stopped(strict, inbox, clients, forged):
    """Insider review: RunTask takes any group and startedBy. A task naming a service that does
    not exist, or one that exists but did not start it, or beyond the one task the service
    holds, is counted and stopped as a standalone task (it escaped both halts)."""
    create_fargate_service(REGION, "api", desired=1)
    deployment = deployment_of(REGION, "api")
    claimants = []
    if forged["startedBy"] == "DEPLOYMENT":
        forged = {**forged, "startedBy": deployment}
        # the service's own task: the service holds one of the two, either
        claimants.append(run_fargate_task(REGION, startedBy=deployment, group="service:api"))
    claimants.append(run_fargate_task(REGION, **forged))
    launch(2)

    report = run_guard(settings(inbox, ["all"]), Invocation(), clients, ACCOUNT)

    assert report.services[KIND] == {REGION: 1}
    (halted,) = report.services_halted[KIND]
    (arn,) = [arn for arn in claimants if halted.endswith(arn.rsplit("/", 1)[1])]
    status, reason = task_status(REGION, arn)
    assert status == "STOPPED" and report.incident in reason
