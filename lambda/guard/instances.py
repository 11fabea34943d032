"""Instances: stop what can be stopped without losing data, terminate only disposable Spot (as
configured), and on restore start them again and put stop protection back.

AWS refuses StopInstances as a whole when one id in the call cannot be stopped, and names that
instance in the message. Each refusal is acted on by kind, not by bisecting blindly:
- IncorrectInstanceState: still `pending` ("cannot be stopped as it has never reached the
  'running' state"; cloud-custodian PR 6014, flatcar/mantle PR 315): left out, stopped once it
  runs (see `wait_and_stop`);
- OperationNotPermitted: stop protection (DisableApiStop; "may not be stopped. Modify its
  'disableApiStop' instance attribute"; cloud-custodian PRs 8007, 10594): recorded with
  STOP_PROTECTION_TAG (so restore puts it back), then lifted, then stopped;
- UnsupportedOperation: capacity AWS never stops (one-time Spot, instance store): left out;
  treatment.py says whether it is then terminated or reported.
Anything else (no instance named) falls back to bisection. Request-level errors fail the batch.

IAM: ec2:StopInstances, ec2:StartInstances, ec2:TerminateInstances, ec2:ModifyInstanceAttribute,
ec2:DescribeInstances, ec2:DescribeInstanceStatus, ec2:CreateTags / ec2:DeleteTags
(runawaytrain:* keys); kms:CreateGrant for AWS resources, to start instances whose EBS volumes
use a customer managed key (without it the instance goes from pending back to stopped, state
reason Server.InternalError "Client.InternalError: Client error on launch"; EBS User Guide,
"Amazon EBS encryption"; instance-scheduler-on-aws issues 9, 139 and 178).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from guard.incident import INCIDENT_TAG, STOP_PROTECTION_TAG
from guard.ledger import Record
from guard.logs import get_logger
from guard.treatment import NEVER_STOPS

LOG = get_logger("instances")
_T = TypeVar("_T")

STOP_CHUNK = 500  # instance ids per StopInstances call, and per CreateTags call (limit 1000)
# Errors about the request as a whole: splitting the batch cannot help, so it is not bisected.
# (Throttling has already been retried by the client's standard retry mode.)
REQUEST_LEVEL_ERRORS = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ServiceUnavailable",
        "Unavailable",
        "InternalError",
        "InternalFailure",
        "AuthFailure",
        "UnauthorizedOperation",
        "AccessDenied",
    }
)
NOT_YET_RUNNING = "IncorrectInstanceState"
PROTECTED = "OperationNotPermitted"
# NEVER_STOPS ("UnsupportedOperation") lives with what it decides: treatment.py
PROTECTION_TEXT = "disableApiStop"  # in the refusal's message: "Modify its 'disableApiStop' ..."
_INSTANCE_ID = re.compile(r"\bi-[0-9a-f]{8,17}\b")
POLL_S = 5.0  # between looks at instances still pending (trip) or starting (restore)
LIFT_WORKERS = 8  # stop-protection lifts (one call per instance) under way at once
LIFT_SETTLE_S = 1.0  # before the one retry of a stop still refused for a protection just lifted


@dataclass
class Stopping:
    stopped: list[str] = field(default_factory=list)
    not_stopped: dict[str, str] = field(default_factory=dict)  # id -> AWS error code
    still_pending: list[str] = field(default_factory=list)  # refused as not yet running
    lifted: list[str] = field(default_factory=list)  # stop protection we turned off
    # id -> why the record of its lifted protection could not be written (lifted all the same)
    unrecorded: dict[str, str] = field(default_factory=dict)
    refusals: dict[str, str] = field(default_factory=dict)  # id -> AWS's message refusing it
    calls: int = 0  # StopInstances requests made

    def merge(self, other: Stopping) -> None:
        self.stopped += other.stopped
        self.not_stopped.update(other.not_stopped)
        self.still_pending += other.still_pending
        self.lifted += other.lifted
        self.unrecorded.update(other.unrecorded)
        self.refusals.update(other.refusals)
        self.calls += other.calls


def stop_running(ec2: Any, ids: Sequence[str], incident: str) -> Stopping:
    """Stop `ids`, 500 a call, acting on each refusal that names an instance (see above)."""
    outcome = Stopping()
    for chunk in chunks(ids, STOP_CHUNK):
        outcome.merge(_stop_chunk(ec2, list(chunk), incident))
    return outcome


def _stop_chunk(ec2: Any, ids: list[str], incident: str, *, lift: bool = True) -> Stopping:
    """Stop `ids`; each protected instance a refusal names is set aside, and once every other
    instance is stopped the protected ones are recorded in one CreateTags, lifted (one
    ModifyInstanceAttribute each, in parallel) and stopped together (`lift=False`: no second
    lift). Two calls per protected instance (its refusal, its lift) and three for all of them,
    where recording each on its own would cost one more per instance (bench/halt_mix.py)."""
    outcome, protected = _stop_refusing(ec2, ids)
    if not protected:
        return outcome
    if not lift:
        # Lifted a moment ago: the EC2 API is eventually consistent ("Eventual consistency in
        # the Amazon EC2 API"), so a stop refused for protection just lifted is tried once more.
        time.sleep(LIFT_SETTLE_S)
        again, protected = _stop_refusing(ec2, protected)
        outcome.merge(again)
        outcome.not_stopped.update(dict.fromkeys(protected, PROTECTED))
        return outcome
    lifted = []
    for instance, done in lift_stop_protection(ec2, protected, incident).items():
        if done.record_error is not None:
            outcome.unrecorded[instance] = done.record_error
        if done.error is None:
            lifted.append(instance)
        else:
            outcome.not_stopped[instance] = f"{PROTECTED} ({done.error})"
    if lifted:
        outcome.lifted += lifted
        outcome.merge(_stop_chunk(ec2, lifted, incident, lift=False))
    return outcome


def _stop_refusing(ec2: Any, ids: list[str]) -> tuple[Stopping, list[str]]:
    """(what stopping `ids` did, the instances refused for their stop protection)."""
    outcome = Stopping()
    protected: list[str] = []
    while ids:  # each refusal sets aside one named instance: bounded by len(ids)
        outcome.calls += 1
        try:
            response = ec2.stop_instances(InstanceIds=ids)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            named = _named(error, ids)
            if code in REQUEST_LEVEL_ERRORS:
                outcome.not_stopped.update(dict.fromkeys(ids, code))
                return outcome, protected
            if not named or code not in (NOT_YET_RUNNING, PROTECTED, NEVER_STOPS):
                return _merged(outcome, bisect_stop(ec2, ids)), protected
            message = str(error.response.get("Error", {}).get("Message"))
            for instance in named:
                if code == PROTECTED and PROTECTION_TEXT in message:
                    protected.append(instance)
                elif code == NOT_YET_RUNNING:
                    outcome.still_pending.append(instance)
                else:
                    outcome.not_stopped[instance] = code
                    outcome.refusals[instance] = message
                ids = [i for i in ids if i != instance]
            continue
        except BotoCoreError as error:  # connection lost, timeouts: nothing to learn from splitting
            outcome.not_stopped.update(dict.fromkeys(ids, type(error).__name__))
            return outcome, protected
        stopped = [change["InstanceId"] for change in response.get("StoppingInstances", [])]
        outcome.stopped += stopped
        outcome.not_stopped.update(dict.fromkeys(sorted(set(ids) - set(stopped)), "NotInResponse"))
        return outcome, protected
    return outcome, protected


def _merged(outcome: Stopping, other: Stopping) -> Stopping:
    outcome.merge(other)
    return outcome


def _named(error: ClientError, ids: Collection[str]) -> list[str]:
    message = str(error.response.get("Error", {}).get("Message", ""))
    return [found for found in dict.fromkeys(_INSTANCE_ID.findall(message)) if found in ids]


def bisect_stop(ec2: Any, ids: Sequence[str]) -> Stopping:
    """Last resort for a refusal that names no instance: split so one cannot block the rest."""
    outcome = Stopping(calls=1)
    try:
        response = ec2.stop_instances(InstanceIds=list(ids))
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        if len(ids) == 1 or code in REQUEST_LEVEL_ERRORS:
            outcome.not_stopped.update(dict.fromkeys(ids, code))
            return outcome
        half = len(ids) // 2
        outcome.merge(bisect_stop(ec2, ids[:half]))
        outcome.merge(bisect_stop(ec2, ids[half:]))
        return outcome
    except BotoCoreError as error:
        outcome.not_stopped.update(dict.fromkeys(ids, type(error).__name__))
        return outcome
    outcome.stopped = [change["InstanceId"] for change in response.get("StoppingInstances", [])]
    missing = sorted(set(ids) - set(outcome.stopped))
    outcome.not_stopped.update(dict.fromkeys(missing, "NotInResponse"))
    return outcome


@dataclass(frozen=True)
class Lift:
    error: str | None  # why DisableApiStop could not be turned off (None: it is off)
    record_error: str | None  # why its record could not be written first (None: it was)


def lifted_record(incident: str) -> dict[str, str]:
    """The tags restore finds a lifted stop protection by, and puts it back from."""
    return {INCIDENT_TAG: incident, STOP_PROTECTION_TAG: "lifted"}


def reprotect(ec2: Any, instance: str) -> str | None:
    """Turn DisableApiStop back on for an instance this run lifted but could not stop: it runs
    on, so it keeps the protection its owner gave it. Returns the error, or None."""
    try:
        ec2.modify_instance_attribute(InstanceId=instance, DisableApiStop={"Value": True})
    except (ClientError, BotoCoreError) as error:
        return describe_error(error)
    LOG.info("stop_protection_put_back", extra={"instance": instance})
    return None


def lift_stop_protection(ec2: Any, instances: Sequence[str], incident: str) -> dict[str, Lift]:
    """Record, then turn DisableApiStop off: one CreateTags for all `instances`, then one
    ModifyInstanceAttribute each (the API takes one id), in parallel.

    The record goes first: a crash or a timeout between the two leaves protection on and a
    record restore tolerates (it sets DisableApiStop to true, which the instance still is);
    the other way round it would leave protection off and nothing telling restore to put it
    back (issue 20). A record AWS refuses (say, the instance is at its 50-tag limit) does not
    keep the instance running: it is lifted all the same and the error names it."""
    record_errors = tag_instances(ec2, instances, lifted_record(incident))

    def lift(instance: str) -> Lift:
        try:
            ec2.modify_instance_attribute(InstanceId=instance, DisableApiStop={"Value": False})
        except (ClientError, BotoCoreError) as error:
            return Lift(describe_error(error), record_errors.get(instance))
        LOG.info("stop_protection_lifted", extra={"instance": instance})
        return Lift(None, record_errors.get(instance))

    with ThreadPoolExecutor(min(LIFT_WORKERS, len(instances))) as pool:
        return dict(zip(instances, pool.map(lift, instances), strict=True))


def tag_instances(ec2: Any, ids: Sequence[str], tags: dict[str, str]) -> dict[str, str]:
    """Tag `ids`, 500 a call; {id: error} for those left untagged. One instance can fail a whole
    call (at its 50-tag limit, or gone): that chunk is then tagged one instance at a time, so
    the others still carry the record restore finds them by (EC2 User Guide, "Tag restrictions":
    50 tags per resource)."""
    pairs = [{"Key": key, "Value": value} for key, value in tags.items()]
    failed: dict[str, str] = {}
    for chunk in chunks(ids, STOP_CHUNK):
        failed.update(_tag_chunk(ec2, list(chunk), pairs))
    return failed


def _tag_chunk(ec2: Any, ids: list[str], pairs: list[dict[str, str]]) -> dict[str, str]:
    failed: dict[str, str] = {}
    try:
        ec2.create_tags(Resources=ids, Tags=pairs)
        return failed
    except (ClientError, BotoCoreError) as error:
        if len(ids) == 1 or _request_level(error):
            return dict.fromkeys(ids, describe_error(error))
        # One gone since the census (InvalidInstanceID.NotFound names it): the rest in one call
        # again, not one call each.
        named = _named(error, ids) if isinstance(error, ClientError) else []
        failed.update(dict.fromkeys(named, describe_error(error)))
    rest = [i for i in ids if i not in failed]
    if named and rest:
        try:
            ec2.create_tags(Resources=rest, Tags=pairs)
            return failed
        except (ClientError, BotoCoreError):
            pass  # one by one below
    for instance in rest:
        try:
            ec2.create_tags(Resources=[instance], Tags=pairs)
        except (ClientError, BotoCoreError) as error:
            failed[instance] = describe_error(error)
    return failed


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def _request_level(error: Exception) -> bool:
    """A refusal of the request as a whole (or no answer at all): retrying per id cannot help."""
    if isinstance(error, BotoCoreError):
        return True
    return error.response.get("Error", {}).get("Code") in REQUEST_LEVEL_ERRORS  # type: ignore[attr-defined]


def terminate(ec2: Any, ids: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(terminated ids, {id: error}) for disposable capacity AWS will not stop."""
    done: list[str] = []
    failed: dict[str, str] = {}
    for chunk in chunks(ids, STOP_CHUNK):
        chunk_done, chunk_failed = _terminate_chunk(ec2, list(chunk))
        done += chunk_done
        failed.update(chunk_failed)
    return done, failed


