"""`runawaytrain pass`: set envaction=pass on the deployed guard (`--off`: proceed), keeping
every other variable of its environment.

It acts on the account's guard function only (guard_target.py: the operator role assumed in the
account, the function found by its stack's output).
"""

from __future__ import annotations

import argparse
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.census import describe_error
from runawaytrain_cli.account_target import add_target_arguments
from runawaytrain_cli.guard_target import ACCOUNT_HELP, open_guard


def register(subparsers: Any) -> None:
    pass_ = subparsers.add_parser(
        "pass",
        help="set the guard's envaction=pass (void every run), keeping its other variables",
        description="Set envaction=pass on the account's guard function so that restarted "
        "instances do not trip it again; --off sets envaction=proceed. Every other environment "
        "variable is kept (UpdateFunctionConfiguration replaces them all, so they are read "
        "first). Only `pass --off` sets it back: a `cdk deploy` changes the function only when its "
        "template changed, so an unchanged deploy leaves envaction=pass in place.",
    )
    add_target_arguments(pass_, help_account=ACCOUNT_HELP)
    pass_.add_argument("--off", action="store_true", help="set envaction=proceed again")
    pass_.set_defaults(func=set_envaction)


def set_envaction(args: argparse.Namespace) -> int:
    # An OperatorError (no account, credentials or guard) is said by main.py, exit status 2.
    target, lambda_, function = open_guard(args, "runawaytrain-pass")
    wanted = "proceed" if args.off else "pass"
    try:
        config = lambda_.get_function_configuration(FunctionName=function)
        variables = dict(config.get("Environment", {}).get("Variables", {}))
        variables["envaction"] = wanted
        # Environment replaces every variable; RevisionId refuses the update if the function
        # changed since it was read (Lambda API Reference, UpdateFunctionConfiguration).
        lambda_.update_function_configuration(
            FunctionName=function,
            Environment={"Variables": variables},
            RevisionId=config["RevisionId"],
        )
    except (ClientError, BotoCoreError) as error:
        print(f"{target.label}: setting envaction={wanted} on {function}: {describe_error(error)}")
        return 1
    print(f"{target.label}: {function} envaction={wanted} ({len(variables)} variables kept)")
    return 0
