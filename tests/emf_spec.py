"""A validator of CloudWatch embedded metric format (EMF) log lines, from the specification.

CloudWatch User Guide, "Specification: Embedded metric format" (the page's JSON schema, and the
rules its prose adds that the schema does not say). Where versions of the page differ the
stricter is kept: a DimensionSet holds at most 9 keys in the archived guide
(awsdocs/amazon-cloudwatch-user-guide) and 30 in later versions; a document is limited to 256 KB
there and 1 MB later. runawaytrain's documents use at most 2 keys and a few hundred bytes.

`problems(line)` returns what is wrong with one log line, empty when it is a valid document.
"""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema

MAX_DIMENSION_KEYS = 9
MAX_METRICS_PER_DIRECTIVE = 100  # "This array MUST NOT contain more than 100 MetricDefinition"
MAX_VALUES_PER_METRIC = 100  # "Numeric array metric targets MUST NOT have more than 100 members"
MAX_BYTES = 256 * 1024
# The units the schema's pattern allows (the same list as MetricDatum's Unit).
UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]

_NAME = {"type": "string", "minLength": 1, "maxLength": 255}
SCHEMA: dict[str, Any] = {  # the specification's schema, its $id and title members left out
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer"},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": _NAME,
                            "Dimensions": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "array",
                                    "minItems": 0,
                                    "maxItems": MAX_DIMENSION_KEYS,
                                    "items": _NAME,
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": MAX_METRICS_PER_DIRECTIVE,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": _NAME,
                                        "Unit": {"enum": UNITS},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
# "objects defined by this specification MUST NOT contain any additional members"
MEMBERS = {
    "_aws": {"Timestamp", "CloudWatchMetrics"},
    "directive": {"Namespace", "Dimensions", "Metrics"},
    "metric": {"Name", "Unit", "StorageResolution"},
}


def problems(line: str) -> list[str]:
    """What makes `line` not a valid EMF log event (empty: valid)."""
    if "\n" in line.rstrip("\n"):
        return ["one log event is one line"]
    if len(line.encode()) > MAX_BYTES:
        return [f"larger than {MAX_BYTES} bytes"]
    try:
        document = json.loads(line)  # "no additional data at the beginning or end"
    except ValueError as error:
        return [f"not one JSON object: {error}"]
    if not isinstance(document, dict):
        return ["the root is not an object"]
    found = [error.message for error in jsonschema.Draft7Validator(SCHEMA).iter_errors(document)]
    if found:
        return found
    metadata = document["_aws"]
    found += _extra(metadata, MEMBERS["_aws"], "_aws")
    if isinstance(metadata["Timestamp"], bool) or metadata["Timestamp"] < 10**12:
        found.append("Timestamp is not milliseconds since the epoch")
    for directive in metadata["CloudWatchMetrics"]:
        found += _extra(directive, MEMBERS["directive"], "MetricDirective")
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                value = document.get(key)
                if not isinstance(value, str) or not value.strip():
                    found.append(f"dimension {key!r} has no string value at the root")
        for definition in directive["Metrics"]:
            found += _extra(definition, MEMBERS["metric"], "MetricDefinition")
            found += _metric_target(document, definition["Name"])
    return found


def _extra(member: dict[str, Any], allowed: set[str], what: str) -> list[str]:
    return [f"{what} has a member the specification does not: {k}" for k in set(member) - allowed]


def _metric_target(document: dict[str, Any], name: str) -> list[str]:
    value = document.get(name)
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) > MAX_VALUES_PER_METRIC:
        return [f"metric {name!r} has more than {MAX_VALUES_PER_METRIC} values"]
    for item in values:
        if not isinstance(item, int | float) or isinstance(item, bool) or not math.isfinite(item):
            return [f"metric {name!r} has no numeric value at the root: {value!r}"]
    return []


def emf_lines(text: str) -> list[str]:
    """The lines of captured output that are EMF documents (they carry `_aws`)."""
    return [line for line in text.splitlines() if line.startswith("{") and '"_aws"' in line]
