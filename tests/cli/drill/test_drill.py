"""The drill, end to end: a fresh moto_server, the real `cdk deploy --all`, the guard's code under
its deployed role with IAM enforcement on, restore, and cleanup whatever happens.

About a minute and a half in all: the sample fleet once (~50 s), a two-account fleet once with one
statement removed from the guard's role (~30 s), and a drill whose deploy step fails (~4 s).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from guard.settings import SettingsError
from runawaytrain_cli.drill import command, deploy
from runawaytrain_cli.drill.command import STEPS, DrillError, DrillResult, run_drill
from runawaytrain_cli.main import main

ROOT = Path(__file__).resolve().parents[3]
SMALL_FLEET = """\
payer:
  id: "111111111111"
  name: payer
  notify: [ops@example.com]
  ec2_limit: 2
accounts:
  - id: "555555555555"
    name: lab
    notify: [lab@example.com]
    ec2_limit: 4
    lockout: users+roles
"""


def emulator_pid(lines: list[str]) -> int:
    found = [re.search(r"moto_server pid (\d+)", line) for line in lines]
    pids = [int(match.group(1)) for match in found if match]
    assert len(pids) == 1, lines[:3]
    return pids[0]


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.fixture(scope="module")
def sample_drill(tmp_path_factory: pytest.TempPathFactory) -> tuple[DrillResult, list[str], Path]:
    lines: list[str] = []
    parent = tmp_path_factory.mktemp("drill-work")
    result = run_drill(ROOT / "accounts.yaml", out=lines.append, workdir_parent=parent)
    return result, lines, parent


def test_sample_fleet_drill_passes_every_check(sample_drill: tuple) -> None:
    result, lines, _ = sample_drill
    failed = [f"{check.name}: {check.detail}" for check in result.checks if not check.ok]
    assert result.ok, "\n".join(failed + lines[-60:])
    assert len(result.made) >= 50
    steps = len({check.step for check in result.checks})
    passed = f"drill PASSED: {len(result.made)} checks in {steps} steps, 0 failed"
    assert lines[-1].endswith((passed, f"{passed}, 1 skipped"))
    # a skipped check is a wait the slow machine made impossible, never anything else
    assert {c.name for c in result.checks if c.skipped} <= {
        "prod: the guard waited for it to leave pending, then stopped it"
    }


def test_summary_groups_checks_by_step_and_prints_no_dicts(sample_drill: tuple) -> None:
    result, lines, _ = sample_drill
    summary = lines[lines.index("\n== summary, by step") + 1 :]
    headings = [line.split(":")[0] for line in summary if line and not line.startswith(" ")]
    with_checks = [step.name for step in STEPS if any(c.step == step.name for c in result.checks)]
    assert headings[: len(with_checks)] == with_checks
    assert [c.step for c in result.checks] == sorted(
        (c.step for c in result.checks), key=[s.name for s in STEPS].index
    )
    assert not [line for line in lines if "{'" in line or "['" in line]
    counted = "   counted 52 (limit 40) by region: ap-southeast-2 14, eu-west-1 24, us-east-1 14"
    assert counted in lines


def test_each_stack_is_deployed_into_its_own_account(sample_drill: tuple) -> None:
    result, lines, _ = sample_drill
    assert {name: g.account.id for name, g in result.guards.items()} == {
        "payer": "111111111111",
        "prod": "222222222222",
        "staging": "333333333333",
        "sandbox": "444444444444",
    }
    assert all(f":{g.account.id}:" in g.role_arn for g in result.guards.values())
    deployed = [line for line in lines if "] deploy: " in line and line.endswith(" deployed")]
    organisation = [line for line in deployed if "runawaytrain-members" in line or "-code-" in line]
    assert len(deployed) - len(organisation) == 6  # four guard stacks, the billing and the payer
    # The new-account step's organisation stacks: the StackSets' and a code bucket per home.
    assert len(organisation) == 3


def test_the_guard_runs_with_the_deployed_environment(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    prod = result.guards["prod"]
    assert prod.environment["ec2limit"] == "40"
    assert prod.environment["lockout"] == "users"
    assert prod.environment["snstopic"].startswith("arn:aws:sns:eu-west-1:222222222222:")
    # no `regions`: the census counts every enabled region, whatever accounts.yaml lists
    assert "regions" not in result.guards["staging"].environment


def test_tripped_account_is_halted_locked_and_told(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    assert (result.tripped, result.quiet) == ("prod", "staging")
    report = result.guards["prod"].report
    assert report is not None
    assert report.verdict == "trip"
    seeded = result.seeded["prod"]
    # limit 40: 14 per region, plus an Auto Scaling group of 2, a warm pool of 2 kept Running, a
    # stop-protected instance, a persistent Spot instance and a launch still pending at the trip
    # (the Spot Fleet's 3 are counted, terminated, not seeded)
    assert len(seeded) == 3 * 14 + 2 + 2 + 3
    capacity = result.capacity
    assert capacity is not None and len(capacity.spot_instances) == 3
    assert len(report.by_region) >= 3
    assert sum(report.by_region.values()) == len(seeded) + len(capacity.spot_instances)
    assert sorted(report.stopped) == sorted(result.seeded["prod"])
    assert report.locked_users == ["alice", "bob"]
    assert "user/breakglass-admin" in report.skipped
    [mail] = result.guards["prod"].mail
    assert mail["Subject"].startswith("runawaytrain TRIPPED 222222222222 (prod)")
    assert f"Stopped ({len(seeded)};" in mail["Message"]
    assert report.suspended_asgs == ["drill-workers"]


def test_trip_handles_fleet_protected_pending_and_group_capacity(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    capacity = result.capacity
    report = result.guards["prod"].report
    assert capacity is not None and report is not None
    assert report.fleets_zeroed == {capacity.region: {capacity.spot_fleet: "3/0"}}
    assert report.terminated_by_region == {capacity.region: sorted(capacity.spot_instances)}
    assert capacity.persistent_spot in report.stopped
    assert report.spot_cancelled == {}
    assert report.protection_lifted == [capacity.protected]
    assert list(report.warm_pools) == [capacity.region]
    assert list(report.warm_pools[capacity.region]) == ["drill-warm-pool"]
    assert capacity.pending_state == "pending" and capacity.pending in report.stopped
    # On a busy machine the run can be slower than the emulator's 2 s pending: then the launch
    # runs before the halt reaches it, and the drill says the wait went unchecked.
    waited = "prod: the guard waited for it to leave pending, then stopped it"
    skipped = {check.name for check in result.checks if check.skipped}
    assert (capacity.waited_s > 0) != (waited in skipped)
    assert not report.still_pending
    passed = {check.name for check in result.checks if check.ok}
    assert {
        "prod: maintain Spot Fleet set to target capacity 0 (was 3)",
        "prod: the fleet's one-time Spot instances terminated (unstoppable: terminate-spot)",
        "prod: nothing relaunched (no new instance, the fleet holds none)",
        "prod: persistent Spot instance stopped, not terminated; its request disabled",
        "prod: stop-protected instance stopped, its protection recorded",
        "prod: group drill-workers suspended (Launch, Terminate, HealthCheck, ...)",
        "prod: group drill-workers's instances stopped, not terminated, still in the group",
        "prod: restore put the Spot Fleet's target capacity back (3)",
        "prod: stop-protected instance runs again with DisableApiStop true",
        "prod: persistent Spot instance runs again, its request active",
        "prod: every instance the trip stopped runs again (same 49 ids)",
        "prod: group drill-workers resumed only once its instances ran (none replaced)",
        "prod: nothing on-demand terminated (48 instances, only Spot went)",
        "prod: group drill-warm-pool's warm pool set to Stopped, the group suspended, its "
        "instances stopped and still in the pool",
        "prod: group drill-warm-pool's warm pool back to MaxGroupPreparedCapacity 2, MinSize 1, "
        "PoolState Running, the same instances Warmed:Running, the group resumed",
    } <= passed
    assert "prod: the launch made just before the trip is stopped" in passed


def test_restore_checks_nothing_that_was_never_locked(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    names = {check.name for check in result.checks}
    assert "prod: restore unlocked the locked users" in names
    assert "prod: restore unlocked the locked roles" not in names  # lockout users: no role


def test_dry_run_account_reports_and_changes_nothing(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    assert result.dry_run == "sandbox"
    report = result.guards["sandbox"].report
    assert report is not None
    assert (report.verdict, report.mode, report.stopped) == ("trip", "dry-run", [])
    assert sorted(report.would_stop) == sorted(result.seeded["sandbox"])
    assert len(result.seeded["sandbox"]) == 5  # limit 4
    assert len(result.guards["sandbox"].mail) == 1


def test_quiet_accounts_stay_untouched(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    for name in ("payer", "staging"):
        report = result.guards[name].report
        assert report is not None
        assert (report.verdict, report.stopped, result.guards[name].mail) == ("ok", [], [])
    staging = result.guards["staging"].report
    assert staging is not None
    assert staging.count == 2


def test_restore_unlocks_users_and_restarts_instances(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    assert result.restore is not None and result.restore.restore is not None
    undone = result.restore.restore
    assert undone["unlocked_users"] == ["alice", "bob"]
    assert sorted(undone["started_instances"]) == sorted(result.seeded["prod"])
    assert list(undone["resumed_asgs"]) == ["eu-west-1/drill-workers"]
    assert list(undone["warm_pools_restored"]) == ["eu-west-1/drill-warm-pool"]
    assert not undone["errors"]
    passed = {check.name for check in result.checks if check.ok}
    assert {"prod: user alice is denied", "prod: user alice works again"} <= passed


def test_a_launch_is_refused_after_the_trip_and_allowed_after_restore(sample_drill: tuple) -> None:
    """Issue 20's acceptance: prod's lockout is `users`, so its launcher role is not locked out:
    the refusal is the launch block's, under IAM enforcement, and restore lifts it."""
    result, _, _ = sample_drill
    report = result.guards["prod"].report
    assert report is not None and not report.locked_roles
    assert "role/drill-launcher" in report.launch_blocked
    assert "user/breakglass-admin" in report.launch_block_skipped
    [mail] = result.guards["prod"].mail
    assert "Launches refused (" in mail["Message"]
    passed = {check.name for check in result.checks if check.ok}
    assert {
        "prod: the launch block is attached to role drill-launcher",
        "prod: a launch by role drill-launcher is refused after the trip",
        "prod: restore detached the launch block from role drill-launcher",
        "prod: the same launch succeeds after restore",
    } <= passed


