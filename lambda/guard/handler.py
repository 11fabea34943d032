"""Lambda entry point (`guard.handler.handler`): the only place that wires the steps together.

    overrides -> settings -> census (all regions, parallel) -> decide (pure)
              -> halt · block launches · lockout -> notify

The operator CLI calls `run_guard` with a ClientFactory built on an assumed-role session.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.blindness import blind_closed, read_memory, track_blindness
from guard.census import Census, count_instances, describe_error
from guard.clients import REGION_WORKERS, ClientFactory
from guard.decision import Decision, Verdict, decide, decide_override, finishes_open_incident
from guard.halt import HaltPlan, HaltResult, halt_instances
from guard.heartbeat import send_heartbeat
from guard.incident import new_incident_id
from guard.instances import incident_instances
from guard.invocation import Invocation, parse_invocation
from guard.last_run import read_last_run
from guard.launch_block import block_launches
from guard.launches import LaunchPrompt
from guard.ledger import ROOT as LEDGER_ROOT
from guard.ledger import Ledger
from guard.links import dashboard_url, log_group_url
from guard.lockout import lock_out
from guard.logs import configure_logging, get_logger
from guard.metrics import documents, emit, measure
from guard.notify import compose_body, compose_subject, publish_summary, route_attributes
from guard.open_incident import (
    PARAMETER,
    OpenIncident,
    close_incident,
    read_open_incident,
    record_trip,
)
from guard.parallel import map_in_parallel
from guard.payer_events import QUARANTINE_RELEASED, QUARANTINE_REQUESTED, send_to_payer
from guard.principals import Protection, role_name_of
from guard.regions import resolve_regions
from guard.report import Report
from guard.restore import (
    NO_RECORD,
    Accounts,
    RestoreResult,
    forget_incident,
    latest_incident,
    read_records,
    restore_incident,
)
from guard.service_capacity import Running, ServiceHalt, ServiceRestore
from guard.services import (
    CENSUS_WORKERS,
    HALT_WORKERS,
    MODULE_OF,
    ServiceCensus,
    count_services,
    halt_services,
    restore_services,
)
from guard.settings import Action, Lockout, Mode, Settings, SettingsError, read_env_action
from guard.settings_mail import compose_fallback_body, compose_fallback_subject
from guard.settings_store import (
    BUCKET_VARIABLE,
    Resolved,
    Source,
    resolve_settings,
    write_record,
)
from guard.weigh import burn_report, weigh_for
from guard.wrap_up import mail_and_record

LOG = get_logger("handler")

# How long a trip waits for instances still `pending` to reach running so it can stop them
# (AWS refuses to stop a pending instance). Launches usually leave pending within a minute; what
# is still pending after this is tagged with the incident and stopped by the next run. The wait
# also never eats into the last minute of the function's timeout.
PENDING_WAIT_S = 90.0
TIMEOUT_MARGIN_S = 60.0


def handler(event: object, context: Any) -> dict[str, Any]:
    configure_logging(getattr(context, "aws_request_id", ""))
    invocation = parse_invocation(event)
    LOG.info(
        "invoked",
        extra={"trigger": invocation.trigger.value, "action": invocation.action.value},
    )
    if invocation.unrecognised_action is not None:
        LOG.warning("unrecognised_action", extra={"action": invocation.unrecognised_action})
    if invocation.launches is not None:
        log_launch_prompt(invocation.launches)
    try:
        env_action = read_env_action(os.environ)
        override = decide_override(invocation, env_action)
        if override is not None and override.verdict in (Verdict.VOID, Verdict.IGNORED):
            report = void_report(override, invocation, account_in_arn(context))
            switched_off = "envaction=pass" if env_action is Action.PASS else ""
            beat_unless_unset(report, switched_off)
            return respond(report)
        clients = shared_clients()
        account = account_of(context, clients)
        resolved = resolve_settings(
            os.environ, settings_s3(clients), clients.client("ssm", clients.home_region), account
        )
        settings = resolved.settings
        if invocation.dry_run:  # an operator's dry run: whatever the mode, change nothing
            settings = replace(settings, mode=Mode.DRY_RUN)
    except SettingsError as error:
        LOG.error("bad_settings", extra={"error": str(error)})
        raise  # a failed invocation reaches the on-failure destination: never a silent guard
    source = resolved.describe() if resolved.source is not Source.ENVIRONMENT else ""
    if override is not None and override.verdict is Verdict.RESTORE:
        started, calls = time.monotonic(), clients.calls
        report = run_restore(settings, invocation, clients, account)
        report.settings_source = source
        report.dashboard_url = dashboard_url(settings.payer_bus)
        report.log_group_url = log_group_url(
            str(getattr(context, "invoked_function_arn", "") or ""),
            str(getattr(context, "log_group_name", "") or ""),
        )
        notify(report, settings, clients)
        report.metrics = measure(
            report, run_seconds=time.monotonic() - started, aws_calls=clients.calls - calls
        )
        send_heartbeat(report, settings, clients, open_incident=report.incident)
    else:
        report = run_guard(
            settings,
            invocation,
            clients,
            account,
            function_name_of(context),
            pending_wait_s=pending_wait_for(context),
            settings_source=source,
            log_group=str(getattr(context, "log_group_name", "") or ""),
            function_arn=str(getattr(context, "invoked_function_arn", "") or ""),
        )
    tell_fallback(report, resolved, settings, clients)
    emit_metrics(report)
    return respond(report)


def emit_metrics(report: Report) -> None:
    """The run's metrics as EMF lines in the function's log (metrics.py). Here, not in run_guard
    or run_restore: the operator CLI calls those, and its output is no log."""
    if report.metrics is not None:
        emit(documents(report.account, report.metrics, int(time.time() * 1000)))


def settings_s3(clients: ClientFactory) -> Any:
    """The S3 client for the settings bucket, when there is one: the bucket is in the payer's
    home Region, the Region of its bus (payer_bus); else this guard's own."""
    environ: Mapping[str, str] = os.environ  # the stack's lower-case names
    if not environ.get(BUCKET_VARIABLE, "").strip():
        return None
    bus = environ.get("payer_bus", "").split(":")
    return clients.client("s3", bus[3] if len(bus) > 3 and bus[3] else clients.home_region)


