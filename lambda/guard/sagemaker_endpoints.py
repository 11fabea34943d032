"""SageMaker real-time endpoints: counted, deleted at a trip (their configuration kept), created
again from that configuration by restore.

An endpoint bills its ML instances for as long as it exists, busy or not; it cannot be stopped:
"The endpoint must be deleted in order to stop incurring charges" (SageMaker API Reference,
UpdateEndpoint). DeleteEndpoint "frees up all of the resources that were deployed when the
endpoint was created" and keeps the EndpointConfig and the Model ("DeleteEndpointConfig does not
delete endpoints created using the configuration" — nor the reverse); CreateEndpoint with the same
name and configuration deploys it again (Creating, then InService, minutes later; API Reference,
CreateEndpoint). An endpoint configuration cannot change ("To update an endpoint, you must
create a new EndpointConfig"), so one describe per configuration a run serves every endpoint on it.

Counted: every endpoint but one already Deleting, as the instances its variants hold
(CurrentInstanceCount; the larger of it and DesiredInstanceCount while Creating or Updating),
each variant weighing as its configuration's instance type (one Running per instance type). A
serverless variant (CurrentServerlessConfig) bills per request, not per instance: not counted.

Halted: only an endpoint no operation is running on. DeleteEndpoint of one Creating, Updating,
SystemUpdating, RollingBack or Deleting is refused ("Cannot update in-progress endpoint",
ValidationException: aws/amazon-sagemaker-operator-for-k8s,
controllers/sdkutil/clientwrapper/sagemaker_client.go; API Reference, EndpointStatus:
SystemUpdating "cannot be updated or deleted"); those wait for the next run while the incident is
open. Failed ("DeleteEndpoint is the only operation that can be performed on a failed endpoint"),
InService, OutOfService and UpdateRollbackFailed are deleted.

Record, then change: the endpoint's tags die with it, so the record sits on its EndpointConfig,
before DeleteEndpoint: `runawaytrain:endpoint:<name>` = the incident, and the endpoint's own tags,
JSON in base64 (SageMaker tag values take letters, digits, spaces and _.:/=+-@ only: API
Reference, Tag), in 256-character values `runawaytrain:endpoint-tags:<name>:<n>`, within the 50
tags a resource holds (API Reference, TagList); tags that do not fit are said in the mail and
lost. A refused delete takes its record off again. Restore (with restart only, as notebooks)
creates the endpoint from the record, then removes it; an endpoint of that name that exists
again is left alone and its record removed.

Not kept: the endpoint's Application Auto Scaling. Deleting an endpoint makes Application Auto
Scaling deregister its variants' scalable targets, and with them their scaling policies and
scheduled actions (SageMaker Developer Guide, "Delete endpoints configured for auto scaling";
Application Auto Scaling API Reference, DeregisterScalableTarget), and it does so with the
caller's permission: without application-autoscaling:DeregisterScalableTarget the delete fails
("An Application AutoScaling scalable target exists for a variant being deleted, and the IAM
identity used to invoke DeleteEndpoint does not have application-autoscaling:
DeregisterScalableTarget permission", quoted in awslabs/stable-diffusion-aws-extension#161), so
the guard's role has it (for SageMaker targets). The endpoint created again by restore has
none. Not silently: before the delete the halt reads the variants' scalable targets, policies
and scheduled actions (one call each per endpoint, three when it has targets) and the mail
names, per endpoint, each one with its capacity bounds and configuration and the
register-scalable-target command to give it back after restore. (Recording them for restore
to put back would take their policies' whole configurations, in 256-character tag pieces, on
the configuration's 50 tags: left to a person, with everything needed in the mail.)

Not deleted: an endpoint that hosts inference components. DeleteEndpoint refuses it
(ValidationException "Cannot delete endpoint with inference component associated. Please
delete inference component and try it again.", quoted in gruntwork-io/cloud-nuke#1142; the
console deletes the components first, SageMaker Developer Guide, "Delete Endpoints and
Resources"), and deleting the components would lose their specifications, which restore could
not give back. The refused delete takes its record off (as any refused delete) and the mail says
it still bills and what to do by hand; the launch block and the quarantine refuse new components
and more copies (CreateInferenceComponent, UpdateInferenceComponent*).

IAM: sagemaker:ListEndpoints and ListEndpointConfigs (no resource-level permissions);
DescribeEndpoint, DeleteEndpoint, ListTags on endpoint ARNs;
application-autoscaling:DescribeScalableTargets, DescribeScalingPolicies and
DescribeScheduledActions (no resource-level permissions); CreateEndpoint on endpoint and
endpoint-config ARNs, with sagemaker:AddTags on the endpoint when it carries tags again
(sagemaker:TaggingAction CreateEndpoint); AddTags, DeleteTags (runawaytrain:* keys) and ListTags
on endpoint-config ARNs; application-autoscaling:DeregisterScalableTarget (SageMaker namespace),
used by Application Auto Scaling on the guard's behalf.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error, refused
from guard.incident import TAG_PREFIX
from guard.ledger import Record
from guard.logs import get_logger
from guard.parallel import map_items
from guard.service_capacity import Running, ServiceHalt, ServiceRestore

LOG = get_logger("sagemaker_endpoints")

SERVICE = "sagemaker"
AAS = "application-autoscaling"
EXTRA_SERVICES = (AAS,)  # count, halt and restore get {service: client}
AAS_NAMESPACE = "sagemaker"
AAS_DIMENSION = "sagemaker:variant:DesiredInstanceCount"  # AAS API Reference, ScalableDimension
HAS_COMPONENTS = "inference component"  # DeleteEndpoint's refusal of an endpoint hosting some
KIND = "SageMaker endpoint"
PRICE_COMPONENT = "Hosting"  # SageMaker real-time inference (pricing.py)
NAME = "sagemaker-endpoints"
# A few per Region: each item's prior values go to the incident's record before its change
# (services.py), so a Lambda timeout between the two never leaves one without them (ledger.py).
EAGER_RECORD = True
RECORD_PREFIX = f"{TAG_PREFIX}endpoint:"  # + endpoint name: the incident that deleted it
TAGS_PREFIX = f"{TAG_PREFIX}endpoint-tags:"  # + endpoint name + ":" + n: its tags, in pieces
TAG_VALUE_MAX = 256  # API Reference, Tag Value
TAGS_MAX = 50  # API Reference, AddTags Tags / TagList
NOT_BILLING = ("Deleting",)
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
SCALING = ("Creating", "Updating")  # DesiredInstanceCount may lie above the current count
PAGE_SIZE = 100  # ListEndpoints / ListEndpointConfigs MaxResults upper bound
NOT_FOUND = "Could not find endpoint "  # ValidationException's text for an unknown endpoint
STOP_KEEPS = (
    "Deleted (an endpoint cannot be stopped). Kept: its endpoint configuration and model, and "
    "its tags (recorded on the configuration). Lost: its Application Auto Scaling targets, "
    "policies and scheduled actions (deregistered with the endpoint: register them again by "
    "hand after restore, as the lines about each endpoint say). Restore with "
    "restart_instances creates it again from the same configuration (Creating for some "
    "minutes before it answers)."
)


def count(clients: dict[str, Any], region: str) -> list[Running]:
    """The endpoints of the region and the instances they hold now. SageMaker describes one
    endpoint (DescribeEndpoint: EndpointName) and one configuration (DescribeEndpointConfig:
    EndpointConfigName) a call, with no batch form (API Reference): the endpoints are described
    at once (parallel.map_items), then their configurations, each once."""
    sagemaker = clients[SERVICE]
    pages = sagemaker.get_paginator("list_endpoints").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    names = [
        summary["EndpointName"]
        for page in pages
        for summary in page["Endpoints"]
        if summary["EndpointStatus"] not in NOT_BILLING
    ]
    # None: deleted since it was listed
    endpoints = [e for e in map_items(lambda name: describe(sagemaker, name), names) if e]
    configs = list(dict.fromkeys(endpoint["EndpointConfigName"] for endpoint in endpoints))
    # A configuration cannot change: one describe each per run serves its endpoints.
    types_by_config = dict(
        zip(
            configs,
            map_items(lambda config: variant_types(sagemaker, config), configs),
            strict=True,
        )
    )
    found: list[Running] = []
    for endpoint in endpoints:
        types = types_by_config[endpoint["EndpointConfigName"]]
        instances: dict[str, int] = {}
        for variant in endpoint.get("ProductionVariants", []):
            if "CurrentServerlessConfig" in variant:
                continue  # billed per request
            held = instances_of(variant, endpoint["EndpointStatus"])
            if held:
                kind = types.get(variant["VariantName"], "")
                instances[kind] = instances.get(kind, 0) + held
        found += [
            Running(
                kind=KIND,
                region=region,
                name=endpoint["EndpointName"],
                arn=endpoint["EndpointArn"],
                instance_type=instance_type,
                state=endpoint["EndpointStatus"],
                count=held,
            )
            for instance_type, held in sorted(instances.items())
        ]
    return found


def instances_of(variant: dict[str, Any], status: str) -> int:
    current = int(variant.get("CurrentInstanceCount") or 0)
    desired = int(variant.get("DesiredInstanceCount") or 0)
    return max(current, desired) if status in SCALING or not current else current


def describe(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None for an endpoint that no longer exists."""
    try:
        return dict(sagemaker.describe_endpoint(EndpointName=name))
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Message", "")).startswith(NOT_FOUND):
            return None
        raise


