"""Tell the notify list, in one SNS message, what the guard found, what it did and how to undo it.

IAM: sns:Publish on the account's topic (and kms:GenerateDataKey/Decrypt on its key).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.blindness import BlindRegion, describe_blind
from guard.burn_mail import burn_lines, burn_subject
from guard.census import describe_error
from guard.follow_up import describe_held
from guard.incident import INCIDENT_TAG
from guard.links import link_lines
from guard.logs import get_logger
from guard.report import Report
from guard.service_mail import restored_service_lines, service_lines
from guard.undo import undo_lines
from guard.warm_pool_mail import restored_pool_lines, warm_pool_lines

LOG = get_logger("notify")

# SNS: Subject must be ASCII, no line breaks, under 100 characters; Message at most 256 KB
# (262,144 bytes). Source: Amazon SNS API Reference, Publish. Keep a margin for email headers.
SUBJECT_MAX = 99
BODY_MAX_BYTES = 200_000
IDS_LISTED_PER_REGION = 200  # beyond this the body names the tag to list them by


def compose_subject(report: Report) -> str:
    label = report.account + (f" ({report.account_name})" if report.account_name else "")
    if report.verdict == "restore":
        state = "RESTORE DRY-RUN" if report.mode == "dry-run" else "RESTORED"
        head = f"runawaytrain {state} {label}: incident {report.incident or 'none found'}"
    elif report.lockout_finished and report.verdict == "ok":
        head = f"runawaytrain LOCKOUT FINISHED {label}: incident {report.incident}"
    elif report.verdict == "degraded":
        head = f"runawaytrain DEGRADED {label}: {len(report.region_errors)} region(s) not counted"
        if not report.region_errors:  # a weighted limit could not be fully checked (weigh.py)
            head = f"runawaytrain DEGRADED {label}: a limit could not be fully checked"
    else:
        state = "WOULD TRIP (dry-run)" if report.mode == "dry-run" else "TRIPPED"
        if report.continues_incident:
            state = "TRIPPED AGAIN"
        head = f"runawaytrain {state} {label}: {report.count} EC2 vs limit {report.limit}"
        if "billing-alarm" in report.trip_reasons:
            head += ", billing alarm"
        if "spend-rate" in report.trip_reasons:
            head += ", spend rate"
        if "region-blind" in report.trip_reasons:
            head += ", region blind"
        head += burn_subject(report)
    ascii_only = head.encode("ascii", "replace").decode("ascii")
    return ascii_only if len(ascii_only) <= SUBJECT_MAX else ascii_only[: SUBJECT_MAX - 3] + "..."


def compose_body(report: Report) -> str:
    sections = (
        _counts,
        burn_lines,
        _uncounted,
        _dry_run,
        _stopped,
        _terminated,
        _still_pending,
        _not_stopped,
        _suspended,
        warm_pool_lines,
        _fleets,
        service_lines,
        _still_billing,
        _closed,
        _errors,
        _launch_block,
        _locked,
        _quarantine,
        _restored,
        _held_back,
        _next_steps,
        _links,
    )
    lines = [_headline(report), f"{'What' if report.restore else 'Why'}: {report.reason}."]
    if report.prompt:
        lines.append(f"Prompted by: {report.prompt}.")
    if report.incident:
        lines.append(f"Incident: {report.incident}")
    lines.append(f"Mode: {report.mode}")
    if report.settings_source:
        lines.append(f"Settings: {report.settings_source}")
    for section in sections:
        found = section(report)
        if found:
            lines += ["", *found]
    body = "\n".join(lines)
    encoded = body.encode("utf-8")
    if len(encoded) > BODY_MAX_BYTES:
        body = encoded[:BODY_MAX_BYTES].decode("utf-8", "ignore") + "\n... (truncated; see the log)"
    return body


def publish_summary(
    sns: Any,
    topic_arn: str,
    subject: str,
    body: str,
    attributes: dict[str, dict[str, str]] | None = None,
) -> str | None:
    """Publish; return None on success or the error text. Never raises: the halt stands.
    `attributes`: SNS message attributes (the payer's topic routes by them: route_attributes)."""
    try:
        response = sns.publish(
            TopicArn=topic_arn, Subject=subject, Message=body, MessageAttributes=attributes or {}
        )
    except (ClientError, BotoCoreError) as error:
        message = describe_error(error)
        LOG.error("notify_failed", extra={"topic": topic_arn, "error": message})
        return message
    LOG.info("notified", extra={"topic": topic_arn, "message_id": response.get("MessageId")})
    return None


def route_attributes(account: str, notify: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """What the payer's topic routes a member's mail by (docs/settings.md): `account`, and
    `notify`, a String.Array of its addresses. A subscription's filter {"notify": [address]}
    matches when any element equals the address: "For String.Array type attributes, each
    element in the array is treated as a separate string for matching purposes" (SNS Developer
    Guide, "String value matching"); a String.Array value is a JSON array in a string (SNS
    Developer Guide, "Amazon SNS message attributes"). No addresses: no `notify` attribute,
    and only the payer's unfiltered subscriptions receive it."""
    attributes = {"account": {"DataType": "String", "StringValue": account}}
    if notify:
        attributes["notify"] = {"DataType": "String.Array", "StringValue": json.dumps(notify)}
    return attributes


def _counts(report: Report) -> list[str]:
    if report.verdict == "restore":
        return []
    lines = ["Pending + running EC2 instances counted, by region:"]
    lines += [f"  {region:<16} {count}" for region, count in report.by_region.items() if count]
    lines.append(f"  {'total':<16} {report.count}   (limit {report.limit})")
    return lines


def _uncounted(report: Report) -> list[str]:
    if not report.region_errors:
        return []
    errors = sorted(report.region_errors.items())
    lines = [
        "Regions that could NOT be counted (their instances are unknown):",
        *(f"  {region}: {error}" for region, error in errors),
    ]
    if report.blind:
        lines += [
            "",
            "How long each has been blind. Anyone who may call EC2 in the account can drain a "
            "Region's request bucket and hide what runs there (EC2 throttles per account and "
            f"Region); one that held capacity and stays blind for {report.blind_runs_to_trip} "
            "runs in a row trips the breaker. This is mailed once per Region going blind, not "
            "every run:",
            *(
                "  " + describe_blind(region, BlindRegion(**found))
                for region, found in sorted(report.blind.items())
            ),
        ]
    return lines


def _dry_run(report: Report) -> list[str]:
    if not report.would_stop:
        return []
    heading = f"Dry-run: nothing was stopped. Enforce mode would stop {len(report.would_stop)}:"
    return [heading, *_id_lines(report.would_stop)]


def _stopped(report: Report) -> list[str]:
    if not report.stopped:
        return []
    heading = f"Stopped ({len(report.stopped)}; stopped, never terminated: EBS volumes are kept):"
    return [heading, *_by_region(report.stopped_by_region)]


def _terminated(report: Report) -> list[str]:
    total = sum(len(ids) for ids in report.terminated_by_region.values())
    if not total:
        return []
    heading = (
        f"Terminated ({total}): Spot capacity AWS cannot stop (unstoppable: "
        "terminate-spot/terminate-all); it cannot be brought back:"
    )
    return [heading, *_by_region(report.terminated_by_region)]


def _still_pending(report: Report) -> list[str]:
    total = sum(len(ids) for ids in report.still_pending.values())
    if not total:
        return []
    heading = (
        f"Still pending ({total}): AWS cannot stop an instance before it runs. They are tagged "
        f"{INCIDENT_TAG} and the next run stops them, whatever the count:"
    )
    return [heading, *_by_region(report.still_pending)]


def _fleets(report: Report) -> list[str]:
    lines = []
    if report.protection_lifted:
        lines.append(
            f"Stop protection lifted to stop them ({len(report.protection_lifted)}; restore "
            "puts it back):"
        )
        lines += _id_lines(report.protection_lifted)
    for region, fleets in report.fleets_zeroed.items():
        lines += [
            f"Fleet {fleet} in {region}: target capacity set to 0 so it replaces nothing "
            f"(was {capacity}; restore puts it back)"
            for fleet, capacity in fleets.items()
        ]
    for region, requests in report.spot_cancelled.items():
        lines.append(
            f"Spot requests cancelled in {region} (they would have relaunched; not restorable): "
            + " ".join(requests)
        )
    return lines


def _still_billing(report: Report) -> list[str]:
    if not report.still_billing:
        return []
    lines = ["Still billing with no instance running (not released; release them by hand):"]
    lines += [f"  {region}: {', '.join(what)}" for region, what in report.still_billing.items()]
    return lines


def _closed(report: Report) -> list[str]:
    if not report.closed_regions or not report.tripped:
        return []
    return [
        "Regions closed by a service control policy (nothing can run there, not counted): "
        + " ".join(sorted(report.closed_regions))
    ]


def _not_stopped(report: Report) -> list[str]:
    if not report.not_stopped:
        return []
    shown = sorted(report.not_stopped.items())[:IDS_LISTED_PER_REGION]
    lines = [f"Could NOT be stopped ({len(report.not_stopped)}), still running:"]
    lines += [f"  {id_}: {code}" for id_, code in shown]
    if len(report.not_stopped) > len(shown):
        lines.append(f"  ... and {len(report.not_stopped) - len(shown)} more (see the log)")
    return lines


def _suspended(report: Report) -> list[str]:
    if not report.suspended_by_region:
        return []
    lines = ["Auto Scaling groups whose processes were suspended (so they cannot relaunch):"]
    for region, groups in report.suspended_by_region.items():
        lines += [f"  {region} {name}: {' '.join(procs)}" for name, procs in groups.items()]
    return lines


def _errors(report: Report) -> list[str]:
    if not report.action_errors:
        return []
    return ["Errors while acting:", *(f"  {error}" for error in report.action_errors)]


def _launch_block(report: Report) -> list[str]:
    lines = []
    if report.launch_blocked:
        lines.append(
            f"Launches refused ({len(report.launch_blocked)} user(s) and role(s)): the guard "
            "stack's runawaytrain-launch-block policy is attached to them, denying EC2 "
            "launches and starts, Spot and fleet requests, Auto Scaling capacity changes, "
            "SageMaker, Batch, EKS, ECS and Lightsail compute, and Bedrock model invocation "
            "and provisioned throughput (Bedrock has no stop: refusing invocation is its halt; "
            "with quarantine on, the payer's quarantine SCPs refuse it account-wide too). IAM "
            "applies it within seconds to minutes; restore detaches it:"
        )
        lines += _id_lines(report.launch_blocked)
    if report.launch_block_errors:
        lines.append("Could NOT be refused launches (the policy is not attached):")
        errors = sorted(report.launch_block_errors.items())
        lines += [f"  {key}: {error}" for key, error in errors]
    if report.launch_block_skipped:
        by_reason = Counter(report.launch_block_skipped.values())
        lines.append("Not refused launches (never touched):")
        lines += [f"  {reason}: {count}" for reason, count in sorted(by_reason.items())]
    return lines


def _locked(report: Report) -> list[str]:
    lines = []
    if report.locked_users or report.locked_roles:
        if report.lockout_finished:
            lines.append(
                f"Incident {report.incident} is still open and its lockout of these was partial "
                "(a step had failed); this run finished it:"
            )
        lines.append("Locked out of IAM (AWSDenyAll attached; user keys set Inactive):")
        lines += [f"  user {name}" for name in report.locked_users]
        lines += [
            f"  role {name} (its sessions, old and new, refused)" for name in report.locked_roles
        ]
    if report.lockout_errors:
        lines.append("Could NOT be locked out:")
        lines += [f"  {key}: {error}" for key, error in sorted(report.lockout_errors.items())]
    if report.skipped:
        lines.append("Never locked out (protected):")
        lines += [f"  {key}: {reason}" for key, reason in sorted(report.skipped.items())]
    return lines


def _quarantine(report: Report) -> list[str]:
    if report.quarantine is None:
        return []
    if report.restore is not None:
        return [
            "Quarantine: asked the payer to detach this account's quarantine SCP; the payer "
            "mails when it has."
        ]
    return [
        "Quarantine: asked the payer to attach this account's quarantine SCP; the payer mails "
        "when it has. From then until restore, nobody in this account can launch or start EC2 "
        "capacity, change Auto Scaling or fleet capacity, change IAM, or invoke the guard. "
        "That includes IAM Identity Center (SSO) users and the root user, which no IAM "
        "lockout reaches. Exempt: the break_glass principals, the operator role, the guard's "
        "own roles and the CDK deploy roles. Restore detaches it.",
    ]


def _restored(report: Report) -> list[str]:
    if not report.restore:
        return []
    undone = report.restore
    lines = []
    if undone.get("launch_unblocked"):
        lines.append(
            "Allowed to launch again (launch-block policy detached): "
            + " ".join(undone["launch_unblocked"])
        )
    for key in (
        "unlocked_users",
        "unlocked_roles",
        "keys_reactivated",
        "started_instances",
        "reprotected",
    ):
        if undone.get(key):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {' '.join(undone[key])}")
    for group, processes in sorted(undone.get("resumed_asgs", {}).items()):
        lines.append(f"Auto Scaling group {group}: resumed {' '.join(processes) or 'nothing'}")
    for group, why in sorted(undone.get("kept_suspended", {}).items()):
        lines.append(f"Auto Scaling group {group}: still suspended, {why}")
    lines += restored_pool_lines(undone)
    lines += restored_service_lines(undone)
    for fleet, capacity in sorted(undone.get("fleets_restored", {}).items()):
        lines.append(f"Fleet {fleet}: target capacity back to {capacity}")
    for request in undone.get("spot_requests_cancelled", []):
        lines.append(
            f"Spot request {request}: cancelled by the incident, cannot be reopened; request "
            "the capacity again if it is still wanted"
        )
    for instance, why in sorted(undone.get("fell_back", {}).items()):
        lines.append(
            f"Instance {instance} did not start ({why}); with a customer managed EBS key the "
            "caller needs kms:CreateGrant"
        )
    if undone.get("still_stopped"):
        lines.append(
            f"{len(undone['still_stopped'])} instance(s) are still stopped: restore again with "
            "restart_instances to start them."
        )
    # What the incident's own record does not vouch for, and tags it overruled (ledger.py).
    unvouched = {**undone.get("unrecorded", {}), **undone.get("record_warnings", {})}
    lines += [f"{what}: {why}" for what, why in sorted(unvouched.items())]
    for key, error in sorted(undone.get("errors", {}).items()):
        lines.append(f"Error {key}: {error}")
    return lines


def _next_steps(report: Report) -> list[str]:
    if report.tripped and report.mode != "dry-run":
        return undo_lines(report)
    if report.verdict == "degraded":
        return ["Nothing was stopped. Check the guard's permissions and the regions above."]
    return []


def _links(report: Report) -> list[str]:
    return link_lines(report.dashboard_url, report.log_group_url)


def _held_back(report: Report) -> list[str]:
    return describe_held(report.held_back) if report.held_back else []


def _headline(report: Report) -> str:
    label = report.account + (f" ({report.account_name})" if report.account_name else "")
    if report.verdict == "restore":
        return f"runawaytrain restore in account {label}."
    if report.verdict == "degraded":
        return f"runawaytrain guard for account {label} is DEGRADED: it could not see everything."
    if report.mode == "dry-run":
        return f"runawaytrain WOULD HAVE TRIPPED in account {label} (dry-run: nothing was changed)."
    if report.continues_incident:
        return (
            f"runawaytrain TRIPPED AGAIN in account {label}: incident {report.incident} is still "
            "open, and what was launched since is stopped under it."
        )
    return f"runawaytrain TRIPPED in account {label}."


def _by_region(ids_by_region: dict[str, list[str]]) -> list[str]:
    lines = []
    for region, ids in ids_by_region.items():
        if ids:
            lines += [f"  {region}:", *_id_lines(ids, indent="    ")]
    return lines


def _id_lines(ids: Iterable[str], indent: str = "  ") -> list[str]:
    ids = list(ids)
    shown = ids[:IDS_LISTED_PER_REGION]
    lines = [indent + " ".join(shown[i : i + 4]) for i in range(0, len(shown), 4)]
    if len(ids) > len(shown):
        lines.append(f"{indent}... and {len(ids) - len(shown)} more, tagged {INCIDENT_TAG}")
    return lines
