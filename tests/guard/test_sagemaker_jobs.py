"""SageMaker training, processing, transform and tuning jobs (issue 21): counted while
InProgress, stopped at a trip only where `halt:` names sagemaker-jobs (irreversible: restore
starts nothing), tagged with the incident first."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.logs import configure_logging
from guard.service_names import resolve_halt
from guard.settings import Action, Settings
from tests.guard.conftest import AMI, HOME
from tests.sagemaker_resources import (
    create_endpoint_config,
    create_processing_job,
    create_training_job,
    create_transform_job,
    create_tuning_job,
    launch_for_tuning_job,
    sagemaker,
    tags_of,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "SageMaker job"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
ALL_JOBS = [
    f"{REGION}/hyper-parameter-tuning-job/search",
    f"{REGION}/processing-job/features",
    f"{REGION}/training-job/resnet",
    f"{REGION}/training-job/search-001",
    f"{REGION}/transform-job/scores",
]


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def jobs() -> dict[str, str]:
    """One of each kind, and a trial the tuning job launched; their ARNs by name."""
    create_endpoint_config(REGION, "unused", [("ml.m5.large", 1)])  # creates the model
    return {
        "resnet": create_training_job(REGION, "resnet", "ml.p3.2xlarge", 2),
        "features": create_processing_job(REGION, "features", "ml.m5.xlarge"),
        "scores": create_transform_job(REGION, "scores", "ml.m5.xlarge"),
        "search": create_tuning_job(REGION, "search", "ml.p3.2xlarge"),
        "search-001": launch_for_tuning_job(REGION, "search", "search-001", "ml.p3.2xlarge"),
    }


def status(name: str) -> str:
    client = sagemaker(REGION)
    for describe, key, field in (
        (client.describe_training_job, "TrainingJobName", "TrainingJobStatus"),
        (client.describe_processing_job, "ProcessingJobName", "ProcessingJobStatus"),
        (client.describe_transform_job, "TransformJobName", "TransformJobStatus"),
    ):
        try:
            return str(describe(**{key: name})[field])
        except client.exceptions.ClientError:
            continue
    described = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    return str(described["HyperParameterTuningJobStatus"])


def test_jobs_are_counted_and_mailed_but_not_stopped_unless_halt_names_them(strict, inbox, clients):
    jobs()
    launch(2)

    report = run_guard(
        Settings(ec2limit=1, snstopic=inbox.topic_arn), Invocation(), clients, ACCOUNT
    )

    # resnet 2 + trial 1 + processing 1 + transform 1; the tuning job holds none of its own.
    assert report.services == {KIND: {REGION: 5}}
    assert report.services_kept == {KIND: ALL_JOBS}
    assert report.services_halted == {}
    assert {status(name) for name in ("resnet", "features", "scores", "search")} == {"InProgress"}
    assert "halt: does not name sagemaker-jobs" in inbox.messages()[0]["Message"]


def test_halt_naming_jobs_tags_and_stops_them_and_restore_starts_nothing(strict, inbox, clients):
    arns = jobs()
    launch(2)
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=resolve_halt(["all"]))

    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.services_halted == {KIND: ALL_JOBS}
    assert report.action_errors == []  # the trial is stopped by its tuning job, not twice
    assert {name: status(name) for name in arns} == dict.fromkeys(arns, "Stopped")
    for name in ("resnet", "features", "scores", "search"):
        assert tags_of(REGION, arns[name])[INCIDENT_TAG] == report.incident
    body = inbox.messages()[0]["Message"]
    assert "Batch transform: no output is stored in S3" in body

    restored = run_restore(chosen, RESTORE, clients, ACCOUNT)

    assert restored.restore["services_restored"] == []
    assert restored.restore["errors"] == {}
    assert status("resnet") == "Stopped"


def test_a_stop_aws_refuses_takes_the_tag_off_again(strict, inbox, clients):
    arn = create_training_job(REGION, "resnet", "ml.p3.2xlarge")
    launch(2)

    def ended_meanwhile(**_: Any) -> None:
        sagemaker(REGION).stop_training_job(TrainingJobName="resnet")

    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.StopTrainingJob", ended_meanwhile
    )
    chosen = Settings(ec2limit=1, snstopic=inbox.topic_arn, halt=resolve_halt(["sagemaker-jobs"]))
    report = run_guard(chosen, Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert any("stopping SageMaker job training-job/resnet" in e for e in report.action_errors)
    assert INCIDENT_TAG not in tags_of(REGION, arn)


def test_a_trial_its_tuning_job_stopped_first_is_halted_not_an_error(strict):
    """The halt stops every item at once: the tuning job's stop may reach a trial before the
    trial's own stop, which AWS then refuses (it is Stopping)."""
    from guard import sagemaker_jobs

    arns = jobs()
    client = sagemaker(REGION)
    counted = [job for job in sagemaker_jobs.count(client, REGION) if "search" in job.name]

    outcome = sagemaker_jobs.halt(client, counted, "inc-1")  # the tuning job first

    assert outcome.errors == []
    assert sorted(job.name for job in outcome.halted) == [
        "hyper-parameter-tuning-job/search",
        "training-job/search-001",
    ]
    assert status("search-001") == "Stopped"
    assert tags_of(REGION, arns["search-001"])[INCIDENT_TAG] == "inc-1"
