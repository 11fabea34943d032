"""SageMaker notebook instances: counted, stopped at a trip, started again by restore.

A notebook instance bills its ML compute instance while it is InService, whatever the notebook
does; StopNotebookInstance "terminates the ML compute instance" and keeps its ML storage volume,
so nothing on the notebook's disk is lost, and charges for the instance stop (SageMaker API
Reference, StopNotebookInstance; StartNotebookInstance attaches the volume again). AWS takes a stop
only from InService ("Status (Pending) not in ([InService]). Unable to transition to (Stopping)"
...), so a notebook still Pending is left to the next run while the incident is open, as pending
EC2 instances are (cloud-custodian's sagemaker notebook actions use the same origin states).

Record, then change: the notebook is tagged with the incident (AddTags "adds or overwrites") before
it is stopped; restore starts the Stopped notebooks carrying the incident and removes the tag. A
crash between the two leaves a tagged InService notebook: restore skips it (nothing to start) and
removes the tag. One still Stopping keeps its tag, and so does a stopped one when restore is not
asked to restart (as EC2 instances): restore says to run again.

IAM: sagemaker:ListNotebookInstances (no resource-level permissions), sagemaker:ListTags,
sagemaker:AddTags / sagemaker:DeleteTags (runawaytrain:* keys), sagemaker:StopNotebookInstance,
sagemaker:StartNotebookInstance (notebook-instance ARNs).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.incident import INCIDENT_TAG
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("sagemaker_notebooks")

SERVICE = "sagemaker"  # the boto3 client
KIND = "SageMaker notebook instance"
BILLING = ("Pending", "InService")  # NotebookInstanceStatus values with a compute instance
STOPPABLE = "InService"
PAGE_SIZE = 100  # ListNotebookInstances MaxResults upper bound (API Reference)


def count(sagemaker: Any, region: str) -> list[Running]:
    """The notebook instances of the region that bill for their compute instance now: one
    listing of them all (100 a page) filtered here, not one call per status."""
    found = []
    pages = sagemaker.get_paginator("list_notebook_instances").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for notebook in page["NotebookInstances"]:
            if notebook["NotebookInstanceStatus"] in BILLING:
                found.append(
                    Running(
                        kind=KIND,
                        region=region,
                        name=notebook["NotebookInstanceName"],
                        arn=notebook["NotebookInstanceArn"],
                        instance_type=notebook.get("InstanceType", ""),
                        state=notebook["NotebookInstanceStatus"],
                    )
                )
    return found


def halt(sagemaker: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Tag, then stop, every InService notebook in `found`; Pending ones wait for the next run."""
    outcome = ServiceHalt()
    for notebook in found:
        if notebook.state != STOPPABLE:
            outcome.waiting.append(notebook)
            continue
        try:
            sagemaker.add_tags(
                ResourceArn=notebook.arn, Tags=[{"Key": INCIDENT_TAG, "Value": incident}]
            )
        except (ClientError, BotoCoreError) as error:  # stopped all the same, reported
            outcome.errors.append(
                f"{notebook.region}: recording {KIND} {notebook.name}: {describe_error(error)}; "
                "stopped all the same: start it by hand after restore"
            )
        try:
            sagemaker.stop_notebook_instance(NotebookInstanceName=notebook.name)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{notebook.region}: stopping {KIND} {notebook.name}: {describe_error(error)}"
            )
            continue
        outcome.halted.append(notebook)
        LOG.info("notebook_stopped", extra={"region": notebook.region, "name": notebook.name})
    return outcome


def restore(
    sagemaker: Any, region: str, incident: str, *, dry_run: bool, restart: bool
) -> ServiceRestore:
    """Start the notebooks `incident` stopped (only with `restart`, as EC2 instances: a start
    bills again, the operator says so), and take its tag off what needs it no longer."""
    outcome = ServiceRestore()
    pages = sagemaker.get_paginator("list_notebook_instances").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for notebook in page["NotebookInstances"]:
            name, arn = notebook["NotebookInstanceName"], notebook["NotebookInstanceArn"]
            where, status = f"{region}/{name}", notebook["NotebookInstanceStatus"]
            try:
                tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]}
                if tags.get(INCIDENT_TAG) != incident:
                    continue
                stopped = status in ("Stopped", "Failed")
                if status == "Stopping" or (stopped and not restart):
                    outcome.not_yet.append(where)  # the record stays for the next restore
                    continue
                if dry_run:
                    outcome.restored.append(where)
                    continue
                if stopped:
                    sagemaker.start_notebook_instance(NotebookInstanceName=name)
                    outcome.restored.append(where)
                sagemaker.delete_tags(ResourceArn=arn, TagKeys=[INCIDENT_TAG])
            except (ClientError, BotoCoreError) as error:
                outcome.errors[f"{KIND} {where}"] = describe_error(error)
    return outcome
