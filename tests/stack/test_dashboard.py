"""The payer's fleet dashboard plots only metrics the code emits (same namespace, name,
dimensions and unit), one row per account up to its documented size, within CloudWatch's
dashboard quotas; and the mail's link names it where it is."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from guard.links import dashboard_url
from guard.metrics import documents, measure
from guard.report import Report
from guard.service_names import KINDS
from runawaytrain_stack.dashboard import MAX_ACCOUNT_ROWS, ROW_METRICS, TOP_N, FleetDashboard
from runawaytrain_stack.fleet import FleetStacks
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.names import name_payer_bus_arn
from tests.emf_spec import emf_lines
from watchdog.metrics import emit_check_completed, emit_fleet_health

# CloudWatch User Guide, "CloudWatch service quotas", Dashboards (the older, stricter figures):
# metrics fed to math or a query count too.
MAX_WIDGETS = 500
MAX_METRICS_PER_DASHBOARD = 500
MAX_METRICS_PER_WIDGET = 100

Identity = tuple[str, str, frozenset[str]]  # namespace, name, dimension keys


def emitted() -> dict[Identity, str]:
    """Every metric the code can emit, with its unit, from the builders themselves: a guard run
    that tripped in enforce mode with every weighted limit set and other capacity running, a
    restore run, and the watchdog's check."""
    tripped = Report(
        account="1",
        mode="enforce",
        limit=10,
        verdict="trip",
        reason="",
        trigger="schedule",
        tripped=True,
        count=12,
        halt_seconds=3.0,
        region_errors={"eu-west-1": "throttled"},
        burn={
            "vcpus": 1,
            "accelerators": 1,
            "usd_per_hour": 1,
            "limits": {"vcpus": 1, "gpus": 1, "usd_per_hour": 1},
        },
        services={kind: {"us-east-1": 1} for kind in KINDS},
    )
    restored = Report(
        account="1", mode="enforce", limit=10, verdict="restore", reason="", trigger="", restore={}
    )
    found = []
    for report in (tripped, restored):
        found += documents("123456789012", measure(report, run_seconds=1, aws_calls=1), 10**12)
    out = io.StringIO()
    with redirect_stdout(out):
        emit_check_completed()
        emit_fleet_health(0, 0)
    found += [json.loads(line) for line in emf_lines(out.getvalue())]
    units: dict[Identity, str] = {}
    for document in found:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for keys in directive["Dimensions"]:
                for metric in directive["Metrics"]:
                    identity = (directive["Namespace"], metric["Name"], frozenset(keys))
                    units[identity] = metric.get("Unit", "None")
    return units


def body_of(template: Template) -> dict[str, Any]:
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, dict):  # Fn::Join of text and references (Region, log group)
        body = "".join(p if isinstance(p, str) else "REF" for p in body["Fn::Join"][1])
    return json.loads(body)


QUERY = re.compile(
    r"SELECT (?P<function>\w+)\((?P<name>\w+)\) FROM SCHEMA\((?P<namespace>[\w\"/]+), "
    r"(?P<keys>[\w, ]+)\) GROUP BY [\w, ]+ ORDER BY \w+\(\) DESC LIMIT (?P<limit>\d+)$"
)


def plotted(body: dict[str, Any]) -> list[tuple[Identity, str, int]]:
    """(identity, the unit its axis names, how many series it may bring) of every metric and
    Metrics Insights query on the dashboard."""
    found = []
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        properties = widget["properties"]
        axes = properties.get("yAxis", {})
        for entry in properties["metrics"]:
            options = entry[-1] if isinstance(entry[-1], dict) else {}
            axis = axes.get(options.get("yAxis", "left"), {}).get("label", "")
            if "expression" in options:
                match = QUERY.match(options["expression"])
                assert match, f"not a query this test reads: {options['expression']}"
                keys = frozenset(k.strip() for k in match["keys"].split(","))
                identity = (match["namespace"].strip('"'), match["name"], keys)
                found.append((identity, axis, int(match["limit"])))
                continue
            namespace, name, *rest = entry[:-1] if options else entry
            identity = (namespace, name, frozenset(rest[0::2]))
            # A SampleCount counts datapoints, whatever the metric's unit.
            unit = "Count" if options.get("stat") == "SampleCount" else None
            found.append((identity, axis if unit is None else f"{axis}|{unit}", 1))
    return found


