"""Lambda entry point of the spend watcher (`spend.handler.handler`): settings, clients, one run.

Environment (written by the payer stack from accounts.yaml):
`cur_bucket`, `cur_prefix`, `cur_report` (the fleet's `cur:`), `limits` (JSON object account id ->
max_spend_per_day_usd), `snstopic` (the payer's notify topic), `state_parameter` (SSM parameter
holding the last delivery acted on).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from guard.logs import configure_logging, get_logger
from spend.cur import CurLocation
from spend.watch import run_watcher

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=60)
LOG = get_logger("spend")


class SettingsError(ValueError):
    """A spend watcher environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    location: CurLocation
    limits: dict[str, float]
    topic_arn: str
    state_parameter: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is missing or empty")
            return value

        raw = required("limits")
        try:
            limits = json.loads(raw)
            if not isinstance(limits, dict):
                raise ValueError("not an object")
            parsed = {str(k): float(v) for k, v in limits.items()}
        except (ValueError, TypeError) as error:
            raise SettingsError(
                f"environment variable limits is {raw!r}: expected a JSON object of "
                f"account id -> USD per day ({error})"
            ) from None
        return cls(
            location=CurLocation(
                bucket=required("cur_bucket"),
                prefix=env.get("cur_prefix", "").strip(),
                report_name=required("cur_report"),
            ),
            limits=parsed,
            topic_arn=required("snstopic"),
            state_parameter=required("state_parameter"),
        )


def handler(event: object, context: Any) -> dict[str, Any]:
    configure_logging(getattr(context, "aws_request_id", ""))
    settings = Settings.from_env()
    report = run_watcher(
        location=settings.location,
        limits=settings.limits,
        topic_arn=settings.topic_arn,
        state_parameter=settings.state_parameter,
        now=datetime.now(UTC),
        s3=boto3.client("s3", config=CLIENT_CONFIG),
        events=boto3.client("events", config=CLIENT_CONFIG),
        sns=boto3.client("sns", config=CLIENT_CONFIG),
        ssm=boto3.client("ssm", config=CLIENT_CONFIG),
    )
    LOG.info("spend_run", extra={"status": report.status})
    return asdict(report)