def tell_fallback(
    report: Report, resolved: Resolved, settings: Settings, clients: ClientFactory
) -> None:
    """The first run that falls back from the settings store mails it once (settings_store.py):
    in the run's own mail when it sent one (it carries the Settings line), else in its own."""
    if resolved.tell is None:
        return
    told = report.notified
    if not told:
        told, _ = publish_mail(  # a failure is logged by notify.py; the next run tries again
            compose_fallback_subject(report),
            compose_fallback_body(report),
            settings,
            clients,
            report.account,
        )
    if told:
        write_record(clients.client("ssm", clients.home_region), resolved.tell)


def beat_unless_unset(report: Report, switched_off: str) -> None:
    """A voided or ignored run's heartbeat: its settings are read only for the payer's bus, and
    settings a real run would refuse mean no heartbeat (the watchdog finds the guard overdue)."""
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError:
        return
    report.account_name = settings.account_name
    send_heartbeat(report, settings, shared_clients(), switched_off=switched_off)


# A batch can hold 10,000 records; a few lines show what was wrong, the count shows how much.
IGNORED_RECORDS_LOGGED = 20


def log_launch_prompt(prompt: LaunchPrompt) -> None:
    LOG.info(
        "launch_events",
        extra={
            "launches": prompt.launches,
            "by_region": prompt.by_region,
            "by_kind": prompt.by_kind,
            "first": prompt.first_event,
        },
    )
    for record in prompt.ignored[:IGNORED_RECORDS_LOGGED]:
        LOG.warning(
            "event_ignored", extra={"message_id": record.message_id, "reason": record.reason}
        )
    if len(prompt.ignored) > IGNORED_RECORDS_LOGGED:
        LOG.warning(
            "events_ignored", extra={"count": len(prompt.ignored), "logged": IGNORED_RECORDS_LOGGED}
        )


