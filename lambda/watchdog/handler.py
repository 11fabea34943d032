"""Lambda entry point of the payer's watchdog (`watchdog.handler.handler`): two kinds of event.

- a "Guard Heartbeat" from the payer's bus (a rule admits only the fleet's accounts): record it,
  and print the numbers it carries as the payer's own metrics (fleet_metrics.py);
- the watchdog's schedule ("Scheduled Event", every N minutes, N the fleet's smallest
  schedule_minutes): check every account, look inside those newly unhealthy, mail once per change;
  read every account's mail path and trip wiring (containment.py) and mail each new tampering
  finding once (tampering.py); with an organisation, also the accounts that joined and never
  reported (joined.py) and the StackSets delegated administrators (delegates.py); then log how
  many guards are silent or unhealthy, and one `WatchdogChecks` metric (metrics.py), whose
  absence the payer stack's alarm mails.

The account a heartbeat speaks for is the event's `account`, which EventBridge sets to the
sender (lambda/guard/payer_events.py), never a field of the detail.

Environment (written by the payer stack, runawaytrain_stack/watchdog.py): `accounts` (JSON list
of {id, name, schedule_minutes, ec2_limit, home_region, stack}; or `accounts_file`, a file
holding that list), `snstopic` (the payer's topic),
`heartbeat_path`, `state_path` (SSM paths, records.py), `reader_role` (path and name of the
reader role in every account), `schedule_name` (the guards' schedule); with an organization,
`target_ous` (comma separated) and `join_minutes`: an active account of those OUs with no
heartbeat that long after joining is mailed once (joined.py), and its heartbeats are kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from guard.logs import configure_logging, get_logger
from guard.payer_events import HEARTBEAT, SOURCE
from watchdog.containment import read_containment
from watchdog.delegates import check_delegates
from watchdog.findings import explain
from watchdog.fleet_metrics import emit_heartbeat_metrics, without_metrics
from watchdog.health import (
    AlertState,
    Health,
    Step,
    WatchedAccount,
    assess,
    count_unhealthy,
    next_step,
)
from watchdog.inside import Assume, look_inside
from watchdog.joined import JOIN_MINUTES, JoinCheckError, check_joined
from watchdog.mail import compose_alert, compose_recovered, compose_tampering, publish
from watchdog.metrics import emit_check_completed, emit_fleet_health
from watchdog.records import (
    parse_heartbeat,
    parse_state,
    read_values,
    write_heartbeat,
    write_state,
)
from watchdog.tampering import Seen, find_tampering, next_findings

LOG = get_logger("watchdog")
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=20)
SESSION_NAME = "runawaytrain-watchdog"
# Accounts read at once: about ten calls each (STS, CloudFormation, SNS, KMS, EventBridge, SQS),
# so a fleet of 100 reads in about the time 10 take one after another, well inside TIMEOUT.
READERS = 10


class SettingsError(ValueError):
    """A watchdog environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    accounts: tuple[WatchedAccount, ...]
    topic_arn: str
    heartbeat_path: str
    state_path: str
    reader_role: str  # "/runawaytrain/runawaytrain-watchdog-reader"
    schedule_name: str
    target_ous: tuple[str, ...] = ()  # with an organization: whose accounts are guarded
    join_minutes: int = JOIN_MINUTES  # how long a joined account may stay without a heartbeat

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is missing or empty")
            return value

        # Fleets with an organization ship the list in a layer file (its size grows with the
        # fleet; a function's environment holds 4 KB in all, Lambda quotas).
        accounts_file = env.get("accounts_file", "").strip()
        raw = (
            Path(accounts_file).read_text(encoding="utf-8")
            if accounts_file
            else required("accounts")
        )
        try:
            accounts = tuple(
                WatchedAccount(
                    id=str(a["id"]),
                    name=str(a["name"]),
                    schedule_minutes=int(a["schedule_minutes"]),
                    ec2_limit=int(a["ec2_limit"]),
                    home_region=str(a["home_region"]),
                    stack=str(a["stack"]),
                )
                for a in json.loads(raw)
            )
        except (ValueError, TypeError, KeyError) as error:
            raise SettingsError(
                f"environment variable accounts is {raw!r}: expected a JSON list of "
                f"{{id, name, schedule_minutes, ec2_limit, home_region, stack}} ({error!r})"
            ) from None
        join_minutes = env.get("join_minutes", "").strip() or str(JOIN_MINUTES)
        if not join_minutes.isdigit() or int(join_minutes) < 1:
            raise SettingsError(
                f"environment variable join_minutes is {join_minutes!r}: expected whole minutes"
            )
        return cls(
            target_ous=tuple(o.strip() for o in env.get("target_ous", "").split(",") if o.strip()),
            join_minutes=int(join_minutes),
            accounts=accounts,
            topic_arn=required("snstopic"),
            heartbeat_path=required("heartbeat_path"),
            state_path=required("state_path"),
            reader_role=required("reader_role"),
            schedule_name=required("schedule_name"),
        )

    def reader_role_arn(self, account: WatchedAccount, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account.id}:role{self.reader_role}"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(getattr(context, "aws_request_id", ""))
    settings = Settings.from_env(os.environ)
    session = boto3.session.Session()
    ssm = session.client("ssm", config=CLIENT_CONFIG)
    if is_heartbeat(event):
        return record(event, settings, ssm, now=datetime.now(UTC))
    return check(
        settings,
        ssm=ssm,
        sns=session.client("sns", config=CLIENT_CONFIG),
        assume=assume_with(session.client("sts", config=CLIENT_CONFIG)),
        now=datetime.now(UTC),
        # Organizations answers in us-east-1 (its one endpoint in the aws partition).
        organizations=session.client("organizations", region_name="us-east-1", config=CLIENT_CONFIG)
        if settings.target_ous
        else None,
    )


