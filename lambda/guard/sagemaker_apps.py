"""SageMaker Studio apps (JupyterLab, Code Editor, Studio Classic kernel gateways, ...):
counted while they hold an ML instance, deleted at a trip only where accounts.yaml's `halt:`
names sagemaker-apps (a deleted app is not restarted: restore has nothing to give back).

What bills: an app runs on an instance of its ResourceSpec.InstanceType; "Metering starts when
an instance is created. Metering ends when the SageMaker image running on the instance is shut
down" (SageMaker Developer Guide, "Usage Metering" of Studio notebooks). The Studio Classic
JupyterServer app runs on the `system` instance type, which is not billed ("Instance that hosts
JupyterServer app and System Terminals is free. Customers will only pay for instances with at
least one KernelGateway App that is 'In Service'", aws-samples/sagemaker-studio-auto-shutdown-
extension); so only apps on an ml.* type are counted, InService or Pending (ListApps Status
Deleted | Deleting | Failed | InService | Pending). UNCERTAIN: an app type whose charge is not an
instance (Canvas sessions, RStudioServerPro on `system`) is not counted.

Census: ListApps of every domain at once (no DomainIdEquals), 100 a page: one call per region
when none exists. Weighed as the ml.* type at SageMaker's Studio JupyterLab price
(PRICE_COMPONENT; Code Editor and Studio Classic have components of their own, priced alike
here: UNCERTAIN), else at the unpriced rate.

Halt (only where `halt:` names it): DeleteApp, "Used to stop and delete an app" (API
Reference). What lives in the space's storage stays: a JupyterLab or Code Editor space keeps its
EBS volume (/home/sagemaker-user, which aws-samples/sagemaker-studio-apps-lifecycle-config-
examples' ebs-s3-backup-restore backs up across apps), a Studio Classic user its EFS home; the
running kernels, their memory and whatever was installed outside the home directory are lost.
Only an InService app is deleted; a Pending one waits for the next run. Record first: the app is
tagged with the incident (DescribeApp gives its ARN: ListApps does not), then deleted; a refused
delete takes the tag off again.

IAM: sagemaker:ListApps (no resource-level permissions); sagemaker:DescribeApp,
sagemaker:DeleteApp, sagemaker:AddTags / sagemaker:DeleteTags (runawaytrain:* keys) on app ARNs.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import INCIDENT_TAG
from guard.ledger import Record
from guard.logs import get_logger
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("sagemaker_apps")

SERVICE = "sagemaker"
KIND = "SageMaker Studio app"
NAME = "sagemaker-apps"  # in accounts.yaml's `halt:`
PRICE_COMPONENT = "Studio-JupyterLab"  # AmazonSageMaker platoinstancetype (pricing.py)
BILLING = ("InService", "Pending")
DELETABLE = "InService"
ML_PREFIX = "ml."
PAGE_SIZE = 100  # ListApps MaxResults upper bound
SPACE, USER = "space", "user"  # whose app: SpaceName or UserProfileName
STOP_KEEPS = (
    "Kept: the space's storage (/home/sagemaker-user on its EBS volume; a Studio Classic "
    "user's EFS home). Lost: running kernels and their memory, packages installed outside the "
    "home directory. Not started again by restore: open the app again in Studio."
)


def count(sagemaker: Any, region: str) -> list[Running]:
    """Every app of every domain in the region that holds an ML instance now."""
    found = []
    pages = sagemaker.get_paginator("list_apps").paginate(PaginationConfig={"PageSize": PAGE_SIZE})
    for page in pages:
        for app in page["Apps"]:
            instance_type = app.get("ResourceSpec", {}).get("InstanceType", "")
            if app["Status"] not in BILLING or not instance_type.startswith(ML_PREFIX):
                continue  # deleted, failed, or on the free `system` instance
            owner = (
                f"{SPACE}:{app['SpaceName']}"
                if app.get("SpaceName")
                else (f"{USER}:{app.get('UserProfileName', '')}")
            )
            found.append(
                Running(
                    kind=KIND,
                    region=region,
                    name=f"{app['DomainId']}/{owner}/{app['AppType']}/{app['AppName']}",
                    arn="",  # ListApps gives none; the halt asks DescribeApp
                    instance_type=instance_type,
                    state=app["Status"],
                )
            )
    return found


def app_key(name: str) -> dict[str, str]:
    """The DescribeApp / DeleteApp parameters of a Running's name."""
    domain, owner, app_type, app_name = name.split("/", 3)
    whose, owner_name = owner.split(":", 1)
    owner_key = "SpaceName" if whose == SPACE else "UserProfileName"
    return {"DomainId": domain, owner_key: owner_name, "AppType": app_type, "AppName": app_name}


def halt(sagemaker: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Tag, then delete, every InService app in `found`; Pending ones wait for the next run."""
    outcome = ServiceHalt()
    for app in found:
        where = f"{app.region}: {KIND} {app.name}"
        if app.state != DELETABLE:
            outcome.waiting.append(app)
            continue
        key = app_key(app.name)
        try:
            arn = sagemaker.describe_app(**key)["AppArn"]
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: reading: {describe_error(error)}")
            continue
        try:
            sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": INCIDENT_TAG, "Value": incident}])
        except (ClientError, BotoCoreError) as error:  # deleted all the same, reported
            outcome.errors.append(
                f"{where}: recording: {describe_error(error)}; deleted all the same"
            )
        try:
            sagemaker.delete_app(**key)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(f"{where}: deleting: {describe_error(error)}")
            if not refused(error):
                continue  # a timeout may come after the delete: the tag stays
            try:  # not deleted by us: no record of a delete that did not happen
                sagemaker.delete_tags(ResourceArn=arn, TagKeys=[INCIDENT_TAG])
            except (ClientError, BotoCoreError) as untagging:
                outcome.errors.append(f"{where}: untagging: {describe_error(untagging)}")
            continue
        outcome.halted.append(app)
        LOG.info("studio_app_deleted", extra={"region": app.region, "app": app.name})
    return outcome


def restore(
    sagemaker: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: a deleted app is not created again (its user opens it again in Studio)."""
    return ServiceRestore()
