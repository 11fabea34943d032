"""`runawaytrain`: the operator's command line. Every subcommand runs the guard's own code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

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
from runawaytrain_cli.aws_errors import explain_aws_error
from runawaytrain_cli.drill import command as drill

# One module per subcommand, in the order `runawaytrain --help` lists them.
SUBCOMMAND_MODULES = (
    check,
    bootstrap_commands,
    status,
    run,
    pass_guard,
    restore,
    drill,
    spend,
    simulate,
)


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
    try:
        return int(args.func(args))
    except (BotoCoreError, ClientError) as error:
        # Each command explains the failures it expects; this is the net for the rest.
        line = explain_aws_error(error, "AWS credentials for the account it acts on")
        print(f"runawaytrain {args.command}: {line}", file=sys.stderr)
        return 1
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
