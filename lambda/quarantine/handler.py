"""Lambda entry point (`quarantine.handler.handler`) in the payer: a guard asked for its
account's quarantine SCP to be attached ("Quarantine Requested", on a trip in enforce mode) or
detached ("Quarantine Released", on restore).

The account acted on is the event's `account`, which EventBridge sets to the sending account
(payer_bus.py), never a field of the detail: a member can only quarantine or release itself,
and the standing SCP lets only its guard's roles send (scp.py). The outcome is recorded in one
SSM parameter per account and mailed (payer topic, `account` message attribute: the payer's
list and that account's list).

Environment (written by the payer stack): `accounts` (JSON: account id -> name, the members
with quarantine on), `policy_prefix` (the SCPs of account X are `<prefix><X>`, then
`<prefix><X>-2`, ...), `pieces` (JSON: account id -> how many), `state_path` (SSM path of the
records), `snstopic` (the payer's topic).

With an `organization` (on demand: on_demand.py) the SCPs do not exist before the trip: instead
of `accounts` and `pieces`, `settings_file` (the shipped file: account_settings.py) and
`policy_tag` (the tag the function's role may act on); any account of the organisation but the
payer may be quarantined, and its record is written before each change as well as after.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from guard.logs import configure_logging, get_logger
from guard.payer_events import QUARANTINE_RELEASED, QUARANTINE_REQUESTED
from quarantine.account_settings import QuarantineData, find_account_settings
from quarantine.documents import build_quarantine_documents, list_exempt
from quarantine.on_demand import attach_on_demand, detach_on_demand
from quarantine.policies import Outcome, change, find_policy_ids

LOG = get_logger("quarantine")
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})
# Organizations is a global service served from us-east-1 (Organizations API Reference,
# "Endpoints").
ORGANIZATIONS_REGION = "us-east-1"
VERBS = {QUARANTINE_REQUESTED: "attach", QUARANTINE_RELEASED: "detach"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    configure_logging(getattr(context, "aws_request_id", ""))
    environ = os.environ
    if "settings_file" in environ:
        return act_on_demand(
            event,
            data=QuarantineData.read(environ["settings_file"]),
            policy_prefix=environ["policy_prefix"],
            policy_tag=environ["policy_tag"],
            state_path=environ["state_path"],
            topic_arn=environ["snstopic"],
            session=boto3.session.Session(),
        )
    return act(
        event,
        accounts=json.loads(environ["accounts"]),
        policy_prefix=environ["policy_prefix"],
        state_path=environ["state_path"],
        topic_arn=environ["snstopic"],
        session=boto3.session.Session(),
        pieces=json.loads(environ.get("pieces", "{}")),
    )


def act_on_demand(
    event: dict[str, Any],
    *,
    data: QuarantineData,
    policy_prefix: str,
    policy_tag: str,
    state_path: str,
    topic_arn: str,
    session: Any,
) -> dict[str, Any]:
    """`act` for fleets with an `organization`: the SCPs are created at the trip from the
    shipped template and the account's settings, and deleted at restore."""
    account = str(event.get("account", ""))
    verb = VERBS.get(str(event.get("detail-type", "")))
    settings = find_account_settings(data, account)
    if verb is None or settings is None or not settings.quarantine:
        LOG.warning("ignored", extra={"account": account, "detail_type": event.get("detail-type")})
        return {"account": account, "ignored": True}
    incident = str((event.get("detail") or {}).get("incident", ""))
    base = f"{policy_prefix}{account}"
    organizations = session.client("organizations", ORGANIZATIONS_REGION, config=CLIENT_CONFIG)
    started = {"account": account, "account_name": settings.name, "action": verb}

    def note(found: list[tuple[str, str]]) -> None:
        # Record, then change: what exists (created or found) before it is attached or removed.
        policy = ", ".join(policy_id for _, policy_id in found) or base
        pending = {**started, "incident": incident, "policy": policy, "changed": False}
        record(
            session,
            state_path,
            {**pending, "error": None, "advice": "", "at": _now()},
            state=f"{verb}ing",
        )

    found: list[tuple[str, str]] = []
    try:
        if verb == "attach":
            template = data.template
            exempt = list_exempt(template, account, list(settings.break_glass))
            documents = build_quarantine_documents(template, account, exempt)
            found, outcomes = attach_on_demand(
                organizations,
                account=account,
                base=base,
                documents=documents,
                tag=policy_tag,
                note=note,
            )
        else:
            found, outcomes = detach_on_demand(organizations, account=account, base=base, note=note)
    except (ClientError, BotoCoreError) as error:
        outcomes = [Outcome(False, f"{type(error).__name__}: {error}")]
    result = _summarize(started, incident, base, found, outcomes)
    LOG.info("quarantine", extra=result)
    record_error = record(session, state_path, result) if result["error"] is None else None
    if result["changed"] or result["error"] or record_error:
        mail(session, topic_arn, result, record_error)
    return result


