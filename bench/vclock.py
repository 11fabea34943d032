"""A virtual clock for the strict-AWS layer (`strict_aws(clock=...)`) and the guard's `sleep`.

Outside a guard run it reads what the bench set (`at`). During a run it reads the run's start,
plus the measured wall time since, plus what the calling thread has slept: the guard halts the
regions in parallel threads, each waiting for its own pending instances, so a sleep in one region
must not move the others' time. The guard's `sleep` (`VirtualClock.sleep`) never sleeps for real.

Not modelled: after the region threads are joined, the guard's main thread reads the time
without their waits (it only tags, records and notifies by then).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class VirtualClock:
    def __init__(self, start: float = 0.0) -> None:
        self.base = start
        self._began: float | None = None  # perf_counter at the start of a run
        self._run = 0  # a generation number: each run starts every thread's sleep at 0
        self._local = threading.local()
        self._lock = threading.Lock()
        self.max_slept = 0.0  # the longest any one thread slept in the current run

    def __call__(self) -> float:
        now = self.base + self.slept()
        if self._began is not None:
            now += time.perf_counter() - self._began
        return now

    def at(self, moment: float) -> None:
        """Outside a run: the clock reads `moment`."""
        self.base = moment

    def slept(self) -> float:
        """What the calling thread has slept in the current run."""
        run, slept = getattr(self._local, "slept", (None, 0.0))
        return slept if run == self._run else 0.0

    def sleep(self, seconds: float) -> None:
        """The guard's `sleep`: advance the calling thread's time, return at once."""
        slept = self.slept() + seconds
        self._local.slept = (self._run, slept)
        with self._lock:
            self.max_slept = max(self.max_slept, slept)

    @contextmanager
    def run(self, start: float) -> Iterator[None]:
        """A guard run starting at virtual `start`; afterwards the clock stays at its end
        (start + wall + the longest per-thread sleep: the regions waited in parallel)."""
        self.base, self._run, self.max_slept = start, self._run + 1, 0.0
        self._began = time.perf_counter()
        try:
            yield
        finally:
            wall = time.perf_counter() - self._began
            self._began = None
            self.base = start + wall + self.max_slept
            self._run += 1
