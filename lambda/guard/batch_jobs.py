"""AWS Batch jobs STARTING or RUNNING: counted, and terminated at a trip only where `halt:`
names batch-jobs (irreversible: a terminated job is not resumed; restore has nothing to give
back).

Disabling a compute environment (batch_environments.py) leaves these running: "Jobs in a
STARTING or RUNNING state continue to progress normally" (Batch API Reference,
ComputeEnvironmentDetail.state). TerminateJob: "Jobs that are in the STARTING or RUNNING state
are terminated, which causes them to transition to FAILED" (API Reference, TerminateJob);
CancelJob leaves them alone ("Jobs that progressed to the STARTING or RUNNING state aren't
canceled. However, the API operation still succeeds", API Reference, CancelJob), so the halt
terminates. Both need a reason, kept on the job (DescribeJobs `statusReason`): it names the
incident.

RUNNABLE (and SUBMITTED, PENDING) jobs are not counted: they burn nothing yet, and the disabled
compute environments keep them from being placed ("the Batch scheduler doesn't attempt to place
jobs within the environment", ibid.), so restore lets them run as queued; cancelling them would
destroy queued work to save no money.

Array jobs: the parent of an array job never runs ("The parent array job can enter a SUBMITTED,
PENDING, FAILED, or SUCCEEDED status. An array parent job is updated to PENDING when any child
job is updated to RUNNABLE", Batch User Guide, "Array jobs"); its children do, each billing what
one job of its definition does. ListJobs by queue lists jobs of the queue; the children of an
array are listed by ListJobs(arrayJobId) ("An array job ID to return a list of the children for
that job", API Reference, ListJobs). So each queue's PENDING jobs are also listed and described
(100 a call): a parent's `arrayProperties.statusSummary` ("A summary of the number of array job
children in each available job status. This parameter is returned for parent array jobs",
ArrayPropertiesDetail) says whether children are STARTING or RUNNING, and only then are those
listed by arrayJobId. Each such child is one job here (counted, and terminated by its own id
<parent>:<index>); the parent is not (it weighs nothing of its own), and a job listed twice is
counted once (by job id). TerminateJob is not documented to reach an array's children, and
cancelling its parent would cancel the queued ones ("When you try to cancel an array parent job
in PENDING, AWS Batch attempts to cancel all child jobs", CancelJob), which is queued work the
halt keeps: the children still queued wait on the disabled environments, as other queued jobs.

Weighed: a job on Fargate bills its vCPUs and memory (its `resourceRequirements`, VCPU may be
fractional): Running(vcpus=...). A job on EC2 or Spot runs on an instance the EC2 census counts:
count 0, weighed there. A queue's compute environments "must all be Fargate compute
environments ... EC2 and Fargate compute environments can't be mixed" (Batch User Guide, "Job
queues on Fargate"), so a job's platform is its queue's.

IAM: batch:DescribeJobQueues, batch:DescribeComputeEnvironments, batch:ListJobs,
batch:DescribeJobs (no resource-level permissions), batch:TerminateJob (job ARNs).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.batch_environments import FARGATE, environments
from guard.census import describe_error
from guard.ledger import Record
from guard.logs import get_logger
from guard.parallel import map_items
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("batch_jobs")

SERVICE = "batch"
KIND = "Batch job"
PRICE_COMPONENT = "Fargate"  # pricing.FARGATE: its vCPUs and GiB at the Fargate rates
NAME = "batch-jobs"
BILLING = ("STARTING", "RUNNING")
ARRAY_PARENT = "PENDING"  # a parent array job's status while children are queued or run
JOBS_PER_DESCRIBE = 100  # DescribeJobs jobs: up to 100 (API Reference)
MIB_PER_GIB = 1024
STOP_KEEPS = (
    "Terminated (FAILED, reason naming the incident): what the job did is lost unless it "
    "wrote it out; submit it again after restore."
)


def fargate_queues(batch: Any) -> tuple[list[str], set[str]]:
    """(every job queue, the names of those whose environments are Fargate)."""
    fargate = {
        key
        for env in environments(batch)
        if env.get("computeResources", {}).get("type") in FARGATE
        for key in (env["computeEnvironmentName"], env["computeEnvironmentArn"])
    }
    queues, on_fargate = [], set()
    for page in batch.get_paginator("describe_job_queues").paginate():
        for queue in page["jobQueues"]:
            queues.append(queue["jobQueueName"])
            order = queue.get("computeEnvironmentOrder", [])
            if order and all(o["computeEnvironment"] in fargate for o in order):
                on_fargate.add(queue["jobQueueName"])
    return queues, on_fargate


def described_jobs(batch: Any, job_ids: list[str]) -> list[dict[str, Any]]:
    """DescribeJobs of `job_ids`, 100 a call ("A list of up to 100 job IDs", API Reference,
    DescribeJobs), the calls at once."""
    chunks = [
        job_ids[start : start + JOBS_PER_DESCRIBE]
        for start in range(0, len(job_ids), JOBS_PER_DESCRIBE)
    ]
    described = map_items(lambda chunk: batch.describe_jobs(jobs=chunk)["jobs"], chunks)
    return [job for jobs in described for job in jobs]


def weights_of(batch: Any, job_ids: list[str]) -> dict[str, tuple[float, float | None]]:
    """{job id: (vCPUs, memory GiB)} from DescribeJobs (100 a call)."""
    found = {}
    for job in described_jobs(batch, job_ids):
        container = job.get("container", {})
        needs = {r["type"]: r["value"] for r in container.get("resourceRequirements", [])}
        vcpus = float(needs.get("VCPU", container.get("vcpus") or 0))
        memory = needs.get("MEMORY", container.get("memory"))
        found[job["jobId"]] = (vcpus, float(memory) / MIB_PER_GIB if memory else None)
    return found


def listed_jobs(batch: Any, status: str, **where: str) -> list[dict[str, Any]]:
    pages = batch.get_paginator("list_jobs").paginate(jobStatus=status, **where)
    return [job for page in pages for job in page["jobSummaryList"]]


Listings = dict[tuple[str, str], list[dict[str, Any]]]  # (queue, status) -> its jobs


def running_children(batch: Any, queues: list[str], listed: Listings) -> dict[str, list[Any]]:
    """{queue: the STARTING or RUNNING children of its array jobs} (module docstring): the
    PENDING jobs of every queue are described together, 100 a call."""
    parents = {job["jobId"]: queue for queue in queues for job in listed[queue, ARRAY_PARENT]}
    summaries = {
        parent["jobId"]: parent.get("arrayProperties", {}).get("statusSummary") or {}
        for parent in described_jobs(batch, list(parents))
    }
    wanted = [
        (parent, status)
        for parent in parents
        for status in BILLING
        if summaries.get(parent, {}).get(status)
    ]
    lists = map_items(lambda job: listed_jobs(batch, job[1], arrayJobId=job[0]), wanted)
    children: dict[str, list[Any]] = {queue: [] for queue in queues}
    for (parent, _), jobs in zip(wanted, lists, strict=True):
        children[parents[parent]] += jobs
    return children


def count(batch: Any, region: str) -> list[Running]:
    """The jobs STARTING or RUNNING in every job queue of the region, array children too.
    ListJobs lists one queue's jobs of one status a call (jobQueue, jobStatus; API Reference):
    every queue's listings are asked at once (parallel.map_items)."""
    queues, on_fargate = fargate_queues(batch)
    asks = [(queue, status) for queue in queues for status in (*BILLING, ARRAY_PARENT)]
    listings: Listings = dict(
        zip(
            asks,
            map_items(lambda ask: listed_jobs(batch, ask[1], jobQueue=ask[0]), asks),
            strict=True,
        )
    )
    children = running_children(batch, queues, listings)
    listed: dict[str, tuple[str, dict[str, Any]]] = {}  # job id -> (queue, summary): once each
    for queue in queues:
        for status in BILLING:
            listed |= {job["jobId"]: (queue, job) for job in listings[queue, status]}
        listed |= {job["jobId"]: (queue, job) for job in children[queue]}
    weights = weights_of(
        batch, [job_id for job_id, (queue, _) in listed.items() if queue in on_fargate]
    )
    found = []
    for _, job in listed.values():
        vcpus, memory = weights.get(job["jobId"], (None, None))
        found.append(
            Running(
                kind=KIND,
                region=region,
                name=f"{job['jobName']}/{job['jobId']}",
                arn=job["jobArn"],
                instance_type="",
                state=job["status"],
                count=1 if vcpus else 0,  # on EC2: weighed as the instance it runs on
                vcpus=vcpus or None,
                memory_gib=memory,
            )
        )
    return found


def halt(batch: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Terminate each job; the reason names the incident."""
    outcome = ServiceHalt()
    reason = f"runawaytrain incident {incident}: the account's spending circuit breaker tripped"
    for job in found:
        try:
            batch.terminate_job(jobId=job.arn.rsplit("/", 1)[-1], reason=reason)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{job.region}: terminating {KIND} {job.name}: {describe_error(error)}"
            )
            continue
        outcome.halted.append(job)
        LOG.info("batch_job_terminated", extra={"region": job.region, "job": job.name})
    return outcome


def restore(
    batch: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Irreversible: a terminated job is not brought back."""
    return ServiceRestore()
