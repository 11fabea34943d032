"""Class attributes the strict-AWS layer replaces on moto's classes, and puts back."""

from __future__ import annotations

from typing import Any


class Patches:
    """Class attributes replaced on install and put back (or deleted) on uninstall."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, bool, Any]] = []

    def set(self, owner: type, name: str, value: Any) -> None:
        had = name in owner.__dict__
        self._saved.append((owner, name, had, owner.__dict__.get(name)))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, had, old in reversed(self._saved):
            if had:
                setattr(owner, name, old)
            else:
                delattr(owner, name)
        self._saved.clear()
