"""Strict Batch: jobs run without Docker and keep running until they are terminated; compute
environment updates honour their vCPU settings and refuse a lower desiredvCpus.

moto runs a Batch job in Docker (or, as `batch_simple`, marks it SUCCEEDED at once), ignores
UpdateComputeEnvironment's `computeResources` ("TODO Implement resizing"), and its TerminateJob
only flags a job that a Docker thread would end. AWS:
- a submitted job waits RUNNABLE until an ENABLED compute environment of its ENABLED queue
  takes it ("the Batch scheduler doesn't attempt to place jobs within" a DISABLED environment,
  Batch API Reference, ComputeEnvironmentDetail.state), then runs (RUNNING) for as long as its
  work takes. The layer has no work to time: a job runs until terminated (a modelling choice),
  and RUNNABLE jobs are placed when an environment of their queue is enabled again;
- UpdateComputeEnvironment sets minvCpus and maxvCpus (ComputeResourceUpdate); desiredvCpus
  "must be greater than or equal to the current desiredvCpus" (ibid.), a lower one is refused
  with ClientException "Manually scaling down compute environment is not supported. Disconnecting
  job queues from compute environment will cause it to scale-down to minvCpus." (quoted in
  opensupplyhub/open-apparel-registry#2043); Batch keeps desiredvCpus "between the minimum and
  maximum values" (ibid.), so a minvCpus raised above it raises it (how fast is not documented:
  at once here);
- TerminateJob: "Jobs that are in the STARTING or RUNNING state are terminated, which causes them
  to transition to FAILED. Jobs that have not progressed to the STARTING state are cancelled"
  (API Reference, TerminateJob); the reason is the job's `statusReason`.
- array jobs: "The parent array job can enter a SUBMITTED, PENDING, FAILED, or SUCCEEDED status.
  An array parent job is updated to PENDING when any child job is updated to RUNNABLE" (Batch
  User Guide, "Array jobs"): the parent never runs (moto places and runs it like any job) and
  reads PENDING while a child is not done, SUCCEEDED once all succeeded, FAILED once all are done
  and one failed. ListJobs by job queue lists the parent, not its children: those are listed by
  ListJobs(arrayJobId) ("An array job ID to return a list of the children for that job", Batch
  API Reference, ListJobs); moto lists them in the queue too. UNCERTAIN: whether AWS's queue
  listing also holds the children; the guard counts them once either way (by job id).
Docker is never used while the layer is installed (moto's own switch, `batch.use_docker`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from moto.batch.exceptions import ClientException
from moto.batch.models import BatchBackend, Job
from moto.batch_simple.models import BatchSimpleBackend
from moto.core.config import default_user_config

from strict_aws.active import current
from strict_aws.patches import Patches

_HELD = "_strict_status"  # a job's status as the layer keeps it (moto's would move on by itself)
_NOT_STARTED = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
SCALE_DOWN_REFUSED = (
    "Manually scaling down compute environment is not supported.  Disconnecting job queues from "
    "compute environment will cause it to scale-down to minvCpus."
)

_ORIGINAL: dict[str, Any] = {
    "status": Job.status,
    "mark": BatchSimpleBackend._mark_job_as_finished,
    "update": BatchBackend.update_compute_environment,
    "terminate": BatchBackend.terminate_job,
    "list_jobs": BatchBackend.list_jobs,
}
_DONE = ("SUCCEEDED", "FAILED")


def install(patches: Patches) -> None:
    patches.set_item(default_user_config, "batch", {"use_docker": False})
    patches.set(Job, "status", property(_get_status, _set_status))
    patches.set(BatchSimpleBackend, "_mark_job_as_finished", _place_job)
    patches.set(BatchBackend, "update_compute_environment", _update_compute_environment)
    patches.set(BatchBackend, "terminate_job", _terminate_job)
    patches.set(BatchBackend, "list_jobs", _list_jobs)


def _get_status(self: Job) -> str | None:
    children = self.__dict__.get("_child_jobs")
    if children and current() is not None:
        statuses = [child.status for child in children]
        if all(status == "SUCCEEDED" for status in statuses):
            return "SUCCEEDED"
        return "FAILED" if all(status in _DONE for status in statuses) else "PENDING"
    held = self.__dict__.get(_HELD)
    return str(held) if held is not None else _ORIGINAL["status"].fget(self)


def _set_status(self: Job, value: str) -> None:
    if _HELD in self.__dict__:
        self.__dict__[_HELD] = getattr(value, "value", value)  # moto sets JobStatus members
    _ORIGINAL["status"].fset(self, value)


def _placeable(job: Job) -> bool:
    queue = job.job_queue
    return queue.state == "ENABLED" and any(env.state == "ENABLED" for env in queue.environments)


def _start(job: Job) -> None:
    job.job_started_at = datetime.now()
    job._start_attempt()
    job.__dict__[_HELD] = "RUNNING"


def _place_job(self: BatchSimpleBackend, include_start_attempt: bool, job: Job) -> None:
    if current() is None:
        _ORIGINAL["mark"](self, include_start_attempt, job)
        return
    self.backend._jobs[job.job_id] = job
    job.log_stream_name = job._stream_name
    if "size" in job.array_properties:  # an array's parent: never runs, its children do
        job.__dict__[_HELD] = "PENDING"
        return
    job.__dict__[_HELD] = "RUNNABLE"
    if _placeable(job):
        _start(job)


def _update_compute_environment(
    self: BatchBackend,
    compute_environment_name: str,
    state: str | None,
    compute_resources: dict[str, Any] | None,
    service_role: str | None,
) -> tuple[str, str]:
    if current() is None:
        return _ORIGINAL["update"](  # type: ignore[no-any-return]
            self, compute_environment_name, state, compute_resources, service_role
        )
    env = self.get_compute_environment(compute_environment_name)
    if env is not None and compute_resources:
        resources = env.compute_resources
        desired = compute_resources.get("desiredvCpus")
        if desired is not None and desired < resources.get("desiredvCpus", 0):
            raise ClientException(SCALE_DOWN_REFUSED)
        for key in ("minvCpus", "maxvCpus", "desiredvCpus"):
            if key in compute_resources:
                resources[key] = compute_resources[key]
        if "minvCpus" in resources and resources.get("desiredvCpus", 0) < resources["minvCpus"]:
            resources["desiredvCpus"] = resources["minvCpus"]
    result = _ORIGINAL["update"](self, compute_environment_name, state, None, service_role)
    if env is not None and env.state == "ENABLED":
        for job in list(self._jobs.values()):
            if job.__dict__.get(_HELD) == "RUNNABLE" and _placeable(job):
                _start(job)
    return result  # type: ignore[no-any-return]


def _terminate_job(self: BatchBackend, job_id: str, reason: str) -> None:
    if current() is None:
        _ORIGINAL["terminate"](self, job_id, reason)
        return
    _ORIGINAL["terminate"](self, job_id, reason)  # moto's checks of jobId and reason
    job = self.get_job_by_id(job_id)
    if job is not None and job.status in _NOT_STARTED:
        job.job_stopped_reason = reason
        job._mark_stopped(success=False)


def _list_jobs(
    self: BatchBackend,
    job_queue_name: str | None,
    array_job_id: str | None,
    job_status: str | None = None,
    filters: list[dict[str, Any]] | None = None,
) -> list[Job]:
    jobs: list[Job] = _ORIGINAL["list_jobs"](
        self, job_queue_name, array_job_id, job_status, filters
    )
    if current() is None or array_job_id:
        return jobs
    return [job for job in jobs if "index" not in job.array_properties]  # an array's child
