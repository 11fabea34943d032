"""Which kind of capacity each AWS call of a guard run was made for, and when it ended.

A botocore `after-call` hook notes every call (its operation and when it returned: errors
too, botocore emits after-call before it raises) under the kind the calling thread works for.
The guard runs each kind's count and halt, and each ledger write, in a thread of its own
(services.py), so wrapping those functions to name the kind for their thread attributes every
call they make, their ledger writes included, without touching the guard. A call made outside
them is the EC2 census and halt, the lockout, the records and the mail: named by its service.

The run's trip (handler.trip) is wrapped too: calls before it are the census and the decision,
calls inside it the halt.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

READS = ("Describe", "List", "Get", "Search", "BatchGet")
# A call no wrapped function made, by its service: what it works for.
BY_SERVICE = {
    "ec2": "EC2 instances",
    "auto-scaling": "EC2 instances",
    "iam": "IAM lockout + launch block",
    "ssm": "incident + run records",
    "sns": "mail",
    "sts": "mail",
    "events": "quarantine request",
    "cloudwatch": "heartbeat",
}
# Ledger kinds of the EC2 halt and the IAM steps (ledger.py), shown with what they record.
LEDGER_KINDS = {
    "ec2-instances": "EC2 instances",
    "auto-scaling-groups": "EC2 instances",
    "ec2-fleets": "EC2 instances",
    "warm-pools": "EC2 instances",
    "iam-lockout": "IAM lockout + launch block",
    "iam-launch-block": "IAM lockout + launch block",
}


@dataclass(frozen=True)
class Call:
    kind: str
    operation: str  # "service.Operation"
    ended: float  # perf_counter
    in_trip: bool
    ledger: bool  # a write of the incident's record (ledger.Ledger.write)

    @property
    def changes(self) -> bool:
        return not self.operation.split(".", 1)[1].startswith(READS)


@dataclass
class Tally:
    calls: list[Call] = field(default_factory=list)
    items: Counter[str] = field(default_factory=Counter)  # kind -> pieces of capacity counted
    count_s: dict[str, float] = field(default_factory=dict)  # kind -> its slowest Region's count
    trip_started: float | None = None
    trip_ended: float | None = None
    trip_cpu: float = 0.0  # the process's CPU seconds during the trip (every thread's)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event_name: str, **_: Any) -> None:
        """The after-call hook."""
        _, service, operation = event_name.split(".")
        kind = getattr(self._local, "kind", None) or BY_SERVICE.get(service, service)
        ended = time.perf_counter()
        in_trip = self.trip_started is not None and self.trip_ended is None
        ledger = bool(getattr(self._local, "ledger", False))
        with self._lock:
            self.calls.append(Call(kind, f"{service}.{operation}", ended, in_trip, ledger))

    @contextmanager
    def working_for(self, kind: str, *, ledger: bool = False) -> Iterator[None]:
        before = getattr(self._local, "kind", None), getattr(self._local, "ledger", False)
        self._local.kind, self._local.ledger = kind, ledger
        try:
            yield
        finally:
            self._local.kind, self._local.ledger = before

    def by_kind(self) -> dict[str, dict[str, float]]:
        """{kind: {census calls, halt calls, ledger writes, done: s from the trip's start to its
        last change request to AWS capacity, recorded: to its last ledger write}}."""
        rows: dict[str, dict[str, float]] = {}
        start = self.trip_started or 0.0
        for call in self.calls:
            row = rows.setdefault(
                call.kind, {"census": 0, "halt": 0, "ledger": 0, "done": 0.0, "recorded": 0.0}
            )
            row["halt" if call.in_trip else "census"] += 1
            row["ledger"] += call.ledger
            if call.in_trip and call.changes:
                column = "recorded" if call.ledger else "done"
                row[column] = max(row[column], call.ended - start)
        return rows

    def last_change(self, *, ledger: bool = False) -> float:
        """Seconds from the trip's start to the last change request it made to capacity (with
        `ledger`: its last ledger write, the values recorded once a batch is done)."""
        start = self.trip_started or 0.0
        ends = [
            c.ended - start for c in self.calls if c.in_trip and c.changes and c.ledger == ledger
        ]
        return max(ends, default=0.0)


def _wrap(function: Callable[..., Any], around: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return around(function, *args, **kwargs)

    return wrapped


@contextmanager
def attributed(tally: Tally, modules: tuple[ModuleType, ...]) -> Iterator[None]:
    """Each module's count and halt, ledger writes and the trip, wrapped for `tally`."""
    from guard import handler
    from guard.ledger import Ledger

    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, around: Callable[..., Any]) -> None:
        original = getattr(owner, name)
        saved.append((owner, name, original))
        setattr(owner, name, _wrap(original, around))

    for module in modules:

        def count(function: Callable[..., Any], *args: Any, _kind: str = module.KIND) -> Any:
            began = time.perf_counter()
            with tally.working_for(_kind):
                found = function(*args)
            took = time.perf_counter() - began
            with tally._lock:
                tally.items[_kind] += len({r.arn or r.key for r in found})
                tally.count_s[_kind] = max(took, tally.count_s.get(_kind, 0.0))
            return found

        def halt(function: Callable[..., Any], *args: Any, _kind: str = module.KIND) -> Any:
            with tally.working_for(_kind):
                return function(*args)

        patch(module, "count", count)
        patch(module, "halt", halt)
        # Its own threads (map_in_parallel, and map_items: the item pool's) work for its kind too.
        for fanning in ("map_in_parallel", "map_items"):
            if not hasattr(module, fanning):
                continue

            def fan_out(function: Callable[..., Any], work: Any, *args: Any, **more: Any) -> Any:
                kind = getattr(tally._local, "kind", None)

                def carried(item: Any) -> Any:
                    with tally.working_for(kind) if kind else nullcontext():
                        return work(item)

                return function(carried, *args, **more)

            patch(module, fanning, fan_out)
    kinds = {module.NAME: module.KIND for module in modules}

    def write(
        function: Callable[..., Any], ledger: Any, region: str, kind: str, *rest: Any, **more: Any
    ) -> Any:
        shown = kinds.get(kind) or LEDGER_KINDS.get(kind, kind)
        with tally.working_for(shown, ledger=True):
            return function(ledger, region, kind, *rest, **more)

    def trip(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        tally.trip_started, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            tally.trip_ended, tally.trip_cpu = time.perf_counter(), time.process_time() - cpu

    patch(Ledger, "write", write)
    patch(handler, "trip", trip)
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
