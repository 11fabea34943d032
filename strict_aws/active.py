"""Which strict layer owns moto's classes right now (one at a time), for the patched methods.

The patches stay installed only while a layer is active, but a patched method may still run
after `uninstall()` starts (a moto thread finishing a request): each asks `current()` and falls
back to moto's own behaviour when it is None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strict_aws.layer import StrictAWS


class StrictAWSError(RuntimeError):
    """The layer was used wrongly (e.g. entered twice at once)."""


_active: StrictAWS | None = None


def current() -> StrictAWS | None:
    return _active


def activate(layer: StrictAWS) -> None:
    global _active  # noqa: PLW0603 - one layer owns moto's classes at a time
    if _active is not None:
        raise StrictAWSError("strict_aws() is already active; nest it once only")
    _active = layer


def deactivate(layer: StrictAWS) -> None:
    global _active  # noqa: PLW0603
    if _active is layer:
        _active = None
