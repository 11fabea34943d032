"""Class attributes (and module tables) the strict-AWS layer replaces in moto, and puts back."""

from __future__ import annotations

from typing import Any


class Patches:
    """Class attributes replaced on install and put back (or deleted) on uninstall."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, bool, Any]] = []
        self._items: list[tuple[dict[str, Any], str, bool, Any]] = []
        self._appended: list[tuple[list[Any], Any]] = []

    def set(self, owner: type, name: str, value: Any) -> None:
        had = name in owner.__dict__
        self._saved.append((owner, name, had, owner.__dict__.get(name)))
        setattr(owner, name, value)

    def set_item(self, table: dict[str, Any], key: str, value: Any) -> None:
        """One entry of a module-level table of moto's (a filter name -> attribute map, say)."""
        self._items.append((table, key, key in table, table.get(key)))
        table[key] = value

    def append(self, table: list[Any], item: Any) -> None:
        """One entry at the end of a module-level list of moto's (a service's URL pattern)."""
        table.append(item)
        self._appended.append((table, item))

    def undo(self) -> None:
        for listed, item in reversed(self._appended):
            if item in listed:
                listed.remove(item)
        self._appended.clear()
        for table, key, had, old in reversed(self._items):
            if had:
                table[key] = old
            else:
                del table[key]
        self._items.clear()
        for owner, name, had, old in reversed(self._saved):
            if had:
                setattr(owner, name, old)
            else:
                delattr(owner, name)
        self._saved.clear()
