"""Strict CloudWatch: GetMetricData answers SEARCH expressions, with dynamic labels.

moto's GetMetricData answers MetricStat queries and Metrics Insights (`SELECT`, summed over every
metric, unfiltered); any other expression is read as the id of another query, so
`SEARCH(...)` returns no data at all. The guard's Bedrock census (lambda/guard/bedrock_tokens.py)
asks one GetMetricData per region with SEARCH expressions. Here a query whose Expression is
`SEARCH('{Namespace,DimensionName,...} MetricName="Name"', 'Statistic', Period)` returns one time
series per metric of that namespace whose dimension names are exactly those of the schema and
whose name is `Name` ("the metric schema ... contains a metric namespace and one or more
dimension names"; CloudWatch User Guide, "CloudWatch search expression syntax"), each with the
query's Id and its Label after dynamic labels: `${PROP('Dim.<name>')}` the dimension's value,
`${PROP('MetricName')}`, `${PROP('Namespace')}` ("If you use a dynamic label with a search
expression, the dynamic label applies to every metric returned by the search": CloudWatch User
Guide, "Use dynamic labels"). A metric is found if it has data in the two weeks before EndTime
("Search expressions can only find metrics that have reported data in the past two weeks":
CloudWatch User Guide, "Use search expressions in graphs"); its values are those of the period
buckets from StartTime that hold data, by the statistic, as moto computes them.

A search answers at most 500 series ("It can return up to 500 time series": CloudWatch search
expressions, CloudWatch User Guide via the CDK's SearchExpression reference); beyond that the
first 500 (by dimensions) are answered and the response carries the operation-level message
AWS documents, Messages [{Code: MaxMetricsExceeded, Value: "Maximum number of allowed metrics
exceeded"}] (the text: API Reference, GetMetricData, Messages; the code: the one Grafana's
CloudWatch data source checks for, UNCERTAIN beyond that).

Any other search term (partial matches, boolean operators, several names) raises
NotImplementedError: a test relying on it fails loudly instead of reading no data. A query
without Label gets the metric name as its label (AWS's default label is not modelled).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, Statistics
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from strict_aws.patches import Patches

_ORIGINAL_GET_METRIC_DATA = CloudWatchBackend.get_metric_data
SEARCH = re.compile(
    r"""^\s*SEARCH\(\s*'\{(?P<schema>[^}]*)\}\s*MetricName\s*=\s*"(?P<name>[^"]+)"\s*'\s*,"""
    r"""\s*'(?P<stat>\w+)'\s*(?:,\s*(?P<period>\d+)\s*)?\)\s*$"""
)
PROPERTY = re.compile(r"\$\{PROP\('(?P<key>[^']+)'\)\}")
SEARCH_HORIZON = timedelta(days=14)
SEARCH_MAX_SERIES = 500
CUT = {"Code": "MaxMetricsExceeded", "Value": "Maximum number of allowed metrics exceeded"}
_ORIGINAL_RESPONSE = CloudWatchResponse.get_metric_data


def install(patches: Patches) -> None:
    patches.set(CloudWatchBackend, "get_metric_data", _get_metric_data)
    patches.set(CloudWatchResponse, "get_metric_data", _get_metric_data_response)


def _get_metric_data_response(self: CloudWatchResponse) -> ActionResult:
    """moto's answer, with the operation-level Messages of a search cut at 500 series."""
    self.cloudwatch_backend.strict_cut = False
    answer = _ORIGINAL_RESPONSE(self)
    if getattr(self.cloudwatch_backend, "strict_cut", False):
        return ActionResult({**answer.result, "Messages": [CUT]})
    return answer


def _get_metric_data(
    self: CloudWatchBackend,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str = "TimestampAscending",
) -> list[dict[str, Any]]:
    searches = [q for q in queries if str(q.get("Expression", "")).lstrip().startswith("SEARCH")]
    others = [q for q in queries if q not in searches]
    results = (
        _ORIGINAL_GET_METRIC_DATA(self, others, start_time, end_time, scan_by) if others else []
    )
    for query in searches:
        results += _search(self, query, start_time, end_time, scan_by)
    return results


def _search(
    backend: CloudWatchBackend,
    query: dict[str, Any],
    start_time: datetime,
    end_time: datetime,
    scan_by: str,
) -> list[dict[str, Any]]:
    matched = SEARCH.match(query["Expression"])
    if matched is None:
        raise NotImplementedError(
            f"strict_aws.cloudwatch models only SEARCH('{{Namespace,Dim,...}} "
            f"MetricName=\"Name\"', 'Stat', Period), not {query['Expression']!r}"
        )
    namespace, *dimension_names = [part.strip() for part in matched["schema"].split(",")]
    period = timedelta(seconds=int(matched["period"] or query.get("Period") or 300))
    start_time, end_time = start_time.replace(microsecond=0), end_time.replace(microsecond=0)
    series: dict[tuple[tuple[str, str], ...], list[Any]] = {}
    for datum in backend.get_all_metrics():
        names = sorted(d.name for d in datum.dimensions)
        if (
            datum.namespace == namespace
            and datum.name == matched["name"]
            and names == sorted(dimension_names)
            and end_time - SEARCH_HORIZON <= datum.timestamp < end_time
        ):
            key = tuple(sorted((d.name, d.value) for d in datum.dimensions))
            series.setdefault(key, []).append(datum)
    results = []
    if len(series) > SEARCH_MAX_SERIES:
        backend.strict_cut = True  # type: ignore[attr-defined]
    for dimensions, data in sorted(series.items())[:SEARCH_MAX_SERIES]:
        values, timestamps = [], []
        bucket = start_time
        while bucket < end_time:
            inside = [d for d in data if bucket <= d.timestamp < bucket + period]
            if inside:
                stats = Statistics([matched["stat"]], bucket)
                stats.metric_data = inside
                values.append(stats.get_statistics_for_type(matched["stat"]))
                timestamps.append(bucket)
            bucket += period
        if scan_by == "TimestampDescending":
            values.reverse()
            timestamps.reverse()
        properties = {
            "MetricName": matched["name"],
            "Namespace": namespace,
            **{f"Dim.{name}": value for name, value in dimensions},
        }
        label = PROPERTY.sub(
            lambda m, properties=properties: properties.get(m["key"], ""),
            query.get("Label") or matched["name"],
        )
        results.append(
            {
                "id": query["Id"],
                "label": label,
                "values": values,
                "timestamps": timestamps,
                "status_code": "Complete",
            }
        )
    return results
