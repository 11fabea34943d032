"""parallel.map_items: a count's per-item calls at once, with what a loop over the items returns
and raises, on one shared pool that never deadlocks work mapping items inside an item."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from guard import parallel
from guard.parallel import map_items

WAIT_S = 30  # generous: the machine running the tests may be loaded


class Together:
    """Work whose first call waits until a second is in flight at once (or fails)."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()
        self.second = threading.Event()

    def __call__(self, item: int) -> int:
        with self.lock:
            self.calls += 1
            calls = self.calls
        if calls == 1 and not self.second.wait(WAIT_S):
            raise AssertionError("the items were worked through one after another")
        if calls == 2:
            self.second.set()
        return item * 10


def test_items_are_worked_at_once_and_results_keep_their_order():
    assert map_items(Together(), range(7)) == [0, 10, 20, 30, 40, 50, 60]


def test_the_first_item_in_order_that_fails_is_raised_even_when_a_later_one_fails_first():
    """A loop raises the first failing item's error: the count's region is then classified by
    the same error (closed by an SCP, or degraded) whatever finished first."""
    later_failed = threading.Event()

    def work(item: int) -> int:
        if item == 1:
            later_failed.wait(WAIT_S)
            raise PermissionError("item 1")
        if item == 3:
            try:
                raise LookupError("item 3")
            finally:
                later_failed.set()
        return item

    with pytest.raises(PermissionError, match="item 1"):
        map_items(work, range(6))


def test_nested_maps_finish_with_the_shared_pool_full(monkeypatch):
    """Work that maps items inside an item (ECS tasks: clusters, then each cluster's describes)
    never waits for a thread: with one pool thread, busy, every map still completes."""
    monkeypatch.setattr(parallel, "_item_pool", ThreadPoolExecutor(1))
    result: dict[str, Any] = {}

    def outer() -> None:
        result["value"] = map_items(lambda i: map_items(lambda j: i * 10 + j, range(3)), range(3))

    runner = threading.Thread(target=outer, daemon=True)
    runner.start()
    runner.join(WAIT_S)
    assert not runner.is_alive(), "map_items waited for a thread that never came"
    assert result["value"] == [[0, 1, 2], [10, 11, 12], [20, 21, 22]]


def test_one_item_or_one_worker_runs_in_the_callers_thread():
    caller = threading.get_ident()
    assert map_items(lambda _: threading.get_ident(), [1]) == [caller]
    assert map_items(lambda _: threading.get_ident(), [1, 2], workers=1) == [caller, caller]
