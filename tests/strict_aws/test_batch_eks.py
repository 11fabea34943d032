"""Strict Batch and EKS: jobs run (no Docker) until terminated and wait RUNNABLE on a disabled
environment; compute environment updates honour vCPUs and refuse a lower desiredvCpus; node
group scaling stays ordered and per node group."""

from __future__ import annotations

from typing import Any

from moto import mock_aws

from strict_aws import strict_aws
from tests.batch_account import (
    batch,
    create_ec2_environment,
    create_fargate_environment,
    create_node_group,
    create_queue,
    eks,
    environment,
    job,
    network,
    node_group,
    submit,
)
from tests.strict_aws.ec2_calls import error_of


def test_a_job_runs_until_terminated_and_fails_with_the_reason(strict: Any) -> None:
    net = network()
    create_fargate_environment("serverless", net)
    create_queue("jobs", "serverless")
    job_id = submit("jobs")

    assert job(job_id)["status"] == "RUNNING"  # moto: SUCCEEDED at once (batch_simple)

    batch().terminate_job(jobId=job_id, reason="breaker")

    assert (job(job_id)["status"], job(job_id)["statusReason"]) == ("FAILED", "breaker")


def test_a_job_waits_runnable_on_a_disabled_environment_and_runs_once_enabled(
    strict: Any,
) -> None:
    net = network()
    create_fargate_environment("serverless", net)
    create_queue("jobs", "serverless")
    batch().update_compute_environment(computeEnvironment="serverless", state="DISABLED")
    job_id = submit("jobs")

    assert job(job_id)["status"] == "RUNNABLE"

    batch().update_compute_environment(computeEnvironment="serverless", state="ENABLED")

    assert job(job_id)["status"] == "RUNNING"


def test_an_array_parent_never_runs_and_its_children_are_listed_by_array_id(strict: Any) -> None:
    net = network()
    create_fargate_environment("serverless", net)
    create_queue("jobs", "serverless")
    submit("jobs")  # registers def-jobs; a plain job, RUNNING
    parent = batch().submit_job(
        jobName="sweep", jobQueue="jobs", jobDefinition="def-jobs", arrayProperties={"size": 2}
    )["jobId"]

    assert job(parent)["status"] == "PENDING"  # moto: RUNNING, as a plain job
    in_queue = batch().list_jobs(jobQueue="jobs", jobStatus="RUNNING")["jobSummaryList"]
    assert all(":" not in listed["jobId"] for listed in in_queue)  # moto: children too
    children = batch().list_jobs(arrayJobId=parent, jobStatus="RUNNING")["jobSummaryList"]
    assert sorted(c["jobId"] for c in children) == [f"{parent}:0", f"{parent}:1"]

    for child in children:
        batch().terminate_job(jobId=child["jobId"], reason="breaker")

    assert job(parent)["status"] == "FAILED"  # every child done, one (or more) failed


def test_an_update_sets_minvcpus_and_refuses_a_lower_desiredvcpus(strict: Any) -> None:
    net = network()
    create_ec2_environment("cpu", net, low=2, desired=4, high=16)

    batch().update_compute_environment(computeEnvironment="cpu", computeResources={"minvCpus": 0})
    resources = environment("cpu")["computeResources"]
    assert (resources["minvCpus"], resources["desiredvCpus"]) == (0, 4)  # moto: min stays 2

    code, message = error_of(
        batch().update_compute_environment,
        computeEnvironment="cpu",
        computeResources={"desiredvCpus": 0},
    )
    assert code == "ClientException"
    assert message.startswith("Manually scaling down compute environment is not supported.")

    batch().update_compute_environment(computeEnvironment="cpu", computeResources={"minvCpus": 8})
    resources = environment("cpu")["computeResources"]
    assert (resources["minvCpus"], resources["desiredvCpus"]) == (8, 8)


def test_node_group_scaling_must_stay_ordered(strict: Any) -> None:
    net = network()
    create_node_group("prod", "workers", net, {"minSize": 1, "desiredSize": 2, "maxSize": 3})

    code, message = error_of(
        eks().update_nodegroup_config,
        clusterName="prod",
        nodegroupName="workers",
        scalingConfig={"minSize": 3, "desiredSize": 1},
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Minimum capacity 3 can't be greater than desired size 1",
    )
    code, message = error_of(
        eks().update_nodegroup_config,
        clusterName="prod",
        nodegroupName="workers",
        scalingConfig={"desiredSize": 5},
    )
    assert message == "desiredSize can't be greater than maxSize"
    assert node_group("prod", "workers")["scalingConfig"] == {
        "minSize": 1,
        "desiredSize": 2,
        "maxSize": 3,
    }


def test_node_groups_created_without_scaling_do_not_share_it(strict: Any) -> None:
    net = network()
    create_node_group("prod", "a", net)
    create_node_group("prod", "b", net)

    eks().update_nodegroup_config(
        clusterName="prod", nodegroupName="a", scalingConfig={"minSize": 0, "desiredSize": 0}
    )

    assert node_group("prod", "b")["scalingConfig"]["desiredSize"] == 2  # moto: 0 (shared)


def test_without_the_layer_moto_is_lenient() -> None:
    """The baseline each test above departs from (moto 5.2.6)."""
    with mock_aws(config={"batch": {"use_docker": False}}):
        net = network()
        create_ec2_environment("cpu", net)
        batch().update_compute_environment(
            computeEnvironment="cpu", computeResources={"minvCpus": 0}
        )
        assert environment("cpu")["computeResources"]["minvCpus"] == 2
    with mock_aws(), strict_aws():
        pass  # install and uninstall leave moto's own behaviour (no exception)


def test_a_node_group_takes_tags_by_its_arn(strict: Any) -> None:
    arn = create_node_group("prod", "workers", network())

    eks().tag_resource(resourceArn=arn, tags={"runawaytrain:incident": "i-1", "keep": "x"})
    eks().untag_resource(resourceArn=arn, tagKeys=["runawaytrain:incident"])

    assert node_group("prod", "workers")["tags"] == {"keep": "x"}  # moto: NotFoundException
    assert eks().list_tags_for_resource(resourceArn=arn)["tags"] == {"keep": "x"}


def test_untag_removes_every_key_named(strict: Any) -> None:
    arn = create_node_group("prod", "workers", network())
    eks().tag_resource(resourceArn=arn, tags={"a": "1", "b": "2", "c": "3"})

    eks().untag_resource(resourceArn=arn, tagKeys=["a", "b"])

    assert node_group("prod", "workers")["tags"] == {"c": "3"}  # moto: only "a" removed
