"""Config problems and how they read: `<file>:<line>: <key>: <what was expected and found>`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runawaytrain_stack.yaml_source import KeyPath


@dataclass(frozen=True)
class Problem:
    line: int | None
    key: str
    message: str


class ConfigError(ValueError):
    """The fleet file is unreadable or invalid; `problems` lists each finding with its line."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.key))
        super().__init__("\n".join(self.format_problem(problem) for problem in self.problems))

    def format_problem(self, problem: Problem) -> str:
        where = self.source if problem.line is None else f"{self.source}:{problem.line}"
        key = f" {problem.key}:" if problem.key else ""
        return f"{where}:{key} {problem.message}"


def format_key(path: KeyPath) -> str:
    """('accounts', 1, 'notify', 0) -> 'accounts[1].notify[0]'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def describe_value(value: Any) -> str:
    """A value as a YAML reader sees it: its kind, then its text, shortened."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "text", list: "list"}
    kind = "mapping" if isinstance(value, dict) else kinds.get(type(value), type(value).__name__)
    shown = repr(value)
    return f"{kind} {shown if len(shown) <= 60 else shown[:57] + '...'}"
