"""Lambda entry point of the payer's settings publisher (`settings.handler.handler`).

Every 5 minutes (runawaytrain_stack/settings_store.py), and whenever the drill invokes it after a
deploy: read the settings document the stack synthesized (a file asset), write each account's
settings to `accounts/<id>.json` and the defaults to `defaults.json` in the settings bucket where
they changed, and delete the documents of accounts no longer listed (plan.py). Idempotent: a run
with nothing changed writes nothing. One summary log line.

Not a CloudFormation custom resource: moto's CloudFormation cannot run one, and a schedule also
repairs an object someone deleted or a write that failed.

Environment (runawaytrain_stack/settings_store.py): `document_bucket`, `document_key` (the
asset), `settings_bucket`.
IAM: s3:GetObject on the asset; s3:ListBucket on the settings bucket; s3:PutObject and
s3:DeleteObject on its defaults.json and accounts/*.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from guard.logs import configure_logging, get_logger
from settings.plan import Plan, plan_publish, render

LOG = get_logger("settings_publisher")
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def handler(event: object, context: Any) -> dict[str, Any]:
    configure_logging(getattr(context, "aws_request_id", ""))
    s3 = boto3.client("s3", config=CLIENT_CONFIG)
    environ: Mapping[str, str] = os.environ  # the stack's lower-case names
    return publish(
        s3,
        document_bucket=environ["document_bucket"],
        document_key=environ["document_key"],
        settings_bucket=environ["settings_bucket"],
    )


def publish(
    s3: Any, *, document_bucket: str, document_key: str, settings_bucket: str
) -> dict[str, Any]:
    """Make the bucket hold exactly the documents of the synthesized file; returns the counts.
    An AWS error raises: the invocation fails, its on-failure destination mails the payer, and
    the next run (5 minutes) tries again from the start."""
    body = s3.get_object(Bucket=document_bucket, Key=document_key)["Body"].read()
    desired = render(json.loads(body))
    plan = plan_publish(desired, list_etags(s3, settings_bucket))
    apply(s3, settings_bucket, plan)
    summary = {
        "written": sorted(plan.puts),
        "deleted": plan.deletes,
        "unchanged": plan.unchanged,
        "accounts": sum(1 for key in desired if key.startswith("accounts/")),
    }
    LOG.info("published", extra=summary)
    return summary


def list_etags(s3: Any, bucket: str) -> dict[str, str]:
    etags: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        etags.update({item["Key"]: item["ETag"] for item in page.get("Contents", [])})
    return etags


def apply(s3: Any, bucket: str, plan: Plan) -> None:
    for key, body in plan.puts.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    # One DeleteObjects call takes up to 1,000 keys (Amazon S3 API Reference, DeleteObjects).
    for start in range(0, len(plan.deletes), 1000):
        chunk = plan.deletes[start : start + 1000]
        response = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
        )
        if response.get("Errors"):
            raise RuntimeError(f"deleting settings documents failed: {response['Errors'][:5]}")
