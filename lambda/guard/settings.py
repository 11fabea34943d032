"""The guard's settings, read once from the Lambda environment and validated.

The CDK stack writes every one of these from accounts.yaml; the guard never reads the YAML.
A wrong setting raises SettingsError naming the variable, the value found and what is expected:
a guard that silently does nothing is the worst outcome, so nothing here falls back quietly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from guard.blindness import DEFAULT_BLIND_RUNS_TO_TRIP
from guard.service_names import DEFAULT_HALT, described, resolve_halt

# ARN format: arn:partition:sns:region:account-id:topic-name (topic names: 1-256 of [A-Za-z0-9_-],
# optionally ending in .fifo). Source: Amazon SNS API Reference, CreateTopic "Name".
# arn:partition:events:region:account-id:event-bus/name; custom bus names are 1-256 of
# [.\-_A-Za-z0-9] (EventBridge API Reference, CreateEventBus "Name").
_BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[.\-_A-Za-z0-9]{1,256}$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
# arn:partition:iam::account-id:policy/path/name; paths are /-separated and policy names 1-128 of
# [\w+=,.@-] (IAM API Reference, CreatePolicy "Path" and "PolicyName").
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d+$"  # what accounts.yaml accepts
_E = TypeVar("_E", bound=Enum)


class SettingsError(ValueError):
    """A guard environment variable or settings document is missing or malformed."""


# What a settings document (runawaytrain_stack/settings_documents.py, docs/settings.md) may set:
# the per-account settings of accounts.yaml, under their environment names. Never the wiring
# the stack writes (snstopic, payer_bus, launch_block_policy, stack_roles, own_stacks) nor the
# operator's switch (envaction): a document cannot redirect a guard's mail or switch it off.
DOCUMENT_KEYS = frozenset(
    {
        "ec2limit",
        "mode",
        "account_name",
        "lockout",
        "break_glass",
        "unstoppable",
        "halt",
        "blind_runs_to_trip",
        "launch_block",
        "quarantine",
        "notify",
        "max_vcpus",
        "max_gpus",
        "max_usd_per_hour",
    }
)
# A document's settings beyond this are not a guard's (the biggest accounts.yaml entry is a few
# KB); the limit also keeps the last-known-good copy within one SSM parameter (settings_store.py).
DOCUMENT_MAX_BYTES = 3072


class Mode(Enum):
    ENFORCE = "enforce"
    DRY_RUN = "dry-run"


class Lockout(Enum):
    """Who a trip locks out of IAM (accounts.yaml `lockout`)."""

    NONE = "none"
    USERS = "users"
    USERS_AND_ROLES = "users+roles"


class Unstoppable(Enum):
    """What a trip does to running instances AWS refuses to stop (accounts.yaml `unstoppable`).

    On-demand EBS-backed instances are always stopped, never terminated, whatever this says.
    """

    # One-time Spot instances are terminated: AWS may reclaim Spot at any time with two minutes'
    # notice, so whoever launched them already accepts losing them (EC2 User Guide, "Spot
    # Instance interruptions"). Instance-store-backed instances are reported, left running.
    TERMINATE_SPOT = "terminate-spot"
    TERMINATE_ALL = "terminate-all"  # also instance-store-backed instances (their disks are lost)
    REPORT = "report"  # terminate nothing: report what keeps running


class Action(Enum):
    """The event key `action` (all three) and the env var `envaction` (pass or proceed)."""

    PASS = "pass"
    PROCEED = "proceed"
    RESTORE = "restore"


@dataclass(frozen=True)
class WeightedLimits:
    """Limits on what the pending + running instances weigh, each optional (None: not checked).

    accounts.yaml `max_vcpus`, `max_gpus`, `max_usd_per_hour` (env vars of the same names).
    """

    vcpus: int | None = None
    gpus: int | None = None  # accelerators: lambda/guard/weights.py says which count
    usd_per_hour: float | None = None  # on-demand list price: lambda/guard/pricing.py

    @property
    def any(self) -> bool:
        return (self.vcpus, self.gpus, self.usd_per_hour) != (None, None, None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WeightedLimits:
        return cls(
            vcpus=_parse_optional_count(environ, "max_vcpus"),
            gpus=_parse_optional_count(environ, "max_gpus"),
            usd_per_hour=_parse_optional_usd(environ, "max_usd_per_hour"),
        )


@dataclass(frozen=True)
class Settings:
    ec2limit: int
    snstopic: str
    mode: Mode = Mode.ENFORCE
    account_name: str = ""
    lockout: Lockout = Lockout.NONE
    # A trip attaches this customer managed policy (the guard stack's; it denies launches) to
    # every principal the guard may touch (launch_block.py). The stack always sets the policy, so
    # restore can detach it even after `launch_block` was turned off; unset here means off.
    launch_block: bool = False
    launch_block_policy: str = ""
    break_glass: frozenset[str] = frozenset()  # principal names never locked out
    stack_roles: frozenset[str] = frozenset()  # the guard stack's own roles, never locked out
    # The role the payer's people assume here (accounts.yaml operator_role): never locked out,
    # or nobody could restore (a break-glass principal in all but name).
    operator_role: str = ""
    unstoppable: Unstoppable = Unstoppable.TERMINATE_SPOT
    # The kinds of capacity outside EC2 a trip halts (service_names.py); the rest is reported.
    halt: frozenset[str] = DEFAULT_HALT
    # The payer's bus (issue 12): heartbeats and quarantine requests go there. Empty: none.
    payer_bus: str = ""
    quarantine: bool = False  # a trip in enforce mode asks the payer to quarantine the account
    weighted: WeightedLimits = WeightedLimits()
    # The schedule's period: follow-up mails of one incident are paced to one per period
    # (follow_up.py), and `runawaytrain status` calls a guard overdue after two of them.
    schedule_minutes: int = 5
    # A Region that held capacity and cannot be counted for this many runs in a row trips the
    # breaker (blindness.py says why the default is what it is).
    blind_runs_to_trip: int = DEFAULT_BLIND_RUNS_TO_TRIP
    # Organisation delivery (docs/settings.md): the payer's alert topic, where this guard also
    # publishes each mail (env PAYER_TOPIC_ARN), and the addresses it is routed to there.
    payer_topic: str = ""
    notify: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        launch_block = _parse_flag("launch_block", environ.get("launch_block", "false"))
        launch_block_policy = _parse_policy_arn(environ.get("launch_block_policy", ""))
        if launch_block and not launch_block_policy:
            raise SettingsError(
                "environment variable launch_block='true' needs launch_block_policy, the ARN of "
                "the guard stack's runawaytrain-launch-block policy (the stack sets both)"
            )
        return cls(
            ec2limit=_parse_limit(_required(environ, "ec2limit")),
            snstopic=_parse_topic(_required(environ, "snstopic")),
            mode=_parse_enum(Mode, "mode", environ.get("mode", Mode.ENFORCE.value)),
            account_name=environ.get("account_name", "").strip(),
            lockout=_parse_enum(Lockout, "lockout", environ.get("lockout", Lockout.NONE.value)),
            launch_block=launch_block,
            launch_block_policy=launch_block_policy,
            break_glass=_parse_names(environ.get("break_glass", "")),
            stack_roles=_parse_names(environ.get("stack_roles", "")),
            operator_role=environ.get("operator_role", "").strip(),
            unstoppable=_parse_enum(
                Unstoppable,
                "unstoppable",
                environ.get("unstoppable", Unstoppable.TERMINATE_SPOT.value),
            ),
            halt=_parse_halt(environ.get("halt")),
            payer_bus=_parse_bus(environ.get("payer_bus", "")),
            quarantine=_parse_flag("quarantine", environ.get("quarantine", "false")),
            weighted=WeightedLimits.from_env(environ),
            schedule_minutes=_parse_minutes(environ.get("schedule_minutes", "5")),
            blind_runs_to_trip=_parse_runs(
                environ.get("blind_runs_to_trip", str(DEFAULT_BLIND_RUNS_TO_TRIP))
            ),
            payer_topic=_parse_payer_topic(environ.get("PAYER_TOPIC_ARN", "")),
            notify=_parse_notify(environ.get("notify", "")),
        )


def parse_document(raw: bytes, where: str) -> dict[str, str]:
    """A settings document's text -> its settings, each a string as in the environment (the
    values are validated with the environment's, by Settings.from_env). `where` names it in
    errors, e.g. s3://bucket/accounts/111111111111.json."""
    if len(raw) > DOCUMENT_MAX_BYTES:
        raise SettingsError(
            f"settings document {where} is {len(raw)} bytes; at most {DOCUMENT_MAX_BYTES}"
        )
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise SettingsError(f"settings document {where} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"settings document {where} is not a JSON object of settings")
    unknown = sorted(set(document) - DOCUMENT_KEYS)
    if unknown:
        raise SettingsError(
            f"settings document {where} sets {', '.join(unknown)}: not one of "
            f"{', '.join(sorted(DOCUMENT_KEYS))}"
        )
    for name, value in document.items():
        if not isinstance(value, str):
            raise SettingsError(
                f"settings document {where}: {name}={value!r} is not a string "
                "(documents hold settings as the environment does)"
            )
    return dict(document)


def settings_with_document(
    environ: Mapping[str, str], document: Mapping[str, str], where: str
) -> Settings:
    """The environment with the document's settings over it, through the environment's one
    parsing path; a bad value raises SettingsError naming the document."""
    try:
        return Settings.from_env({**environ, **document})
    except SettingsError as error:
        raise SettingsError(f"settings document {where}: {error}") from None


def read_env_action(environ: Mapping[str, str]) -> Action:
    """The operator's override `envaction`: unset means proceed; anything but pass/proceed fails."""
    action = _parse_enum(Action, "envaction", environ.get("envaction", Action.PROCEED.value))
    if action is Action.RESTORE:
        raise SettingsError("environment variable envaction='restore' is not one of: pass, proceed")
    return action


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name)
    if value is None or not value.strip():
        raise SettingsError(f"environment variable {name} is required but not set")
    return value.strip()


