"""Bedrock tokens: the rate at which each model's on-demand invocations bill, from CloudWatch;
never stopped (Bedrock has no stop): a trip refuses invocation instead.

Bedrock publishes, under the AWS/Bedrock namespace by ModelId, `Invocations` (successful
Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream requests),
`InputTokenCount` and `OutputTokenCount` (Bedrock User Guide, "Monitor bedrock-runtime inference
using CloudWatch metrics"); on-demand text models bill "for every input token processed and every
output token generated" (aws.amazon.com/bedrock/pricing). The census asks ONE GetMetricData per
region, three SEARCH expressions over the `{AWS/Bedrock,ModelId}` schema (a search finds every
ModelId that reported data in the last two weeks, up to 500 series each: CloudWatch User Guide,
"Use search expressions in graphs", "CloudWatch search expression syntax"), each series labelled
`${PROP('MetricName')} ${PROP('Dim.ModelId')}` (dynamic labels "apply to every metric returned by
the search": CloudWatch User Guide, "Use dynamic labels"), so a series is read by its label
whatever Id AWS gives it. A region where nothing was invoked answers no series: one call.
(A model list first, ListFoundationModels, would cost a second call and miss inference
profiles, custom and imported models, which report their own ModelId.)

The window: the last WINDOW_S (15 minutes) summed, per hour: a rate, not a total. The guard
runs every few minutes, so consecutive runs overlap and a burst is seen by three to five runs;
a shorter window would swing on single requests and on the minute CloudWatch has not yet
published (Bedrock's metrics are per minute), a longer one would be slow to see a runaway and
slow to forget one that stopped.

The price: per token, but the Price List does not name Bedrock's prices by model id. Its
AmazonBedrock offer names a model by display name (`model`, `titanModel`), with `inferenceType`
("Input tokens", "Output tokens"), feature "On-demand Inference", unit "1K tokens"
(aws-samples/sample-bedrock-model-evaluation, get_prices.py); models sold through AWS
Marketplace (Anthropic's, Cohere's, ...) are under another offer, AmazonBedrockFoundationModels,
per million tokens and told apart only by `servicename` and `usagetype` (public Price List
extractors agree; AWS documents neither mapping). Matching a ModelId to those would be a
hand-kept table: too uncertain for an unattended breaker, and stale the day a model is added.

So tokens are weighed at ASSUMED rates, input and output apart: those of the Claude
Sonnet-class models (3 USD per million input tokens, 15 per million output, on-demand, on the
pricing page), the models leaked-key "LLMjacking" campaigns were seen invoking (Sysdig Threat
Research, "LLMjacking: stolen cloud credentials used in new AI attack", 2024). A cheaper model
(Haiku, Nova, Titan) weighs more than it bills, so the breaker trips early; only the dearest
(Opus-class) weigh less. The rates are printed on the mail's line (the Running's state), so
whoever reads it sees what was assumed. An earlier floor rate made every run of an account
using Bedrock with max_usd_per_hour set DEGRADED, mailed every few minutes: a breaker its
owners would switch off.

Halt: none exists. The kind is irreversible and, even where `halt:` names it, its halt changes
nothing and returns no error: the trip's launch block denies bedrock:Invoke* to every principal
it reaches, and the payer's quarantine SCPs deny it account-wide where the payer quarantines
(runawaytrain_stack/launch_actions.py, scp.py); the mail says so (service_mail.py, REFUSED).
Tokens already billed are not refunded. Restore has nothing to give back.

Provisioned throughput (hourly, under a commitment term) is not counted here: moto has no
ListProvisionedModelThroughputs; the spend trip sees it.

IAM: cloudwatch:GetMetricData (no resource-level permissions).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from guard.ledger import Record
from guard.service_capacity import PartialCountError, Running, ServiceHalt, ServiceRestore

SERVICE = "cloudwatch"
KIND = "Bedrock tokens"
NAME = "bedrock-tokens"
NAMESPACE = "AWS/Bedrock"
WINDOW_S = 15 * 60
PERIOD_S = 60  # Bedrock's metrics are per minute; every minute of the window summed
INVOCATIONS, INPUT, OUTPUT = "Invocations", "InputTokenCount", "OutputTokenCount"
METRICS = (INVOCATIONS, INPUT, OUTPUT)
LABEL = "${PROP('MetricName')} ${PROP('Dim.ModelId')}"
# "A search expression ... can return up to 500 time series" (CloudWatch User Guide, "CloudWatch
# search expression syntax", as the CDK's SearchExpression reference repeats it); GetMetricData
# says a cut in its Messages ("An example of a message that might be returned is Maximum number
# of allowed metrics exceeded. If there is a message, as much of the operation as possible is
# still executed", API Reference, GetMetricData). A metric answered with this many series, or
# any such message, may be short: the region is counted as far as it goes and reported degraded.
SEARCH_MAX_SERIES = 500
# USD per million tokens, on-demand, of the Claude Sonnet-class models (see above).
ASSUMED_USD_PER_MILLION_INPUT = 3.0
ASSUMED_USD_PER_MILLION_OUTPUT = 15.0
ASSUMED = (
    f"weighed at an assumed {ASSUMED_USD_PER_MILLION_INPUT:g} / "
    f"{ASSUMED_USD_PER_MILLION_OUTPUT:g} USD per million input / output tokens"
)
STOP_KEEPS = "Bedrock has no stop: nothing is stopped."
# What the mail says instead of "halted" or "left running" (service_mail.py).
REFUSED = (
    "Bedrock has no stop: invocation is refused by the trip's launch block (bedrock:Invoke* "
    "denied to the users and roles listed under 'Launches refused') and, where the payer "
    "quarantines the account, by its quarantine SCPs account-wide. Tokens already billed are "
    f"not refunded. Tokens are {ASSUMED}: the Price List names no rate by model id."
)
NOT_REFUSED = (
    "Bedrock has no stop, and this trip refused invocation to nobody (launch_block off, or its "
    "attach failed: see above): invocation goes on unless the payer quarantines the account. "
    f"Tokens already billed are not refunded. Tokens are {ASSUMED}: the Price List names no "
    "rate by model id."
)


def metric_queries() -> list[dict[str, Any]]:
    """Three SEARCH expressions, one GetMetricData: every ModelId's invocations and tokens."""
    return [
        {
            "Id": metric.lower(),
            "Expression": (
                f"SEARCH('{{{NAMESPACE},ModelId}} MetricName=\"{metric}\"', 'Sum', {PERIOD_S})"
            ),
            "Label": LABEL,
            "ReturnData": True,
        }
        for metric in METRICS
    ]


