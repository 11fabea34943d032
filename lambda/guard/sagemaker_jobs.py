"""SageMaker training, processing, batch transform and hyper-parameter tuning jobs: counted while
InProgress, stopped at a trip only where accounts.yaml's `halt:` names sagemaker-jobs (a stopped
job is never resumed: restore has nothing to give back).

Counted: each InProgress job's instances, from its Describe* (ResourceConfig of a training job
(or its InstanceGroups), ProcessingResources.ClusterConfig, TransformResources). A tuning job runs
its trials as training jobs, listed by ListTrainingJobs with a TuningJobArn (API Reference,
DescribeTrainingJob), so they are counted there; the tuning job itself is counted with no
instances (count 0), to be stopped: StopHyperParameterTuningJob "Stops a running hyperparameter
tuning job and all running training jobs that the tuning job launched" (API Reference). A
training job its tuning job stopped meanwhile (the halt stops every item at once) is halted.

ListTrainingJobs (and the other lists) filter by status after they read a page ("the MaxResults
number of training jobs are first retrieved ignoring the StatusEquals parameter", API Reference,
ListTrainingJobs): every page is read, some may be empty.

What a stop loses (the mail says it, STOP_KEEPS): StopTrainingJob sends the algorithm SIGTERM
and waits 120 seconds, which "Algorithms might use ... to save the model artifacts" (API
Reference, StopTrainingJob): what the algorithm does not checkpoint is lost. "When you stop a
batch transform job before it is completed, Amazon SageMaker doesn't store the job's output in
Amazon S3" (API Reference, StopTransformJob). A stopped tuning job keeps its finished trials'
model artifacts in S3 (API Reference, StopHyperParameterTuningJob). Jobs bill until Stopped.

Record, then change: each job is tagged with the incident before its stop (the mail and the
tags say what the incident ended); a refused stop (the job ended meanwhile) takes the tag off.

IAM: sagemaker:ListTrainingJobs, ListProcessingJobs, ListTransformJobs,
ListHyperParameterTuningJobs (no resource-level permissions); Describe*Job and Stop*Job on their
job ARNs; AddTags / DeleteTags (runawaytrain:* keys) on the job ARNs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG
from guard.ledger import Record
from guard.logs import get_logger
from guard.parallel import map_items
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("sagemaker_jobs")

SERVICE = "sagemaker"
KIND = "SageMaker job"
NAME = "sagemaker-jobs"
RUNNING = "InProgress"
PAGE_SIZE = 100  # List*Jobs MaxResults upper bound (API Reference)
STOP_KEEPS = (
    "A stopped job is not resumed and restore does not start it again. Training: SIGTERM, then "
    "120 seconds to save model artifacts; what the algorithm does not checkpoint is lost. "
    "Batch transform: no output is stored in S3. Tuning: its running trials are stopped, "
    "finished trials keep their artifacts."
)


@dataclass(frozen=True)
class JobType:
    prefix: str  # the ARN's resource type, and the Running name's "type/" part
    list_call: str
    summaries: str  # the list's key
    name_key: str  # the job name's key in a summary and in the Describe/Stop call
    describe: str
    stop: str
    instances: Callable[[dict[str, Any]], list[tuple[str, int]]]  # described -> (type, count)


def training_instances(described: dict[str, Any]) -> list[tuple[str, int]]:
    config = described.get("ResourceConfig", {})
    if config.get("InstanceGroups"):  # heterogeneous clusters
        return [(g["InstanceType"], g["InstanceCount"]) for g in config["InstanceGroups"]]
    return [(config.get("InstanceType", ""), int(config.get("InstanceCount", 1)))]


def processing_instances(described: dict[str, Any]) -> list[tuple[str, int]]:
    cluster = described.get("ProcessingResources", {}).get("ClusterConfig", {})
    return [(cluster.get("InstanceType", ""), int(cluster.get("InstanceCount", 1)))]


def transform_instances(described: dict[str, Any]) -> list[tuple[str, int]]:
    resources = described.get("TransformResources", {})
    return [(resources.get("InstanceType", ""), int(resources.get("InstanceCount", 1)))]


def tuning_instances(described: dict[str, Any]) -> list[tuple[str, int]]:
    """None of its own: its trials are counted as training jobs."""
    definition = described.get("TrainingJobDefinition") or {}
    return [(definition.get("ResourceConfig", {}).get("InstanceType", ""), 0)]


TUNING = "hyper-parameter-tuning-job"
JOB_TYPES = (
    # Tuning jobs first: halt stops them before the training jobs they launched.
    JobType(
        TUNING,
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobName",
        "describe_hyper_parameter_tuning_job",
        "stop_hyper_parameter_tuning_job",
        tuning_instances,
    ),
    JobType(
        "training-job",
        "list_training_jobs",
        "TrainingJobSummaries",
        "TrainingJobName",
        "describe_training_job",
        "stop_training_job",
        training_instances,
    ),
    JobType(
        "processing-job",
        "list_processing_jobs",
        "ProcessingJobSummaries",
        "ProcessingJobName",
        "describe_processing_job",
        "stop_processing_job",
        processing_instances,
    ),
    JobType(
        "transform-job",
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobName",
        "describe_transform_job",
        "stop_transform_job",
        transform_instances,
    ),
)
TYPE_OF = {job_type.prefix: job_type for job_type in JOB_TYPES}


def count(sagemaker: Any, region: str) -> list[Running]:
    """Every InProgress job of the region, one Running per instance type it runs on; named
    "<type>/<job name>" (training-job/resnet-1). Each Describe*Job takes one job name, with no
    batch form (API Reference): the four lists are asked at once, then every job's describe
    (parallel.map_items)."""

    def listed(job_type: JobType) -> list[tuple[JobType, str]]:
        pages = sagemaker.get_paginator(job_type.list_call).paginate(
            StatusEquals=RUNNING, PaginationConfig={"PageSize": PAGE_SIZE}
        )
        return [
            (job_type, s[job_type.name_key]) for page in pages for s in page[job_type.summaries]
        ]

    jobs = [job for listing in map_items(listed, JOB_TYPES) for job in listing]
    found: list[Running] = []
    for (job_type, name), described in zip(
        jobs, map_items(lambda job: described_job(sagemaker, *job), jobs), strict=True
    ):
        if described is None:
            continue  # gone since it was listed
        arn = next(v for k, v in described.items() if k.endswith("JobArn"))
        found += [
            Running(
                kind=KIND,
                region=region,
                name=f"{job_type.prefix}/{name}",
                arn=str(arn),
                instance_type=instance_type,
                state=RUNNING,
                count=instances,
            )
            for instance_type, instances in job_type.instances(described)
        ]
    return found


def described_job(sagemaker: Any, job_type: JobType, name: str) -> dict[str, Any] | None:
    """Describe*Job of a listed job, or None for one gone since."""
    try:
        return dict(getattr(sagemaker, job_type.describe)(**{job_type.name_key: name}))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in (
            "ValidationException",
            "ResourceNotFound",
        ):
            return None
        raise


def halt(sagemaker: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Tag, then stop, every job in `found` (tuning jobs first). A training job whose tuning job
    stopped it meanwhile (StopTrainingJob refused: it is Stopping already) is halted all the
    same: the incident's stop of its tuning job ended it."""
    outcome = ServiceHalt()
    first: dict[str, Running] = {}
    for item in found:
        first.setdefault(item.name, item)
    for job in sorted(first.values(), key=lambda job: not job.name.startswith(TUNING)):
        try:
            stop_one(sagemaker, job, incident, outcome)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{job.region}: stopping {KIND} {job.name}: {describe_error(error)}"
            )
    return outcome