def _terminate_chunk(ec2: Any, ids: list[str]) -> tuple[list[str], dict[str, str]]:
    """A termination-protected instance fails the call, yet AWS terminates the instances in
    every other Availability Zone and keeps those in its zone (EC2 API Reference,
    TerminateInstances); the refusal names it (OperationNotPermitted "The instance '<id>' may
    not be terminated. Modify its 'disableApiTermination' ..."). So the named instance is set
    aside and the call made again for the rest: what went already is reported again
    (TerminateInstances is idempotent, same page), its zone's neighbours go now. One call more
    per protected instance, not one per instance."""
    failed: dict[str, str] = {}
    while ids:  # each refusal sets aside one named instance: bounded by len(ids)
        try:
            response = ec2.terminate_instances(InstanceIds=ids)
        except (ClientError, BotoCoreError) as error:
            if len(ids) == 1 or _request_level(error):
                failed.update(dict.fromkeys(ids, describe_error(error)))
                return [], failed
            protection = isinstance(error, ClientError) and _code(error) == PROTECTED
            named = _named(error, ids) if isinstance(error, ClientError) and protection else []
            if not named:
                # Anything else: what happened is unknown, so one by one.
                one_by_one = [_terminate_chunk(ec2, [instance]) for instance in ids]
                failed.update({i: e for _, errors in one_by_one for i, e in errors.items()})
                return [i for terminated, _ in one_by_one for i in terminated], failed
            failed.update(dict.fromkeys(named, describe_error(error)))
            ids = [i for i in ids if i not in named]
            continue
        return [change["InstanceId"] for change in response.get("TerminatingInstances", [])], failed
    return [], failed


