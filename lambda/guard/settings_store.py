"""Where an organisation-delivered guard's settings come from (docs/settings.md).

With env SETTINGS_BUCKET set, each run reads its settings document from the payer's settings
bucket: `accounts/<its account id>.json`, else `defaults.json` (an account accounts.yaml does not
list). The document's settings override the environment's, through settings.py's one parsing
path. A document read and accepted is kept as the last-known-good copy in this account's
Parameter Store (PARAMETER, written only when it changed). When the store cannot be read, or its
document is refused (SettingsError, as a malformed environment is), the run uses the
last-known-good copy, else the environment the template set (the group's defaults); the report
says which, and the first run that falls back mails it once (`tell`), not every run after.
Without SETTINGS_BUCKET: the environment only, as before.

IAM: s3:GetObject on the bucket's `accounts/${aws:PrincipalAccount}.json` and `defaults.json`;
ssm:GetParameter and ssm:PutParameter on PARAMETER (runawaytrain_stack/permissions.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.logs import get_logger
from guard.settings import Settings, SettingsError, parse_document, settings_with_document

LOG = get_logger("settings_store")

BUCKET_VARIABLE = "SETTINGS_BUCKET"
PARAMETER = "/runawaytrain/guard/settings"
ACCOUNTS_PREFIX = "accounts/"
DEFAULTS_KEY = "defaults.json"
# GetObject of a key that does not exist answers 404 NoSuchKey to a caller allowed
# s3:ListBucket, and 403 AccessDenied to one that is not (Amazon S3 API Reference, GetObject,
# "Permissions"); the guard is allowed only its two keys, so either means "no document of its
# own". A defaults.json that answers either is a store that cannot be read.
NOT_ITS_OWN = frozenset({"NoSuchKey", "AccessDenied", "404", "403"})


class Source(Enum):
    """Which settings a run used, as the report and the mail say it."""

    ENVIRONMENT = "environment"  # no settings store: the stack's environment, as before
    STORE = "store"  # this run's document from the settings bucket
    LAST_KNOWN_GOOD = "last-known-good"  # the store failed: the last document accepted
    TEMPLATE_DEFAULTS = "template-defaults"  # the store failed, no copy: the template's env


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    source: Source
    where: str = ""  # the document used (s3://bucket/key), if any
    error: str | None = None  # why the store was not used
    # The record to write once the fallback was mailed (None: nothing to tell).
    tell: dict[str, Any] | None = None

    def describe(self) -> str:
        """One line for the report: the settings used and, after a fallback, why."""
        line = {
            Source.ENVIRONMENT: "the environment",
            Source.STORE: f"the settings store ({self.where})",
            Source.LAST_KNOWN_GOOD: f"the last-known-good copy of {self.where} ({PARAMETER})",
            Source.TEMPLATE_DEFAULTS: "the template's defaults (no last-known-good copy)",
        }[self.source]
        return line if self.error is None else f"{line}: the settings store failed: {self.error}"


def resolve_settings(environ: Mapping[str, str], s3: Any, ssm: Any, account: str) -> Resolved:
    """The run's settings. Raises SettingsError only when no source is valid (the environment
    itself is malformed, as before): the invocation fails and its destination mails."""
    bucket = environ.get(BUCKET_VARIABLE, "").strip()
    if not bucket:
        return Resolved(Settings.from_env(environ), Source.ENVIRONMENT)
    record = read_record(ssm)
    try:
        where, document = fetch_document(s3, bucket, account)
        settings = settings_with_document(environ, document, where)
    except StoreError as failed:
        return fall_back(environ, record, str(failed))
    except SettingsError as refused:
        LOG.error("settings_document_refused", extra={"error": str(refused)})
        return fall_back(environ, record, str(refused))
    fresh = {"where": where, "document": document, "told": False}
    if record != fresh:
        write_record(ssm, fresh)
    return Resolved(settings, Source.STORE, where=where)


class StoreError(Exception):
    """The settings bucket could not be read."""


def fetch_document(s3: Any, bucket: str, account: str) -> tuple[str, dict[str, str]]:
    """(where, settings) of the account's document, else of the defaults."""
    for key in (f"{ACCOUNTS_PREFIX}{account}.json", DEFAULTS_KEY):
        where = f"s3://{bucket}/{key}"
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if key != DEFAULTS_KEY and code in NOT_ITS_OWN:
                continue
            raise StoreError(f"reading {where}: {describe_error(error)}") from None
        except BotoCoreError as error:
            raise StoreError(f"reading {where}: {describe_error(error)}") from None
        return where, parse_document(body, where)
    raise AssertionError("unreachable: defaults.json either answers or raises")


def fall_back(environ: Mapping[str, str], record: dict[str, Any] | None, error: str) -> Resolved:
    """The last-known-good copy, else the environment; `tell` is set on the first such run."""
    told = bool(record and record.get("told"))
    document = record.get("document") if record else None
    if isinstance(document, dict):
        where = str(record.get("where", "")) if record else ""
        try:
            settings = settings_with_document(environ, document, f"{where} ({PARAMETER})")
        except SettingsError as stale:  # the environment changed under an old copy
            LOG.error("last_known_good_refused", extra={"error": str(stale)})
        else:
            LOG.warning("settings_last_known_good", extra={"error": error, "where": where})
            tell = None if told else {"where": where, "document": document, "told": True}
            return Resolved(settings, Source.LAST_KNOWN_GOOD, where=where, error=error, tell=tell)
    LOG.warning("settings_template_defaults", extra={"error": error})
    settings = Settings.from_env(environ)
    tell = None if told else {"where": "", "document": None, "told": True}
    return Resolved(settings, Source.TEMPLATE_DEFAULTS, error=error, tell=tell)


def read_record(ssm: Any) -> dict[str, Any] | None:
    """The last-known-good record, or None (never written, or unreadable: logged)."""
    try:
        value = ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
            LOG.error("last_known_good_unreadable", extra={"error": describe_error(error)})
        return None
    except BotoCoreError as error:
        LOG.error("last_known_good_unreadable", extra={"error": describe_error(error)})
        return None
    try:
        record = json.loads(value)
    except ValueError:
        record = None
    return record if isinstance(record, dict) else None


def write_record(ssm: Any, record: dict[str, Any]) -> str | None:
    """Write the record (a standard parameter holds 4 KB, SSM API Reference, PutParameter
    "Value": a document is at most settings.DOCUMENT_MAX_BYTES); None, or the error, logged."""
    try:
        ssm.put_parameter(
            Name=PARAMETER,
            Value=json.dumps(record, sort_keys=True, separators=(",", ":")),
            Type="String",
            Overwrite=True,
        )
    except (ClientError, BotoCoreError) as error:
        LOG.error("last_known_good_not_written", extra={"error": describe_error(error)})
        return describe_error(error)
    return None