def test_drill_says_what_the_emulator_did_not_create(sample_drill: tuple) -> None:
    result, _, _ = sample_drill
    said = "\n".join(result.not_emulated)
    for kind in ("AWS::CloudWatch::Alarm", "AWS::SNS::Subscription", "AWS::Scheduler::Schedule"):
        assert kind in said


def test_the_payer_stack_is_deployed_whole(sample_drill: tuple) -> None:
    """Its dashboard, and the rules on its own buses, are read back from the emulator (moto
    had left out everything after the first such rule, and the drill showed the synthesized
    dashboard instead and stood in for the watchdog)."""
    result, lines, _ = sample_drill
    made = {c.name: c for c in result.made}
    (dashboard,) = [c for n, c in made.items() if n.startswith("the payer's dashboard")]
    assert dashboard.ok and re.search(r"deployed \(\d+ widgets\)$", dashboard.name), dashboard
    assert made[
        "the billing rule on runawaytrain-billing-trips deployed in every budgeted account"
    ].ok
    assert any(
        line.endswith(" ...") and "dashboard: runawaytrain-fleet in" in line for line in lines
    )


def test_drill_leaves_no_process_and_no_files(sample_drill: tuple) -> None:
    _, lines, parent = sample_drill
    assert_gone(emulator_pid(lines))
    assert list(parent.iterdir()) == []


