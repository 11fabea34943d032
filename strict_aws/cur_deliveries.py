"""Generated CUR deliveries in both layouts, written to (moto) S3 the way AWS lays them out.

Shared by the spend tests and `bench/cur.py`. Line items carry a dozen filler columns besides the
three the watcher reads, so parsing cost is closer to a real report (which has 100+).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

BUCKET = "payer-cur"
PREFIX = "organization-aws-cur"
REPORT = "organization_aws_cur"
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)

LEGACY = "legacy"
CUR2 = "cur2"

_FILLER = {
    LEGACY: (
        "identity/LineItemId",
        "identity/TimeInterval",
        "bill/PayerAccountId",
        "lineItem/LineItemType",
        "lineItem/UsageEndDate",
        "lineItem/ProductCode",
        "lineItem/UsageType",
        "lineItem/Operation",
        "lineItem/AvailabilityZone",
        "lineItem/ResourceId",
        "lineItem/UsageAmount",
        "lineItem/LineItemDescription",
    ),
    CUR2: (
        "identity_line_item_id",
        "identity_time_interval",
        "bill_payer_account_id",
        "line_item_line_item_type",
        "line_item_usage_end_date",
        "line_item_product_code",
        "line_item_usage_type",
        "line_item_operation",
        "line_item_availability_zone",
        "line_item_resource_id",
        "line_item_usage_amount",
        "line_item_line_item_description",
    ),
}
_COLUMNS = {
    LEGACY: ("lineItem/UsageAccountId", "lineItem/UnblendedCost", "lineItem/UsageStartDate"),
    CUR2: ("line_item_usage_account_id", "line_item_unblended_cost", "line_item_usage_start_date"),
}


@dataclass(frozen=True)
class LineItem:
    account: str
    start: datetime
    cost: str  # as written in the file, so the test's own sum uses Decimal on the same text


def header(layout: str) -> list[str]:
    filler = _FILLER[layout]
    account, cost, start = _COLUMNS[layout]
    # Columns deliberately not in the order the watcher names them.
    return [*filler[:3], account, *filler[3:6], start, *filler[6:], cost]


def row(layout: str, item: LineItem, number: int) -> list[str]:
    if layout == LEGACY:
        start = item.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (item.start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        start = item.start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        end = (item.start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    filler = [
        f"li{number:012d}",
        f"{start}/{end}",
        "111111111111",
        "Usage",
        end,
        "AmazonEC2",
        "USE1-BoxUsage:g5.48xlarge",
        "RunInstances",
        "us-east-1a",
        f"i-{number:017x}",
        "1.0000000000",
        "$16.288 per On Demand Linux g5.48xlarge Instance Hour",
    ]
    return [*filler[:3], item.account, *filler[3:6], start, *filler[6:], item.cost]


def gzip_csv(layout: str, items: Iterable[LineItem], first_number: int = 0) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(header(layout))
        for number, item in enumerate(items, start=first_number):
            writer.writerow(row(layout, item, number))
        text.flush()
        text.detach()
    return buffer.getvalue()


def period_folder(now: datetime = NOW) -> str:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def put_delivery(
    s3: Any, layout: str, delivery_id: str, files: Sequence[bytes], now: datetime = NOW
) -> list[str]:
    """Write the data files and then the manifest (AWS writes the manifest last); return keys."""
    if layout == LEGACY:
        folder = f"{PREFIX}/{REPORT}/{period_folder(now)}"
        keys = [f"{folder}/{delivery_id}/{REPORT}-{n:05d}.csv.gz" for n in range(1, len(files) + 1)]
        manifest_key = f"{folder}/{REPORT}-Manifest.json"
        manifest: dict[str, Any] = {
            "assemblyId": delivery_id,
            "account": "111111111111",
            "reportKeys": keys,
            "compression": "GZIP",
            "contentType": "text/csv",
        }
    else:
        partition = f"BILLING_PERIOD={now:%Y-%m}"
        base = f"{PREFIX}/{REPORT}"
        keys = [
            f"{base}/data/{partition}/{delivery_id}/{REPORT}-{n:05d}.csv.gz"
            for n in range(1, len(files) + 1)
        ]
        manifest_key = f"{base}/metadata/{partition}/{delivery_id}/{REPORT}-Manifest.json"
        manifest = {
            "executionId": delivery_id,
            "dataFiles": [f"s3://{BUCKET}/{key}" for key in keys],
        }
    for key, body in zip(keys, files, strict=True):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    s3.put_object(Bucket=BUCKET, Key=manifest_key, Body=json.dumps(manifest).encode())
    return keys


def expected_spend(items: Iterable[LineItem]) -> dict[str, Decimal]:
    """The test's own trailing-24 h computation, in Decimal: newest hour and the 23 before."""
    listed = list(items)
    newest = max(item.start for item in listed)
    spend: dict[str, Decimal] = {}
    for item in listed:
        if newest - item.start < timedelta(hours=24):
            spend[item.account] = spend.get(item.account, Decimal(0)) + Decimal(item.cost)
    return spend


ACCOUNTS = {"111111111111": 0.4, "222222222222": 3.0, "333333333333": 12.0}  # mean $/line item
# Expected 24 h spend: mean x ~0.95 x 2 items/h x 24 h = about $18, $137 and $547.
LIMITS = {"111111111111": 50.0, "222222222222": 1_000.0, "333333333333": 300.0}


def generate(newest_hours_ago: int, seed: int) -> list[LineItem]:
    """Line items from the 20th to `newest_hours_ago` before NOW, several per account per hour."""
    rng = random.Random(seed)
    newest = NOW.replace(minute=0) - timedelta(hours=newest_hours_ago)
    hour = NOW.replace(day=20, hour=0)
    items = []
    while hour <= newest:
        for account, mean in ACCOUNTS.items():
            for _ in range(rng.randint(0, 4)):
                items.append(LineItem(account, hour, f"{rng.uniform(-0.1, 2) * mean:.10f}"))
        hour += timedelta(hours=1)
    return items
