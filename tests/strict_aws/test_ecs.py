"""Strict ECS and its Application Auto Scaling: services run (and drain) their tasks over time,
tasks run until stopped and report their size, old service ARNs cannot be tagged, batches are
bounded, and registering a scalable target moves the desired count into its bounds."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from strict_aws import StrictAWS
from tests.guard.ecs_fixtures import (
    CLUSTER,
    aas,
    create_fargate_service,
    ecs,
    run_fargate_task,
    service,
    task_status,
)
from tests.strict_aws.conftest import FakeClock

REGION = "eu-west-1"


def counts(name: str) -> tuple[int, int, int]:
    described = service(REGION, name)
    return described["desiredCount"], described["runningCount"], described["pendingCount"]


def test_a_service_runs_its_tasks_and_drains_them_over_time(
    strict: StrictAWS, clock: FakeClock
) -> None:
    create_fargate_service(REGION, "web", desired=3)
    assert counts("web") == (3, 0, 3)
    clock.now += 30
    assert counts("web") == (3, 3, 0)

    ecs(REGION).update_service(cluster=CLUSTER, service="web", desiredCount=0)
    assert counts("web") == (0, 3, 0)  # draining
    clock.now += 30
    assert counts("web") == (0, 0, 0)


def test_a_service_with_a_short_arn_cannot_be_tagged(strict: StrictAWS) -> None:
    ecs(REGION).put_account_setting(name="serviceLongArnFormat", value="disabled")
    arn = create_fargate_service(REGION, "legacy", desired=1)
    ecs(REGION).put_account_setting(name="serviceLongArnFormat", value="enabled")

    assert arn.endswith(":service/legacy")
    assert service(REGION, "legacy")["serviceArn"] == arn  # fixed when it was created
    with pytest.raises(ClientError) as refused:
        ecs(REGION).tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "b"}])
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert refused.value.response["Error"]["Message"] == (
        "Long arn format must be used for tagging operations"
    )
    long_arn = create_fargate_service(REGION, "web", desired=1)
    ecs(REGION).tag_resource(resourceArn=long_arn, tags=[{"key": "a", "value": "b"}])


def test_a_task_runs_until_stopped_and_reports_its_size(strict: StrictAWS) -> None:
    arn = run_fargate_task(REGION)
    for _ in range(5):  # moto moves a described task one step towards STOPPED each time
        assert task_status(REGION, arn) == ("RUNNING", "")
    (task,) = ecs(REGION).describe_tasks(cluster=CLUSTER, tasks=[arn])["tasks"]
    assert (task["cpu"], task["memory"]) == ("2048", "4096")

    ecs(REGION).stop_task(cluster=CLUSTER, task=arn, reason="enough")
    assert task_status(REGION, arn) == ("STOPPED", "enough")


def test_describe_services_takes_at_most_ten(strict: StrictAWS) -> None:
    create_fargate_service(REGION, "web", desired=1)
    with pytest.raises(ClientError) as refused:
        ecs(REGION).describe_services(cluster=CLUSTER, services=["web"] * 11)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


def test_registering_a_scalable_target_moves_the_count_into_its_bounds(
    strict: StrictAWS, clock: FakeClock
) -> None:
    """Why a halt suspends scaling before it sets 0, and restore sets the count before it
    resumes: the register call itself would otherwise raise the count to MinCapacity."""
    create_fargate_service(REGION, "web", desired=3, scaling=(2, 6))
    ecs(REGION).update_service(cluster=CLUSTER, service="web", desiredCount=0)

    aas(REGION).register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{CLUSTER}/web",
        ScalableDimension="ecs:service:DesiredCount",
        SuspendedState={"DynamicScalingInSuspended": True},
    )

    assert counts("web")[0] == 2
    aas(REGION).register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=f"service/{CLUSTER}/web",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=0,
        MaxCapacity=1,
    )
    assert counts("web")[0] == 1
