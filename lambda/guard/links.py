"""Console links for the mail: the payer's fleet dashboard and the guard's own log group. Pure.

The dashboard lives in the payer's stack, in the payer's home Region, which is the Region of the
payer's bus (`payer_bus`, an ARN) every guard already knows; its name is fixed here and the payer
stack uses the same constant (runawaytrain_stack/dashboard.py). The log group is the one Lambda
writes the run to (the context object's `log_group_name`, AWS Lambda Developer Guide, "Using the
Lambda context object to retrieve Python function information").

The URLs are the CloudWatch console's own (no API documents them): a dashboard is
`#dashboards/dashboard/NAME`, a log group `#logsV2:log-groups/log-group/NAME` with the name
URL-encoded and every `%` written `$25` (the console encodes the fragment twice: `/` is `$252F`).
"""

from __future__ import annotations

from urllib.parse import quote

DASHBOARD_NAME = "runawaytrain-fleet"
# The console's host per partition; another partition gets no link rather than a wrong one.
CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-us-gov": "console.amazonaws-us-gov.com",
    "aws-cn": "console.amazonaws.cn",
}


def _console(partition: str, region: str, fragment: str) -> str:
    host = CONSOLE_HOSTS.get(partition)
    if host is None or not region:
        return ""
    return f"https://{region}.{host}/cloudwatch/home?region={region}#{fragment}"


def dashboard_url(payer_bus_arn: str) -> str:
    """The fleet dashboard in the payer's Region; empty without a payer bus (no payer stack)."""
    parts = payer_bus_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return ""
    return _console(parts[1], parts[3], f"dashboards/dashboard/{DASHBOARD_NAME}")


def log_group_url(function_arn: str, log_group: str) -> str:
    """The guard's log group, in the function's account and Region (from its ARN)."""
    parts = function_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not log_group:
        return ""
    encoded = quote(log_group, safe="").replace("%", "$25")
    return _console(parts[1], parts[3], f"logsV2:log-groups/log-group/{encoded}")


def link_lines(dashboard: str, log_group: str) -> list[str]:
    """The mail's lines, for the links there are."""
    lines = []
    if dashboard:
        lines.append(f"Fleet dashboard (in the payer account): {dashboard}")
    if log_group:
        lines.append(f"This guard's log (in this account): {log_group}")
    return lines
