"""The drill's checks (what must have happened, read back from the emulator) and its display."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from botocore.exceptions import ClientError

from guard.settings import Lockout
from runawaytrain_cli.drill.capacity import check_capacity_restore, check_capacity_trip
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.launch_probe import check_launch_allowed, check_launch_refused
from runawaytrain_cli.drill.scenario import (
    SEED_GROUP,
    SEED_LAUNCHER,
    SEED_REGIONS,
    SEED_ROLE,
    DrillResult,
    Progress,
    format_counts,
    format_states,
)
from runawaytrain_cli.drill.services import SERVICE_ROLE
from runawaytrain_cli.fleet_file import plural
from runawaytrain_stack.fleet_model import Account


def user_can_work(emulator: Emulator, key: dict[str, str], region: str) -> tuple[bool, str]:
    """Whether the user's own key can still call EC2 (with IAM enforcement on)."""
    session = emulator.session(region, key["AccessKeyId"], key["SecretAccessKey"])
    emulator.set_iam_enforcement(True)
    try:
        session.client("ec2", region_name=region).describe_instances(MaxResults=5)
    except ClientError as error:
        return False, str(error.response.get("Error", {}).get("Code", "error"))
    finally:
        emulator.set_iam_enforcement(False)
    return True, "allowed"


def instance_states(emulator: Emulator, account: Account, ids: list[str]) -> dict[str, str]:
    states: dict[str, str] = {}
    for region in {*SEED_REGIONS, *account.regions, account.home_region}:
        ec2 = emulator.operator(account.id, region).client("ec2", region_name=region)
        for reservation in ec2.describe_instances()["Reservations"]:
            for instance in reservation["Instances"]:
                if instance["InstanceId"] in ids:
                    states[instance["InstanceId"]] = instance["State"]["Name"]
    return states


def check_trip(
    emulator: Emulator,
    result: DrillResult,
    tripped: Account | None,
    users: dict[str, dict[str, str]],
) -> None:
    for name, guard in result.guards.items():
        report = guard.report
        assert report is not None
        result.check(
            f"{name}: every region counted",
            not report.region_errors,
            "; ".join(f"{region}: {error}" for region, error in report.region_errors.items())[:300],
        )
        if name == result.dry_run:
            seeded = sorted(result.seeded.get(name, []))
            states = instance_states(emulator, guard.account, seeded)
            result.check_over(
                f"{name}: dry-run reports the {len(seeded)} instances it would stop, stops none",
                seeded,
                report.verdict == "trip"
                and sorted(report.would_stop) == seeded
                and not report.stopped
                and set(states.values()) == {"running"},
                f"{report.summary()}; instances {format_states(states)}",
            )
            result.check(
                f"{name}: one 'would trip' notification",
                len(guard.mail) == 1 and "WOULD" in str(guard.mail[0].get("Subject", "")),
                f"{len(guard.mail)} message(s)",
            )
        elif name != result.tripped:
            result.check(f"{name}: verdict ok", report.verdict == "ok", report.summary())
            result.check(f"{name}: nothing mailed", not guard.mail, f"{len(guard.mail)} message(s)")
    target = result.guards[result.target]
    if result.launch_batch is not None:
        report = target.report
        assert report is not None
        result.check(
            f"{target.account.name}: its run was prompted by the fast trip's queued launch "
            "events (one census)",
            report.trigger == "launch-event" and "EC2 launch event" in report.prompt,
            f"trigger {report.trigger}, prompted by {report.prompt}",
        )
    if tripped is None:
        result.skip("an account tripped and halted", "no account is in enforce mode (all dry-run)")
        return
    _check_tripped(emulator, result, tripped, users)


def _check_tripped(
    emulator: Emulator, result: DrillResult, tripped: Account, users: dict[str, dict[str, str]]
) -> None:
    guard = result.guards[tripped.name]
    report = guard.report
    assert report is not None
    seeded = sorted(result.seeded[tripped.name])
    result.check(f"{tripped.name}: tripped", report.verdict == "trip", report.summary())
    result.check_over(
        f"{tripped.name}: all {len(seeded)} seeded instances stopped",
        seeded,
        sorted(report.stopped) == seeded and not report.not_stopped,
        f"stopped {len(report.stopped)}, not stopped: "
        + format_counts(Counter(report.not_stopped.values())),
    )
    result.check(
        f"{tripped.name}: Auto Scaling group {SEED_GROUP} suspended",
        any(group.endswith(SEED_GROUP) for group in report.suspended_asgs),
        f"suspended: {', '.join(report.suspended_asgs) or 'none'}",
    )
    check_capacity_trip(emulator, result, tripped)
    errors = [*report.action_errors, *map(str, report.lockout_errors)]
    errors += [f"{key}: {error}" for key, error in report.launch_block_errors.items()]
    result.check(f"{tripped.name}: no action errors", not errors, "; ".join(errors)[:300])
    check_launch_refused(emulator, result, tripped)
    states = instance_states(emulator, tripped, seeded)
    result.check_over(
        f"{tripped.name}: instances are stopped in the emulator",
        states,
        set(states.values()) <= {"stopped", "stopping"},
        format_states(states),
    )
    if tripped.lockout is Lockout.NONE:
        result.skip(f"{tripped.name}: users locked out", "its lockout is none")
    else:
        expected_locked = sorted(set(users) - set(tripped.break_glass))
        result.check_over(
            f"{tripped.name}: users locked out",
            expected_locked,
            report.locked_users == expected_locked,
            f"locked {', '.join(report.locked_users) or 'none'}, expected "
            + ", ".join(expected_locked),
        )
        if tripped.lockout is Lockout.USERS_AND_ROLES:
            result.check(
                f"{tripped.name}: roles {SEED_ROLE}, {SEED_LAUNCHER} and {SERVICE_ROLE} locked out",
                report.locked_roles == sorted([SEED_ROLE, SEED_LAUNCHER, SERVICE_ROLE]),
                f"locked roles {', '.join(report.locked_roles) or 'none'}",
            )
        for name, key in users.items():
            works, why = user_can_work(emulator, key, tripped.home_region)
            should_work = name in tripped.break_glass
            result.check(
                f"{tripped.name}: user {name} {'still works' if should_work else 'is denied'}",
                works == should_work,
                why,
            )
    result.check(
        f"{tripped.name}: one notification delivered",
        len(guard.mail) == 1 and report.notified,
        f"{len(guard.mail)} message(s), notify error {report.notify_error}",
    )


