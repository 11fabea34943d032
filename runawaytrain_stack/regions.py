"""Region names in accounts.yaml: real Regions of the commercial partition, checked by name.

A pattern accepts `us-east-7` and `cn-north-1`, and the mistake surfaces only when CloudFormation
or the guard meets it. botocore ships AWS's own partition data (`endpoints.json`: every partition
with its Regions, the same file the SDKs resolve endpoints from), so a name is checked against
the Regions AWS lists for the `aws` partition. runawaytrain deploys with one set of credentials
from the payer of one AWS Organization; China (`aws-cn`) and GovCloud (`aws-us-gov`) accounts
live in separate partitions with their own organizations, credentials and endpoints.
"""

from __future__ import annotations

import difflib
from functools import cache

import botocore
from botocore.loaders import Loader

COMMERCIAL_PARTITION = "aws"
# What a user of another partition should read, by partition id (botocore's endpoints.json).
OTHER_PARTITIONS = {
    "aws-cn": "AWS China",
    "aws-us-gov": "AWS GovCloud (US)",
}


@cache
def _partitions() -> dict[str, frozenset[str]]:
    """Partition id -> its Region names, from the data botocore ships."""
    data = Loader().load_data("endpoints")
    return {p["partition"]: frozenset(p["regions"]) for p in data["partitions"]}


def commercial_regions() -> frozenset[str]:
    return _partitions()[COMMERCIAL_PARTITION]


def region_problem(name: str) -> str | None:
    """None for a Region of the commercial partition; else what is wrong and what to write."""
    if name in commercial_regions():
        return None
    for partition, regions in _partitions().items():
        if name in regions:
            label = OTHER_PARTITIONS.get(partition, f"the {partition} partition")
            return (
                f"{name} is a Region of {label}, not of the commercial AWS partition; "
                "runawaytrain guards the accounts of one commercial AWS Organization "
                "(accounts in other partitions need their own deployment)"
            )
    guesses = difflib.get_close_matches(name.lower(), sorted(commercial_regions()), n=2, cutoff=0.7)
    hint = f"; did you mean {' or '.join(guesses)}?" if guesses else ""
    return (
        f"not a Region of the commercial AWS partition (botocore {botocore.__version__} lists "
        f"{len(commercial_regions())}; for a Region newer than that, upgrade boto3){hint}"
    )


def validate_region(name: str) -> str:
    """Pydantic validator: `name` unchanged, or ValueError with `region_problem`'s text."""
    problem = region_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name