_SHARED: list[ClientFactory] = []


def shared_clients() -> ClientFactory:
    """One factory per Lambda execution environment: warm invocations reuse its clients.

    Creating a client costs tens of milliseconds of CPU (EC2's model has ~750 operations) and
    the census needs one per region; AWS recommends creating SDK clients outside the handler.
    """
    if not _SHARED:
        _SHARED.append(ClientFactory())
    return _SHARED[0]


def pending_wait_for(context: Any) -> float:
    """The pending-instance wait budget, within the invocation's remaining time."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return PENDING_WAIT_S
    return max(0.0, min(PENDING_WAIT_S, remaining() / 1000 - TIMEOUT_MARGIN_S))


def run_guard(
    settings: Settings,
    invocation: Invocation,
    clients: ClientFactory,
    account: str,
    function: str = "",
    *,
    pending_wait_s: float = PENDING_WAIT_S,
    sleep: Callable[[float], None] | None = None,
    now: datetime | None = None,
    settings_source: str = "",
    log_group: str = "",
    function_arn: str = "",
) -> Report:
    """Count, decide, act and notify for one account; returns the report, raises nothing AWS.
    `now`: the run's clock (tests inject it). `settings_source`: which settings the run used,
    for the report and its mail (settings_store.py). `log_group`, `function_arn`: where this
    run logs, for the mail's link (the Lambda context's)."""
    started, calls = time.monotonic(), clients.calls
    now = now or datetime.now(UTC)
    ssm = clients.client("ssm", clients.home_region)
    with ThreadPoolExecutor(3) as pool:  # read the SSM records while the regions are counted
        reading = pool.submit(read_open_incident, ssm, now)
        remembering = pool.submit(read_last_run, ssm)  # mail pace, and what it could not see
        regions, list_error = resolve_regions(clients)
        # The other services beside EC2 (services.py), every region at once.
        counting = pool.submit(
            count_services,
            regions,
            clients.client,
            CENSUS_WORKERS,
            clients.regions_offering,
        )
        census = count_instances(
            regions,
            lambda region: clients.client("ec2", region),
            REGION_WORKERS,
            with_types=settings.weighted.any,
        )
        services = counting.result()
        burn = weigh_for(settings.weighted, census, clients, REGION_WORKERS, services.running)
    open_incident, state_error = reading.result()
    incident_id = open_incident.incident if open_incident else None
    if state_error is not None:
        LOG.error("open_incident_unreadable", extra={"error": state_error})
    last_run = remembering.result()
    memory = read_memory(last_run)
    closed, refused = split_closed_regions(census.closed_regions, clients.home_region)
    closed, blinding = blind_closed(closed, memory)
    region_errors = {**list_error, **census.region_errors, **refused, **blinding}
    launched = invocation.launches.by_region if invocation.launches is not None else {}
    blind = track_blindness(memory, region_errors, launched, now)
    carried = carried_over(open_incident, census, clients)
    decision = decide(
        census.total,
        settings.ec2limit,
        # A service not counted in a region leaves the run degraded as a region not counted
        # does; only Regions are recorded as such (last_run.counted_regions).
        sorted(region_errors) + sorted(services.errors),
        invocation,
        open_incident=incident_id,
        launched_active=count_launched_active(invocation, census, carried),
        burn=burn,
        limits=settings.weighted,
        blind=blind,
        blind_runs_to_trip=settings.blind_runs_to_trip,
    )
    LOG.info(
        "decided",
        extra={"verdict": decision.verdict.value, "reason": decision.reason, "count": census.total},
    )
    report = Report(
        account=account,
        account_name=settings.account_name,
        function=function,
        home_region=clients.home_region,
        mode=settings.mode.value,
        limit=settings.ec2limit,
        verdict=decision.verdict.value,
        reason=decision.reason,
        trigger=invocation.trigger.value,
        prompt=invocation.describe_prompt(),
        trip_reasons=[reason.value for reason in decision.trip_reasons],
        count=census.total,
        by_region=census.by_region,
        region_errors=region_errors,
        closed_regions=closed,
        blind={region: asdict(found) for region, found in blind.items()},
        blind_runs_to_trip=settings.blind_runs_to_trip,
        already_told=decision.already_told,
        burn=burn_report(burn, settings.weighted),
        services=services.counts(),
        service_errors=dict(services.errors),
        settings_source=settings_source,
        dashboard_url=dashboard_url(settings.payer_bus),
        log_group_url=log_group_url(function_arn, log_group),
    )
    if state_error is not None:
        report.action_errors.append(f"reading the open incident ({PARAMETER}): {state_error}")
    if finishes_open_incident(decision, incident_id, settings.mode is Mode.ENFORCE):
        finish_incident(report, settings, clients, incident_id, services)
    if decision.verdict is Verdict.TRIP:
        incident = open_incident.incident if open_incident else new_incident_id(now)
        plan = HaltPlan(
            incident=incident,
            ledger=ledger_of(clients, incident),
            unstoppable=settings.unstoppable,
            wait_s=pending_wait_s,
            sleep=sleep,
        )
        trip(
            report,
            census,
            settings,
            clients,
            plan,
            open_incident=open_incident,
            now=now,
            services=services,
        )
    mail_and_record(  # mailed at the incident's pace (follow_up.py), then recorded for `status`
        report,
        ssm,
        lambda mail: notify(mail, settings, clients),
        now=now,
        open_incident=incident_id,
        schedule_minutes=settings.schedule_minutes,
        last_run=last_run,
        blind=blind,
    )
    current = report.incident or incident_id
    report.metrics = measure(
        report, run_seconds=time.monotonic() - started, aws_calls=clients.calls - calls
    )
    send_heartbeat(report, settings, clients, open_incident=current)  # last: never delays a halt
    LOG.info("done", extra={"summary": report.summary()})
    return report


def split_closed_regions(
    closed: Mapping[str, str], home: str
) -> tuple[dict[str, str], dict[str, str]]:
    """(regions closed on purpose, refusals that blind the guard). An SCP denial may be aimed
    at the guard's own role rather than at a region (SCPs can name principals and conditions):
    if the home region refuses too, it is not a closed region but a guard that cannot see, and
    every refusal is reported as a region not counted (degraded, mailed)."""
    if home in closed:
        return {}, dict(closed)
    return dict(closed), {}


def count_launched_active(invocation: Invocation, census: Census, carried: set[str]) -> int:
    """How many instances the census found pending or running that the launch events name, or
    that the open incident tagged while they were still pending (stopped whatever the count):
    evidence of launches since the trip (an instance that could not be stopped is not)."""
    named = set(carried)
    if invocation.launches is not None:
        named |= set(invocation.launches.instances)
    return len(named.intersection(census.instance_ids))


def carried_over(
    open_incident: OpenIncident | None, census: Census, clients: ClientFactory
) -> set[str]:
    """Instances the open incident tagged while pending that are now pending or running: one
    DescribeInstances per region with instances, and only while an incident is open."""
    if open_incident is None:
        return set()
    regions = sorted(region for region, found in census.instances.items() if found)

    def in_region(region: str) -> set[str]:
        try:
            tagged = incident_instances(clients.client("ec2", region), open_incident.incident)
        except (ClientError, BotoCoreError) as error:
            LOG.error("carried_over_unreadable", extra={"region": region, "error": str(error)})
            return set()
        return {id_ for id_, (state, _) in tagged.items() if state in ("pending", "running")}

    return set().union(*map_in_parallel(in_region, regions, REGION_WORKERS))


def trip(
    report: Report,
    census: Census,
    settings: Settings,
    clients: ClientFactory,
    plan: HaltPlan,
    *,
    open_incident: OpenIncident | None,
    now: datetime,
    services: ServiceCensus,
) -> None:
    """Halt, record the incident as open, refuse launches, lock people out. A trip while an
    incident is open continues it: same id, so one restore undoes the whole episode."""
    report.tripped = True
    report.incident = plan.incident
    if settings.mode is Mode.DRY_RUN:
        report.would_stop = sorted(census.instance_ids)
        report.would_halt_services = by_kind(
            r for r in services.running if MODULE_OF[r.kind].NAME in settings.halt
        )
        return
    ssm = clients.client("ssm", clients.home_region)
    started = time.monotonic()
    # Beside the halt: the launch block and the lockout (not after the pending wait), the
    # quarantine request, and a new incident's record (it is recorded whatever the halt does).
    with ThreadPoolExecutor(5) as pool:
        quarantining = (
            pool.submit(ask_payer, report, settings, clients, QUARANTINE_REQUESTED)
            if settings.quarantine and settings.payer_bus
            else None
        )
        locking = pool.submit(lock_then_block, report, settings, clients)
        recording = pool.submit(record_trip, ssm, plan.incident, now) if not open_incident else None
        halting_services = pool.submit(
            halt_services,
            services.running,
            plan.ledger,
            clients.client,
            HALT_WORKERS,
            settings.halt,
        )
        halted = halt_instances(
            census,
            plan,
            lambda region: clients.client("ec2", region),
            lambda region: clients.client("autoscaling", region),
            REGION_WORKERS,
        )
        services_halted = halting_services.result()
        # Both halts have had the answer to their last stop request (pending instances waited
        # for included); the lockout and the records beside them are not part of it.
        report.halt_seconds = time.monotonic() - started
        for step in (locking, quarantining):
            if step is not None:
                step.result()
        error = recording.result() if recording is not None else None
    report_halt(report, halted)
    report_services_halt(report, services_halted)
    report.continues_incident = open_incident is not None
    # Only a run that stopped something keeps an open incident open: an instance that cannot be
    # stopped must not hold the account tripped for ever.
    if open_incident and (
        halted.stopped
        or halted.terminated
        or halted.still_pending
        or services_halted.halted
        or services_halted.waiting
    ):
        error = record_trip(ssm, plan.incident, now)
    if error is not None:
        report.action_errors.append(f"recording the open incident ({PARAMETER}): {error}")


def report_services_halt(report: Report, halted: ServiceHalt) -> None:
    report.services_halted = by_kind(halted.halted)
    report.services_waiting = by_kind(halted.waiting)
    report.services_kept = by_kind(halted.kept)
    report.action_errors += halted.errors


def by_kind(running: Iterable[Running]) -> dict[str, list[str]]:
    """{kind: ["region/name", ...]}, sorted, for the report and the mail; once each (an
    endpoint whose variants run on two instance types is two Running, one endpoint)."""
    found: dict[str, list[str]] = {}
    for item in sorted(running, key=lambda r: (r.kind, r.key)):
        names = found.setdefault(item.kind, [])
        if not names or names[-1] != item.key:
            names.append(item.key)
    return found


def report_halt(report: Report, halted: HaltResult) -> None:
    report.stopped = halted.stopped
    report.stopped_by_region = halted.stopped_by_region
    report.not_stopped = halted.not_stopped
    report.terminated_by_region = halted.terminated_by_region
    report.still_pending = halted.still_pending
    report.protection_lifted = sorted(halted.protection_lifted)
    report.suspended_asgs = halted.suspended_asgs
    report.suspended_by_region = halted.suspended_by_region
    report.warm_pools = halted.warm_pools
    report.fleets_zeroed = halted.fleets_zeroed
    report.spot_cancelled = halted.spot_cancelled
    report.still_billing = halted.still_billing
    report.action_errors += halted.errors


def finish_incident(
    report: Report,
    settings: Settings,
    clients: ClientFactory,
    incident: str | None,
    services: ServiceCensus,
) -> None:
    """While `incident` is open, a run below the limit finishes what it left unfinished: the
    lockouts it left partial, the launch block on every principal that does not carry it
    (one created since the trip, one that detached it, one whose attach failed), and the
    capacity of other services that runs again or was not stoppable yet (a notebook still
    Pending at the trip). The report then says what was finished and is mailed (follow_up.py)."""
    assert incident is not None
    if services.running:
        report_services_halt(
            report,
            halt_services(
                services.running,
                ledger_of(clients, incident),
                clients.client,
                HALT_WORKERS,
                settings.halt,
            ),
        )
    if settings.lockout is not Lockout.NONE:
        lock_people_out(report, settings, clients, incident=incident, unfinished_only=True)
    if settings.launch_block:
        refuse_launches(report, settings, clients, incident=incident)
    report.lockout_finished = bool(
        report.services_halted
        or report.locked_users
        or report.locked_roles
        or report.lockout_errors
        or report.launch_block_attached
        or report.launch_block_errors
    )
    if report.lockout_finished:
        report.incident = incident


def protection_of(settings: Settings, clients: ClientFactory) -> Protection:
    """Who must never be touched: the guard's own role (from its identity) and the settings'."""
    identity = clients.client("sts", clients.home_region).get_caller_identity()
    return Protection(
        own_role=role_name_of(identity["Arn"]),
        break_glass=settings.break_glass,
        stack_roles=settings.stack_roles,
        operator_role=settings.operator_role,
    )


def lock_then_block(report: Report, settings: Settings, clients: ClientFactory) -> None:
    """The lockout, then the launch block, each as the settings say. In this order: a principal
    with room for one more managed policy only gets AWSDenyAll, which refuses its launches too
    (launch_block.py reports it so), rather than the launch block and no lockout."""
    if settings.lockout is not Lockout.NONE:
        lock_people_out(report, settings, clients)
    if settings.launch_block:
        refuse_launches(report, settings, clients)


def refuse_launches(
    report: Report, settings: Settings, clients: ClientFactory, *, incident: str | None = None
) -> None:
    """Beside the halt: the launch block (launch_block.py). A failure here never undoes or
    blocks the halt. Writes only the report's launch-block fields. `incident`: the report's by
    default."""
    incident = incident or report.incident
    assert incident is not None
    try:
        blocked = block_launches(
            clients.client("iam", clients.home_region),
            settings.launch_block_policy,
            incident=incident,
            protection=protection_of(settings, clients),
            ledger=ledger_of(clients, incident),
        )
    except (ClientError, BotoCoreError) as error:
        report.launch_block_errors["(launch block)"] = describe_error(error)
        LOG.error("launch_block_failed", extra={"error": describe_error(error)})
        return
    report.launch_blocked = blocked.blocked
    report.launch_block_attached = blocked.attached
    report.launch_block_skipped = blocked.skipped
    report.launch_block_errors = blocked.errors


def lock_people_out(
    report: Report,
    settings: Settings,
    clients: ClientFactory,
    *,
    incident: str | None = None,
    unfinished_only: bool = False,
) -> None:
    """Beside the halt (a leaked key stops working while pending instances are waited for); a
    failure here never undoes or blocks the halt. Writes only the report's lockout fields.
    `incident`: the report's by default."""
    incident = incident or report.incident
    assert incident is not None
    home = clients.home_region
    try:
        protection = protection_of(settings, clients)
        locked = lock_out(
            clients.client("iam", home),
            settings.lockout,
            incident=incident,
            protection=protection,
            partition=clients.partition_of(home),
            ledger=ledger_of(clients, incident),
            unfinished_only=unfinished_only,
        )
    except (ClientError, BotoCoreError) as error:
        report.lockout_errors["(lockout)"] = describe_error(error)
        LOG.error("lockout_failed", extra={"error": describe_error(error)})
        return
    report.locked_users = locked.locked_users
    report.locked_roles = locked.locked_roles
    report.skipped = locked.skipped
    report.lockout_errors = locked.errors