def test_drill_fails_when_statements_are_missing_from_the_role(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(SMALL_FLEET)
    lines: list[str] = []
    work = tmp_path / "work"
    work.mkdir()
    # The steps the role's statements act in: the payer's quarantine, the watchdog, status and
    # the new-account step are the sample drill's (test_sample_fleet_drill_passes_every_check).
    acting = {"deploy", "payer", "fast trip", "seed", "trip", "restore"}
    result = run_drill(
        fleet,
        out=lines.append,
        workdir_parent=work,
        drop_statements=("StopAndRestartInstances", "NeverModifyOwnRoles"),
        steps=[step for step in STEPS if step.name in acting],
    )
    assert {"trip", "restore"} <= {check.step for check in result.checks} <= acting
    assert not result.ok
    report = result.guards["lab"].report
    assert report is not None
    assert report.verdict == "trip"
    assert report.stopped == []
    assert set(report.not_stopped.values()) <= {"UnauthorizedOperation", "AccessDenied"}
    assert report.not_stopped  # every instance was refused, under the deployed role
    failed = {check.name for check in result.checks if not check.ok}
    # 3 regions x 3, a group of 2, a warm pool of 2, a stop-protected instance, a persistent Spot
    # instance and a launch pending at the trip
    assert "lab: all 16 seeded instances stopped" in failed
    # the guard may not stop it either: never terminated instead
    assert "lab: persistent Spot instance stopped, not terminated; its request disabled" in failed
    assert result.capacity is not None
    assert result.capacity.persistent_spot in report.not_stopped
    terminated = [i for ids in report.terminated_by_region.values() for i in ids]
    assert result.capacity.persistent_spot not in terminated
    # Even without its Deny the guard cannot loosen its own role: nothing grants it an inline
    # policy write any more (issue 22 item 11), so the Deny is a second lock, not the only one.
    assert "lab: guard cannot modify its own role" not in failed
    assert "payer: guard cannot modify its own role" not in failed
    # The other statements still work: users and roles are locked, and restore undoes it.
    assert report.locked_users == ["alice", "bob"]
    assert report.locked_roles == ["drill-ci-deployer", "drill-launcher", "drill-seeds"]
    passed = {check.name for check in result.checks if check.ok}
    assert {
        "lab: users locked out",
        "lab: roles drill-ci-deployer, drill-launcher and drill-seeds locked out",
    } <= passed
    assert "lab: restore unlocked the locked roles" in passed
    # Locked out and launch-blocked alike, the launcher launches again after restore.
    assert {
        "lab: a launch by role drill-launcher is refused after the trip",
        "lab: the same launch succeeds after restore",
    } <= passed
    assert_gone(emulator_pid(lines))
    assert list(work.iterdir()) == []


def test_failing_step_stops_the_emulator_and_removes_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_deploy(*args: object) -> None:
        raise DrillError("deploy failed on purpose")

    monkeypatch.setattr(deploy, "deploy", broken_deploy)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(SMALL_FLEET)
    work = tmp_path / "work"
    work.mkdir()
    lines: list[str] = []
    with pytest.raises(DrillError, match="on purpose"):
        run_drill(fleet, out=lines.append, workdir_parent=work)
    assert_gone(emulator_pid(lines))
    assert list(work.iterdir()) == []


def test_cli_exits_1_when_the_deployed_environment_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def forgot_a_variable(*args: object, **kwargs: object) -> None:
        raise SettingsError("environment variable snstopic is required but not set")

    monkeypatch.setattr(command, "run_drill", forgot_a_variable)
    assert main(["drill"]) == 1
    assert "drill failed: environment variable snstopic" in capsys.readouterr().err


def test_cli_exits_1_on_a_bad_fleet_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["drill", str(tmp_path / "missing.yaml")]) == 1
    assert "cannot read the file" in capsys.readouterr().err