def check_restore(
    emulator: Emulator, result: DrillResult, tripped: Account, users: dict[str, dict[str, str]]
) -> None:
    restored = (result.restore.restore if result.restore else None) or {}
    report = result.guards[tripped.name].report
    assert report is not None
    seeded = sorted(result.seeded[tripped.name])
    result.check(
        f"{tripped.name}: restore undid the incident without errors",
        bool(restored) and not restored.get("errors"),
        "; ".join(map(str, restored.get("errors") or ["no restore"]))[:300],
    )
    result.check(
        f"{tripped.name}: restore resumed Auto Scaling group {SEED_GROUP}",
        any(group.endswith(SEED_GROUP) for group in restored.get("resumed_asgs", {})),
        f"resumed: {', '.join(restored.get('resumed_asgs') or []) or 'none'}",
    )
    result.check_over(
        f"{tripped.name}: restore started the stopped instances",
        seeded,
        sorted(restored.get("started_instances", [])) == seeded,
        f"started {len(restored.get('started_instances', []))} of {len(seeded)}",
    )
    states = instance_states(emulator, tripped, seeded)
    result.check_over(
        f"{tripped.name}: instances run again",
        states,
        set(states.values()) <= {"running", "pending"},
        format_states(states),
    )
    check_capacity_restore(emulator, result, tripped)
    check_launch_allowed(emulator, result, tripped)
    if tripped.lockout is Lockout.NONE:
        result.skip(f"{tripped.name}: restore unlocked the locked users", "its lockout is none")
    else:
        result.check(
            f"{tripped.name}: restore unlocked the locked users",
            bool(report.locked_users)
            and sorted(restored.get("unlocked_users", [])) == report.locked_users,
            f"locked {', '.join(report.locked_users) or 'none'}, unlocked "
            + (", ".join(restored.get("unlocked_users") or []) or "none"),
        )
    if tripped.lockout is Lockout.USERS_AND_ROLES:  # lockout users locks no role: no check
        result.check(
            f"{tripped.name}: restore unlocked the locked roles",
            bool(report.locked_roles)
            and sorted(restored.get("unlocked_roles", [])) == report.locked_roles,
            f"locked {', '.join(report.locked_roles) or 'none'}, unlocked "
            + (", ".join(restored.get("unlocked_roles") or []) or "none"),
        )
    if tripped.lockout is not Lockout.NONE:
        for name, key in users.items():
            works, why = user_can_work(emulator, key, tripped.home_region)
            result.check(f"{tripped.name}: user {name} works again", works, why)


def show_guards(result: DrillResult, out: Callable[[str], None]) -> None:
    for name, guard in result.guards.items():
        report = guard.report
        assert report is not None
        out(f"\n== {name} ({guard.account.id}, {guard.account.home_region}, {report.mode})")
        out(
            f"   counted {report.count} (limit {report.limit}) by region: "
            + format_counts(report.by_region)
        )
        out(
            f"   verdict {report.verdict}; stopped {len(report.stopped)}, would stop "
            f"{len(report.would_stop)}, users locked {', '.join(report.locked_users) or 'none'}"
        )
        for message in guard.mail:
            out(f"   -- mail: {message.get('Subject', '')}")
            out("   " + str(message.get("Message", "")).replace("\n", "\n   "))


def show_summary(result: DrillResult, progress: Progress) -> None:
    """The checks by step: failures with their detail, skipped ones with their reason."""
    out = progress.out
    out("\n== summary, by step")
    for step, checks in result.checks_by_step().items():
        made = [check for check in checks if not check.skipped]
        failed = sum(not check.ok for check in made)
        skipped = len(checks) - len(made)
        counts = plural(len(made), "check") + (f", {failed} failed" if failed else "")
        out(f"{step}: {counts}" + (f", {skipped} skipped" if skipped else ""))
        for check in checks:
            if check.skipped:
                out(f"  skip {check.name}: {check.skipped}")
                continue
            mark = "ok  " if check.ok else "FAIL"
            detail = f"  ({check.detail})" if check.detail and not check.ok else ""
            out(f"  {mark} {check.name}{detail}")
    out("not emulated (said, not hidden):")
    for line in result.not_emulated:
        out(f"  - {line}")
    made = result.made
    failed = sum(not check.ok for check in made)
    skipped = len(result.checks) - len(made)
    verdict = "PASSED" if result.ok else "FAILED"
    steps = plural(len(result.checks_by_step()), "step")
    progress(
        f"drill {verdict}: {plural(len(made), 'check')} in {steps}, {failed} failed"
        + (f", {skipped} skipped" if skipped else "")
    )