def count(cloudwatch: Any, region: str, now: datetime | None = None) -> list[Running]:
    """One Running per model invoked in the window, priced per hour at the assumed rates."""
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    totals: dict[str, dict[str, float]] = {}
    pages = cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=metric_queries(),
        StartTime=end - timedelta(seconds=WINDOW_S),
        EndTime=end,
    )
    series_of = dict.fromkeys(METRICS, 0)
    messages: list[str] = []
    for page in pages:
        messages += [f"{m.get('Code', '')}: {m.get('Value', '')}" for m in page.get("Messages", [])]
        for series in page["MetricDataResults"]:
            metric, _, model = series.get("Label", "").partition(" ")
            if metric in METRICS and model:
                series_of[metric] += 1
                by_metric = totals.setdefault(model, dict.fromkeys(METRICS, 0.0))
                by_metric[metric] += sum(series.get("Values", []))
    per_hour = 3600 / WINDOW_S
    found = []
    for model, by_metric in sorted(totals.items()):
        if not by_metric[INPUT] + by_metric[OUTPUT] and not by_metric[INVOCATIONS]:
            continue  # reported in the last two weeks, not in the window
        found.append(
            Running(
                kind=KIND,
                region=region,
                name=model,
                arn="",
                instance_type=model,
                state=(
                    f"{by_metric[INVOCATIONS]:.0f} invocations, {by_metric[INPUT]:.0f} input "
                    f"and {by_metric[OUTPUT]:.0f} output tokens in {WINDOW_S // 60} min, "
                    f"{ASSUMED}"
                ),
                usd_per_hour=per_hour * usd_of(by_metric[INPUT], by_metric[OUTPUT]),
            )
        )
    full = [metric for metric, n in series_of.items() if n >= SEARCH_MAX_SERIES]
    if full or messages:
        raise PartialCountError(
            found,
            f"not counted fully: {', '.join(full) or 'a search'} answered "
            f"{max(series_of.values())} series, the most one SEARCH returns ({SEARCH_MAX_SERIES})"
            + (f"; CloudWatch says {'; '.join(messages)}" if messages else "")
            + ": models beyond those are not counted",
        )
    return found


def usd_of(input_tokens: float, output_tokens: float) -> float:
    """What the tokens bill at the assumed rates."""
    return (
        input_tokens * ASSUMED_USD_PER_MILLION_INPUT
        + output_tokens * ASSUMED_USD_PER_MILLION_OUTPUT
    ) / 1_000_000


def halt(cloudwatch: Any, found: list[Running], incident: str) -> ServiceHalt:
    """Nothing changes: the launch block and the quarantine SCPs refuse invocation. Reported
    as kept, where the mail says so (REFUSED)."""
    return ServiceHalt(kept=list(found))


def restore(
    cloudwatch: Any, region: str, incident: str, *, dry_run: bool, restart: bool, record: Record
) -> ServiceRestore:
    """Nothing: the guard never changed Bedrock (the launch block's restore lifts the refusal)."""
    return ServiceRestore()
