"""Benchmark: how fast does the spend watcher read a CUR delivery, and in how much memory?

Writes a generated delivery (legacy CUR layout, gzip CSV files of 100,000 line items each, 15
columns per row, 50 accounts over 26 days of hours) into moto S3, then runs the watcher's real
`read_burn` on it: once to warm up, once timed (throughput), once under tracemalloc (peak Python
memory during the read). 100 k vs 1 M line items shows whether memory stays flat as the
delivery grows.

    .venv/bin/python bench/cur.py                    # 100k and 1M line items
    .venv/bin/python bench/cur.py --sizes 100000

Targets (issue 6): >= 100,000 line items/s on one core; peak memory < 150 MB and flat.
The traced peak includes the one compressed file moto hands over whole per GetObject (real S3
streams it); it does not include the S3 objects moto keeps (they are written before tracing).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "lambda"), str(ROOT)]
os.environ.update(
    AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
)

import boto3  # noqa: E402 -- after the fake credentials above
from moto import mock_aws  # noqa: E402
from spend.cur import CurLocation, read_burn  # noqa: E402

from strict_aws.cur_deliveries import (  # noqa: E402
    BUCKET,
    LEGACY,
    NOW,
    PREFIX,
    REPORT,
    LineItem,
    gzip_csv,
    put_delivery,
)

FILE_ITEMS = 100_000
ACCOUNTS = [f"{n:012d}" for n in range(100000000000, 100000000050)]


def line_items(count: int, seed: int) -> Iterator[LineItem]:
    rng = random.Random(seed)
    first = NOW.replace(day=1, minute=0)
    hours = int((NOW - first) / timedelta(hours=1))
    for _ in range(count):
        yield LineItem(
            rng.choice(ACCOUNTS),
            first + timedelta(hours=rng.randrange(hours)),
            f"{rng.random() * 3:.10f}",
        )


def run(size: int, delivery: str) -> tuple[int, float, float, float]:
    """(line items, seconds, items/s, peak MB) for one delivery of `size` line items."""
    s3 = boto3.client("s3", region_name="us-east-1")
    files = []
    for n, start in enumerate(range(0, size, FILE_ITEMS)):
        files.append(gzip_csv(LEGACY, line_items(min(FILE_ITEMS, size - start), seed=n), start))
    put_delivery(s3, LEGACY, delivery, files)
    location = CurLocation(bucket=BUCKET, prefix=PREFIX, report_name=REPORT)

    burn = read_burn(s3, location, NOW)  # warm-up (first calls into moto), and a check
    assert burn.line_items == size and burn.delivery == delivery
    started = time.perf_counter()
    read_burn(s3, location, NOW)
    seconds = time.perf_counter() - started

    tracemalloc.start()
    read_burn(s3, location, NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, seconds, size / seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"{'line items':>10}  {'files':>5}  {'read s':>7}  {'items/s':>9}  {'peak MB':>7}")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        for n, size in enumerate(args.sizes):
            items, seconds, rate, peak = run(size, f"bench-{n}")
            files = -(-items // FILE_ITEMS)
            print(f"{items:>10,}  {files:>5}  {seconds:>7.2f}  {rate:>9,.0f}  {peak:>7.1f}")


if __name__ == "__main__":
    main()