def ask_payer(report: Report, settings: Settings, clients: ClientFactory, detail_type: str) -> None:
    """Ask the payer to attach (or detach) this account's quarantine SCP; the payer mails the
    outcome. A failure is reported and never blocks the halt or the restore."""
    bus_region = settings.payer_bus.split(":")[3]
    detail = {"incident": report.incident, "account_name": settings.account_name}
    error = send_to_payer(
        clients.client("events", bus_region), settings.payer_bus, detail_type, detail
    )
    verb = "quarantine" if detail_type == QUARANTINE_REQUESTED else "release"
    report.quarantine = f"{verb} requested from the payer" if error is None else None
    if error is not None:
        report.action_errors.append(f"asking the payer to {verb} this account: {error}")
        LOG.error("payer_request_failed", extra={"detail_type": detail_type, "error": error})


def run_restore(
    settings: Settings,
    invocation: Invocation,
    clients: ClientFactory,
    account: str,
    *,
    sleep: Callable[[float], None] | None = None,
) -> Report:
    """Undo one incident (the given one, or the most recent one recorded in the account)."""
    regions, list_error = resolve_regions(clients)
    home = clients.home_region
    target = Accounts(
        iam=clients.client("iam", home),
        regions=tuple(regions),
        ec2_for=lambda region: clients.client("ec2", region),
        autoscaling_for=lambda region: clients.client("autoscaling", region),
        partition=clients.partition_of(home),
        launch_block_policy=settings.launch_block_policy,
        sleep=sleep,
        ssm_for=lambda region: clients.client("ssm", region),
        home_region=home,
    )
    report = Report(
        account=account,
        account_name=settings.account_name,
        mode="dry-run" if invocation.dry_run else settings.mode.value,
        limit=settings.ec2limit,
        verdict=Verdict.RESTORE.value,
        reason="",
        trigger=invocation.trigger.value,
        prompt=invocation.describe_prompt(),
        region_errors=list_error,
    )
    incident = invocation.incident or newest_incident(target, clients)
    release = not invocation.dry_run and settings.quarantine and bool(settings.payer_bus)
    if incident is None:
        report.reason = "restore: no incident is recorded in this account, nothing to undo"
        if release:  # a quarantine whose incident's records are gone must still be liftable
            ask_payer(report, settings, clients, QUARANTINE_RELEASED)
        return report
    # The incident's own record (ledger.py): what restore may undo. None anywhere: NO_RECORD.
    records, unreadable = read_records(target, incident)
    unrecorded = not unreadable and all(record.empty for record in records.values())
    closed = None
    if not invocation.dry_run:  # first: starting instances emits launch events
        closed = close_incident(clients.client("ssm", home), incident)
    # Other services first: an EKS node group gets its size back while its Auto Scaling group's
    # processes are still suspended; resumed at desired 0, they would terminate its restarted
    # nodes (eks_nodegroups.py).
    services = restore_services(
        regions,
        incident,
        clients.client,
        dry_run=invocation.dry_run,
        restart=invocation.restart_instances,
        workers=REGION_WORKERS,
        records=records,
    )
    undone = restore_incident(
        target,
        incident,
        records=records,
        restart_instances=invocation.restart_instances,
        dry_run=invocation.dry_run,
    )
    undone.errors.update({f"{region} record": why for region, why in unreadable.items()})
    undone.unrecorded.update(services.refused)
    undone.record_warnings.update(services.warnings)
    if finished(undone, services) and not invocation.dry_run:
        undone.errors.update(forget_incident(target, records))
    report.incident = incident
    report.restore = {
        **undone.to_dict(),
        "services_restored": services.restored,
        "services_not_yet": services.not_yet,
    }
    report.restore["errors"] = {**report.restore.get("errors", {}), **services.errors}
    report.reason = undone.summary()
    if unrecorded:
        report.reason = NO_RECORD.format(incident=incident, root=LEDGER_ROOT)
    if services.restored:
        report.reason += f"; {len(services.restored)} other service resource(s) started again"
    if release:
        ask_payer(report, settings, clients, QUARANTINE_RELEASED)
    if closed is not None:
        report.reason += f"; {closed}"
    LOG.info("restore_done", extra={"incident": incident, "summary": report.reason})
    return report


