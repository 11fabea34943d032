"""A SageMaker resource's status that moves on with the layer's clock (endpoints, jobs).

moto serializes most SageMaker resources from their `__dict__` (`BaseObject.gen_response_object`),
so a lazy property would never reach a Describe answer. The new status is written into the
resource instead, when its time has come: every patched call that reads or changes such a
resource first calls `settle()`. The layer tracks each move and ends it on uninstall (or on
`make_running()`), like an EC2 instance's pending state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from strict_aws.active import current

if TYPE_CHECKING:
    from strict_aws.layer import StrictAWS

# (id(resource), attribute) -> the move that owns it now: a later move replaces an earlier one.
_OWNER: dict[tuple[int, str], _Move] = {}
_PENDING: list[_Move] = []


class _Move:
    """`resource.<attribute>` becomes `to` once the layer's clock reaches `until`; `then` runs
    after (an endpoint that finished deleting leaves its backend)."""

    def __init__(
        self,
        layer: StrictAWS,
        resource: Any,
        attribute: str,
        *,
        to: str,
        name: str,
        then: Callable[[], None] | None,
    ) -> None:
        self._layer = layer
        self._resource = resource
        self._attribute = attribute
        self._to = to
        self._then = then
        self._until = layer.clock() + layer.pending_seconds
        self.instance_id = name  # the layer's make_running([names]) ends it now

    def due(self) -> bool:
        return self._layer.clock() >= self._until

    def make_running(self) -> None:
        """Settle now, unless a later move replaced this one."""
        if self in _PENDING:
            _PENDING.remove(self)
        key = (id(self._resource), self._attribute)
        if _OWNER.get(key) is not self:
            return
        del _OWNER[key]
        setattr(self._resource, self._attribute, self._to)
        if self._then is not None:
            self._then()


def move(
    resource: Any,
    attribute: str,
    *,
    through: str,
    to: str,
    name: str,
    then: Callable[[], None] | None = None,
) -> None:
    """Set `resource.<attribute>` to `through` now and to `to` after the layer's pending_seconds
    (at once when no layer is active)."""
    layer = current()
    if layer is None:
        setattr(resource, attribute, to)
        if then is not None:
            then()
        return
    setattr(resource, attribute, through)
    step = _Move(layer, resource, attribute, to=to, name=name, then=then)
    _OWNER[(id(resource), attribute)] = step
    _PENDING.append(step)
    layer.track(step)
    settle()  # pending_seconds 0: done now


def settle() -> None:
    """Write every status whose time has come."""
    for step in [step for step in _PENDING if step.due()]:
        step.make_running()


def forget(resource: Any, attribute: str) -> None:
    """A plain status written by moto or a call replaces any move under way."""
    _OWNER.pop((id(resource), attribute), None)
