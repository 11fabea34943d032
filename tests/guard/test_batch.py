"""AWS Batch (issue 21): compute environments disabled at a trip (recorded first) and enabled
again exactly by restore; jobs STARTING or RUNNING terminated only where `halt:` names
batch-jobs; Fargate jobs weigh their vCPUs, EC2 ones the instance the EC2 census counts."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.service_names import resolve_halt
from guard.settings import Action, Mode, Settings, WeightedLimits
from tests.batch_account import (
    ACCOUNT,
    REGION,
    create_ec2_environment,
    create_fargate_environment,
    create_queue,
    environment,
    job,
    network,
    submit,
)
from tests.guard.conftest import AMI, HOME

ENVIRONMENTS = "Batch compute environment"
JOBS = "Batch job"


def restore_with(restart: bool) -> Invocation:
    return Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=restart)


def settings(inbox: Any, mode: Mode = Mode.ENFORCE, halt: tuple[str, ...] = ()) -> Settings:
    chosen = {"halt": resolve_halt(list(halt))} if halt else {}
    return Settings(ec2limit=0, snstopic=inbox.topic_arn, mode=mode, **chosen)


def account() -> dict[str, str]:
    """An EC2 environment (min 2, desired 4: moto runs one c5.xlarge for it) with a job on its
    queue, and a Fargate environment with a 2-vCPU job on its own."""
    net = network()
    create_ec2_environment("cpu", net, low=2, desired=4, high=16)
    create_fargate_environment("serverless", net)
    create_queue("cpu-jobs", "cpu")
    create_queue("fargate-jobs", "serverless")
    return {"ec2-job": submit("cpu-jobs", "render"), "fargate-job": submit("fargate-jobs", "etl")}


def tags(name: str) -> dict[str, str]:
    return dict(environment(name).get("tags", {}))


def test_a_trip_disables_the_environments_and_restore_enables_them_exactly(strict, inbox, clients):
    jobs = account()

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.tripped
    assert report.services_halted == {ENVIRONMENTS: [f"{REGION}/cpu", f"{REGION}/serverless"]}
    cpu = environment("cpu")
    assert (cpu["state"], cpu["computeResources"]["minvCpus"]) == ("DISABLED", 0)
    assert environment("serverless")["state"] == "DISABLED"
    assert tags("cpu")[INCIDENT_TAG] == report.incident
    assert tags("cpu")["runawaytrain:prior-minvcpus"] == "2"
    # Jobs are irreversible: counted and mailed, left running unless halt: names batch-jobs.
    assert report.services_kept == {
        JOBS: sorted(
            f"{REGION}/{n}/{jobs[k]}" for n, k in (("render", "ec2-job"), ("etl", "fargate-job"))
        )
    }
    assert job(jobs["fargate-job"])["status"] == "RUNNING"
    body = inbox.messages()[0]["Message"]
    assert "Stopped 2 Batch compute environment(s)" in body
    assert "halt: does not name batch-jobs" in body

    kept = run_restore(settings(inbox), restore_with(False), clients, ACCOUNT)

    assert sorted(kept.restore["services_not_yet"]) == [f"{REGION}/cpu", f"{REGION}/serverless"]
    assert environment("cpu")["state"] == "DISABLED"

    restored = run_restore(settings(inbox), restore_with(True), clients, ACCOUNT)

    assert sorted(restored.restore["services_restored"]) == [
        f"{REGION}/cpu",
        f"{REGION}/serverless",
    ]
    cpu = environment("cpu")
    assert (cpu["state"], cpu["computeResources"]["minvCpus"]) == ("ENABLED", 2)
    assert environment("serverless")["state"] == "ENABLED"
    assert tags("cpu") == {} and tags("serverless") == {}


def test_jobs_are_terminated_only_where_halt_names_them_and_never_restored(strict, inbox, clients):
    jobs = account()

    report = run_guard(settings(inbox, halt=("all",)), Invocation(), clients, ACCOUNT)

    assert len(report.services_halted[JOBS]) == 2
    for job_id in jobs.values():
        described = job(job_id)
        assert described["status"] == "FAILED"
        assert report.incident in described["statusReason"]
    assert "Terminated (FAILED, reason naming the incident)" in inbox.messages()[0]["Message"]

    restored = run_restore(settings(inbox), restore_with(True), clients, ACCOUNT)

    assert all(job(job_id)["status"] == "FAILED" for job_id in jobs.values())
    assert not any(JOBS in key for key in restored.restore["errors"])


def test_a_job_queued_during_the_incident_waits_and_runs_after_restore(strict, inbox, clients):
    """RUNNABLE jobs are not counted (they burn nothing): the disabled environment holds them."""
    account()
    run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    queued = submit("fargate-jobs", "late")

    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert job(queued)["status"] == "RUNNABLE"
    assert f"{REGION}/late/{queued}" not in later.services_kept.get(JOBS, [])

    run_restore(settings(inbox), restore_with(True), clients, ACCOUNT)

    assert job(queued)["status"] == "RUNNING"


def test_fargate_jobs_weigh_their_vcpus_and_ec2_ones_their_instance(strict, inbox, clients):
    account()  # one c5.xlarge (4 vCPUs) under the EC2 environment, a 2-vCPU Fargate job
    limits = WeightedLimits(vcpus=5)

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=limits),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.count == 1
    assert report.burn["vcpus"] == 6  # 4 (the instance) + 2 (Fargate); the EC2 job adds none
    assert report.tripped, report.reason


def test_dry_run_says_what_it_would_disable_and_changes_nothing(strict, inbox, clients):
    jobs = account()

    report = run_guard(settings(inbox, Mode.DRY_RUN, ("all",)), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services[ENVIRONMENTS] == [f"{REGION}/cpu", f"{REGION}/serverless"]
    assert len(report.would_halt_services[JOBS]) == 2
    assert environment("cpu")["state"] == "ENABLED" and tags("cpu") == {}
    assert job(jobs["fargate-job"])["status"] == "RUNNING"


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_before_the_update_and_a_timeout_between_restores_cleanly(
    strict, inbox, clients
):
    account()
    made: list[str] = []
    events = clients.client("batch", REGION).meta.events
    events.register("before-call.batch.TagResource", lambda **_: made.append("TagResource"))

    def timeout(**_: Any) -> None:
        made.append("UpdateComputeEnvironment")
        raise LambdaTimeout

    events.register("before-call.batch.UpdateComputeEnvironment", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made.index("TagResource") < made.index("UpdateComputeEnvironment")
    assert INCIDENT_TAG in tags("cpu") and environment("cpu")["state"] == "ENABLED"

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), restore_with(False), fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == []  # nothing was disabled
    assert tags("cpu") == {}
    cpu = environment("cpu")
    assert (cpu["state"], cpu["computeResources"]["minvCpus"]) == ("ENABLED", 2)


def test_an_update_aws_refuses_takes_the_record_off_again(strict, inbox, clients):
    account()

    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ClientException", "Message": "being updated"}},
            "UpdateComputeEnvironment",
        )

    clients.client("batch", REGION).meta.events.register(
        "before-call.batch.UpdateComputeEnvironment", refuse
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert ENVIRONMENTS not in report.services_halted
    assert any("disabling Batch compute environment cpu" in e for e in report.action_errors)
    assert tags("cpu") == {} and tags("serverless") == {}


def test_idle_environments_are_counted_disabled_at_a_trip_and_restored_exactly(
    strict, inbox, clients
):
    """Insider review: an idle ENABLED environment (desired 0, a Fargate one with nothing
    queued) would take a job queued after the trip and start capacity. It is present (no
    instances of its own, nothing trips on it), disabled at a trip and enabled again exactly."""
    net = network()
    create_ec2_environment("idle", net, low=0, desired=0)
    create_fargate_environment("empty", net)
    create_queue("nothing", "empty")

    quiet = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert not quiet.tripped
    assert quiet.services == {ENVIRONMENTS: {REGION: 0}}
    assert environment("idle")["state"] == "ENABLED"

    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {ENVIRONMENTS: [f"{REGION}/empty", f"{REGION}/idle"]}
    assert environment("idle")["state"] == environment("empty")["state"] == "DISABLED"
    assert tags("idle")["runawaytrain:prior-minvcpus"] == "0"
    queued = submit("nothing", "after-the-trip")
    assert job(queued)["status"] == "RUNNABLE"  # not placed: its environment is disabled

    run_restore(settings(inbox), restore_with(True), clients, ACCOUNT)

    idle = environment("idle")
    assert (idle["state"], idle["computeResources"]["minvCpus"]) == ("ENABLED", 0)
    assert environment("empty")["state"] == "ENABLED"
    assert tags("idle") == {} and tags("empty") == {}
    assert job(queued)["status"] == "RUNNING"


def submit_array(queue: str, size: int) -> str:
    """An array job of `size` children of 2 vCPUs each on `queue` (after submit() registered
    the queue's job definition)."""
    return str(
        boto3.client("batch", region_name=REGION).submit_job(
            jobName="sweep",
            jobQueue=queue,
            jobDefinition=f"def-{queue}",
            arrayProperties={"size": size},
        )["jobId"]
    )


def test_an_array_jobs_running_children_are_counted_once_and_terminated(strict, inbox, clients):
    """Insider review: an array's children are not in the queue's listing (ListJobs by
    arrayJobId lists them) and its parent never runs: each running child is one Fargate job
    of 2 vCPUs, counted once and terminated by its own id; the parent is neither."""
    jobs = account()
    parent = submit_array("fargate-jobs", 3)
    limits = WeightedLimits(vcpus=100)

    report = run_guard(
        Settings(ec2limit=0, snstopic=inbox.topic_arn, weighted=limits, halt=resolve_halt(["all"])),
        Invocation(),
        clients,
        ACCOUNT,
    )

    children = [f"{parent}:{index}" for index in range(3)]
    assert report.services[JOBS] == {REGION: 4}  # 3 children + the plain Fargate job
    assert report.burn["vcpus"] == 4 + 2 * 4  # the c5.xlarge + 4 Fargate jobs of 2 vCPUs
    halted = report.services_halted[JOBS]
    assert sorted(halted) == sorted(
        [f"{REGION}/sweep/{child}" for child in children]
        + [f"{REGION}/etl/{jobs['fargate-job']}", f"{REGION}/render/{jobs['ec2-job']}"]
    )
    for child in children:
        described = job(child)
        assert described["status"] == "FAILED" and report.incident in described["statusReason"]


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()
