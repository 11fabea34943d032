"""What the operator must supply before a command can act, said the same way by every command.

Missing or unusable AWS credentials (none, expired, not accepted, refused: worded by
aws_errors.py), the fleet file, an account, an incident, an optional part of the CLI: each is an
`OperatorError` whose text is one line saying what is missing and what to do. main.py prints it
as `runawaytrain COMMAND: <line>` on stderr and exits with EXIT_MISSING; no traceback. A failure
found while acting (a status row that could not be read, a restore error) stays exit status 1.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterable
from importlib import metadata

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from guard.clients import CLIENT_CONFIG
from runawaytrain_cli.aws_errors import explain_aws_error

# 2, as argparse exits for a usage error: the command was not run as it can be; 1 remains "ran,
# and found something wrong".
EXIT_MISSING = 2
# An optional part of the CLI, by command: the extra that installs it (pyproject.toml).
EXTRAS = {"drill": "drill", "simulate": "drill"}
# The third-party modules only an extra installs: a missing one is "install the extra", any
# other ModuleNotFoundError is a broken install and keeps its traceback.
EXTRA_MODULES = frozenset({"moto", "aws_cdk", "constructs", "werkzeug", "flask"})


class OperatorError(Exception):
    """One line: what is missing and what to do (exit status EXIT_MISSING)."""


def check_credentials(needs: str, region: str | None = None) -> str:
    """The caller's account id; OperatorError when the caller has no usable AWS credentials.

    STS GetCallerIdentity needs no permission and no explicit deny stops it (STS API Reference,
    GetCallerIdentity: "No permissions are required to perform this operation"), so a failure
    here is the credentials themselves (none, expired, not accepted) or the network, never a
    missing grant. `needs` says which credentials the command needs."""
    try:
        sts = boto3.client("sts", region_name=region, config=CLIENT_CONFIG)
        return str(sts.get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as error:
        raise OperatorError(explain_aws_error(error, needs)) from None


def unknown_incident(
    incident: str, where: str, found: Iterable[str], also: str = ""
) -> OperatorError:
    """`incident` is recorded nowhere in the account (`where`); `found`: the ones that are."""
    ids = sorted(set(found), reverse=True)  # ids start with their UTC time: newest first
    listed = f"recorded there: {', '.join(ids)}" if ids else "none is recorded there"
    return OperatorError(
        f"{where}: no incident {incident!r} ({listed}{also}); check the id in the trip mail, or "
        "run without --incident to restore the newest one"
    )


def missing_extra(command: str, error: ModuleNotFoundError) -> OperatorError | None:
    """The line for a command whose optional part is not installed, or None when the missing
    module is not one an extra provides (a broken install: let it surface)."""
    module = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(command)
    if extra is None or module not in EXTRA_MODULES:
        return None
    return OperatorError(
        f"this command needs the {extra!r} extra ({module} is not installed): "
        f"add it with {install_command(extra)}"
    )


def install_command(extra: str) -> str:
    """The command that adds `extra` to this very installation (its venv, pipx's included): the
    source it was installed from, as pip recorded it (direct_url.json, PEP 610), else a
    placeholder for the repository it came from."""
    python = shlex.quote(sys.executable)
    url, editable = _installed_from()
    if editable and url.startswith("file://"):
        return f"{python} -m pip install -e {shlex.quote(f'{url[7:]}[{extra}]')}"
    return f"{python} -m pip install {shlex.quote(f'runawaytrain[{extra}] @ {url}')}"


def _installed_from() -> tuple[str, bool]:
    """(pip's URL of the source, editable); a placeholder when pip recorded none."""
    fallback = "PATH-OR-GIT-URL-OF-YOUR-RUNAWAYTRAIN-REPOSITORY"
    try:
        text = metadata.distribution("runawaytrain").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return fallback, False
    try:
        direct = json.loads(text or "{}")
    except ValueError:
        return fallback, False
    url = str(direct.get("url") or "")
    if not url:
        return fallback, False
    vcs = direct.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs"):
        commit = vcs.get("requested_revision") or vcs.get("commit_id")
        url = f"{vcs['vcs']}+{url}" + (f"@{commit}" if commit else "")
    return url, bool(direct.get("dir_info", {}).get("editable"))
