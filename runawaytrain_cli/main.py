"""`runawaytrain`: the operator's command line. Every subcommand runs the guard's own code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runawaytrain_cli import (
    bootstrap_commands,
    check,
    pass_guard,
    restore,
    run,
    simulate,
    spend,
    status,
)
from runawaytrain_cli.aws_errors import explain_aws_error, is_credentials_problem
from runawaytrain_cli.drill import HELP as DRILL_HELP
from runawaytrain_cli.operator_error import EXIT_MISSING, OperatorError, missing_extra

# The drill loads moto and the CDK (the `drill` extra, pyproject.toml): imported only when it is
# the command run, so every other command starts without them, and fast.
DRILL = "drill"
# One module per subcommand, in the order `runawaytrain --help` lists them (DRILL: the drill).
SUBCOMMAND_MODULES = (
    check,
    bootstrap_commands,
    status,
    run,
    pass_guard,
    restore,
    DRILL,
    spend,
    simulate,
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; the drill's own arguments only when `command` is the drill."""
    parser = argparse.ArgumentParser(
        prog="runawaytrain",
        description="AWS account circuit breaker: operator commands.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        if module != DRILL:
            module.register(subparsers)
        elif command == DRILL:
            register_drill(subparsers)
        else:  # listed by `--help`; parsed for real once it is the command
            subparsers.add_parser(DRILL, help=DRILL_HELP, add_help=False)
    return parser


def register_drill(subparsers: Any) -> None:
    """The drill's subcommand, or, without the `drill` extra, one that says how to add it."""
    try:
        from runawaytrain_cli.drill import command as drill
    except ModuleNotFoundError as error:
        missing = missing_extra(DRILL, error)
        if missing is None:
            raise
        stub = subparsers.add_parser(DRILL, help=DRILL_HELP, description=str(missing))
        stub.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        stub.set_defaults(func=lambda _args: _raise(missing))
        return
    drill.register(subparsers)


def _raise(error: Exception) -> int:
    raise error


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((word for word in words if not word.startswith("-")), None)
    args = build_parser(command).parse_args(words)
    try:
        return int(args.func(args))
    except OperatorError as error:
        print(f"runawaytrain {args.command}: {error}", file=sys.stderr)
        return EXIT_MISSING
    except ModuleNotFoundError as error:
        missing = missing_extra(args.command, error)
        if missing is None:
            raise
        print(f"runawaytrain {args.command}: {missing}", file=sys.stderr)
        return EXIT_MISSING
    except (BotoCoreError, ClientError) as error:
        # Each command explains the failures it expects; this is the net for the rest.
        line = explain_aws_error(error, "AWS credentials for the account it acts on")
        print(f"runawaytrain {args.command}: {line}", file=sys.stderr)
        return EXIT_MISSING if is_credentials_problem(error) else 1
    except KeyboardInterrupt:
        print(f"runawaytrain {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`| head`): Python's advice is to point stdout at devnull so the
        # interpreter's final flush fails quietly (library docs, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
