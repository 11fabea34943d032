"""Strict SageMaker jobs: training, processing, transform and tuning jobs run until stopped.

moto creates every job `Completed`, has no StopTrainingJob, StopTransformJob or
StopHyperParameterTuningJob (NotImplementedError), and its StopProcessingJob makes any job
`Stopped` at once. AWS:
- a job created reads `InProgress` (API Reference, TrainingJobStatus / ProcessingJobStatus /
  TransformJobStatus / HyperParameterTuningJobStatus) until it ends; here it runs until stopped;
- Stop*Job: "SageMaker changes the status of the job to Stopping. After SageMaker stops the job,
  it sets the status to Stopped" (API Reference, StopTrainingJob; StopTransformJob says the
  same): `Stopping` for the layer's `pending_seconds` (StopTrainingJob allows the algorithm
  120 s after its SIGTERM: the duration is the layer's choice);
- StopHyperParameterTuningJob "Stops a running hyperparameter tuning job and all running
  training jobs that the tuning job launched" (API Reference): a training job whose
  TuningJobArn names it is stopped with it;
- a stop of a job no longer InProgress is refused: StopTrainingJob answers ValidationException
  "The request was rejected because the training job is in status Stopped." (quoted in
  awslabs/benchmark-ai#928). UNCERTAIN: the same text for processing, transform and tuning jobs
  is inferred from it, not seen;
- DescribeProcessingJob answers the job's ProcessingResources (a required parameter of
  CreateProcessingJob, API Reference; moto drops it);
- a stop of an unknown job: StopTrainingJob ValidationException "Requested resource not found",
  StopHyperParameterTuningJob ResourceNotFound "Amazon SageMaker can't find a tuning job"
  (prefixes in aws/amazon-sagemaker-operator-for-k8s,
  controllers/sdkutil/clientwrapper/sagemaker_client.go).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.responses import EmptyResult
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import (
    FakeProcessingJob,
    FakeTrainingJob,
    FakeTransformJob,
    HyperParameterTuningJob,
    SageMakerModelBackend,
)
from moto.sagemaker.responses import SageMakerResponse

from strict_aws.active import current
from strict_aws.patches import Patches
from strict_aws.sagemaker_timed import move, settle

RUNNING = "InProgress"
# class -> (its status attribute, the attribute of its end time, in the words of the refusal)
_JOBS: dict[type, tuple[str, str, str]] = {
    FakeTrainingJob: ("training_job_status", "training_end_time", "training job"),
    FakeProcessingJob: ("processing_job_status", "processing_end_time", "processing job"),
    FakeTransformJob: ("transform_job_status", "transform_end_time", "transform job"),
    HyperParameterTuningJob: (
        "hyper_parameter_tuning_job_status",
        "hyper_parameter_tuning_end_time",
        "hyper parameter tuning job",
    ),
}
# Backend reads that must see the statuses as they are now.
_READS = (
    "describe_training_job",
    "list_training_jobs",
    "describe_processing_job",
    "list_processing_jobs",
    "describe_transform_job",
    "list_transform_jobs",
    "describe_hyper_parameter_tuning_job",
    "list_hyper_parameter_tuning_jobs",
)
_ORIGINAL: dict[str, Any] = {name: getattr(SageMakerModelBackend, name) for name in _READS}
_ORIGINAL["stop_processing_job"] = SageMakerModelBackend.stop_processing_job
_INIT = {cls: cls.__init__ for cls in _JOBS}
_CREATE_PROCESSING = SageMakerResponse.create_processing_job


def install(patches: Patches) -> None:
    for cls in _JOBS:
        patches.set(cls, "__init__", _running_at_creation(cls))
    for name in _READS:
        patches.set(SageMakerModelBackend, name, _settled(name))
    patches.set(SageMakerModelBackend, "stop_training_job", _stop_training_job)
    patches.set(SageMakerModelBackend, "stop_processing_job", _stop_processing_job)
    patches.set(SageMakerModelBackend, "stop_transform_job", _stop_transform_job)
    patches.set(SageMakerModelBackend, "stop_hyper_parameter_tuning_job", _stop_tuning_job)
    patches.set(SageMakerResponse, "create_processing_job", _create_processing_job)
    patches.set(SageMakerResponse, "stop_training_job", _respond("TrainingJobName"))
    patches.set(SageMakerResponse, "stop_transform_job", _respond("TransformJobName"))
    patches.set(
        SageMakerResponse,
        "stop_hyper_parameter_tuning_job",
        _respond("HyperParameterTuningJobName"),
    )


def _running_at_creation(cls: type) -> Callable[..., None]:
    status, ended, _ = _JOBS[cls]

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        _INIT[cls](self, *args, **kwargs)
        if current() is not None:
            setattr(self, status, RUNNING)
            setattr(self, ended, None)  # None is left out of moto's answers
            if cls is FakeTrainingJob:
                self.secondary_status = "Training"

    return init


def _settled(name: str) -> Callable[..., Any]:
    def read(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        if current() is not None:
            settle()
        return _ORIGINAL[name](self, *args, **kwargs)

    return read


def _stop(job: Any, name: str) -> None:
    status, _, words = _JOBS[type(job)]
    current_status = getattr(job, status)
    if current_status != RUNNING:
        raise ValidationError(
            message=f"The request was rejected because the {words} is in status {current_status}."
        )
    move(job, status, through="Stopping", to="Stopped", name=name)
    if isinstance(job, FakeTrainingJob):
        move(job, "secondary_status", through="Stopping", to="Stopped", name=name)


def _stop_training_job(self: SageMakerModelBackend, training_job_name: str) -> None:
    settle()
    job = self.training_jobs.get(training_job_name)
    if job is None:
        raise ValidationError(message=f"Requested resource not found: {training_job_name}")
    _stop(job, training_job_name)


def _stop_processing_job(self: SageMakerModelBackend, processing_job_name: str) -> None:
    if current() is None:
        _ORIGINAL["stop_processing_job"](self, processing_job_name)
        return
    settle()
    job = self.processing_jobs.get(processing_job_name)
    if job is None:  # moto's own answer for an unknown job
        _ORIGINAL["stop_processing_job"](self, processing_job_name)
        return
    _stop(job, processing_job_name)


def _stop_transform_job(self: SageMakerModelBackend, transform_job_name: str) -> None:
    settle()
    job = self.transform_jobs.get(transform_job_name)
    if job is None:
        raise ValidationError(message=f"Could not find transform job '{transform_job_name}'.")
    _stop(job, transform_job_name)


def _stop_tuning_job(self: SageMakerModelBackend, hyper_parameter_tuning_job_name: str) -> None:
    settle()
    job = self.hyper_parameter_tuning_jobs.get(hyper_parameter_tuning_job_name)
    if job is None:
        raise ResourceNotFound(
            message=f"Amazon SageMaker can't find a tuning job with name "
            f"{hyper_parameter_tuning_job_name}"
        )
    _stop(job, hyper_parameter_tuning_job_name)
    for name, training in self.training_jobs.items():
        launched_by_it = getattr(training, "tuning_job_arn", None) == job.arn
        if launched_by_it and training.training_job_status == RUNNING:
            _stop(training, name)


def _create_processing_job(self: SageMakerResponse) -> Any:
    answer = _CREATE_PROCESSING(self)
    if current() is not None:
        job = self.sagemaker_backend.processing_jobs[self._get_param("ProcessingJobName")]
        job.processing_resources = self._get_param("ProcessingResources")
    return answer


def _respond(parameter: str) -> Callable[[SageMakerResponse], Any]:
    operation = {
        "TrainingJobName": "stop_training_job",
        "TransformJobName": "stop_transform_job",
        "HyperParameterTuningJobName": "stop_hyper_parameter_tuning_job",
    }[parameter]

    def respond(self: SageMakerResponse) -> Any:
        getattr(self.sagemaker_backend, operation)(self._get_param(parameter))
        return EmptyResult()

    return respond
