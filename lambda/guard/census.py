"""Count the EC2 instances that cost money now (pending + running) in every region of an account.

With a weighted limit set (max_vcpus, max_gpus, max_usd_per_hour) each region is read with
DescribeInstanceImageMetadata instead, which also says each instance's type: the same number of
calls (1000 instances a page) and no call per instance. Should that call fail in a region (the
API documents failures while an Availability Zone is impaired), the region is counted with
DescribeInstanceStatus all the same: its instances count against ec2_limit, and weigh as
UNKNOWN_TYPE (the weighted limits then say they were not fully checked).

IAM: ec2:DescribeRegions, ec2:DescribeInstanceStatus, ec2:DescribeInstanceImageMetadata (no
resource-level permissions for any).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guard.logs import get_logger
from guard.parallel import map_in_parallel

LOG = get_logger("census")

COUNTED_STATES = ("pending", "running")
# DescribeRegions without AllRegions lists only enabled regions, each with OptInStatus
# "opt-in-not-required" or "opted-in" (EC2 API Reference, DescribeRegions). Filter anyway:
# emulators (moto) return every partition's regions and disabled ones too.
ENABLED_OPT_IN = frozenset({"opt-in-not-required", "opted-in"})
PAGE_SIZE = 1000  # DescribeInstanceStatus MaxResults upper bound (EC2 API Reference)
REGION_LIST = "(region list)"  # key in region_errors when the region list itself failed
# A region an organization closed with a service control policy refuses every call with an
# explicit-deny message ("... with an explicit deny in a service control policy"). That is a
# decision someone made, not a broken guard: it is reported as closed, not as degraded.
# Source: IAM User Guide, "Troubleshoot access denied error messages" (the message names the
# policy type that denied the request). EC2 answers UnauthorizedOperation, others AccessDenied.
SCP_DENY_CODES = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"})
SCP_DENY_TEXT = "explicit deny in a service control policy"
UNKNOWN_TYPE = "(type unknown)"  # an instance counted without its type (see the docstring)


@dataclass(frozen=True)
class Instance:
    id: str
    state: str
    instance_type: str = ""  # only read when a weighted limit is set; "" otherwise


@dataclass(frozen=True)
class Census:
    """What was counted: instances per region that answered, errors per region that did not."""

    instances: Mapping[str, tuple[Instance, ...]]
    region_errors: Mapping[str, str] = field(default_factory=dict)
    closed_regions: Mapping[str, str] = field(default_factory=dict)  # closed by an SCP: why
    # Regions counted without instance types (the typed call failed there): why.
    untyped_regions: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_region(self) -> dict[str, int]:
        return {region: len(found) for region, found in sorted(self.instances.items())}

    @property
    def total(self) -> int:
        return sum(len(found) for found in self.instances.values())

    @property
    def instance_ids(self) -> list[str]:
        """Every counted instance's id, region by region."""
        return [instance.id for found in self.instances.values() for instance in found]


def list_enabled_regions(ec2: Any, partition_of: Callable[[str], str]) -> list[str]:
    """Regions this account has enabled, in the caller's partition only."""
    home_partition = partition_of(ec2.meta.region_name)
    response = ec2.describe_regions(
        Filters=[{"Name": "opt-in-status", "Values": sorted(ENABLED_OPT_IN)}]
    )
    return sorted(
        region["RegionName"]
        for region in response["Regions"]
        if region.get("OptInStatus", "opt-in-not-required") in ENABLED_OPT_IN
        and partition_of(region["RegionName"]) == home_partition
    )


