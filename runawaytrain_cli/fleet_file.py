"""The fleet file (accounts.yaml) from a terminal, for every command that reads it.

Its default path and argument, the fleet loaded with the loader app.py uses (so what `check`
accepts is what deploys) or every problem printed, an account found by name or id (or a line
naming the ones there are), and the plain-text table and counts the commands print.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from runawaytrain_cli.operator_error import OperatorError
from runawaytrain_stack.config import ConfigError, load_fleet
from runawaytrain_stack.fleet_model import Account, Fleet

DEFAULT_FLEET_FILE = Path("accounts.yaml")


def add_fleet_file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "accounts",
        nargs="?",
        type=Path,
        default=DEFAULT_FLEET_FILE,
        help="the fleet file (default: accounts.yaml)",
    )


def load_fleet_or_report(
    path: Path, option: str = "a path argument", *, check_limits: bool = True
) -> Fleet | None:
    """The fleet, or None after printing every problem (`option`: how to name another file;
    `check_limits`: config.parse_fleet); no such file is an OperatorError (what is missing,
    main.py says it)."""
    if not path.exists():
        raise OperatorError(
            f"{path}: no such file in {Path.cwd()}: run from the folder holding accounts.yaml "
            f"or give its path with {option}"
        )
    try:
        return load_fleet(path, check_limits=check_limits)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


def find_account(accounts: tuple[Account, ...], wanted: str) -> Account | None:
    return next((a for a in accounts if wanted in (a.id, a.name)), None)


def unknown_account_message(source: Path, wanted: str, accounts: tuple[Account, ...]) -> str:
    """One line naming the accounts there are, and the closest name if one is close."""
    names = [a.name for a in accounts]
    guess = difflib.get_close_matches(wanted, names, n=1)
    hint = f"; did you mean {guess[0]}?" if guess else ""
    known = ", ".join(f"{a.name} ({a.id})" for a in accounts)
    return f"{source}: no account {wanted!r} (give its name or id){hint} Accounts: {known}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def format_line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)).rstrip()

    return [format_line(header), format_line(["-" * w for w in widths]), *map(format_line, rows)]


def plural(count: int, noun: str) -> str:
    """1 account, 2 accounts."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