def states_of(ec2: Any, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """{id: (state, state reason)} for `ids` (DescribeInstances, 1000 ids a call)."""
    found: dict[str, tuple[str, str]] = {}
    for chunk in chunks(ids, 1000):
        pages = ec2.get_paginator("describe_instances").paginate(InstanceIds=list(chunk))
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    reason = instance.get("StateReason", {})
                    found[instance["InstanceId"]] = (
                        instance["State"]["Name"],
                        f"{reason.get('Code', '')}: {reason.get('Message', '')}".strip(": "),
                    )
    return found


@dataclass
class Waiting:
    """How long one region may wait for instances to leave `pending`: `budget_s` of pauses."""

    budget_s: float
    sleep: Callable[[float], None] = time.sleep
    waited_s: float = 0.0

    @property
    def over(self) -> bool:
        return self.waited_s >= self.budget_s

    def pause(self) -> None:
        self.sleep(POLL_S)
        self.waited_s += POLL_S


def wait_and_stop(
    ec2: Any, pending: Sequence[str], waiting_for: Waiting, incident: str
) -> Stopping:
    """Stop `pending` instances as each reaches running, until none is pending or the budget is
    spent. What is still pending then stays tagged with the incident: the next run stops it."""
    outcome = Stopping()
    waiting = list(pending)
    while waiting and not waiting_for.over:
        waiting_for.pause()
        states = states_of(ec2, waiting)
        running = [i for i in waiting if states.get(i, ("", ""))[0] == "running"]
        waiting = [i for i in waiting if states.get(i, ("", ""))[0] == "pending"]
        if running:
            stopped = stop_running(ec2, running, incident)
            waiting += stopped.still_pending
            stopped.still_pending = []
            outcome.merge(stopped)
    outcome.still_pending = waiting
    return outcome


@dataclass
class Restart:
    started: list[str] = field(default_factory=list)
    still_stopped: list[str] = field(default_factory=list)  # not started (no restart asked)
    fell_back: dict[str, str] = field(default_factory=dict)  # started, but stopped again: why
    reprotected: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # tagged with the incident but not in its record (ledger.py): left alone, tags and all
    unrecorded: list[str] = field(default_factory=list)


def restore_instances(
    ec2: Any,
    region: str,
    incident: str,
    *,
    restart: bool,
    dry_run: bool,
    waiting_for: Waiting,
    record: Record,
) -> Restart:
    """Start what `incident` stopped (when asked), wait until each runs or falls back, and put
    back the stop protection it lifted (restarted or not). Only instances in the incident's
    record (`record`, ledger.py) that still carry its tag: one tagged by anyone else is left
    alone and reported (issue 22 item 7)."""
    outcome = Restart()
    tagged = incident_instances(ec2, incident)
    outcome.unrecorded = sorted(i for i in tagged if not record.holds(i))
    tagged = {i: found for i, found in tagged.items() if record.holds(i)}
    stopped = [i for i, (state, _) in tagged.items() if state in ("stopped", "stopping")]
    protected = [i for i, (_, lifted) in tagged.items() if lifted]
    # StartInstances refuses a `stopping` instance, and one refusal fails the whole call:
    # start only what has stopped; the rest waits for a later restore.
    startable = [i for i in stopped if tagged[i][0] == "stopped"]
    if not restart:
        outcome.still_stopped = stopped
    elif dry_run:
        outcome.started = startable
    else:
        for chunk in chunks(startable, STOP_CHUNK):
            try:
                ec2.start_instances(InstanceIds=list(chunk))
            except (ClientError, BotoCoreError) as error:
                outcome.errors.update(dict.fromkeys(chunk, describe_error(error)))
                continue
            outcome.started += chunk
        outcome.fell_back, unsettled = wait_until_running(ec2, outcome.started, waiting_for)
        for instance in unsettled:
            outcome.errors[instance] = "still pending when restore stopped waiting"
        outcome.started = [
            i for i in outcome.started if i not in outcome.fell_back and i not in unsettled
        ]
        # Whatever does not run now keeps its Auto Scaling group suspended (auto_scaling.py).
        outcome.still_stopped = sorted(set(stopped) - set(outcome.started))
    if dry_run:
        outcome.reprotected = protected
        return outcome
    for instance in protected:
        try:
            ec2.modify_instance_attribute(InstanceId=instance, DisableApiStop={"Value": True})
        except (ClientError, BotoCoreError) as error:
            outcome.errors[instance] = f"stop protection not put back: {describe_error(error)}"
            continue
        outcome.reprotected.append(instance)
    # Done with: what runs again, and what was tagged but never stopped (pending at the trip).
    finished = set(outcome.started) | {i for i in tagged if i not in stopped}
    finished -= set(outcome.errors)
    # Stopped and not restarted: keep the incident tag (a later restore starts it).
    reprotected_only = [i for i in outcome.reprotected if i not in finished]
    for ids, keys in (
        (sorted(finished), [INCIDENT_TAG, STOP_PROTECTION_TAG]),
        (reprotected_only, [STOP_PROTECTION_TAG]),
    ):
        for chunk in chunks(ids, 1000):
            try:
                ec2.delete_tags(Resources=list(chunk), Tags=[{"Key": key} for key in keys])
            except (ClientError, BotoCoreError) as error:
                outcome.errors[f"{region} tags"] = describe_error(error)
    LOG.info("instances_restored", extra={"region": region, "started": len(outcome.started)})
    return outcome


def wait_until_running(
    ec2: Any, ids: Sequence[str], waiting_for: Waiting
) -> tuple[dict[str, str], list[str]]:
    """({id: state reason} for those that fell back to stopped, ids still pending at the end)."""
    fell_back: dict[str, str] = {}
    waiting = list(ids)
    while waiting:
        states = states_of(ec2, waiting)
        for instance in waiting:
            state, reason = states.get(instance, ("", ""))
            if state in ("stopped", "stopping", "shutting-down", "terminated"):
                fell_back[instance] = f"{state} again: {reason or 'no reason given'}"
        waiting = [i for i in waiting if states.get(i, ("", ""))[0] == "pending"]
        if not waiting or waiting_for.over:
            break
        waiting_for.pause()
    return fell_back, waiting


def incident_instances(ec2: Any, incident: str) -> dict[str, tuple[str, bool]]:
    """{id: (state, stop protection lifted)} of the instances tagged with `incident`."""
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": f"tag:{INCIDENT_TAG}", "Values": [incident]},
            # a terminated tagged instance makes StartInstances fail for the whole call
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )
    found = {}
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
                lifted = tags.get(STOP_PROTECTION_TAG) == "lifted"
                found[instance["InstanceId"]] = (instance["State"]["Name"], lifted)
    return found


def chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
