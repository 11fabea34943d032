"""One way to run the guard's per-region and per-principal work at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def map_in_parallel(work: Callable[[_T], _R], items: Iterable[_T], workers: int) -> list[_R]:
    """`work` over `items` in at most `workers` threads; results in the order of `items`.

    The calls are network-bound (boto3 clients are thread-safe), so threads overlap the waits.
    """
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(work, items))