def variant_types(sagemaker: Any, config: str) -> dict[str, str]:
    """{variant: instance type} of an endpoint configuration ({} if it is gone: the instances
    are counted, weighed as unknown)."""
    try:
        described = sagemaker.describe_endpoint_config(EndpointConfigName=config)
    except ClientError as error:
        LOG.warning("endpoint_config_unreadable", extra={"config": config, "error": str(error)})
        return {}
    return {
        variant["VariantName"]: variant.get("InstanceType", "")
        for variant in described.get("ProductionVariants", [])
    }


def config_arn(endpoint_arn: str, config: str) -> str:
    return f"{endpoint_arn.rsplit(':', 1)[0]}:endpoint-config/{config}"


def tags_of(sagemaker: Any, arn: str) -> dict[str, str]:
    pages = sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn)
    return {tag["Key"]: tag["Value"] for page in pages for tag in page["Tags"]}


def record_of(name: str, incident: str, own: dict[str, str], room: int) -> dict[str, str]:
    """The tags recording endpoint `name`: the incident, then its own tags if `room` (tags the
    configuration can still take) holds them all."""
    record = {RECORD_PREFIX + name: incident}
    if not own:
        return record
    encoded = base64.b64encode(json.dumps(own, separators=(",", ":")).encode()).decode()
    pieces = [encoded[i : i + TAG_VALUE_MAX] for i in range(0, len(encoded), TAG_VALUE_MAX)]
    if len(pieces) + 1 > room:
        return record
    record |= {f"{TAGS_PREFIX}{name}:{n}": piece for n, piece in enumerate(pieces)}
    return record