@pytest.fixture(scope="module")
def sample_body(sample_app: tuple[App, FleetStacks]) -> dict[str, Any]:
    assert sample_app[1].payer is not None
    return body_of(Template.from_stack(sample_app[1].payer))


@pytest.fixture(scope="module")
def test_body(test_app: tuple[App, FleetStacks]) -> dict[str, Any]:
    assert test_app[1].payer is not None
    return body_of(Template.from_stack(test_app[1].payer))


@pytest.mark.parametrize("fleet", ["sample_body", "test_body"])
def test_every_plotted_metric_is_one_the_code_emits_with_its_unit(
    fleet: str, request: pytest.FixtureRequest
) -> None:
    units = emitted()
    found = plotted(request.getfixturevalue(fleet))
    assert found
    for identity, axis, _ in found:
        assert identity in units, f"plotted, never emitted: {identity}"
        label, _, counted = axis.partition("|")
        assert (counted or units[identity]) == (counted or label), (identity, axis)
        if counted:
            assert label == "Count"


def test_the_test_fleet_plots_every_weighted_limit(test_body: dict[str, Any]) -> None:
    """prod sets max_vcpus, max_gpus and max_usd_per_hour: all six lines are on its row."""
    names = {identity[1] for identity, _, _ in plotted(test_body)}
    assert {"VCpus", "VCpuLimit", "Gpus", "GpuLimit", "UsdPerHour", "UsdPerHourLimit"} <= names


def fleet_of(size: int) -> Fleet:
    accounts = [
        Account(
            id=f"{100000000000 + i}",
            name=f"account-{i}",
            notify=("ops@example.com",),
            ec2_limit=10,
            max_vcpus=64,
            max_gpus=4,
            max_usd_per_hour=10.0,
        )
        for i in range(size)
    ]
    return Fleet(payer=accounts[0], sub_accounts=tuple(accounts[1:]))


def dashboard_of(fleet: Fleet) -> dict[str, Any]:
    stack = Stack(App(), "DashboardOnly")
    FleetDashboard(stack, "Dashboard", fleet=fleet, watchdog_logs=logs.LogGroup(stack, "Logs"))
    return body_of(Template.from_stack(stack))


def rows(body: dict[str, Any]) -> set[str]:
    """The accounts with a row: plain metrics naming an Account."""
    return {
        entry[entry.index("Account") + 1]
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for entry in widget["properties"]["metrics"]
        if "Account" in entry
    }


def test_the_largest_dashboard_with_rows_stays_within_the_quotas() -> None:
    body = dashboard_of(fleet_of(MAX_ACCOUNT_ROWS))

    assert len(rows(body)) == MAX_ACCOUNT_ROWS
    assert len(body["widgets"]) <= MAX_WIDGETS
    per_widget = [
        sum(series for _, _, series in plotted({"widgets": [widget]})) for widget in body["widgets"]
    ]
    assert max(per_widget) <= MAX_METRICS_PER_WIDGET
    assert sum(per_widget) <= MAX_METRICS_PER_DASHBOARD
    row_metrics = [n for n in per_widget if n != TOP_N]
    assert sum(row_metrics) <= MAX_ACCOUNT_ROWS * ROW_METRICS + 2  # + the fleet's health


def test_a_larger_fleet_gets_the_top_n_views_and_no_rows() -> None:
    body = dashboard_of(fleet_of(MAX_ACCOUNT_ROWS + 1))

    assert rows(body) == set()
    queries = [s for _, _, s in plotted(body) if s == TOP_N]
    assert len(queries) >= 5
    markdown = body["widgets"][0]["properties"]["markdown"]
    assert f"More than {MAX_ACCOUNT_ROWS} accounts" in markdown
    assert "| account | id |" not in markdown  # no table that grows with the fleet


def test_the_mail_links_to_the_dashboard_the_payer_stack_deploys(
    test_app: tuple[App, FleetStacks], test_fleet: Fleet
) -> None:
    payer = test_app[1].payer
    assert payer is not None
    (dashboard,) = Template.from_stack(payer).find_resources("AWS::CloudWatch::Dashboard").values()
    name = dashboard["Properties"]["DashboardName"]
    region = test_fleet.payer.home_region
    assert payer.region == region == "eu-central-1"

    # Every guard is told the payer bus's ARN; the link is made from it.
    assert dashboard_url(name_payer_bus_arn(test_fleet)) == (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{name}"
    )