def finished(undone: RestoreResult, services: ServiceRestore) -> bool:
    """Nothing left to undo: the incident's record may go (ledger.py)."""
    return not (
        undone.errors
        or undone.still_stopped
        or undone.fell_back
        or undone.kept_suspended
        or undone.warm_pools_kept
        or services.errors
        or services.not_yet
    )


def ledger_of(clients: ClientFactory, incident: str) -> Ledger:
    """The writer of `incident`'s record: each Region's Parameter Store (ledger.py)."""
    return Ledger(lambda region: clients.client("ssm", region), incident, clients.home_region)


def newest_incident(target: Accounts, clients: ClientFactory) -> str | None:
    """The newest incident recorded on principals, instances and groups, or kept open in the
    open-incident parameter: a trip that stopped only other services' capacity (a notebook)
    left no tag restore's own search reads. Incident ids start with their UTC time."""
    ssm = clients.client("ssm", clients.home_region)
    open_incident, _ = read_open_incident(ssm, datetime.now(UTC))
    found = [latest_incident(target), open_incident.incident if open_incident else None]
    return max((incident for incident in found if incident), default=None)


def notify(report: Report, settings: Settings, clients: ClientFactory) -> None:
    sent, errors = publish_mail(
        compose_subject(report), compose_body(report), settings, clients, report.account
    )
    report.notified = sent
    report.notify_error = "; ".join(errors) or None