ALL_DRY_RUN_FLEET = """\
defaults: {mode: dry-run}
payer:
  id: "111111111111"
  name: payer
  notify: [ops@example.com]
  ec2_limit: 2
  fast_trip: false
accounts:
  - id: "555555555555"
    name: lab
    notify: [lab@example.com]
    ec2_limit: 3
    lockout: users+roles
    regions: [us-east-1, eu-west-1]
  - id: "666666666666"
    name: quiet
    notify: [quiet@example.com]
    ec2_limit: 5
    regions: [us-east-1]
"""


def test_all_dry_run_fleet_shows_what_would_trip_and_changes_nothing(tmp_path: Path) -> None:
    """The first rollout: every account in dry-run. The drill drives one over its limit, its
    report and mail say what would be stopped, and what cannot be checked is said, not passed."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(ALL_DRY_RUN_FLEET)
    lines: list[str] = []
    work = tmp_path / "work"
    work.mkdir()
    result = run_drill(fleet, out=lines.append, workdir_parent=work)
    failed = [f"{check.name}: {check.detail}" for check in result.made if not check.ok]
    assert result.ok, "\n".join(failed + lines[-40:])
    assert (result.tripped, result.target) == ("", "lab")
    report = result.guards["lab"].report
    assert report is not None
    assert (report.verdict, report.mode, report.stopped) == ("trip", "dry-run", [])
    assert sorted(report.would_stop) == sorted(result.seeded["lab"]) and len(report.would_stop) == 4
    [mail] = result.guards["lab"].mail
    assert "WOULD TRIP" in mail["Subject"]
    assert report.trigger == "launch-event"  # the fast trip's events prompted it
    skipped = {check.name: check.skipped for check in result.checks if check.skipped}
    assert skipped == {
        "payer: fast trip": "fast_trip: false in accounts.yaml",
        "quiet: launches in other Regions forwarded to us-east-1": (
            "it watches only its home Region (regions: in accounts.yaml)"
        ),
        "an account tripped and halted": "no account is in enforce mode (all dry-run)",
        "restore undid the incident": (
            "no account is in enforce mode: a dry-run trip changes nothing, so nothing to undo"
        ),
        "quarantine attached on trip": (
            "no account is in enforce mode: a dry-run trip asks the payer for nothing"
        ),
        "restore detached the quarantine": "nothing was quarantined",
        "status: the tripped account's incident": "nothing was tripped",
        "the trip run emitted Trips=1": "no account is in enforce mode",
        "the billing rule on runawaytrain-billing-trips deployed in every budgeted account": (
            "no account has monthly_budget_usd"
        ),
    }
    steps = len({check.step for check in result.checks})
    assert lines[-1].endswith(
        f"drill PASSED: {len(result.made)} checks in {steps} steps, 0 failed, 9 skipped"
    )
    assert_gone(emulator_pid(lines))


def test_a_check_over_nothing_fails_and_a_skip_never_passes() -> None:
    result = DrillResult()
    result.step = "restore"
    result.skip("restore unlocked the locked roles", "no role was locked")
    assert not result.ok  # only skips: nothing was checked
    result.check_over("every stopped instance runs again", [], True, "the trip stopped none")
    [made] = result.made
    assert (made.ok, made.detail) == (False, "nothing to check: the trip stopped none")
    result.step = "trip"
    result.check("tripped", True)
    assert list(result.checks_by_step()) == ["restore", "trip"]
    assert not result.ok
