"""The drill's `runawaytrain status` steps: the real command, run as an operator would (a
subprocess, the payer's credentials, the emulator's endpoint), before and after the trip."""

from __future__ import annotations

import os
import subprocess
import sys

from runawaytrain_cli.drill.scenario import DrillContext

STATUS_TIMEOUT_S = 120


def run_status(drill: DrillContext, *extra: str) -> tuple[int, str]:
    """`runawaytrain status --config <fleet> [extra]` with the payer's credentials."""
    payer = drill.fleet.payer
    session = drill.emulator.operator(payer.id, payer.home_region)
    credentials = session.get_credentials().get_frozen_credentials()
    env = drill.emulator.cli_environment()
    env.update(
        AWS_ACCESS_KEY_ID=credentials.access_key,
        AWS_SECRET_ACCESS_KEY=credentials.secret_key,
        AWS_SESSION_TOKEN=credentials.token or "",
        AWS_REGION=payer.home_region,
        AWS_DEFAULT_REGION=payer.home_region,
        PATH=f"{os.path.dirname(sys.executable)}:{env.get('PATH', '')}",
    )
    command = [sys.executable, "-m", "runawaytrain_cli.main", "status"]
    command += ["--config", str(drill.fleet_file), *extra]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=STATUS_TIMEOUT_S, check=False
    )
    return done.returncode, done.stdout + done.stderr


def detail(output: str) -> dict[str, str]:
    """`status --account NAME` prints `column: value` lines."""
    found = {}
    for line in output.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            found[key.strip()] = value.strip()
    return found


def step_status_before(drill: DrillContext) -> None:
    """Every guard deployed, none has run yet, nothing open."""
    code, table = run_status(drill)
    drill.progress.out(table.rstrip())
    drill.progress(
        "not emulated: moto's CloudFormation keeps no stack Outputs (status cannot find the "
        "notify topic) and creates no Scheduler schedule (MISSING); both are read from real "
        "AWS as the status tests in tests/cli show"
    )
    result = drill.result
    result.check(
        "status: runs and names every account",
        all(a.id in table for a in drill.fleet.accounts),
        f"exit {code}",
    )
    result.check(
        "status: no guard NOT DEPLOYED", "NOT DEPLOYED" not in table, "a guard stack is missing"
    )
    if drill.tripped is not None:
        _, shown = run_status(drill, "--account", drill.tripped.name)
        incident = detail(shown).get("open incident", "?")
        result.check(
            f"status: {drill.tripped.name} has no open incident yet", incident == "none", incident
        )


def step_status_after(drill: DrillContext) -> None:
    """The tripped account's open incident, its last run's verdict, its quarantine."""
    _, table = run_status(drill)
    drill.progress.out(table.rstrip())
    if drill.tripped is None:
        drill.result.skip("status: the tripped account's incident", "nothing was tripped")
        return
    _, shown = run_status(drill, "--account", drill.tripped.name)
    fields = detail(shown)
    report = drill.result.guards[drill.tripped.name].report
    incident = report.incident if report is not None else None
    drill.result.check(
        f"status: {drill.tripped.name} shows its open incident",
        incident is not None and fields.get("open incident") == incident,
        fields.get("open incident", "?"),
    )
    last = next((v for k, v in fields.items() if k.startswith("last run")), "?")
    drill.result.check(f"status: {drill.tripped.name}'s last run tripped", "trip" in last, last)
    if drill.tripped.quarantine:
        quarantine = fields.get("quarantine", "?")
        drill.result.check(
            f"status: {drill.tripped.name} quarantined",
            quarantine.startswith("attached"),
            quarantine,
        )
