"""One spend-watcher run: read the CUR, find overruns, trip each once per delivery, tell the payer.

`run_watcher` takes its clients, so tests and the CLI pass moto's or an assumed role's. Failure
is never silent and never a crash loop: any `SpendError` (missing bucket or manifest, unreadable
or malformed file, unknown layout) becomes one "spend watcher degraded" message and a normal
return, so the hourly schedule tries again on the next delivery.

IAM: s3:ListBucket + s3:GetObject (cur.py), events:PutEvents on the payer's default bus,
sns:Publish on the payer's notify topic, ssm:GetParameter + ssm:PutParameter on the state
parameter (the id of the last delivery acted on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from guard.logs import get_logger
from spend.burn import Burn, Overrun, SpendError, find_overruns
from spend.cur import CurLocation, read_burn

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient
else:
    EventBridgeClient = S3Client = SNSClient = SSMClient = Any

LOG = get_logger("spend")
SOURCE = "runawaytrain.spend"
DETAIL_TYPE = "Spend Rate Exceeded"
SUBJECT_MAX = 100  # SNS Publish: Subject must be under 100 ASCII characters


@dataclass
class WatchReport:
    status: str  # "ok" | "tripped" | "already-acted" | "degraded"
    message: str
    delivery: str | None = None
    newest_data: str | None = None
    spend_24h_usd: dict[str, float] = field(default_factory=dict)
    tripped: list[str] = field(default_factory=list)
    trip_errors: dict[str, str] = field(default_factory=dict)


def format_table(burn: Burn, limits: dict[str, float]) -> str:
    """The per-account burn table: account, trailing-24 h spend, limit, over or not."""
    lines = [f"{'account':<14}{'24h USD':>14}{'limit USD':>14}  over"]
    for account in sorted(set(burn.spend_usd) | set(limits)):
        spend = burn.spend_usd.get(account, 0.0)
        limit = limits.get(account)
        over = "YES" if limit is not None and spend > limit else ""
        shown = "-" if limit is None else f"{limit:,.2f}"
        lines.append(f"{account:<14}{spend:>14,.2f}{shown:>14}  {over}")
    return "\n".join(lines)


def trip_event(overrun: Overrun, burn: Burn) -> dict[str, Any]:
    detail = {
        "account": overrun.account,
        "spend_24h_usd": overrun.spend_24h_usd,
        "limit_usd": overrun.limit_usd,
        "newest_data": burn.newest_data.isoformat() if burn.newest_data else None,
        "delivery": burn.delivery,
    }
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail)}


def _last_delivery(ssm: SSMClient, parameter: str) -> str:
    try:
        return ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return ""
        raise


def _publish(sns: SNSClient, topic_arn: str, subject: str, body: str) -> None:
    ascii_subject = subject.encode("ascii", "replace").decode("ascii")[: SUBJECT_MAX - 1]
    sns.publish(TopicArn=topic_arn, Subject=ascii_subject, Message=body)


def _put_trips(events: EventBridgeClient, overruns: list[Overrun], burn: Burn) -> dict[str, str]:
    """One PutEvents entry per overrun (at most 10 per call); returns account -> error."""
    errors: dict[str, str] = {}
    for start in range(0, len(overruns), 10):
        chunk = overruns[start : start + 10]
        try:
            response = events.put_events(Entries=[trip_event(o, burn) for o in chunk])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            errors.update({o.account: code for o in chunk})
            continue
        for overrun, entry in zip(chunk, response.get("Entries", []), strict=False):
            if entry.get("ErrorCode"):
                errors[overrun.account] = f"{entry['ErrorCode']}: {entry.get('ErrorMessage', '')}"
    return errors


def run_watcher(
    *,
    location: CurLocation,
    limits: dict[str, float],
    topic_arn: str,
    state_parameter: str,
    now: datetime,
    s3: S3Client,
    events: EventBridgeClient,
    sns: SNSClient,
    ssm: SSMClient,
) -> WatchReport:
    try:
        burn = read_burn(s3, location, now)
    except SpendError as error:
        report = WatchReport("degraded", f"spend watcher degraded: {error}")
        LOG.warning("spend_degraded", extra={"error": str(error)})
        _publish(
            sns,
            topic_arn,
            "runawaytrain spend watcher DEGRADED",
            f"{report.message}\n\nNo account was checked for its spend rate on this run; "
            "the watcher tries again on its next scheduled run.",
        )
        return report
    newest = burn.newest_data.isoformat() if burn.newest_data else "no data"
    report = WatchReport(
        "ok",
        f"{len(burn.spend_usd)} account(s) in CUR delivery {burn.delivery}, data up to {newest}",
        delivery=burn.delivery,
        newest_data=newest,
        spend_24h_usd={a: round(v, 2) for a, v in sorted(burn.spend_usd.items())},
    )
    overruns = find_overruns(burn, limits)
    if not overruns:
        LOG.info("spend_ok", extra={"delivery": burn.delivery, "newest_data": newest})
        return report
    if _last_delivery(ssm, state_parameter) == burn.delivery:
        report.status = "already-acted"
        report.message = f"CUR delivery {burn.delivery} was already acted on; no repeated trip"
        LOG.info("spend_already_acted", extra={"delivery": burn.delivery})
        return report
    report.trip_errors = _put_trips(events, overruns, burn)
    report.tripped = [o.account for o in overruns if o.account not in report.trip_errors]
    report.status = "tripped"
    ssm.put_parameter(Name=state_parameter, Value=burn.delivery, Type="String", Overwrite=True)
    lines = [
        f"Spend over the trailing 24 h of Cost and Usage Report data exceeds the limit for "
        f"{len(overruns)} account(s); their guards were sent a spend-rate trip.",
        f"CUR delivery {burn.delivery}; newest data {newest}. CUR data lags actual usage by "
        "hours, so the real spend is likely higher.",
        "",
        *(f"  {o.account}: ${o.spend_24h_usd:,.2f} (limit ${o.limit_usd:,.2f})" for o in overruns),
    ]
    if report.trip_errors:
        lines += ["", "Trip events that could NOT be sent (trip these accounts by hand):"]
        lines += [f"  {account}: {error}" for account, error in sorted(report.trip_errors.items())]
    lines += ["", format_table(burn, limits)]
    _publish(
        sns,
        topic_arn,
        f"runawaytrain SPEND RATE: {', '.join(o.account for o in overruns)}",
        "\n".join(lines),
    )
    LOG.warning(
        "spend_tripped",
        extra={"delivery": burn.delivery, "accounts": report.tripped, "errors": report.trip_errors},
    )
    return report