def stop_one(sagemaker: Any, job: Running, incident: str, outcome: ServiceHalt) -> None:
    prefix, name = job.name.split("/", 1)
    job_type = TYPE_OF[prefix]
    try:
        sagemaker.add_tags(ResourceArn=job.arn, Tags=[{"Key": INCIDENT_TAG, "Value": incident}])
    except (ClientError, BotoCoreError) as error:
        outcome.errors.append(
            f"{job.region}: recording {KIND} {job.name}: {describe_error(error)}; "
            "stopped all the same"
        )
    try:
        getattr(sagemaker, job_type.stop)(**{job_type.name_key: name})
    except (ClientError, BotoCoreError) as error:
        if prefix == "training-job" and stopped_by_its_tuning_job(sagemaker, name):
            outcome.halted.append(job)
            return
        outcome.errors.append(f"{job.region}: stopping {KIND} {job.name}: {describe_error(error)}")
        # Ended by itself (or by its owner) since the count: no record of a stop not made.
        if refused(error):
            sagemaker.delete_tags(ResourceArn=job.arn, TagKeys=[INCIDENT_TAG])
        return
    outcome.halted.append(job)
    LOG.info("job_stopped", extra={"region": job.region, "job": job.name})


def stopped_by_its_tuning_job(sagemaker: Any, name: str) -> bool:
    described = sagemaker.describe_training_job(TrainingJobName=name)
    return bool(described.get("TuningJobArn")) and described["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )


def restore(
    sagemaker: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: a stopped job cannot be resumed (its tag stays, as the record of what ended)."""
    return ServiceRestore()
