"""Reading CUR deliveries from (moto) S3 in both layouts, and every way a delivery can be bad."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from typing import Any

import pytest
from spend.burn import SpendError, find_overruns
from spend.cur import CurLocation, find_delivery, read_burn

from strict_aws.cur_deliveries import (
    BUCKET,
    CUR2,
    LEGACY,
    LIMITS,
    NOW,
    PREFIX,
    REPORT,
    LineItem,
    expected_spend,
    generate,
    gzip_csv,
    put_delivery,
)

LOCATION = CurLocation(bucket=BUCKET, prefix=PREFIX, report_name=REPORT)


def split(items: list[LineItem], parts: int) -> list[list[LineItem]]:
    return [items[n::parts] for n in range(parts)]


@pytest.mark.parametrize("layout", [LEGACY, CUR2])
def test_newest_delivery_supersedes_and_matches_an_independent_sum(s3: Any, layout: str) -> None:
    older, newer = generate(newest_hours_ago=15, seed=1), generate(newest_hours_ago=9, seed=2)
    put_delivery(s3, layout, "20261126T030000Z-a", [gzip_csv(layout, p) for p in split(older, 2)])
    put_delivery(s3, layout, "20261126T090000Z-b", [gzip_csv(layout, p) for p in split(newer, 3)])

    burn = read_burn(s3, LOCATION, NOW)

    assert burn.delivery == "20261126T090000Z-b"
    assert burn.newest_data == NOW.replace(minute=0) - timedelta(hours=9)
    assert burn.line_items == len(newer)
    expected = expected_spend(newer)
    assert burn.spend_usd.keys() == expected.keys()
    for account, spend in expected.items():
        assert burn.spend_usd[account] == pytest.approx(float(spend), abs=1e-6)
    overruns = find_overruns(burn, LIMITS)
    assert [o.account for o in overruns] == ["333333333333"]
    assert overruns[0].spend_24h_usd == round(float(expected["333333333333"]), 2)


def test_export_manifest_keys_are_read_from_s3_uris(s3: Any) -> None:
    keys = put_delivery(s3, CUR2, "exec-1", [gzip_csv(CUR2, generate(9, 3))])
    delivery = find_delivery(s3, LOCATION, NOW)
    assert (delivery.delivery_id, delivery.keys) == ("exec-1", tuple(keys))


def _truncated(layout: str) -> bytes:
    whole = gzip_csv(layout, generate(9, 4))
    return whole[: len(whole) // 2]


def _missing_column(layout: str) -> bytes:
    text = "lineItem/UsageAccountId,lineItem/UsageStartDate\n111111111111,2026-11-26T09:00:00Z\n"
    return gzip.compress(text.encode())


def _non_numeric(layout: str) -> bytes:
    text = (
        "lineItem/UsageAccountId,lineItem/UsageStartDate,lineItem/UnblendedCost\n"
        "111111111111,2026-11-26T09:00:00Z,1.5\n"
        "111111111111,2026-11-26T09:00:00Z,N/A\n"
    )
    return gzip.compress(text.encode())


def _header_only(layout: str) -> bytes:
    return gzip_csv(layout, [])


def _empty_file(layout: str) -> bytes:
    return gzip.compress(b"")


def _not_gzip(layout: str) -> bytes:
    return b"lineItem/UsageAccountId\n"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_truncated, r"-00001\.csv\.gz: unreadable: EOFError"),
        (_missing_column, r"-00001\.csv\.gz: unknown column layout"),
        (
            _non_numeric,
            r"-00001\.csv\.gz line 3: lineItem/UnblendedCost is 'N/A', expected a number",
        ),
        (_header_only, r"Manifest\.json: the delivery holds no line items"),
        (_empty_file, r"-00001\.csv\.gz: empty file \(no header\)"),
        (_not_gzip, r"-00001\.csv\.gz: unreadable: BadGzipFile"),
    ],
)
def test_a_bad_data_file_is_a_spend_error_naming_it(s3: Any, make: Any, message: str) -> None:
    put_delivery(s3, LEGACY, "a1", [make(LEGACY)])
    with pytest.raises(SpendError, match=message):
        read_burn(s3, LOCATION, NOW)


def test_a_manifest_pointing_at_a_missing_key_is_a_spend_error(s3: Any) -> None:
    keys = put_delivery(s3, LEGACY, "a1", [gzip_csv(LEGACY, generate(9, 5))] * 2)
    s3.delete_object(Bucket=BUCKET, Key=keys[1])
    with pytest.raises(SpendError, match=rf"s3://{BUCKET}/{keys[1]}: no such object"):
        read_burn(s3, LOCATION, NOW)


def test_a_data_file_that_is_not_gzip_csv_is_unsupported(s3: Any) -> None:
    key = f"{PREFIX}/{REPORT}/metadata/BILLING_PERIOD=2026-11/x/{REPORT}-Manifest.json"
    body = {"executionId": "x", "dataFiles": [f"s3://{BUCKET}/{PREFIX}/{REPORT}/data/f.parquet"]}
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{REPORT}/data/f.parquet", Body=b"PAR1")
    with pytest.raises(SpendError, match=r"f\.parquet: unsupported data file format"):
        read_burn(s3, LOCATION, NOW)


def test_a_manifest_listing_no_files_is_a_spend_error(s3: Any) -> None:
    put_delivery(s3, CUR2, "exec-1", [])
    with pytest.raises(SpendError, match="the manifest lists no data files"):
        read_burn(s3, LOCATION, NOW)


def test_a_manifest_that_is_not_json_is_a_spend_error(s3: Any) -> None:
    key = f"{PREFIX}/{REPORT}/metadata/BILLING_PERIOD=2026-11/x/{REPORT}-Manifest.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{not json")
    with pytest.raises(SpendError, match="manifest is not JSON"):
        read_burn(s3, LOCATION, NOW)


def test_no_manifest_for_the_period_names_both_places_looked(s3: Any) -> None:
    put_delivery(s3, LEGACY, "a1", [gzip_csv(LEGACY, generate(9, 6))], now=NOW - timedelta(days=30))
    with pytest.raises(
        SpendError, match=r"no such object: no CUR manifest for the billing period 2026-11 "
    ):
        read_burn(s3, LOCATION, NOW)


def test_a_legacy_manifest_that_is_not_json_is_not_called_missing(s3: Any) -> None:
    key = f"{PREFIX}/{REPORT}/20261101-20261201/{REPORT}-Manifest.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"<html>")
    with pytest.raises(SpendError, match=r"-Manifest\.json: manifest is not JSON") as raised:
        read_burn(s3, LOCATION, NOW)
    assert "no CUR manifest" not in str(raised.value)


def test_a_missing_bucket_is_a_spend_error(s3: Any) -> None:
    location = CurLocation(bucket="no-such-bucket", prefix=PREFIX, report_name=REPORT)
    with pytest.raises(SpendError, match="s3://no-such-bucket: bucket does not exist"):
        read_burn(s3, location, NOW)


def test_the_export_manifest_must_list_files_in_its_bucket(s3: Any) -> None:
    key = f"{PREFIX}/{REPORT}/metadata/BILLING_PERIOD=2026-11/x/{REPORT}-Manifest.json"
    body = {"executionId": "x", "dataFiles": ["s3://elsewhere/f.csv.gz"]}
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
    with pytest.raises(SpendError, match="is not in bucket"):
        read_burn(s3, LOCATION, NOW)
