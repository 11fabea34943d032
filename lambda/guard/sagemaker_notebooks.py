"""SageMaker notebook instances: counted, stopped at a trip, started again by restore.

A notebook instance bills its ML compute instance while it is InService, whatever the notebook
does; StopNotebookInstance "terminates the ML compute instance" and keeps its ML storage volume,
and charges for the instance stop (SageMaker API Reference, StopNotebookInstance;
StartNotebookInstance attaches the volume again). Only /home/ec2-user/SageMaker lives on that
volume: files elsewhere, installed packages and kernels' memory are lost, and the lifecycle
configuration's OnStart script runs again on start (SageMaker Developer Guide, notebook
instances); the mail says so. AWS takes a stop
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

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("sagemaker_notebooks")

SERVICE = "sagemaker"  # the boto3 client
KIND = "SageMaker notebook instance"
NAME = "sagemaker-notebooks"  # in accounts.yaml's `halt:`
# Its only record tag is the incident's id: no prior value to take from a tag, so the
# incident's record naming it is all restore needs (ledger.py Record.values_expected).
PRIOR_VALUES = False
# Its Price List component (AmazonSageMaker platoinstancetype: pricing.py): an ml.t3.medium
# notebook weighs SageMaker's notebook price, about 0.05 USD/h, not its EC2 type's vCPUs.
PRICE_COMPONENT = "Notebook"
# NotebookInstanceStatus values with no compute instance running. Every other status is counted
# (Pending, InService, and PendingMaintenance / InMaintenance, which AWS does not document:
# counted rather than missed); only InService can be stopped, the rest wait for the next run.
# Updating needs a stopped notebook (terraform-provider-aws#16767 stops first).
NOT_BILLING = ("Stopped", "Stopping", "Failed", "Deleting", "Updating")
STOPPABLE = "InService"
RUNNING_AGAIN = ("InService", "Pending")  # started since (or never stopped): the record is done
PAGE_SIZE = 100  # ListNotebookInstances MaxResults upper bound (API Reference)
# What the mail says a stop keeps and loses (see the docstring for the sources).
STOP_KEEPS = (
    "Kept: its ML storage volume (/home/ec2-user/SageMaker). Lost: files elsewhere on the "
    "instance, installed packages, running kernels. Restore with restart_instances starts them; "
    "their lifecycle OnStart script runs again."
)


def count(sagemaker: Any, region: str) -> list[Running]:
    """The notebook instances of the region that bill for their compute instance now: one
    listing of them all (100 a page) filtered here, not one call per status."""
    found = []
    pages = sagemaker.get_paginator("list_notebook_instances").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for notebook in page["NotebookInstances"]:
            if notebook["NotebookInstanceStatus"] not in NOT_BILLING:
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
            # Not stopped by us (someone stopped it since the count, say): no record of a stop
            # that did not happen, or restore would start what the incident never stopped.
            # A timeout may come after the stop: the record stays (restore handles either).
            if refused(error):
                untag(sagemaker, notebook, outcome)
            continue
        outcome.halted.append(notebook)
        LOG.info("notebook_stopped", extra={"region": notebook.region, "notebook": notebook.name})
    return outcome


def untag(sagemaker: Any, notebook: Running, outcome: ServiceHalt) -> None:
    try:
        sagemaker.delete_tags(ResourceArn=notebook.arn, TagKeys=[INCIDENT_TAG])
    except (ClientError, BotoCoreError) as error:
        outcome.errors.append(
            f"{notebook.region}: untagging {KIND} {notebook.name}: {describe_error(error)}"
        )


def incident_of(sagemaker: Any, arn: str, record: Record) -> str | None:
    """The incident the record vouches `arn` was stopped by (ledger.py), or None."""
    pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn)
    tags = {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}
    return record.vouch(tags, arn).get(INCIDENT_TAG)


def restore(
    sagemaker: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
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
                if incident_of(sagemaker, arn, record) != incident:
                    continue
                stopped = status in ("Stopped", "Failed")
                if not (stopped and restart) and status not in RUNNING_AGAIN:
                    # Stopping, Updating, InMaintenance, ... or not asked to restart: the
                    # record stays for the next restore.
                    outcome.not_yet.append(where)
                    continue
                if dry_run:
                    if stopped:
                        outcome.restored.append(where)
                    continue
                if stopped:
                    sagemaker.start_notebook_instance(NotebookInstanceName=name)
                    outcome.restored.append(where)
                sagemaker.delete_tags(ResourceArn=arn, TagKeys=[INCIDENT_TAG])
            except (ClientError, BotoCoreError) as error:
                outcome.errors[f"{KIND} {where}"] = describe_error(error)
    return outcome