def is_heartbeat(event: Mapping[str, Any]) -> bool:
    return event.get("source") == SOURCE and event.get("detail-type") == HEARTBEAT


def assume_with(sts: Any) -> Assume:
    def assume(role_arn: str, region: str) -> Any:
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )

    return assume


def record(
    event: Mapping[str, Any], settings: Settings, ssm: Any, *, now: datetime
) -> dict[str, Any]:
    """Keep the heartbeat as the account's last; one from outside the fleet is dropped."""
    account = str(event.get("account", ""))
    # With target OUs, any guard of the organisation (the payer bus admits only those): an
    # unlisted account's heartbeat is what the join check waits for.
    if account not in {a.id for a in settings.accounts} and not (
        settings.target_ous and account.isdigit() and len(account) == 12
    ):
        LOG.warning("heartbeat_ignored", extra={"account": account})
        return {"recorded": None}
    try:
        time = datetime.fromisoformat(str(event.get("time", "")))
    except ValueError:
        time = now
    if time.tzinfo is None:
        time = time.replace(tzinfo=UTC)
    detail = event.get("detail", {})
    write_heartbeat(ssm, settings.heartbeat_path, account, time, without_metrics(detail))
    # After the record: a failed write is retried by Lambda, and the metrics would count twice.
    emit_heartbeat_metrics(account, detail, time)
    LOG.info("heartbeat_recorded", extra={"account": account, "time": time.isoformat()})
    return {"recorded": account}