def publish_mail(
    subject: str, body: str, settings: Settings, clients: ClientFactory, account: str
) -> tuple[bool, list[str]]:
    """To the account's own topic and, under organisation delivery, also to the payer's, which
    routes it to this account's notify list (notify.route_attributes). (sent: some topic took
    it, so someone is told; the failures, reported either way)."""
    errors = []
    for topic, attributes in (
        (settings.snstopic, None),
        (settings.payer_topic, route_attributes(account, settings.notify)),
    ):
        if not topic:
            continue
        error = publish_summary(
            clients.client("sns", topic.split(":")[3]), topic, subject, body, attributes
        )
        if error is not None:
            errors.append(f"{topic}: {error}" if settings.payer_topic else error)
    return 1 + bool(settings.payer_topic) > len(errors), errors


def account_of(context: Any, clients: ClientFactory) -> str:
    """The account id from the function ARN (no API call), else from STS."""
    return account_in_arn(context) or str(
        clients.client("sts", clients.home_region).get_caller_identity()["Account"]
    )


def function_name_of(context: Any) -> str:
    return str(getattr(context, "function_name", "") or "")


def account_in_arn(context: Any) -> str:
    parts = str(getattr(context, "invoked_function_arn", "") or "").split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else ""


def void_report(decision: Decision, invocation: Invocation, account: str) -> Report:
    return Report(
        account=account,
        mode="",
        limit=None,
        verdict=decision.verdict.value,
        reason=decision.reason,
        trigger=invocation.trigger.value,
        prompt=invocation.describe_prompt(),
    )


def respond(report: Report) -> dict[str, Any]:
    return {"statusCode": 200, "body": report.summary(), "report": report.to_dict()}
