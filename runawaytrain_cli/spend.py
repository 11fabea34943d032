"""`runawaytrain spend`: the per-account burn table from the newest CUR delivery.

Runs the spend watcher's own reader (lambda/spend) with the operator's credentials for the
payer account (s3:ListBucket and s3:GetObject on the CUR bucket); it reads, it never trips.
The CUR location and the limits come from accounts.yaml; `--cur s3://bucket/prefix/report`
reads another location (the last path segment is the report or export name).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from runawaytrain_cli.aws_errors import explain_aws_error, is_credentials_problem
from runawaytrain_cli.fleet_file import DEFAULT_FLEET_FILE
from runawaytrain_cli.operator_error import OperatorError
from runawaytrain_stack.config import ConfigError, load_fleet

# The watcher's package lives in lambda/spend (the Lambda asset). Until pyproject.toml lists it
# next to guard, an editable install cannot import it: use the checkout's lambda/ directly.
if importlib.util.find_spec("spend") is None:
    sys.path.append(str(Path(__file__).resolve().parent.parent / "lambda"))

from spend.burn import SpendError
from spend.cur import CurLocation, read_burn
from spend.watch import format_table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "spend",
        help="print each account's spend over the newest 24 h of CUR data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--cur", metavar="s3://BUCKET/PREFIX/REPORT", help="CUR location (default: accounts.yaml)"
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_FLEET_FILE, metavar="FILE")
    parser.set_defaults(func=func)


def parse_cur_uri(uri: str) -> CurLocation:
    """s3://bucket/prefix/report -> CurLocation; the prefix may be empty (s3://bucket/report)."""
    if not uri.startswith("s3://"):
        raise ValueError(f"--cur {uri!r}: expected s3://bucket/prefix/report")
    bucket, _, path = uri.removeprefix("s3://").strip("/").partition("/")
    prefix, _, report = path.rpartition("/")
    if not bucket or not report:
        raise ValueError(f"--cur {uri!r}: expected s3://bucket/prefix/report")
    return CurLocation(bucket=bucket, prefix=prefix, report_name=report)


def func(args: argparse.Namespace) -> int:
    limits: dict[str, float] = {}
    location: CurLocation | None = None
    try:
        fleet = load_fleet(args.config)
    except ConfigError as error:
        if not args.cur:
            print(error, file=sys.stderr)
            return 1
    else:
        limits = {
            a.id: a.max_spend_per_day_usd
            for a in fleet.spend_limited_accounts
            if a.max_spend_per_day_usd is not None
        }
        if fleet.cur is not None:
            location = CurLocation(fleet.cur.bucket, fleet.cur.prefix, fleet.cur.report_name)
    try:
        location = parse_cur_uri(args.cur) if args.cur else location
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    if location is None:
        print(
            f"{args.config}: no cur: location; add one or pass --cur s3://bucket/prefix/report",
            file=sys.stderr,
        )
        return 1
    try:
        burn = read_burn(boto3.client("s3"), location, datetime.now(UTC))
    except SpendError as error:
        print(f"spend watcher degraded: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:
        needs = f"the payer's credentials with s3:ListBucket and s3:GetObject on {location.bucket}"
        if is_credentials_problem(error):
            raise OperatorError(explain_aws_error(error, needs)) from None
        print(f"runawaytrain spend: {explain_aws_error(error, needs)}", file=sys.stderr)
        return 1
    newest = burn.newest_data.isoformat() if burn.newest_data else "no data"
    print(f"{location}: CUR delivery {burn.delivery}, {burn.line_items:,} line items")
    print(f"trailing 24 h up to the newest data, {newest} (CUR lags actual usage by hours)")
    print(format_table(burn, limits))
    return 0
