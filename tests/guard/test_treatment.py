"""What a trip does to each kind of capacity is pure: every row as a table, no AWS."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

import guard
from guard.instance_kinds import Kind, Target, kind_of
from guard.settings import Unstoppable
from guard.treatment import KEPT_RUNNING, NEVER_STOPS, Treatment, decide_treatment, why_kept

ON_DEMAND, STORE = Kind.ON_DEMAND, Kind.INSTANCE_STORE
PERSISTENT, UNREAD, ONE_TIME = Kind.STOPPABLE_SPOT, Kind.UNREAD_SPOT, Kind.ONE_TIME_SPOT
SPOT_ONLY, ALL, REPORT = Unstoppable.TERMINATE_SPOT, Unstoppable.TERMINATE_ALL, Unstoppable.REPORT
STOP, WAIT = Treatment.STOP, Treatment.WAIT_FOR_RUNNING
TERMINATE, KEEP = Treatment.TERMINATE, Treatment.REPORT

BEFORE_ANY_STOP = [
    # on-demand EBS-backed: stopped (once running), never terminated, whatever the setting
    (ON_DEMAND, "running", SPOT_ONLY, STOP),
    (ON_DEMAND, "running", ALL, STOP),
    (ON_DEMAND, "running", REPORT, STOP),
    (ON_DEMAND, "pending", SPOT_ONLY, WAIT),
    (ON_DEMAND, "pending", ALL, WAIT),
    (ON_DEMAND, "pending", REPORT, WAIT),
    # Spot AWS lets us stop: as on-demand
    (PERSISTENT, "running", SPOT_ONLY, STOP),
    (PERSISTENT, "running", ALL, STOP),
    (PERSISTENT, "running", REPORT, STOP),
    (PERSISTENT, "pending", SPOT_ONLY, WAIT),
    (PERSISTENT, "pending", ALL, WAIT),
    (PERSISTENT, "pending", REPORT, WAIT),
    # Spot whose request was not read (DescribeSpotInstanceRequests failed or did not list it):
    # stopped like on-demand; terminating it at once would lose a persistent one's root volume
    (UNREAD, "running", SPOT_ONLY, STOP),
    (UNREAD, "running", ALL, STOP),
    (UNREAD, "running", REPORT, STOP),
    (UNREAD, "pending", SPOT_ONLY, WAIT),
    (UNREAD, "pending", ALL, WAIT),
    (UNREAD, "pending", REPORT, WAIT),
    # one-time Spot: terminated at once, pending or not, unless `report`
    (ONE_TIME, "running", SPOT_ONLY, TERMINATE),
    (ONE_TIME, "running", ALL, TERMINATE),
    (ONE_TIME, "running", REPORT, KEEP),
    (ONE_TIME, "pending", SPOT_ONLY, TERMINATE),
    (ONE_TIME, "pending", ALL, TERMINATE),
    (ONE_TIME, "pending", REPORT, KEEP),
    # instance store: its disks are lost, so terminated only under `terminate-all`
    (STORE, "running", SPOT_ONLY, KEEP),
    (STORE, "running", ALL, TERMINATE),
    (STORE, "running", REPORT, KEEP),
    (STORE, "pending", SPOT_ONLY, KEEP),
    (STORE, "pending", ALL, TERMINATE),
    (STORE, "pending", REPORT, KEEP),
]

AFTER_A_REFUSAL = [
    # Spot AWS would not stop after all: as one-time Spot
    (PERSISTENT, NEVER_STOPS, SPOT_ONLY, TERMINATE),
    (PERSISTENT, NEVER_STOPS, ALL, TERMINATE),
    (PERSISTENT, NEVER_STOPS, REPORT, KEEP),
    # only AWS's refusal of the stop makes Spot whose request was not read one-time
    (UNREAD, NEVER_STOPS, SPOT_ONLY, TERMINATE),
    (UNREAD, NEVER_STOPS, ALL, TERMINATE),
    (UNREAD, NEVER_STOPS, REPORT, KEEP),
    (UNREAD, "RequestLimitExceeded", ALL, KEEP),
    (ONE_TIME, NEVER_STOPS, SPOT_ONLY, TERMINATE),
    (ONE_TIME, NEVER_STOPS, ALL, TERMINATE),
    (ONE_TIME, NEVER_STOPS, REPORT, KEEP),
    # anything else AWS refuses to stop is reported, never terminated, whatever the setting
    (ON_DEMAND, NEVER_STOPS, SPOT_ONLY, KEEP),
    (ON_DEMAND, NEVER_STOPS, ALL, KEEP),
    (ON_DEMAND, NEVER_STOPS, REPORT, KEEP),
    (STORE, NEVER_STOPS, SPOT_ONLY, KEEP),
    (STORE, NEVER_STOPS, ALL, KEEP),
    (STORE, NEVER_STOPS, REPORT, KEEP),
    (PERSISTENT, "OperationNotPermitted (lifting failed)", ALL, KEEP),
    (PERSISTENT, "RequestLimitExceeded", SPOT_ONLY, KEEP),
    (PERSISTENT, "NotInResponse", ALL, KEEP),
    (ON_DEMAND, "OperationNotPermitted", ALL, KEEP),
    (ON_DEMAND, "IncorrectInstanceState", ALL, KEEP),
]


@pytest.mark.parametrize(("kind", "state", "unstoppable", "treatment"), BEFORE_ANY_STOP)
def test_what_happens_to_each_kind_before_anything_is_stopped(
    kind: Kind, state: str, unstoppable: Unstoppable, treatment: Treatment
) -> None:
    assert decide_treatment(kind, state, unstoppable) is treatment


@pytest.mark.parametrize(("kind", "refused", "unstoppable", "treatment"), AFTER_A_REFUSAL)
def test_what_happens_to_an_instance_stop_instances_refused(
    kind: Kind, refused: str, unstoppable: Unstoppable, treatment: Treatment
) -> None:
    assert decide_treatment(kind, "running", unstoppable, refused) is treatment


def test_the_table_before_any_stop_covers_every_kind_state_and_setting() -> None:
    rows = {(kind, state, unstoppable) for kind, state, unstoppable, _ in BEFORE_ANY_STOP}
    assert rows == set(itertools.product(Kind, ("pending", "running"), Unstoppable))


def test_whatever_is_left_running_before_any_stop_says_why() -> None:
    kept = {kind for kind, _, _, treatment in BEFORE_ANY_STOP if treatment is KEEP}
    assert kept == set(KEPT_RUNNING)


def test_on_demand_is_never_terminated() -> None:
    for state, unstoppable, refused in itertools.product(
        ("pending", "running"), Unstoppable, (None, NEVER_STOPS, "OperationNotPermitted")
    ):
        assert decide_treatment(ON_DEMAND, state, unstoppable, refused) is not TERMINATE


SPOT = {"spot": True, "spot_request": "sir-1"}


@pytest.mark.parametrize(
    ("target", "persistent", "kind"),
    [
        (Target("i-1", "running"), {}, ON_DEMAND),
        (Target("i-1", "pending", instance_store=True), {}, STORE),
        (Target("i-1", "running", **SPOT), {"sir-1": True}, PERSISTENT),
        (Target("i-1", "running", **SPOT), {"sir-1": False}, ONE_TIME),
        # its request not read (the read failed, or did not list it): not known to be one-time
        (Target("i-1", "running", **SPOT), {}, UNREAD),
        (Target("i-1", "running", **SPOT), {"sir-2": False}, UNREAD),
        (Target("i-1", "running", spot=True), {"sir-1": False}, UNREAD),
        # a fleet's Spot is never stopped by AWS, whatever its request says or whether it was read
        (Target("i-1", "running", **SPOT, spot_fleet="sfr-1"), {"sir-1": True}, ONE_TIME),
        (Target("i-1", "running", **SPOT, ec2_fleet="fleet-1"), {}, ONE_TIME),
        # Spot on instance store is Spot first: a persistent request decides
        (Target("i-1", "running", **SPOT, instance_store=True), {"sir-1": True}, PERSISTENT),
        (Target("i-1", "running", **SPOT, instance_store=True), {"sir-1": False}, ONE_TIME),
    ],
)
def test_what_kind_each_instance_is(
    target: Target, persistent: dict[str, bool], kind: Kind
) -> None:
    assert kind_of(target, persistent) is kind


def test_a_spot_instance_is_terminated_without_a_stop_only_when_known_to_be_one_time() -> None:
    """The trip may terminate Spot before trying a stop only when its request was read as
    one-time or it belongs to a fleet: an unread request never makes it disposable."""
    unread = Target("i-1", "running", **SPOT)
    for unstoppable in Unstoppable:
        assert decide_treatment(kind_of(unread, {}), "running", unstoppable) is STOP


def test_the_treatment_reaches_no_aws_sdk() -> None:
    """treatment.py and every guard module it imports, transitively: standard library only."""
    package = Path(guard.__file__).parent
    seen: set[str] = set()
    imported: set[str] = set()
    waiting = ["treatment"]
    while waiting:
        module = waiting.pop()
        if module in seen:
            continue
        seen.add(module)
        tree = ast.parse((package / f"{module}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("guard."):
                    waiting.append(name.removeprefix("guard."))
                else:
                    imported.add(name.split(".")[0])
    assert not imported & {"boto3", "botocore"}


@pytest.mark.parametrize(
    ("kind", "code", "message", "said"),
    [
        # the halt does not read root devices unless terminate-all: AWS's refusal tells it
        (
            Kind.ON_DEMAND,
            "UnsupportedOperation",
            "The instance 'i-1' does not have an 'ebs' root device type and cannot be stopped.",
            KEPT_RUNNING[Kind.INSTANCE_STORE],
        ),
        (Kind.ON_DEMAND, "UnsupportedOperation", "something else", "UnsupportedOperation"),
        (Kind.ON_DEMAND, "OperationNotPermitted", "root device", "OperationNotPermitted"),
        (Kind.UNREAD_SPOT, "UnsupportedOperation", "root device", "UnsupportedOperation"),
        (Kind.ON_DEMAND, "UnsupportedOperation", None, "UnsupportedOperation"),
    ],
)
def test_the_mail_says_why_an_instance_aws_refused_was_kept(
    kind: Kind, code: str, message: str | None, said: str
) -> None:
    assert why_kept(kind, code, message) == said