def recorded_tags(name: str, tags: dict[str, str]) -> dict[str, str]:
    pieces = {}
    for key, value in tags.items():
        if key.startswith(TAGS_PREFIX):
            owner, _, number = key[len(TAGS_PREFIX) :].rpartition(":")
            if owner == name and number.isdigit():
                pieces[int(number)] = value
    if not pieces:
        return {}
    decoded = json.loads(base64.b64decode("".join(pieces[n] for n in sorted(pieces))))
    return {str(k): str(v) for k, v in decoded.items()}


def record_keys(name: str, tags: dict[str, str]) -> list[str]:
    return [
        key
        for key in tags
        if key == RECORD_PREFIX + name or key.rpartition(":")[0] == f"{TAGS_PREFIX}{name}"
    ]


def halt(clients: dict[str, Any], found: list[Running], incident: str) -> ServiceHalt:
    """Record on its configuration, then delete, every endpoint in `found` no operation is
    running on; the rest wait for the next run."""
    outcome = ServiceHalt()
    first: dict[str, Running] = {}
    for item in found:  # one Running per instance type: one endpoint
        first.setdefault(item.name, item)
    for endpoint in first.values():
        try:
            delete_one(clients, endpoint, incident, outcome)
        except (ClientError, BotoCoreError) as error:
            outcome.errors.append(
                f"{endpoint.region}: deleting {KIND} {endpoint.name}: {describe_error(error)}"
            )
    return outcome


