"""`runawaytrain drill` (what `./dev demo` runs): deploy the fleet into a local AWS emulator, trip
it, undo it. moto_server runs on a free loopback port (stopped at the end, whatever happens), and
the drill runs its STEPS in order, each adding its checks under its own name:

- deploy: bootstrap every account, the real `npx cdk deploy --all`, each guard read back;
- fast trip: the Region rules, the guard's queue poller, launch events reaching the queue;
- seed: one sub-account over its limit in 3 regions with IAM users holding keys, one quiet, a
  dry-run one over its limit (a fleet all in dry-run, as in a first rollout, has nothing to
  trip: its dry-run account shows what would trip and nothing is changed);
- trip: every guard's code run with its deployed environment under its deployed role, IAM
  enforcement on (the target's run prompted by the launch events drained from its queue);
  what each counted, stopped, locked and mailed, checked against the emulator;
- restore: the tripped account restored: users work again, instances run again, and a launch
  refused after the trip (the launch block) succeeds again;
- new account: with `organization:` added to a scratch copy of the fleet, the payer's
  organisation stacks deployed; an account created and moved into the target OU gets its guard
  from the payer's StackSets with no cdk run, on `defaults`, heartbeats and trips.

Then a summary of the checks by step; exit status 1 if any failed. A check that cannot be made
on this fleet is listed as skipped with its reason, never counted as passed.

Nothing reaches real AWS: every client talks to the emulator on loopback with fake keys.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guard.settings import SettingsError
from runawaytrain_cli.drill import HELP
from runawaytrain_cli.drill.checks import show_summary
from runawaytrain_cli.drill.deploy import step_deploy
from runawaytrain_cli.drill.emulator import Emulator, EmulatorError
from runawaytrain_cli.drill.fast_trip import step_fast_trip
from runawaytrain_cli.drill.new_account import step_new_account
from runawaytrain_cli.drill.quarantine import step_payer, step_quarantine, step_release
from runawaytrain_cli.drill.scenario import (
    DrillContext,
    DrillError,
    DrillResult,
    Progress,
    choose_scenario,
)
from runawaytrain_cli.drill.status import step_status_after, step_status_before
from runawaytrain_cli.drill.trip import step_restore, step_seed, step_trip
from runawaytrain_cli.drill.watchdog import step_watchdog
from runawaytrain_cli.fleet_file import add_fleet_file_argument
from runawaytrain_stack.config import ConfigError, load_fleet


@dataclass(frozen=True)
class DrillStep:
    """One step: its name (the heading its checks are grouped under), what it shows, and the
    function that runs it, recording its checks in `drill.result`."""

    name: str
    purpose: str
    run: Callable[[DrillContext], None]


# In order. A new step is a function taking the DrillContext, in its own module, added here.
STEPS: list[DrillStep] = [
    DrillStep("deploy", "cdk deploy --all into the emulator", step_deploy),
    DrillStep("payer", "the organization, its SCPs and the payer's bus route", step_payer),
    DrillStep("fast trip", "launch events reach the guard's queue", step_fast_trip),
    DrillStep("seed", "instances and users over the limit", step_seed),
    DrillStep("status", "runawaytrain status before the trip", step_status_before),
    DrillStep("trip", "every guard runs under its deployed role", step_trip),
    DrillStep("watchdog", "the payer hears every guard; a silent one is mailed", step_watchdog),
    DrillStep("quarantine", "the payer quarantines the tripped account", step_quarantine),
    DrillStep("status after", "runawaytrain status after the trip", step_status_after),
    DrillStep("restore", "the tripped account undone", step_restore),
    DrillStep("release", "restore lifts the quarantine", step_release),
    DrillStep(
        "new account",
        "an account joining a target OU is guarded by the payer's StackSets, no cdk run",
        step_new_account,
    ),
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "drill",
        help=HELP,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_fleet_file_argument(parser)
    parser.set_defaults(func=run_drill_command)


def run_drill_command(args: argparse.Namespace) -> int:
    try:
        result = run_drill(args.accounts)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    except (DrillError, EmulatorError, SettingsError, ClientError, BotoCoreError) as error:
        # SettingsError: the deployed guard's environment is wrong (a variable the stack forgot).
        print(f"drill failed: {error}", file=sys.stderr)
        return 1
    return 0 if result.ok else 1


def run_drill(
    fleet_file: Path,
    *,
    out: Callable[[str], None] = print,
    drop_statements: Sequence[str] = (),
    workdir_parent: Path | None = None,
    steps: Sequence[DrillStep] | None = None,
) -> DrillResult:
    """The whole drill; `drop_statements` removes those Sids from the target's guard role first
    (to prove the IAM check can fail). The emulator and the work directory never outlive it."""
    fleet = load_fleet(fleet_file)
    progress = Progress(out)
    workdir = Path(tempfile.mkdtemp(prefix="runawaytrain-drill-", dir=workdir_parent))
    try:
        # CreateOrganization draws an id for the management account (then keeps its own): the
        # payer's, so each CreateAccount draws its account's.
        account_ids = tuple(a.id for a in fleet.accounts)
        with Emulator(workdir / "moto.log", account_ids=account_ids) as emulator:
            assert emulator.process is not None
            progress(f"emulator: moto_server pid {emulator.process.pid} on {emulator.endpoint}")
            tripped, quiet, dry_run = choose_scenario(fleet)
            result = DrillResult(
                tripped=tripped.name if tripped else "",
                quiet=quiet.name if quiet else "",
                dry_run=dry_run.name if dry_run else "",
            )
            if tripped is None:
                progress(
                    f"no sub-account in enforce mode: {result.dry_run} (dry-run) is driven over "
                    "its limit to show what would trip; nothing is changed, nothing to restore"
                )
            drill = DrillContext(
                fleet=fleet,
                fleet_file=fleet_file,
                emulator=emulator,
                workdir=workdir,
                progress=progress,
                result=result,
                tripped=tripped,
                quiet=quiet,
                drop_statements=drop_statements,
            )
            run_steps(drill, STEPS if steps is None else steps)
            show_summary(result, progress)
            return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_steps(drill: DrillContext, steps: Sequence[DrillStep]) -> None:
    for number, step in enumerate(steps, start=1):
        drill.result.step = step.name
        drill.progress(f"step {number}/{len(steps)} {step.name}: {step.purpose}")
        step.run(drill)
