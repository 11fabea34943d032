"""The drill's checks (what must have happened, read back from the emulator) and its display."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from botocore.exceptions import ClientError

from guard.settings import Lockout
from runawaytrain_cli.drill_capacity import check_capacity_restore, check_capacity_trip
from runawaytrain_cli.drill_emulator import Emulator
from runawaytrain_cli.drill_scenario import (
    SEED_GROUP,
    SEED_REGIONS,
    SEED_ROLE,
    DrillResult,
)
from runawaytrain_stack.config import Account


class Progress:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        self.out(f"[{time.monotonic() - self.started:6.1f}s] {message}")


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
    tripped: Account,
    quiet: Account | None,
    users: dict[str, dict[str, str]],
) -> None:
    for name, guard in result.guards.items():
        report = guard.report
        assert report is not None
        result.check(
            f"{name}: every region counted",
            not report.region_errors,
            json.dumps(report.region_errors)[:300],
        )
        if name == result.dry_run:
            seeded = sorted(result.seeded.get(name, []))
            states = instance_states(emulator, guard.account, seeded)
            result.check(
                f"{name}: dry-run reports what it would stop and stops nothing",
                report.verdict == "trip"
                and sorted(report.would_stop) == seeded
                and not report.stopped
                and set(states.values()) == {"running"},
                f"{report.summary()}; states {sorted(set(states.values()))}",
            )
            result.check(f"{name}: one notification", len(guard.mail) == 1, f"{len(guard.mail)}")
        elif name != tripped.name:
            result.check(f"{name}: verdict ok", report.verdict == "ok", report.summary())
            result.check(f"{name}: nothing mailed", not guard.mail, f"{len(guard.mail)} message(s)")
    guard = result.guards[tripped.name]
    if result.launch_batch is not None:
        report = guard.report
        assert report is not None
        result.check(
            f"{tripped.name}: the trip ran on the fast trip's queued launch events (one census)",
            report.trigger == "launch-event" and "EC2 launch event" in report.prompt,
            f"trigger {report.trigger}, prompted by {report.prompt}",
        )
    report = guard.report
    assert report is not None
    seeded = sorted(result.seeded[tripped.name])
    result.check(f"{tripped.name}: tripped", report.verdict == "trip", report.summary())
    result.check(
        f"{tripped.name}: all {len(seeded)} seeded instances stopped",
        sorted(report.stopped) == seeded and not report.not_stopped,
        f"stopped {len(report.stopped)}, not stopped {json.dumps(report.not_stopped)[:300]}",
    )
    result.check(
        f"{tripped.name}: Auto Scaling group {SEED_GROUP} suspended",
        any(group.endswith(SEED_GROUP) for group in report.suspended_asgs),
        f"suspended {report.suspended_asgs}",
    )
    check_capacity_trip(emulator, result, tripped)
    result.check(
        f"{tripped.name}: no action errors",
        not report.action_errors and not report.lockout_errors,
        "; ".join(report.action_errors)[:300] + json.dumps(report.lockout_errors)[:300],
    )
    states = instance_states(emulator, tripped, seeded)
    result.check(
        f"{tripped.name}: instances are stopped in the emulator",
        bool(states) and set(states.values()) <= {"stopped", "stopping"},
        json.dumps(sorted(set(states.values()))),
    )
    if tripped.lockout is not Lockout.NONE:
        expected_locked = sorted(set(users) - set(tripped.break_glass))
        result.check(
            f"{tripped.name}: users locked out",
            report.locked_users == expected_locked,
            f"locked {report.locked_users}, expected {expected_locked}",
        )
        if tripped.lockout is Lockout.USERS_AND_ROLES:
            result.check(
                f"{tripped.name}: role {SEED_ROLE} locked out",
                report.locked_roles == [SEED_ROLE],
                f"locked roles {report.locked_roles}, skipped {report.skipped}",
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
        json.dumps(restored.get("errors", "no restore"))[:300],
    )
    result.check(
        f"{tripped.name}: restore resumed Auto Scaling group {SEED_GROUP}",
        any(group.endswith(SEED_GROUP) for group in restored.get("resumed_asgs", {})),
        f"resumed {restored.get('resumed_asgs')}",
    )
    result.check(
        f"{tripped.name}: restore started the stopped instances",
        sorted(restored.get("started_instances", [])) == seeded,
        f"started {len(restored.get('started_instances', []))} of {len(seeded)}",
    )
    states = instance_states(emulator, tripped, seeded)
    result.check(
        f"{tripped.name}: instances run again",
        bool(states) and set(states.values()) <= {"running", "pending"},
        json.dumps(sorted(set(states.values()))),
    )
    check_capacity_restore(emulator, result, tripped)
    if tripped.lockout is not Lockout.NONE:
        result.check(
            f"{tripped.name}: restore unlocked the locked users",
            bool(report.locked_users)
            and sorted(restored.get("unlocked_users", [])) == report.locked_users,
            f"locked {report.locked_users}, unlocked {restored.get('unlocked_users')}",
        )
    if tripped.lockout is Lockout.USERS_AND_ROLES:  # lockout users locks no role: no check
        result.check(
            f"{tripped.name}: restore unlocked the locked roles",
            bool(report.locked_roles)
            and sorted(restored.get("unlocked_roles", [])) == report.locked_roles,
            f"locked {report.locked_roles}, unlocked {restored.get('unlocked_roles')}",
        )
    if tripped.lockout is not Lockout.NONE:
        for name, key in users.items():
            works, why = user_can_work(emulator, key, tripped.home_region)
            result.check(f"{tripped.name}: user {name} works again", works, why)


def show_guards(result: DrillResult, out: Callable[[str], None]) -> None:
    for name, guard in result.guards.items():
        report = guard.report
        assert report is not None
        counted = {region: n for region, n in sorted(report.by_region.items()) if n}
        out(f"\n== {name} ({guard.account.id}, {guard.account.home_region}, {report.mode})")
        out(f"   counted {report.count} (limit {report.limit}) by region: {counted or 'none'}")
        out(
            f"   verdict {report.verdict}; stopped {len(report.stopped)}, would stop "
            f"{len(report.would_stop)}, users locked {report.locked_users or 'none'}"
        )
        for message in guard.mail:
            out(f"   -- mail: {message.get('Subject', '')}")
            out("   " + str(message.get("Message", "")).replace("\n", "\n   "))


def show_summary(result: DrillResult, progress: Progress) -> None:
    out = progress.out
    out("\n== summary")
    for check in result.checks:
        mark = "ok  " if check.ok else "FAIL"
        detail = f"  ({check.detail})" if check.detail and not check.ok else ""
        out(f"{mark} {check.name}{detail}")
    out("not emulated (said, not hidden):")
    for line in result.not_emulated:
        out(f"  - {line}")
    failed = sum(not check.ok for check in result.checks)
    verdict = "FAILED" if failed else "PASSED"
    progress(f"drill {verdict}: {len(result.checks)} checks, {failed} failed")