def delete_one(
    clients: dict[str, Any], endpoint: Running, incident: str, outcome: ServiceHalt
) -> None:
    sagemaker = clients[SERVICE]
    described = describe(sagemaker, endpoint.name)
    if described is None:
        return  # deleted since the count: nothing bills
    if described["EndpointStatus"] in IN_PROGRESS:
        outcome.waiting.append(endpoint)
        return
    config = described["EndpointConfigName"]
    on_config = config_arn(endpoint.arn, config)
    where = f"{endpoint.region}: {KIND} {endpoint.name}"
    by_hand = f"CreateEndpoint(EndpointName={endpoint.name}, EndpointConfigName={config})"
    record: dict[str, str] = {}
    try:
        own = {
            key: value
            for key, value in tags_of(sagemaker, endpoint.arn).items()
            if not key.startswith(("aws:", TAG_PREFIX))
        }
        existing = tags_of(sagemaker, on_config)
        room = TAGS_MAX - len(set(existing) - set(record_keys(endpoint.name, existing)))
        record = record_of(endpoint.name, incident, own, room)
        if room < 1:
            raise ValueError(f"its configuration {config} holds {TAGS_MAX} tags already")
        sagemaker.add_tags(
            ResourceArn=on_config, Tags=[{"Key": k, "Value": v} for k, v in record.items()]
        )
        if own and len(record) == 1:
            outcome.errors.append(
                f"{where}: its {len(own)} tag(s) do not fit on its configuration {config}: "
                "restore creates it without them"
            )
    except (ClientError, BotoCoreError, ValueError) as error:
        # Not deleted: a delete restore cannot undo is lost for good (the configuration may be
        # gone already: DeleteEndpointConfig leaves its endpoints running, API Reference).
        outcome.errors.append(
            f"{where}: NOT deleted, still billing: recording it on its configuration {config} "
            f"failed: {describe_error(error)}; delete it by hand if it must stop (recreate "
            f"later with {by_hand})"
        )
        return
    variants = [v["VariantName"] for v in described.get("ProductionVariants", [])]
    scaling = scaling_lines(clients[AAS], endpoint.name, variants, where)
    try:
        sagemaker.delete_endpoint(EndpointName=endpoint.name)
    except (ClientError, BotoCoreError) as error:
        if HAS_COMPONENTS in describe_error(error):
            outcome.errors.append(
                f"{where}: NOT deleted, still billing: it hosts inference components, and "
                f"SageMaker refuses to delete an endpoint that does ({describe_error(error)}). "
                "To stop it by hand: note each component's specification and copy count "
                f"(aws sagemaker list-inference-components --endpoint-name-equals "
                f"{endpoint.name}; describe-inference-component), delete the components, "
                f"then the endpoint; after restore, {by_hand} and create the components again"
            )
        else:
            outcome.errors.append(f"{where}: deleting it: {describe_error(error)}")
        if record and refused(error):  # no record of a delete that did not happen
            untag(sagemaker, on_config, list(record), where, outcome.errors)
        return
    outcome.errors += scaling
    outcome.halted.append(endpoint)
    LOG.info("endpoint_deleted", extra={"region": endpoint.region, "endpoint": endpoint.name})


def scaling_lines(aas: Any, name: str, variants: list[str], where: str) -> list[str]:
    """What deleting endpoint `name` takes from Application Auto Scaling, for the mail: each
    variant's scalable target with its policies and scheduled actions, and how to give them
    back by hand ([] when it has none)."""
    ids = [f"endpoint/{name}/variant/{variant}" for variant in variants]
    try:
        targets = (
            aas.describe_scalable_targets(ServiceNamespace=AAS_NAMESPACE, ResourceIds=ids)[
                "ScalableTargets"
            ]
            if ids
            else []
        )
        lines = []
        for target in targets:
            resource = target["ResourceId"]
            policies = aas.describe_scaling_policies(
                ServiceNamespace=AAS_NAMESPACE, ResourceId=resource
            )["ScalingPolicies"]
            actions = aas.describe_scheduled_actions(
                ServiceNamespace=AAS_NAMESPACE, ResourceId=resource
            )["ScheduledActions"]
            lines.append(
                f"{where}: its Application Auto Scaling target {resource} (min "
                f"{target['MinCapacity']}, max {target['MaxCapacity']}) is deregistered with it, "
                f"with {len(policies)} scaling policy(ies) and {len(actions)} scheduled "
                "action(s); after restore: aws application-autoscaling register-scalable-target "
                f"--service-namespace {AAS_NAMESPACE} --resource-id {resource} "
                f"--scalable-dimension {AAS_DIMENSION} --min-capacity {target['MinCapacity']} "
                f"--max-capacity {target['MaxCapacity']}"
                + "".join(f"; put-scaling-policy {policy_text(p)}" for p in policies)
                + "".join(f"; put-scheduled-action {action_text(a)}" for a in actions)
            )
        return lines
    except (ClientError, BotoCoreError) as error:
        return [
            f"{where}: reading its Application Auto Scaling before the delete: "
            f"{describe_error(error)}; any scalable targets, policies and scheduled actions "
            "it had are deregistered with it (register them again by hand after restore)"
        ]


