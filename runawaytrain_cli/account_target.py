"""Which account a command acts on, and as whom: from accounts.yaml, or from the mail alone.

`--account` is a name or id from accounts.yaml; a 12-digit id also works with no accounts.yaml
at hand (a trip mail names the id and the guard's Region): then the role assumed is the default
operator role unless `--role-name` says otherwise, and `--home-region` (or the caller's
configured Region) says where the guard lives.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from guard.clients import assume_role_session
from runawaytrain_cli.fleet_file import DEFAULT_FLEET_FILE, unknown_account_message
from runawaytrain_cli.operator_error import OperatorError
from runawaytrain_stack.config import ConfigError, load_fleet
from runawaytrain_stack.fleet_model import DEFAULT_OPERATOR_ROLE, Account, Fleet
from runawaytrain_stack.names import name_guard_stack

ACCOUNT_ID = re.compile(r"^\d{12}$")


class TargetError(OperatorError):
    """The account cannot be resolved: the message says what to do (main.py prints it)."""


@dataclass(frozen=True)
class Target:
    account_id: str
    label: str  # "name (id)" or the id
    home_region: str
    role_name: str
    account: Account | None = None  # from accounts.yaml, when it was read
    fleet: Fleet | None = None

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{self.role_name}"

    @property
    def stack_name(self) -> str | None:
        return name_guard_stack(self.account) if self.account else None


def add_target_arguments(parser: argparse.ArgumentParser, *, help_account: str) -> None:
    parser.add_argument("--account", required=True, help=help_account)
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the fleet file (default: accounts.yaml; optional when --account is a 12-digit id)",
    )
    parser.add_argument(
        "--home-region", help="the guard's Region (default: accounts.yaml, else your AWS Region)"
    )
    parser.add_argument(
        "--role-name", help="role to assume in the account (default: operator_role of the fleet)"
    )


def resolve_target(args: argparse.Namespace) -> Target:
    wanted = str(args.account)
    path = args.config or DEFAULT_FLEET_FILE
    fleet = None
    if args.config is not None or path.exists() or not ACCOUNT_ID.match(wanted):
        if not path.exists():
            raise TargetError(
                f"{path}: no such file in {Path.cwd()}: run from the folder holding "
                "accounts.yaml, give its path with --config, or name the account by its "
                "12-digit id (the trip mail does)"
            )
        try:
            fleet = load_fleet(path)
        except ConfigError as error:
            if args.config is not None or not ACCOUNT_ID.match(wanted):
                raise TargetError(str(error)) from None
    account = None
    if fleet is not None:
        account = next((a for a in fleet.accounts if wanted in (a.id, a.name)), None)
        if account is None and not ACCOUNT_ID.match(wanted):
            raise TargetError(unknown_account_message(path, wanted, fleet.accounts))
    region = args.home_region or (account.home_region if account else None)
    region = region or boto3.session.Session().region_name
    if not region:
        raise TargetError(
            f"account {wanted} is not in accounts.yaml: say where its guard runs with "
            "--home-region REGION (the trip mail names it)"
        )
    operator = fleet.operator_role if fleet is not None else DEFAULT_OPERATOR_ROLE
    return Target(
        account_id=account.id if account else wanted,
        label=f"{account.name} ({account.id})" if account else wanted,
        home_region=region,
        role_name=args.role_name or operator,
        account=account,
        fleet=fleet,
    )


def caller_account() -> str | None:
    """The account of the credentials the CLI runs with (None when it cannot tell)."""
    try:
        return str(boto3.client("sts").get_caller_identity()["Account"])
    except Exception:
        return None


def operator_session(account_id: str, role_arn: str, region: str, session_name: str) -> Any:
    """A session acting in `account_id`: the operator role assumed into it, or, when the caller
    is already in that account (the payer, where Organizations creates no
    OrganizationAccountAccessRole), the caller's own credentials."""
    if caller_account() == account_id:
        return boto3.session.Session(region_name=region)
    return assume_role_session(role_arn, region, session_name)