def list_active_instances(ec2: Any) -> tuple[Instance, ...]:
    """Every pending or running instance in the client's region, following every page.

    DescribeInstanceStatus with IncludeAllInstances lists instances in every state (without it,
    only running ones) and answers with a few fields per instance, where DescribeInstances sends
    dozens: about 6x less to parse in the emulator here (bench/halt.py), and less Lambda CPU.
    Source: EC2 API Reference, DescribeInstanceStatus.
    """
    paginator = ec2.get_paginator("describe_instance_status")
    pages = paginator.paginate(
        IncludeAllInstances=True,
        Filters=[{"Name": "instance-state-name", "Values": list(COUNTED_STATES)}],
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    found = []
    for page in pages:
        for status in page["InstanceStatuses"]:
            # The filter is the contract, but re-check: a state outside it must never count.
            state = status["InstanceState"]["Name"]
            if state in COUNTED_STATES:
                found.append(Instance(status["InstanceId"], state))
    return tuple(found)


def list_typed_instances(ec2: Any) -> tuple[Instance, ...]:
    """Every pending or running instance of the client's region with its type: what the
    weighted limits need, following every page.

    DescribeInstanceImageMetadata answers with a dozen fields per instance (id, type, state,
    zone, launch time, tags, AMI) where DescribeInstances sends dozens: in the emulator here it
    costs ~1.3x DescribeInstanceStatus at 1000 instances, DescribeInstances ~6x (bench/weighted.py).
    It does not say tenancy or Spot: every instance is priced at the shared-tenancy on-demand
    rate (README). Source: EC2 API Reference, DescribeInstanceImageMetadata (filter
    instance-state-name, MaxResults up to 1000).
    """
    pages = ec2.get_paginator("describe_instance_image_metadata").paginate(
        Filters=[{"Name": "instance-state-name", "Values": list(COUNTED_STATES)}],
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    found = []
    for page in pages:
        for metadata in page["InstanceImageMetadata"]:
            state = metadata["State"]["Name"]
            if state in COUNTED_STATES:  # the filter is the contract; re-check anyway
                found.append(Instance(metadata["InstanceId"], state, metadata["InstanceType"]))
    return tuple(found)


def count_instances(
    regions: Iterable[str], ec2_for: Callable[[str], Any], workers: int, *, with_types: bool = False
) -> Census:
    """Census of every region in parallel; a region that fails is recorded, never fatal.
    `with_types`: read each instance's type too (a weighted limit is set)."""
    regions = list(regions)

    def count_one(region: str) -> tuple[str, tuple[Instance, ...] | Exception, str | None]:
        typed_error = None
        try:
            if with_types:
                try:
                    return region, list_typed_instances(ec2_for(region)), None
                except Exception as error:  # counted without types below, never left uncounted
                    if closed_by_policy(error):
                        raise
                    typed_error = describe_error(error)
            return region, untyped(list_active_instances(ec2_for(region)), with_types), typed_error
        except Exception as error:  # one failing region is reported, never fatal to the others
            return region, error, typed_error

    instances: dict[str, tuple[Instance, ...]] = {}
    errors: dict[str, str] = {}
    closed: dict[str, str] = {}
    untyped_regions: dict[str, str] = {}
    for region, result, typed_error in map_in_parallel(count_one, regions, workers):
        if isinstance(result, Exception) and closed_by_policy(result):
            closed[region] = describe_error(result)
            LOG.info("region_closed_by_policy", extra={"region": region})
        elif isinstance(result, Exception):
            errors[region] = describe_error(result)
            LOG.error("region_count_failed", extra={"region": region, "error": errors[region]})
        else:
            instances[region] = result
            if typed_error is not None:
                untyped_regions[region] = typed_error
                LOG.error("region_types_unread", extra={"region": region, "error": typed_error})
    LOG.info(
        "census_done",
        extra={
            "count": sum(len(found) for found in instances.values()),
            "by_region": {region: len(found) for region, found in instances.items() if found},
            "regions_counted": len(instances),
            "regions_failed": sorted(errors),
            "regions_closed": sorted(closed),
            "regions_untyped": sorted(untyped_regions),
        },
    )
    return Census(instances, errors, closed, untyped_regions)


def untyped(found: tuple[Instance, ...], weighed: bool) -> tuple[Instance, ...]:
    """The instances of a region counted without their types: UNKNOWN_TYPE when they are to be
    weighed, so no weighted limit mistakes them for weightless."""
    if not weighed:
        return found
    return tuple(Instance(i.id, i.state, UNKNOWN_TYPE) for i in found)


def closed_by_policy(error: Exception) -> bool:
    """True when a service control policy refused the call: the region is closed on purpose."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    detail = response.get("Error", {})
    return (
        detail.get("Code") in SCP_DENY_CODES
        and SCP_DENY_TEXT in str(detail.get("Message", "")).lower()
    )


def refused(error: Exception) -> bool:
    """AWS answered and refused the change (an error response: botocore's ClientError), so
    nothing changed and its record can go. Any other failure (BotoCoreError: a read timeout, a
    dropped connection) may come after AWS received and applied the request (botocore raises
    ReadTimeoutError while waiting for the response to a request already sent): the record
    stays, and restore handles a record of a change that did not happen."""
    response = getattr(error, "response", None)
    return isinstance(response, dict) and "Error" in response


def describe_error(error: Exception) -> str:
    """`Code: message` for AWS errors, `ClassName: message` for anything else."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        detail = response["Error"]
        return f"{detail.get('Code', 'Unknown')}: {detail.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"
