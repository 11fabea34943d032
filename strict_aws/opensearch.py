"""Strict OpenSearch Service: DescribeDomains takes at most five domain names.

moto describes any number of domains in one DescribeDomains. AWS describes "the domain
configuration for up to five specified" domains (API Reference, DescribeElasticsearchDomains,
which DescribeDomains replaced with the same DomainNames list), so a census that asks for more
in one call fails on AWS only. Here more than five, or none ("You must specify at least one
domain name", API Reference, DescribeDomains), is refused: 400 ValidationException, in the
text of AWS's request validation ("1 validation error detected: Value ... at 'domainNames'
failed to satisfy constraint: Member must have length less than or equal to 5"; the exact
text is UNCERTAIN, the shape is AWS's for a list too long).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.opensearch.models import OpenSearchServiceBackend

from strict_aws.patches import Patches

MAX_NAMES = 5
_ORIGINAL_DESCRIBE_DOMAINS = OpenSearchServiceBackend.describe_domains


def install(patches: Patches) -> None:
    patches.set(OpenSearchServiceBackend, "describe_domains", _describe_domains)


def _describe_domains(self: OpenSearchServiceBackend, domain_names: list[str]) -> Any:
    names = list(domain_names or [])
    if not 1 <= len(names) <= MAX_NAMES:
        constraint = (
            f"Member must have length less than or equal to {MAX_NAMES}"
            if names
            else "Member must have length greater than or equal to 1"
        )
        raise JsonRESTError(
            "ValidationException",
            f"1 validation error detected: Value '{json.dumps(names)}' at 'domainNames' "
            f"failed to satisfy constraint: {constraint}",
        )
    return _ORIGINAL_DESCRIBE_DOMAINS(self, names)
