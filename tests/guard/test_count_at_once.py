"""The counts that ask about each item (a describe per endpoint, node group, job, a listing per
Batch queue...) ask at once (parallel.map_items) and count what asking one after another
counts, in the same order; the census classifies a failing item's region as before."""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bench import service_seeds
from guard import ecs_services, services
from guard.census import SCP_DENY_TEXT
from tests.batch_account import create_fargate_environment, create_queue, network, submit

REGION = "eu-west-1"
WAIT_S = 30  # generous: the machine running the tests may be loaded
MODULES = {module.NAME: module for module in services.MODULES}


class Together:
    """A botocore hook: the first call waits until a second one of the same operation is in
    flight at once, and fails the call if none comes (the count asked one after another)."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()
        self.second = threading.Event()

    def __call__(self, **_: Any) -> None:
        with self.lock:
            self.calls += 1
            calls = self.calls
        if calls == 1 and not self.second.wait(WAIT_S):
            raise AssertionError("the count asked one item after another")
        if calls == 2:
            self.second.set()


def ecs_tasks_in_two_clusters(region: str) -> None:
    service_seeds.ecs_tasks(region, 2)  # in the cluster "prod"
    ecs = boto3.client("ecs", region_name=region)
    ecs.create_cluster(clusterName="second")
    [definition] = ecs.list_task_definitions()["taskDefinitionArns"]
    net = service_seeds._network(region)
    ecs.run_task(
        cluster="second",
        taskDefinition=definition,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [net["subnet"]], "securityGroups": [net["group"]]}
        },
    )


# `halt:` name -> (how to make a few, the boto3 service and the operation asked per item)
CASES = {
    "batch-jobs": (lambda r: service_seeds.batch_environments(r, 2), "batch", "ListJobs"),
    "eks-nodegroups": (lambda r: service_seeds.node_groups(r, 2), "eks", "DescribeNodegroup"),
    "ecs-services": (lambda r: service_seeds.ecs_services(r, 11), "ecs", "DescribeServices"),
    "ecs-tasks": (ecs_tasks_in_two_clusters, "ecs", "ListTasks"),
    "sagemaker-endpoints": (
        lambda r: service_seeds.endpoints(r, 2),
        "sagemaker",
        "DescribeEndpoint",
    ),
    "sagemaker-jobs": (lambda r: service_seeds.jobs(r, 6), "sagemaker", "DescribeTrainingJob"),
    "sagemaker-clusters": (
        lambda r: service_seeds.hyperpod_clusters(r, 2),
        "sagemaker",
        "DescribeCluster",
    ),
}


def one_after_another(work: Any, items: Any, workers: int = 0) -> list[Any]:
    return [work(item) for item in items]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_count_asks_its_items_at_once_and_counts_as_one_after_another(
    strict, clients, monkeypatch, name
):
    seed, service, operation = CASES[name]
    seed(REGION)
    module: ModuleType = MODULES[name]
    together = Together()
    event = f"before-call.{service}.{operation}"
    clients.client(service, REGION).meta.events.register(event, together)

    at_once = module.count(services.client_of(module, REGION, clients.client), REGION)

    clients.client(service, REGION).meta.events.unregister(event, together)
    for asking in {module, ecs_services}:  # ecs_services: TaskSizes, for ECS tasks too
        monkeypatch.setattr(asking, "map_items", one_after_another)
    in_turn = module.count(services.client_of(module, REGION, clients.client), REGION)
    assert together.calls >= 2
    assert at_once == in_turn and len(at_once) >= 2


def test_the_pending_jobs_of_every_batch_queue_are_described_together_100_a_call(strict, clients):
    """An array job's parent is PENDING (its children run): the PENDING jobs of all queues are
    described together, 100 a call, not a call (or more) per queue."""
    net = network()
    create_fargate_environment("serverless", net)
    parents: list[str] = []
    for queue, arrays in (("one", 1), ("two", 1), ("three", 99)):
        create_queue(queue, "serverless")
        submit(queue)  # registers the queue's job definition; one plain running job
        batch = boto3.client("batch", region_name=REGION)
        parents += [
            batch.submit_job(
                jobName="sweep",
                jobQueue=queue,
                jobDefinition=f"def-{queue}",
                arrayProperties={"size": 2},
            )["jobId"]
            for _ in range(arrays)
        ]
    asked: list[list[str]] = []
    client = clients.client("batch", REGION)

    def record(params: dict[str, Any], **_: Any) -> None:
        asked.append(list(params["jobs"]))

    client.meta.events.register("before-parameter-build.batch.DescribeJobs", record)
    counted = MODULES["batch-jobs"].count(client, REGION)

    assert len(counted) == 3 + 101 * 2  # the plain jobs and every array's 2 running children
    assert all(len(jobs) <= 100 for jobs in asked)
    with_parents = [jobs for jobs in asked if set(jobs) & set(parents)]
    assert len(with_parents) == 2  # 101 parents: 100, then 1
    assert sorted(job for jobs in with_parents for job in jobs) == sorted(parents)


def refuse(names: dict[str, tuple[str, str]], first_waits_for: str | None = None) -> Any:
    """A hook failing DescribeEndpoint of the endpoints named, each with (code, message);
    `first_waits_for`: the endpoint whose failure the first refused one waits for."""
    failed = threading.Event()

    def hook(params: dict[str, Any], **_: Any) -> None:
        name = params.get("EndpointName")
        if name not in names:
            return
        if first_waits_for and name != first_waits_for:
            failed.wait(WAIT_S)
        code, message = names[name]
        try:
            raise ClientError({"Error": {"Code": code, "Message": message}}, "DescribeEndpoint")
        finally:
            if name == first_waits_for:
                failed.set()

    return hook


SCP = ("AccessDeniedException", f"not authorized: with an {SCP_DENY_TEXT}")
DOWN = ("ServiceUnavailable", "try again later")


@pytest.mark.parametrize(
    ("refused", "waits_for", "closed"),
    [
        ({"endpoint-3": SCP}, None, True),
        ({"endpoint-3": DOWN}, None, False),
        # The loop met endpoint-1 first: its SCP refusal decides, though endpoint-4 failed first.
        ({"endpoint-1": SCP, "endpoint-4": DOWN}, "endpoint-4", True),
        ({"endpoint-1": DOWN, "endpoint-4": SCP}, "endpoint-4", False),
    ],
)
def test_one_failing_describe_among_many_classifies_the_region_as_a_loop_would(
    strict, clients, refused, waits_for, closed
):
    service_seeds.endpoints(REGION, 6)
    clients.client("sagemaker", REGION).meta.events.register(
        "before-parameter-build.sagemaker.DescribeEndpoint", refuse(refused, waits_for)
    )

    census = services.count_services([REGION], clients.client, 8, clients.regions_offering)

    where = f"SageMaker endpoint in {REGION}"
    assert (where in census.closed, where in census.errors) == (closed, not closed)
    assert not [r for r in census.running if r.kind == "SageMaker endpoint"]
