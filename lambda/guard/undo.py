"""The mail's "how to undo": commands that work from the mail alone, pasted into any shell.

One command undoes everything the incident did (`runawaytrain restore`, the guard's own restore
code run with the operator's credentials): no hand-written list of `aws` commands can keep up
with what restore undoes (IAM lockout, Auto Scaling, fleets, stop protection, tags, the open
incident, the quarantine). Every argument is shell-quoted (shlex.quote), and the command names
the account id, its Region and the incident, so it needs no accounts.yaml and no particular
folder. Inside the account, without runawaytrain, the guard itself restores when invoked with
{"action": "restore"}: that command is given for both major versions of the AWS CLI.
"""

from __future__ import annotations

import json
import shlex

from guard.report import Report

# The role the CLI assumes unless told otherwise (accounts.yaml `operator_role`'s default).
DEFAULT_OPERATOR_ROLE = "OrganizationAccountAccessRole"
# AWS CLI v2 reads blob arguments such as --payload as base64 unless told
# `--cli-binary-format raw-in-base64-out`; v1 reads them raw and refuses that option (AWS CLI
# User Guide, "Migrating from AWS CLI version 1 to version 2": "Binary parameters are passed as
# base64-encoded strings by default"; awscli 1.46 answers "Unknown options: --cli-binary-format").
V2_BINARY_FORMAT = "--cli-binary-format raw-in-base64-out"


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


def invoke_commands(report: Report) -> dict[str, str]:
    """`aws lambda invoke` of the guard's own restore, for CLI v2 and v1 (none if unnamed)."""
    if not report.function:
        return {}
    payload = json.dumps(
        {"action": "restore", "incident": report.incident, "restart_instances": True}
    )
    region = ["--region", report.home_region] if report.home_region else []
    base = quote("aws", "lambda", "invoke", *region, "--function-name", report.function)
    tail = quote("--payload", payload, "restore.json")
    return {"v2": f"{base} {V2_BINARY_FORMAT} {tail}", "v1": f"{base} {tail}"}


def undo_lines(report: Report) -> list[str]:
    steps = runawaytrain_commands(report)
    lines = [
        "How to undo (after you have found the cause, e.g. CloudTrail RunInstances events).",
        "From any folder, with the payer's (management account's) AWS credentials, allowed to",
        f"assume the fleet's operator role in this account ({DEFAULT_OPERATOR_ROLE} unless",
        "accounts.yaml sets operator_role: then add --role-name NAME):",
        "  1. Keep the guard from tripping on the restarted instances (they emit launch events):",
        "     set envaction=pass on the guard function (its other variables are kept),",
        f"       {steps['pass']}",
        "     or raise ec2_limit in accounts.yaml and deploy.",
        "  2. See what would be undone, then undo exactly this incident: IAM lockout (deny,",
        "     keys it deactivated), Auto Scaling (resumed once the instances run), fleets, stop",
        "     protection, its tags, the open incident and the quarantine; and start the instances:",
        f"       {steps['dry_run']}",
        f"       {steps['restore']}",
        "  3. Once the cause is fixed, let the guard count again:",
        f"       {steps['proceed']}",
    ]
    invoke = invoke_commands(report)
    if invoke:
        lines += [
            "Inside the account, without runawaytrain (any principal allowed to invoke the",
            "guard; during a quarantine only the break_glass ones), the guard restores itself:",
            f"  AWS CLI v2: {invoke['v2']}",
            f"  AWS CLI v1: {invoke['v1']}",
        ]
    return lines