def _parse_limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError:
        raise SettingsError(
            f"environment variable ec2limit={raw!r} is not a whole number; "
            "expected the maximum number of pending+running instances, e.g. 4"
        ) from None
    if limit < 0:
        raise SettingsError(f"environment variable ec2limit={raw!r} is negative; expected >= 0")
    return limit


def _parse_optional_count(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(
            f"environment variable {name}={raw!r} is not a whole number >= 0; unset it to "
            "check no such limit"
        )
    return value


def _parse_optional_usd(environ: Mapping[str, str], name: str) -> float | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise SettingsError(
            f"environment variable {name}={raw!r} is not a number of US dollars >= 0, e.g. 50; "
            "unset it to check no such limit"
        )
    return value


def _parse_minutes(raw: str) -> int:
    try:
        minutes = int(raw)
    except ValueError:
        minutes = 0
    if minutes < 1:
        raise SettingsError(
            f"environment variable schedule_minutes={raw!r} is not a whole number of minutes >= 1"
        )
    return minutes


def _parse_runs(raw: str) -> int:
    try:
        runs = int(raw)
    except ValueError:
        runs = 0
    if runs < 1:
        raise SettingsError(
            f"environment variable blind_runs_to_trip={raw!r} is not a whole number of runs >= 1"
        )
    return runs


def _parse_topic(raw: str) -> str:
    if not _TOPIC_ARN.match(raw):
        raise SettingsError(
            f"environment variable snstopic={raw!r} is not an SNS topic ARN; "
            "expected arn:aws:sns:<region>:<12-digit account>:<topic name>"
        )
    return raw


def _parse_payer_topic(raw: str) -> str:
    return _optional_arn(
        "PAYER_TOPIC_ARN",
        raw,
        _TOPIC_ARN,
        "an SNS topic ARN",
        "arn:aws:sns:<region>:<12-digit account>:<topic name>",
    )


def _parse_notify(raw: str) -> tuple[str, ...]:
    """The addresses the payer's topic routes this guard's mail to (filter policies match them
    exactly, so they are kept as written; config.py validated them)."""
    addresses = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in addresses:
        if "@" not in address or any(c.isspace() or c in '"\\' for c in address):
            raise SettingsError(f"notify={raw!r}: {address!r} is not an email address")
    return addresses


def _parse_bus(raw: str) -> str:
    return _optional_arn(
        "payer_bus",
        raw,
        _BUS_ARN,
        "an event bus ARN",
        "arn:aws:events:<region>:<12-digit account>:event-bus/<name>",
    )


def _optional_arn(variable: str, raw: str, pattern: re.Pattern[str], what: str, form: str) -> str:
    """An optional ARN variable: empty when unset, else it must match `pattern`."""
    value = raw.strip()
    if value and not pattern.match(value):
        raise SettingsError(
            f"environment variable {variable}={raw!r} is not {what}; expected {form}, or unset"
        )
    return value


def _parse_policy_arn(raw: str) -> str:
    value = raw.strip()
    if value and not _POLICY_ARN.match(value):
        raise SettingsError(
            f"environment variable launch_block_policy={raw!r} is not a managed policy ARN; "
            "expected arn:aws:iam::<12-digit account>:policy/runawaytrain/runawaytrain-launch-block"
            ", or unset"
        )
    return value


def _parse_flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise SettingsError(f"environment variable {name}={raw!r} is not one of: true, false")
    return value == "true"


def _parse_halt(raw: str | None) -> frozenset[str]:
    """Unset: the default; set and empty: no other service is halted (EC2 only)."""
    if raw is None:
        return DEFAULT_HALT
    try:
        return resolve_halt([name.strip() for name in raw.split(",") if name.strip()])
    except ValueError as unknown:
        raise SettingsError(
            f"environment variable halt={raw!r}: {unknown} is not one of: {described()}"
        ) from None


def _parse_names(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _parse_enum(enum: type[_E], name: str, raw: str) -> _E:
    value = raw.strip().lower()
    for member in enum:
        if member.value == value:
            return member
    choices = ", ".join(str(member.value) for member in enum)
    raise SettingsError(f"environment variable {name}={raw!r} is not one of: {choices}")
