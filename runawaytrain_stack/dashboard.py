"""In the payer: one CloudWatch dashboard of the fleet, from the payer's own metrics.

The watchdog prints every heartbeat's numbers in the payer as EMF (lambda/watchdog/fleet_metrics.py,
dimension `Account`), and the fleet's health at every check (`GuardsSilent`, `GuardsUnhealthy`);
this dashboard plots only those, built from the same catalogue (lambda/guard/metrics.py), so a
renamed metric changes both (tests/stack/test_dashboard.py compares the synthesized dashboard
with what the code emits).

Layout, top to bottom:
- a header: what is shown, the accounts' names and ids (the top-N views label by id);
- the fleet: guards silent or unhealthy (the watchdog's check), and each account's last heartbeat
  (a Logs Insights table over the watchdog's log: no metric, so no metric cost);
- top-N views, whatever the fleet's size: CloudWatch Metrics Insights queries (`GROUP BY Account
  ORDER BY ... LIMIT 10`): the accounts nearest their limits, the biggest burns, the most trips,
  degraded regions, the slowest runs, the largest capacity outside EC2;
- one row per account, up to MAX_ACCOUNT_ROWS accounts: its count and burn against its limits,
  its trips, restores and degraded regions, its run and halt durations and runs per period (a
  guard that is late shows as a gap).

Why 20 rows: a dashboard may hold 500 widgets and 500 metrics across all widgets, metrics that
only feed metric math or a query included, and a graph 100 metrics (CloudWatch User Guide,
"CloudWatch service quotas", Dashboards; later versions of that page allow more, the older
quotas are kept as the bound). A row plots at most ROW_METRICS metrics in ROW_WIDGETS widgets;
20 rows are 280 metrics and 80 widgets, and the top-N views add TOP_N series each, so the whole
stays under 500 metrics with room for the header rows. Beyond 20 accounts the rows would pass the
quota (and stop being readable); the top-N views stay: a Metrics Insights query processes up to
10,000 metrics and returns up to 500 series, ORDER BY choosing which (CloudWatch User Guide,
"Metrics Insights quotas"), so they rank a fleet of up to 10,000 accounts.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_logs as logs
from constructs import Construct

from guard.metrics import (
    ACCOUNT,
    AWS_CALLS,
    DEGRADED_REGIONS,
    GPU_LIMIT,
    GPUS,
    HALT_SECONDS,
    INSTANCE_LIMIT,
    INSTANCES,
    LIMIT_USED,
    NAMESPACE,
    RESTORES,
    RUN_SECONDS,
    SERVICE,
    SERVICE_CAPACITY,
    TRIPS,
    USD_PER_HOUR,
    USD_PER_HOUR_LIMIT,
    VCPU_LIMIT,
    VCPUS,
    MetricSpec,
)
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.names import FLEET_DASHBOARD_NAME, MAX_ACCOUNT_ROWS
from watchdog.metrics import SILENT_METRIC, UNHEALTHY_METRIC

ROW_WIDGETS = 4
ROW_METRICS = 14  # 2 (count) + 6 (burn) + 3 (events) + 3 (durations): tests/stack check it
TOP_N = 10
WIDTH = 24  # a dashboard's grid is 24 units wide (CloudWatch API Reference, Dashboard Body)
HEIGHT = 6


class FleetDashboard(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, fleet: Fleet, watchdog_logs: logs.ILogGroup
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=FLEET_DASHBOARD_NAME,
            default_interval=Duration.days(1),
        )
        accounts = fleet.accounts
        self.dashboard.add_widgets(header(accounts))
        self.dashboard.add_widgets(fleet_health(), last_heartbeats(watchdog_logs))
        self.dashboard.add_widgets(*top_n_views()[:3])
        self.dashboard.add_widgets(*top_n_views()[3:])
        if len(accounts) <= MAX_ACCOUNT_ROWS:
            for account in accounts:
                self.dashboard.add_widgets(*account_row(account))


def header(accounts: Sequence[Account]) -> cloudwatch.TextWidget:
    # Up to MAX_ACCOUNT_ROWS: the payer's template must not grow with the fleet (issue 23).
    shown = accounts if len(accounts) <= MAX_ACCOUNT_ROWS else ()
    rows = "\n".join(f"| {a.name} | {a.id} | {a.ec2_limit} |" for a in shown)
    beyond = (
        ""
        if len(accounts) <= MAX_ACCOUNT_ROWS
        else f"\n\nMore than {MAX_ACCOUNT_ROWS} accounts, so no row per account "
        "(dashboard quotas, docs/metrics.md); the top-N views rank them all. One account: "
        f"CloudWatch > Metrics > `{NAMESPACE}` > `{ACCOUNT}`, or `runawaytrain status`."
    )
    markdown = (
        "# runawaytrain: the fleet\n"
        "Every guard's numbers, as its heartbeat reported them to the watchdog (docs/metrics.md). "
        "A gap is a run that did not report: see the last heartbeats."
        + (f"\n\n| account | id | ec2_limit |\n|---|---|---|\n{rows}" if rows else beyond)
    )
    return cloudwatch.TextWidget(markdown=markdown, width=WIDTH, height=min(4 + len(accounts), 12))


def fleet_health() -> cloudwatch.GraphWidget:
    return graph(
        "Guards silent (3 intervals) or unhealthy (the watchdog's check)",
        [
            cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name=name,
                statistic="Maximum",
                period=Duration.minutes(5),
                label=name,
            )
            for name in (SILENT_METRIC, UNHEALTHY_METRIC)
        ],
        unit="Count",
        width=WIDTH // 2,
    )


def last_heartbeats(watchdog_logs: logs.ILogGroup) -> cloudwatch.LogQueryWidget:
    """The watchdog's `heartbeat_recorded` lines (lambda/watchdog/handler.py): per account, the
    last heartbeat; the oldest first, so a late guard is on top."""
    return cloudwatch.LogQueryWidget(
        title="Last heartbeat per account (oldest first)",
        log_group_names=[watchdog_logs.log_group_name],
        query_lines=[
            "fields @timestamp, account",
            'filter message = "heartbeat_recorded"',
            "stats latest(@timestamp) as last_heartbeat, count(*) as heartbeats by account",
            "sort last_heartbeat asc",
            "limit 100",
        ],
        width=WIDTH // 2,
        height=HEIGHT,
    )


def insights(
    spec: MetricSpec, function: str, dimensions: Sequence[str] = (ACCOUNT,)
) -> cloudwatch.MathExpression:
    """The TOP_N series of `spec` by `function` over the period (Metrics Insights)."""
    keys = ", ".join(dimensions)
    return cloudwatch.MathExpression(
        expression=(
            f"SELECT {function}({spec.name}) FROM SCHEMA({NAMESPACE}, {keys}) "
            f"GROUP BY {keys} ORDER BY {function}() DESC LIMIT {TOP_N}"
        ),
        using_metrics={},
        label="",
        period=Duration.hours(1),
    )


def top_n_views() -> list[cloudwatch.GraphWidget]:
    views = [
        (LIMIT_USED, "MAX", f"Top {TOP_N}: nearest their limits (% of the tightest)"),
        (USD_PER_HOUR, "MAX", f"Top {TOP_N}: burn, USD/h (list price)"),
        (TRIPS, "SUM", f"Top {TOP_N}: trips"),
        (DEGRADED_REGIONS, "MAX", f"Top {TOP_N}: regions not counted"),
        (RUN_SECONDS, "MAX", f"Top {TOP_N}: slowest runs"),
    ]
    widgets = [
        graph(title, [insights(spec, function)], unit=spec.unit, width=WIDTH // 3)
        for spec, function, title in views
    ]
    widgets.append(
        graph(
            f"Top {TOP_N}: capacity outside EC2, by account and kind",
            [insights(SERVICE_CAPACITY, "MAX", (ACCOUNT, SERVICE))],
            unit=SERVICE_CAPACITY.unit,
            width=WIDTH // 3,
        )
    )
    return widgets


def metric(
    account: Account, spec: MetricSpec, statistic: str, label: str = ""
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=spec.name,
        dimensions_map={ACCOUNT: account.id},
        statistic=statistic,
        # One datapoint per run: a period of the guard's interval shows each run.
        period=Duration.minutes(account.schedule_minutes),
        label=label or spec.name,
    )


def account_row(account: Account) -> list[cloudwatch.GraphWidget]:
    """ROW_WIDGETS widgets, at most ROW_METRICS metrics: count, burn, events, durations."""
    width = WIDTH // ROW_WIDGETS
    name = account.name
    count = graph(
        f"{name}: EC2 instances vs ec2_limit",
        [metric(account, INSTANCES, "Maximum"), metric(account, INSTANCE_LIMIT, "Maximum")],
        unit=INSTANCES.unit,
        width=width,
    )
    events = graph(
        f"{name}: trips, restores, regions not counted",
        [
            metric(account, TRIPS, "Sum"),
            metric(account, RESTORES, "Sum"),
            metric(account, DEGRADED_REGIONS, "Maximum"),
        ],
        unit=TRIPS.unit,
        width=width,
    )
    durations = graph(
        f"{name}: run and halt duration; runs per period",
        [metric(account, RUN_SECONDS, "Maximum"), metric(account, HALT_SECONDS, "Maximum")],
        unit=RUN_SECONDS.unit,
        right=[metric(account, RUN_SECONDS, "SampleCount", label="Runs")],
        right_unit="Count",  # a SampleCount counts datapoints, whatever the metric's unit
        width=width,
    )
    return [count, burn(account, width), events, durations]


def burn(account: Account, width: int) -> cloudwatch.GraphWidget:
    """The weighted limits accounts.yaml sets, each with what it weighs: USD/h on the left,
    vCPUs and GPUs on the right; with none set, the share of ec2_limit in use."""
    name = account.name
    counts = []
    if account.max_vcpus is not None:
        counts += [metric(account, VCPUS, "Maximum"), metric(account, VCPU_LIMIT, "Maximum")]
    if account.max_gpus is not None:
        counts += [metric(account, GPUS, "Maximum"), metric(account, GPU_LIMIT, "Maximum")]
    if account.max_usd_per_hour is not None:
        dollars = [
            metric(account, USD_PER_HOUR, "Maximum"),
            metric(account, USD_PER_HOUR_LIMIT, "Maximum"),
        ]
        return graph(
            f"{name}: burn vs limits",
            dollars,
            unit=USD_PER_HOUR.unit,
            right=counts,
            right_unit=VCPUS.unit,
            width=width,
        )
    if counts:
        return graph(f"{name}: burn vs limits", counts, unit=VCPUS.unit, width=width)
    return graph(
        f"{name}: share of its limit in use; AWS calls per run",
        [metric(account, LIMIT_USED, "Maximum")],
        unit=LIMIT_USED.unit,
        right=[metric(account, AWS_CALLS, "Maximum")],
        right_unit=AWS_CALLS.unit,
        width=width,
    )


def graph(
    title: str,
    left: list[cloudwatch.IMetric],
    *,
    unit: str,
    width: int,
    right: list[cloudwatch.IMetric] | None = None,
    right_unit: str = "",
) -> cloudwatch.GraphWidget:
    """A graph whose each axis carries one unit, named on the axis (the metrics' EMF unit: the
    dashboard test checks it against what the code emits)."""
    return cloudwatch.GraphWidget(
        title=title,
        left=left,
        right=right or [],
        left_y_axis=cloudwatch.YAxisProps(label=unit, min=0, show_units=False),
        right_y_axis=cloudwatch.YAxisProps(label=right_unit, min=0, show_units=False)
        if right
        else None,
        width=width,
        height=HEIGHT,
    )
