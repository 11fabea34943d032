"""EC2 tags read and written from many threads at once, as AWS serves them.

The guard counts and halts with many threads (lambda/guard/parallel.py); EC2 answers concurrent
CreateTags and DescribeTags (and DescribeInstances, which reads each resource's tags) safely.
moto's TagBackend iterates a resource's tag dict while another thread's CreateTags changes it
("RuntimeError: dictionary changed size during iteration", seen in a suite run): an emulator
race, not AWS behaviour. One lock serializes moto's tag reads and writes.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.ec2.models.tags import TagBackend

from strict_aws.patches import Patches

_TAGS = threading.RLock()
GUARDED = ("create_tags", "delete_tags", "delete_tag_keys", "describe_tags")


def install(patches: Patches) -> None:
    for name in GUARDED:
        patches.set(TagBackend, name, _serialized(getattr(TagBackend, name)))


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: TagBackend, *args: Any, **kwargs: Any) -> Any:
        with _TAGS:
            return method(self, *args, **kwargs)

    return locked