def policy_text(policy: dict[str, Any]) -> str:
    kept = {
        key: value
        for key, value in policy.items()
        if key in ("PolicyName", "PolicyType") or key.endswith("PolicyConfiguration")
    }
    return json.dumps(kept, separators=(",", ":"), default=str)


def action_text(action: dict[str, Any]) -> str:
    kept = {
        key: action[key]
        for key in ("ScheduledActionName", "Schedule", "Timezone", "ScalableTargetAction")
        if key in action
    }
    return json.dumps(kept, separators=(",", ":"), default=str)


def untag(sagemaker: Any, arn: str, keys: list[str], where: str, errors: list[str]) -> None:
    try:
        sagemaker.delete_tags(ResourceArn=arn, TagKeys=keys)
    except (ClientError, BotoCoreError) as error:
        errors.append(f"{where}: taking its record off: {describe_error(error)}")


def restore(
    clients: dict[str, Any],
    region: str,
    incident: str,
    *,
    dry_run: bool,
    restart: bool,
    record: Record,
) -> ServiceRestore:
    """Create again, from the records on their configurations, the endpoints `incident`
    deleted (only with `restart`: an endpoint bills again at once), then remove the records."""
    sagemaker = clients[SERVICE]
    outcome = ServiceRestore()
    pages = sagemaker.get_paginator("list_endpoint_configs").paginate(
        PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for config in page["EndpointConfigs"]:
            arn = config["EndpointConfigArn"]
            found = tags_of(sagemaker, arn)
            named = [k[len(RECORD_PREFIX) :] for k in found if k.startswith(RECORD_PREFIX)]
            tags = record.vouch(found, arn, config["EndpointConfigName"], *named)
            for key, value in tags.items():
                if key.startswith(RECORD_PREFIX) and value == incident:
                    name = key[len(RECORD_PREFIX) :]
                    try:
                        restore_one(
                            sagemaker,
                            region,
                            name,
                            config,
                            tags=tags,
                            outcome=outcome,
                            dry_run=dry_run,
                            restart=restart,
                        )
                    except (ClientError, BotoCoreError) as error:
                        outcome.errors[f"{KIND} {region}/{name}"] = describe_error(error)
                    except (ValueError, KeyError, AttributeError, TypeError) as error:
                        # A record edited by hand: this endpoint only, the others go on.
                        outcome.errors[f"{KIND} {region}/{name}"] = f"unreadable record: {error}"
    return outcome


def restore_one(
    sagemaker: Any,
    region: str,
    name: str,
    config: dict[str, Any],
    *,
    tags: dict[str, str],
    outcome: ServiceRestore,
    dry_run: bool,
    restart: bool,
) -> None:
    where, arn = f"{region}/{name}", config["EndpointConfigArn"]
    existing = describe(sagemaker, name)
    if existing is not None and existing["EndpointStatus"] == "Deleting":
        outcome.not_yet.append(where)  # still going: CreateEndpoint would be refused
        return
    if existing is not None:  # created again since: left alone, the record is done
        if not dry_run:
            sagemaker.delete_tags(ResourceArn=arn, TagKeys=record_keys(name, tags))
        return
    if not restart:
        outcome.not_yet.append(where)  # the record stays for a restore with restart
        return
    if dry_run:
        outcome.restored.append(where)
        return
    own = recorded_tags(name, tags)
    sagemaker.create_endpoint(
        EndpointName=name,
        EndpointConfigName=config["EndpointConfigName"],
        Tags=[{"Key": k, "Value": v} for k, v in own.items()],
    )
    outcome.restored.append(where)
    LOG.info("endpoint_created", extra={"region": region, "endpoint": name})
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=record_keys(name, tags))
