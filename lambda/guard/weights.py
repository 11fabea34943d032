"""What one instance of each type weighs: vCPUs and accelerators, from EC2 DescribeInstanceTypes.

Which devices count as accelerators (`max_gpus`), from the InstanceTypeInfo fields (EC2 API
Reference, InstanceTypeInfo, GpuInfo, NeuronInfo, FpgaInfo, InferenceAcceleratorInfo):
- GpuInfo: NVIDIA and AMD GPUs and Habana Gaudi (dl1) devices. A fractional GPU counts as one.
- NeuronInfo: AWS Trainium and Inferentia devices (trn*, inf*).
- InferenceAcceleratorInfo: only when NeuronInfo is absent. EC2 lists inf1/inf2's Inferentia
  devices under both (the same chips), so counting both would double them.
- FpgaInfo: Xilinx FPGAs (f1, f2).
Not counted: MediaAcceleratorInfo (vt1's Xilinx U30 video transcoding cards): they are not
compute accelerators, and their price still counts against max_usd_per_hour.

Types are looked up once per Lambda execution environment (a module-level cache: a type's
vCPUs and devices never change), only for types a census found and the cache lacks, each in a
region where an instance of it runs (DescribeInstanceTypes answers InvalidInstanceType for a type
the region does not offer), 100 types a call, the regions in parallel: one round trip, cold.

IAM: ec2:DescribeInstanceTypes (no resource-level permissions).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guard.census import describe_error
from guard.logs import get_logger
from guard.parallel import map_in_parallel

LOG = get_logger("weights")

TYPES_PER_CALL = 100  # DescribeInstanceTypes InstanceTypes: at most 100 (EC2 API Reference)
INVALID_TYPE = "InvalidInstanceType"
NOT_DESCRIBED = "DescribeInstanceTypes did not describe it"
NAMED = re.compile(r"\[([^\]]*)\]")  # "... do not exist: [a, b]"


@dataclass(frozen=True)
class TypeWeight:
    vcpus: float  # a whole number for EC2 types; Fargate bills quarter vCPUs
    accelerators: int
    accelerator_names: str = ""  # e.g. "8 NVIDIA A100", for the mail


_CACHE: dict[str, TypeWeight] = {}
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every type (tests and benches: a cold execution environment)."""
    with _LOCK:
        _CACHE.clear()


def weight_of(info: Mapping[str, Any]) -> TypeWeight:
    """One InstanceTypeInfo to its weight (rules in the module docstring)."""
    devices: list[tuple[int, str]] = []
    for gpu in info.get("GpuInfo", {}).get("Gpus", []):
        devices.append((int(gpu.get("Count", 1)), f"{gpu.get('Manufacturer', '')} {gpu['Name']}"))
    neuron = info.get("NeuronInfo", {}).get("NeuronDevices", [])
    for device in neuron:
        devices.append((int(device.get("Count", 1)), f"AWS {device['Name']}"))
    if not neuron:
        for device in info.get("InferenceAcceleratorInfo", {}).get("Accelerators", []):
            name = f"{device.get('Manufacturer', '')} {device['Name']}"
            devices.append((int(device.get("Count", 1)), name))
    for fpga in info.get("FpgaInfo", {}).get("Fpgas", []):
        devices.append((int(fpga.get("Count", 1)), f"{fpga.get('Manufacturer', '')} FPGA"))
    return TypeWeight(
        vcpus=int(info["VCpuInfo"]["DefaultVCpus"]),
        accelerators=sum(count for count, _ in devices),
        accelerator_names=", ".join(f"{count} {name.strip()}" for count, name in devices),
    )


def weigh_types(
    where: Mapping[str, Iterable[str]], ec2_for: Callable[[str], Any], workers: int
) -> tuple[dict[str, TypeWeight], dict[str, str]]:
    """(weight per type, error per type that could not be weighed) for the types in `where`
    (type -> the regions an instance of it runs in). Cached types cost no call."""
    with _LOCK:
        known = {t: _CACHE[t] for t in where if t in _CACHE}
    batches = _plan_lookups({t: sorted(r) for t, r in where.items() if t not in known})

    def look_up(batch: tuple[str, list[str]]) -> tuple[dict[str, TypeWeight], dict[str, str]]:
        region, types = batch
        try:
            return describe_types(ec2_for(region), types)
        except Exception as error:  # a failed lookup is reported (degraded), never fatal
            LOG.error("instance_types_failed", extra={"region": region, "error": str(error)})
            return {}, dict.fromkeys(types, describe_error(error))

    errors: dict[str, str] = {}
    for found, failed in map_in_parallel(look_up, batches, workers):
        with _LOCK:
            _CACHE.update(found)
        known.update(found)
        errors.update(failed)
    return known, errors


def describe_types(ec2: Any, types: list[str]) -> tuple[dict[str, TypeWeight], dict[str, str]]:
    """(weights, {type: why not weighed}) of `types` in one region. AWS refuses the whole call
    if one type is unknown to it: InvalidInstanceType "The following supplied instance types do
    not exist: [i8ge.xlarge]" (quoted in scylladb/scylla-cluster-tests#12419; several names
    comma-separated, "[m5n.large, m5zn.large]", in terraform-aws-eks users' logs). The call is
    asked again without the types it names; if the message names none of them, one call per
    type: one bad type never leaves the others unweighed."""
    try:
        found = _describe(ec2, types)
        return found, dict.fromkeys(set(types) - set(found), NOT_DESCRIBED)
    except Exception as error:
        if _code(error) != INVALID_TYPE:
            raise
        named = set(_named_types(error)) & set(types)
    if not named:
        found: dict[str, TypeWeight] = {}
        failed: dict[str, str] = {}
        for one in types:
            try:
                found.update(_describe(ec2, [one]))
            except Exception as error:  # this type only
                failed[one] = describe_error(error)
        failed.update(dict.fromkeys(set(types) - set(found) - set(failed), NOT_DESCRIBED))
        return found, failed
    rest = [t for t in types if t not in named]
    found, failed = describe_types(ec2, rest) if rest else ({}, {})
    for bad in named:
        failed[bad] = f"{INVALID_TYPE}: not an EC2 instance type in this region"
    return found, failed


def _describe(ec2: Any, types: list[str]) -> dict[str, TypeWeight]:
    pages = ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=types)
    return {
        info["InstanceType"]: weight_of(info) for page in pages for info in page["InstanceTypes"]
    }


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _named_types(error: Exception) -> list[str]:
    """The types an InvalidInstanceType message lists in brackets, comma-separated."""
    message = str(getattr(error, "response", {}).get("Error", {}).get("Message", ""))
    listed = NAMED.search(message)
    return [name.strip() for name in listed[1].split(",") if name.strip()] if listed else []


def _plan_lookups(where: Mapping[str, list[str]]) -> list[tuple[str, list[str]]]:
    """(region, up to 100 types) calls covering every type, in as few regions as it takes:
    each type is asked in the region where most of the other unknown types also run."""
    regions_by_size: dict[str, int] = {}
    for regions in where.values():
        for region in regions:
            regions_by_size[region] = regions_by_size.get(region, 0) + 1
    by_region: dict[str, list[str]] = {}
    for instance_type, regions in sorted(where.items()):
        if not regions:
            continue
        region = max(regions, key=lambda r: (regions_by_size[r], r))
        by_region.setdefault(region, []).append(instance_type)
    return [
        (region, types[start : start + TYPES_PER_CALL])
        for region, types in sorted(by_region.items())
        for start in range(0, len(types), TYPES_PER_CALL)
    ]
