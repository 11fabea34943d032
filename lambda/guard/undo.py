"""The mail's "how to undo": commands that work from the mail alone, pasted into any shell.

One command undoes everything the incident did (`runawaytrain restore`, the guard's own restore
code run with the operator's credentials): no hand-written list of `aws` commands can keep up
with what restore undoes (launch block, IAM lockout, Auto Scaling, fleets, stop protection,
tags, the open incident, the quarantine). Every argument is shell-quoted (shlex.quote), and the
command names the account id, its Region and the incident, so it needs no accounts.yaml and no
particular folder. No `aws lambda invoke` of the guard's own restore is printed: it would not
detach the quarantine SCP (the payer's), it is refused during a quarantine to all but
break_glass, its payload syntax differs between AWS CLI v1 and v2, and no test here can run it
(moto runs no Lambda code). tests/cli/test_mail_commands.py runs every printed command through
bash against the emulator and compares the account with its pre-trip snapshot.
"""

from __future__ import annotations

import shlex

from guard.report import Report

# The role the CLI assumes unless told otherwise (accounts.yaml `operator_role`'s default).
DEFAULT_OPERATOR_ROLE = "OrganizationAccountAccessRole"
# How to get the operator CLI: from the copy of this repository the fleet is deployed from (it
# holds accounts.yaml). The project names no public URL, and a made-up one in a 3 a.m. mail
# would send people to the wrong place (README.md, "Install the operator CLI").
INSTALL_LINE = (
    "pipx install PATH-OR-GIT-URL-OF-YOUR-RUNAWAYTRAIN-REPOSITORY (the one holding accounts.yaml)"
)


def quote(*words: str) -> str:
    return " ".join(shlex.quote(word) for word in words)


def runawaytrain_commands(report: Report) -> dict[str, str]:
    """The operator's commands for this incident, by step."""
    where = ["--account", report.account]
    if report.home_region:
        where += ["--home-region", report.home_region]
    restore = ["runawaytrain", "restore", *where, "--incident", str(report.incident)]
    return {
        "pass": quote("runawaytrain", "pass", *where),
        "dry_run": quote(*restore, "--restart-instances", "--dry-run"),
        "restore": quote(*restore, "--restart-instances"),
        "proceed": quote("runawaytrain", "pass", *where, "--off"),
    }


def undo_lines(report: Report) -> list[str]:
    steps = runawaytrain_commands(report)
    return [
        "How to undo (after you have found the cause, e.g. CloudTrail RunInstances events).",
        "From any folder, with the payer's (management account's) AWS credentials, allowed to",
        f"assume the fleet's operator role in this account ({DEFAULT_OPERATOR_ROLE} unless",
        "accounts.yaml sets operator_role: then add --role-name NAME):",
        f"  0. No runawaytrain command on this machine? Install the CLI: {INSTALL_LINE}",
        "  1. Keep the guard from tripping on the restarted instances (they emit launch events):",
        "     set envaction=pass on the guard function (its other variables are kept),",
        f"       {steps['pass']}",
        "     or raise ec2_limit in accounts.yaml and deploy.",
        "  2. See what would be undone, then undo exactly this incident: the launch block, IAM",
        "     lockout (deny, keys it deactivated), Auto Scaling (resumed once the instances run),",
        "     fleets, stop protection, its tags, the open incident and the quarantine; and start",
        "     the instances:",
        f"       {steps['dry_run']}",
        f"       {steps['restore']}",
        "  3. Once the cause is fixed, let the guard count again:",
        f"       {steps['proceed']}",
    ]
