"""Ways to run the guard's work at once: per region and per principal (`map_in_parallel`), and
the per-item calls inside one kind's count (`map_items`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

# The census runs up to services.CENSUS_WORKERS counts at once, each of which may describe its
# items one by one. Their per-item calls share one pool of this many threads, so however many
# counts describe at once the process never holds more than CENSUS_WORKERS + ITEM_THREADS
# threads for them: Lambda allows 1,024 processes/threads and 1,024 file descriptors per
# execution environment (Lambda Developer Guide, "Lambda quotas").
ITEM_THREADS = 96
# One count asks for at most this many calls at once: the pool is shared fairly, and one
# service's API is not asked more than this many things at a time by one count.
ITEM_WORKERS = 16

_pool_lock = threading.Lock()
_item_pool: ThreadPoolExecutor | None = None


def map_in_parallel(work: Callable[[_T], _R], items: Iterable[_T], workers: int) -> list[_R]:
    """`work` over `items` in at most `workers` threads; results in the order of `items`.

    The calls are network-bound (boto3 clients are thread-safe), so threads overlap the waits.
    """
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(work, items))


def item_pool() -> ThreadPoolExecutor:
    """The process's pool for per-item calls (made once, kept for the next invocation)."""
    global _item_pool  # noqa: PLW0603 -- one pool per process, made on first use
    with _pool_lock:
        if _item_pool is None:
            _item_pool = ThreadPoolExecutor(ITEM_THREADS, thread_name_prefix="guard-item")
        return _item_pool


def map_items(
    work: Callable[[_T], _R], items: Iterable[_T], workers: int = ITEM_WORKERS
) -> list[_R]:
    """`work` over `items`, up to `workers` at once, results in the order of `items`: what a
    loop over `items` returns, and the error it raises, sooner.

    The calling thread works through the items itself, helped by up to `workers` - 1 threads
    of the shared item pool as they come free: it never waits for a thread, so a count goes on
    (one item at a time, as before) while other counts hold the whole pool, and work that maps
    items inside an item cannot deadlock. Items are taken in order; after a failure no new one
    is taken, and the failure of the first item (in order) that failed is raised: every item
    before it was taken, so it is the one the loop would have raised.
    """
    items = list(items)
    if len(items) < 2 or workers < 2:
        return [work(item) for item in items]
    results: list[_R | None] = [None] * len(items)
    failures: dict[int, BaseException] = {}
    state = {"next": 0, "busy": 0}
    done = threading.Condition()

    def drain() -> None:
        while True:
            with done:
                if failures or state["next"] >= len(items):
                    return
                index = state["next"]
                state["next"] += 1
                state["busy"] += 1
            try:
                results[index] = work(items[index])
            except BaseException as error:  # raised in the caller's thread below
                with done:
                    failures[index] = error
            finally:
                with done:
                    state["busy"] -= 1
                    done.notify_all()

    pool = item_pool()
    helpers = [pool.submit(drain) for _ in range(min(workers, len(items)) - 1)]
    drain()
    with done:  # the items helpers took; helpers not started yet find nothing left
        done.wait_for(lambda: state["busy"] == 0)
    for helper in helpers:
        helper.cancel()
    if failures:
        raise failures[min(failures)]
    return results  # type: ignore[return-value] -- every item ran: no None is left