def check(
    settings: Settings,
    *,
    ssm: Any,
    sns: Any,
    assume: Assume,
    now: datetime,
    organizations: Any = None,
) -> dict[str, Any]:
    """One pass over the fleet: returns what was mailed, by account id."""
    beats = read_values(ssm, (settings.heartbeat_path + a.id for a in settings.accounts))
    states = read_values(ssm, (settings.state_path + a.id for a in settings.accounts))
    mailed: dict[str, str] = {}
    healths: list[Health] = []
    with ThreadPoolExecutor(max_workers=min(READERS, len(settings.accounts) or 1)) as pool:
        seen = dict(
            zip(
                [a.id for a in settings.accounts],
                pool.map(
                    lambda a: read_containment(
                        assume, a, reader_role_arn=settings.reader_role_arn(a)
                    ),
                    settings.accounts,
                ),
                strict=True,
            )
        )
    for account in settings.accounts:
        beat = parse_heartbeat(beats.get(settings.heartbeat_path + account.id))
        known = parse_state(states.get(settings.state_path + account.id), now)
        state = known or AlertState(watching_since=now)
        health = assess(account, beat, state.watching_since, now)
        healths.append(health)
        step, new_state = next_step(health, state)
        if step is Step.ALERT:
            inside = look_inside(
                assume,
                account,
                reader_role_arn=settings.reader_role_arn(account),
                schedule_name=settings.schedule_name,
                now=now,
            )
            subject, body = compose_alert(health, explain(inside, account, settings.schedule_name))
        elif step is Step.RECOVERED:
            subject, body = compose_recovered(health, now)
        sent = []
        if step is not Step.NOTHING:
            error = publish(sns, settings.topic_arn, subject, body)
            if error is None:
                sent.append(step.value)
                LOG.warning(
                    "watchdog_mailed",
                    extra={"account": account.id, "step": step.value, "key": health.key},
                )
            else:  # not remembered as mailed: the next check tries again
                LOG.error("watchdog_mail_failed", extra={"account": account.id, "error": error})
                new_state = state
        new_state, tampering = _mail_tampering(
            settings, sns, account=account, seen=seen[account.id], state=new_state, now=now
        )
        if tampering:
            sent.append("tampering")
        if sent:
            mailed[account.id] = ",".join(sent)
        if new_state != known:
            write_state(ssm, settings.state_path, account.id, new_state)
    joined = _check_joined(settings, organizations, ssm=ssm, sns=sns, now=now)
    for account_id in joined:
        mailed[account_id] = JOINED_SILENT
    delegates = _check_delegates(settings, organizations, ssm=ssm, sns=sns, now=now)
    if delegates:
        mailed["organization"] = delegates
    emit_fleet_health(*count_unhealthy(healths))
    emit_check_completed()
    return {"mailed": mailed, "accounts": len(settings.accounts)}


JOINED_SILENT = "joined-silent"


def _check_delegates(
    settings: Settings, organizations: Any, *, ssm: Any, sns: Any, now: datetime
) -> str | None:
    """StackSets delegated administrators (delegates.py), with an organisation only; an error
    of its records is logged, never stops the check."""
    if organizations is None or not settings.target_ous:
        return None
    try:
        mailed = check_delegates(
            organizations=organizations,
            ssm=ssm,
            sns=sns,
            topic_arn=settings.topic_arn,
            state_path=settings.state_path,
            now=now,
        )
    except (ClientError, BotoCoreError) as error:
        LOG.error("watchdog_delegates_check_failed", extra={"error": str(error)})
        return None
    if mailed:
        LOG.warning("watchdog_mailed", extra={"step": mailed})
    return mailed


def _check_joined(
    settings: Settings, organizations: Any, *, ssm: Any, sns: Any, now: datetime
) -> list[str]:
    """The accounts of the target OUs nobody listed (joined.py); an error is logged, never
    stops the check."""
    if organizations is None or not settings.target_ous:
        return []
    try:
        joined = check_joined(
            organizations=organizations,
            ssm=ssm,
            sns=sns,
            topic_arn=settings.topic_arn,
            target_ous=settings.target_ous,
            listed={a.id for a in settings.accounts},
            heartbeat_path=settings.heartbeat_path,
            state_path=settings.state_path,
            grace=timedelta(minutes=settings.join_minutes),
            now=now,
        )
    except JoinCheckError as error:
        LOG.error("watchdog_join_check_failed", extra={"error": str(error)})
        return []
    for account in joined:
        LOG.warning("watchdog_mailed", extra={"account": account, "step": JOINED_SILENT})
    return joined


def _mail_tampering(
    settings: Settings,
    sns: Any,
    *,
    account: WatchedAccount,
    seen: Seen,
    state: AlertState,
    now: datetime,
) -> tuple[AlertState, bool]:
    """Mails the findings not mailed before (one mail); returns the state to remember and
    whether it mailed."""
    if seen.refused is not None:  # no stack or no reader role: the silence alert names it
        LOG.info("watchdog_tampering_unread", extra={"account": account.id, "why": seen.refused})
        return state, False
    found = find_tampering(seen, now)
    new, present = next_findings(found, state.findings)
    if new:
        still = [f for f in found if f.key in state.findings]
        subject, body = compose_tampering(account, new, still)
        error = publish(sns, settings.topic_arn, subject, body)
        if error is not None:  # the new ones are not remembered: the next check tries again
            LOG.error("watchdog_mail_failed", extra={"account": account.id, "error": error})
            return replace(state, findings=tuple(k for k in present if k in state.findings)), False
        LOG.warning(
            "watchdog_tampering_mailed",
            extra={"account": account.id, "findings": [f.key for f in new]},
        )
    return replace(state, findings=present), bool(new)
