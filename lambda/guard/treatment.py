"""What a trip does to each kind of capacity: one pure table, free of AWS.

halt.py asks it about every instance it halts: before anything is stopped, from what the instance
is (instance_kinds.py), and again for each instance StopInstances refused in the end. Every row is
a table test in tests/guard/test_treatment.py.

The `unstoppable` setting only ever reaches capacity AWS will not stop; on-demand EBS-backed
instances are stopped, never terminated, whatever it says (settings.Unstoppable). A Spot instance
is terminated without a stop only when it is known to be one-time (instance_kinds.kind_of); one
whose request could not be read is stopped like any other, and only AWS's refusal of that stop
(UnsupportedOperation) brings it under `unstoppable`.
"""

from __future__ import annotations

from enum import Enum

from guard.instance_kinds import Kind
from guard.settings import Unstoppable

# StopInstances' refusal of capacity AWS never stops: one-time Spot, a Spot instance in a fleet,
# instance store (EC2 User Guide, "Stop a Spot Instance", "Stop and start Amazon EC2
# instances"; instances.py acts on the other refusals).
NEVER_STOPS = "UnsupportedOperation"
SPOT_KINDS = frozenset({Kind.STOPPABLE_SPOT, Kind.UNREAD_SPOT, Kind.ONE_TIME_SPOT})


class Treatment(Enum):
    # StopInstances (instances.py): a refusal naming stop protection lifts it (recorded so restore
    # puts it back) and stops again; one saying the instance is not yet running waits for it.
    STOP = "stop"
    # Pending: AWS refuses to stop it until it runs. Tagged with the incident, stopped once it
    # runs within the wait budget, else by the next run.
    WAIT_FOR_RUNNING = "wait-for-running"
    # Disposable by contract and `unstoppable` says so: terminated, after the Spot requests that
    # would launch it again are cancelled.
    TERMINATE = "terminate"
    # Left running, not tagged, in the mail with why (KEPT_RUNNING, or AWS's refusal).
    REPORT = "report"


KEPT_RUNNING = {  # why a kind AWS will not stop is left running, before anything is tried
    Kind.ONE_TIME_SPOT: "one-time Spot instance: AWS cannot stop it (unstoppable: report)",
    Kind.INSTANCE_STORE: "instance-store root device: AWS cannot stop it (unstoppable is not "
    "terminate-all)",
}


def decide_treatment(
    kind: Kind, state: str, unstoppable: Unstoppable, refused: str | None = None
) -> Treatment:
    """What happens to an instance of `kind` in `state` (pending | running); `refused`: the error
    code StopInstances refused it with in the end, None before any stop was tried."""
    if refused is not None:
        if refused == NEVER_STOPS and kind in SPOT_KINDS:
            # Spot whose stop was tried (persistent, or its request not read) and that AWS would
            # not stop after all: only now is it known to be one-time Spot.
            return decide_treatment(Kind.ONE_TIME_SPOT, state, unstoppable)
        return Treatment.REPORT  # anything else refused is reported with AWS's reason
    if kind is Kind.ONE_TIME_SPOT:
        return Treatment.REPORT if unstoppable is Unstoppable.REPORT else Treatment.TERMINATE
    if kind is Kind.INSTANCE_STORE:
        if unstoppable is Unstoppable.TERMINATE_ALL:
            return Treatment.TERMINATE
        return Treatment.REPORT
    return Treatment.STOP if state == "running" else Treatment.WAIT_FOR_RUNNING


def why_kept(kind: Kind, refused: str, message: str | None) -> str:
    """What the mail says about an instance AWS refused to stop and the trip left running. A
    plain instance (not Spot) refused as one AWS never stops has an instance-store root: the
    halt does not read root devices unless `unstoppable: terminate-all` would act on them
    (instance_kinds.py); AWS's message says so ("does not have an 'ebs' root device type")."""
    if refused == NEVER_STOPS and kind is Kind.ON_DEMAND and "root device" in (message or ""):
        return KEPT_RUNNING[Kind.INSTANCE_STORE]
    return refused