def _summarize(
    started: dict[str, Any],
    incident: str,
    base: str,
    found: list[tuple[str, str]],
    outcomes: list[Outcome],
) -> dict[str, Any]:
    refused = [outcome for outcome in outcomes if not outcome.ok]
    return {
        **started,
        "incident": incident,
        "policy": ", ".join(policy_id for _, policy_id in found) or base,
        "changed": any(outcome.changed for outcome in outcomes),
        "error": "; ".join(str(outcome.error) for outcome in refused) or None,
        "advice": "; ".join(dict.fromkeys(o.advice for o in refused if o.advice)),
        "at": _now(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def act(
    event: dict[str, Any],
    *,
    accounts: dict[str, str],
    policy_prefix: str,
    state_path: str,
    topic_arn: str,
    session: Any,
    pieces: dict[str, int] | None = None,
) -> dict[str, Any]:
    account = str(event.get("account", ""))
    verb = VERBS.get(str(event.get("detail-type", "")))
    detail = event.get("detail") or {}
    if verb is None or account not in accounts:
        # The rule matches only these; anything else is a misconfiguration, logged, not acted on.
        LOG.warning("ignored", extra={"account": account, "detail_type": event.get("detail-type")})
        return {"account": account, "ignored": True}
    result = apply(
        session,
        account=account,
        account_name=accounts[account],
        verb=verb,
        incident=str(detail.get("incident", "")),
        policy_prefix=policy_prefix,
        pieces=(pieces or {}).get(account),
    )
    LOG.info("quarantine", extra=result)
    record_error = record(session, state_path, result) if result["error"] is None else None
    if result["changed"] or result["error"] or record_error:
        mail(session, topic_arn, result, record_error)
    return result


def apply(
    session: Any,
    *,
    account: str,
    account_name: str,
    verb: str,
    incident: str,
    policy_prefix: str,
    pieces: int | None = None,
) -> dict[str, Any]:
    """Attach or detach every one of `account`'s quarantine SCPs (found by name; `pieces`: how
    many the payer stack made, when known, so a missing one is an error) with the caller's
    session: the Lambda's, or the operator's in `runawaytrain restore`. Each is tried even when
    another was refused (a partial quarantine beats none). Never raises AWS errors."""
    base = f"{policy_prefix}{account}"
    organizations = session.client("organizations", ORGANIZATIONS_REGION, config=CLIENT_CONFIG)
    found: list[tuple[str, str]] = []
    try:
        found = find_policy_ids(organizations, base)
    except (ClientError, BotoCoreError) as error:
        outcomes = [Outcome(False, f"{type(error).__name__}: {error}")]
    else:
        outcomes = [change(organizations, verb, i, account, name) for name, i in found]
        names = {name for name, _ in found}
        wanted = [base, *(f"{base}-{n}" for n in range(2, (pieces or 1) + 1))]
        missing = [name for name in wanted if name not in names]
        if missing and (not found or verb == "attach"):
            outcomes.append(
                Outcome(
                    False,
                    f"PolicyNotFoundException: no SCP named {', '.join(missing)}",
                    "redeploy the payer stack (npx cdk deploy runawaytrain-payer)",
                )
            )
    refused = [outcome for outcome in outcomes if not outcome.ok]
    return {
        "account": account,
        "account_name": account_name,
        "action": verb,
        "incident": incident,
        "policy": ", ".join(policy_id for _, policy_id in found) or base,
        "changed": any(outcome.changed for outcome in outcomes),
        "error": "; ".join(str(outcome.error) for outcome in refused) or None,
        "advice": "; ".join(dict.fromkeys(o.advice for o in refused if o.advice)),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def record(
    session: Any, state_path: str, result: dict[str, Any], state: str | None = None
) -> str | None:
    """The account's quarantine state, one parameter: what `runawaytrain status` shows
    (`state`: attaching/detaching before a change; by default the outcome's)."""
    ssm = session.client("ssm", config=CLIENT_CONFIG)
    if state is None:
        state = "attached" if result["action"] == "attach" else "detached"
    value = json.dumps({**result, "state": state}, sort_keys=True)
    try:
        ssm.put_parameter(
            Name=f"{state_path}{result['account']}", Value=value, Type="String", Overwrite=True
        )
    except (ClientError, BotoCoreError) as error:
        LOG.error("record_failed", extra={"error": str(error)})
        return f"{type(error).__name__}: {error}"
    return None


def mail(session: Any, topic_arn: str, result: dict[str, Any], record_error: str | None) -> None:
    subject, body = compose(result, record_error)
    sns = session.client("sns", topic_arn.split(":")[3], config=CLIENT_CONFIG)
    try:
        sns.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=body,
            # The payer's list receives every message; an account's list only its own.
            MessageAttributes={"account": {"DataType": "String", "StringValue": result["account"]}},
        )
    except (ClientError, BotoCoreError) as error:
        LOG.error("notify_failed", extra={"error": str(error)})


def compose(result: dict[str, Any], record_error: str | None) -> tuple[str, str]:
    who = f"{result['account_name']} ({result['account']})"
    incident = f" (incident {result['incident']})" if result["incident"] else ""
    if result["error"]:
        verb = "ATTACH" if result["action"] == "attach" else "DETACH"
        subject = f"runawaytrain {result['account_name']}: quarantine could NOT {verb.lower()}"
        lines = [
            f"The payer could not {verb.lower()} the quarantine SCPs of account {who}{incident}.",
            f"AWS said: {result['error']}",
            f"What to do: {result['advice']}",
        ]
        if result["action"] == "attach":
            lines.append(
                "The guard's halt stands (instances stopped, IAM users locked as configured); "
                "only the account-wide block on launches and IAM changes is missing."
            )
            if result["changed"]:
                lines.append(
                    f"Attached all the same: {result['policy']} (part of the quarantine: what "
                    "the missing SCPs deny is not blocked)."
                )
        return subject[:99], "\n".join(lines) + "\n"
    if result["action"] == "attach":
        subject = f"runawaytrain {result['account_name']}: account QUARANTINED"
        lines = [
            f"Account {who} tripped{incident}; the payer attached the quarantine SCPs "
            f"{result['policy']}.",
            "Until restore, nobody in the account can launch or start compute (EC2, Auto "
            "Scaling, fleets, SageMaker, Batch, EKS, ECS, Lambda, Lightsail, GameLift, "
            "AppStream, ...), invoke Bedrock models, buy reserved capacity, Savings Plans or "
            "Marketplace subscriptions, or change IAM, and nobody can invoke the guard: this "
            "includes IAM Identity Center (SSO) users and the root user.",
            "Exempt: the guard's own roles, the CDK deploy roles, the operator role and the "
            "account's break_glass principals.",
            "Restore (detaches it): runawaytrain restore --account "
            f'{result["account_name"]}, or invoke the guard with {{"action": "restore"}} '
            "as a break_glass principal.",
        ]
    else:
        subject = f"runawaytrain {result['account_name']}: quarantine lifted"
        lines = [f"The payer detached the quarantine SCPs of account {who}{incident}."]
    if record_error:
        lines.append(f"(Recording this in SSM failed: {record_error})")
    return subject[:99], "\n".join(lines) + "\n"
