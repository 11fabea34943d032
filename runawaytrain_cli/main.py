"""`runawaytrain`: the operator's command line. Every subcommand runs the guard's own code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from runawaytrain_cli import demo, drill, fleet, guard_function, restore, spend, status

SUBCOMMAND_MODULES = (demo, fleet, status, guard_function, restore, drill, spend)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runawaytrain",
        description="AWS account circuit breaker: operator commands.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
