"""What the watchdog saw inside a member account, and what it means, in the mail's words (pure).

inside.py reads the facts through the member's reader role; `explain` turns them into one
sentence each, comparing with accounts.yaml where the deployed value can drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchdog.health import WatchedAccount

MISSING = "missing"
# CloudFormation stack states in which the guard's resources are deployed and current
# (CloudFormation User Guide, "Stack status codes"). UPDATE_ROLLBACK_COMPLETE: an update failed
# and was rolled back, the previous guard runs. Anything *_IN_PROGRESS is a deploy under way;
# every other status (ROLLBACK_COMPLETE, *_FAILED, DELETE_*) means the guard may be incomplete.
STACK_OK = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
)


@dataclass
class Inside:
    """Facts read through the reader role; None: not read (see `unreadable`)."""

    refused: str | None = None  # the role could not be assumed: why
    stack_status: str | None = None  # MISSING or CloudFormation's StackStatus
    schedule_state: str | None = None  # MISSING, ENABLED or DISABLED
    function_name: str | None = None
    environment: dict[str, str] | None = None  # the guard function's environment variables
    function_state: str = ""  # Lambda's State / LastUpdateStatus when not Active / Successful
    errors: float | None = None  # CloudWatch AWS/Lambda Errors, summed over the window
    window_minutes: int = 0
    disabled_rules: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "what: error" for each failed read


def explain(inside: Inside, account: WatchedAccount, schedule_name: str) -> list[str]:
    """One sentence per thing found wrong (or unknowable), most telling first."""
    if inside.refused is not None:
        return [
            "could not look inside (role missing or denied): " + inside.refused + ". The reader "
            "role is part of the guard stack, so a deleted guard stack also looks like this."
        ]
    found = []
    if inside.stack_status == MISSING:
        found.append(f"stack {account.stack} missing")
    elif inside.stack_status not in (None, *STACK_OK) and not inside.stack_status.endswith(
        "_IN_PROGRESS"
    ):
        found.append(f"stack {account.stack} is {inside.stack_status}")
    if inside.schedule_state == MISSING:
        found.append(f"schedule {schedule_name} missing")
    elif inside.schedule_state == "DISABLED":
        found.append(f"schedule disabled ({schedule_name} is DISABLED)")
    if inside.function_state:
        found.append(f"function {inside.function_name}: {inside.function_state}")
    if inside.errors:
        found.append(
            f"function failing: {inside.errors:g} error(s) in the last {inside.window_minutes} "
            f"minutes (CloudWatch AWS/Lambda Errors of {inside.function_name})"
        )
    environment = inside.environment or {}
    if environment.get("envaction", "").strip().lower() == "pass":
        found.append("envaction=pass set: the guard counts and stops nothing")
    deployed_limit = environment.get("ec2limit")
    if deployed_limit is not None and deployed_limit.strip() != str(account.ec2_limit):
        found.append(
            f"ec2limit changed from accounts.yaml: {deployed_limit.strip()} deployed, "
            f"{account.ec2_limit} in accounts.yaml"
        )
    found += [f"fast-trip rule {name} disabled" for name in inside.disabled_rules]
    found += [f"could not read {what}" for what in inside.unreadable]
    if not found:
        found.append("nothing wrong found inside: stack, schedule and function look as deployed")
    return found
