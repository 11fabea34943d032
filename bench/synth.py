"""Benchmark: what `cdk synth` builds for a fleet of N accounts, how long it takes, how much memory.

Each size runs in a fresh process, as `cdk synth` runs app.py: generate a fleet file (the payer
plus N-1 sub-accounts, every one with a billing budget and fast trip on with `regions` unset, so
16 fast-trip Region stacks each; homes spread over four regions), load it, build the stacks and
synthesize them into a temporary directory. Wall time is the whole
process, start to exit; peak memory is the sum of each process's peak resident set (VmHWM):
Python plus the jsii kernel's node processes, where most of the work happens.

What was built is read from the cloud assembly's manifest (cdk.out/manifest.json), as `cdk
deploy` reads it: the stacks (checked against the list `runawaytrain check` prints), the most
resources in one stack and the largest template, as written (what the CDK CLI uploads) and
minified. The fleet is loaded without the limit checks (stack_limits.py), so a fleet past them
is still measured; each limit it passes is printed under its row, and a fleet aws-cdk-lib
itself refuses at synth (over 500 resources in a stack) is reported as refused.

    .venv/bin/python bench/synth.py                     # 1, 10, 100 accounts
    .venv/bin/python bench/synth.py --sizes 4 100 1000             # issue 23's sizes
    .venv/bin/python bench/synth.py --sizes 100 --repeat 3 --cdk   # and `npx cdk synth`, best of 3
    .venv/bin/python bench/synth.py --sizes 100 --cdk-validation   # with CDK's validator on
    .venv/bin/python bench/synth.py --sizes 100 --no-fast-trip     # without Region stacks

Target (issue 3): 100 accounts <= 15 s on a 2-core machine, growing linearly; issue 23: `cdk
synth` <= 10 s at 100 accounts, every template within CloudFormation's limits at 1,000.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runawaytrain_stack.fleet_model import Fleet

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS_AT_100 = 15.0
HOME_REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2")


# With --organization (passed to the child processes and the CDK app through the environment):
# members delivered by the payer's StackSets (docs/deploy.md), the payer alone budgeted.
ORGANIZATION_ENV = "RUNAWAYTRAIN_BENCH_ORGANIZATION"


def generate_fleet_yaml(count: int, fast_trip: bool = True) -> str:
    """The payer plus count-1 sub-accounts, all budgeted, so every account adds both stacks, and
    (with `fast_trip`) 16 fast-trip Region stacks each. Under --organization, the same accounts
    in an organisation: no member stacks, and only the payer budgeted."""
    organization = os.environ.get(ORGANIZATION_ENV) == "1"
    lines = [
        "defaults:",
        "  notify: [ops@example.com]",
        "  ec2_limit: 10",
        *([] if organization else ["  monthly_budget_usd: 1000"]),
        f"  fast_trip: {'true' if fast_trip else 'false'}",
        *(
            ["organization:", "  id: o-abcdef1234", "  target_ous: [ou-ab12-cdef3456]"]
            if organization
            else []
        ),
        "payer:",
        '  id: "100000000000"',
        "  name: payer",
        *(["  monthly_budget_usd: 1000"] if organization else []),
        "accounts:" if count > 1 else "",
    ]
    for index in range(1, count):
        lines += [
            f'  - id: "{100000000000 + index}"',
            f"    name: account-{index:03d}",
            f"    home_region: {HOME_REGIONS[index % len(HOME_REGIONS)]}",
            f"    notify: [team-{index}@example.com, ops@example.com]",
        ]
    return "\n".join(lines) + "\n"


def synthesize_in_this_process(
    count: int, cdk_validation: bool, fast_trip: bool
) -> dict[str, object]:
    """Runs in the child process; returns phase timings, peak memory and what the cloud
    assembly holds, read from its manifest (cdk.out/manifest.json), as `cdk deploy` reads it."""
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import aws_cdk

    from runawaytrain_stack.config import parse_fleet
    from runawaytrain_stack.fleet import add_fleet_stacks, new_app
    from runawaytrain_stack.stack_limits import find_breaches

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        # Without the limit checks, so that a fleet past them is still measured; which limits
        # it passes is reported beside (`runawaytrain check` and app.py refuse such a fleet).
        fleet = parse_fleet(generate_fleet_yaml(count, fast_trip), "bench", check_limits=False)
        breaches = [breach.message for breach in find_breaches(fleet)]
        outdir = Path(scratch) / "cdk.out"
        app = (
            aws_cdk.App(outdir=str(outdir), builtin_cloud_formation_validation=True)
            if cdk_validation
            else new_app(outdir=str(outdir))
        )
        add_fleet_stacks(app, fleet)
        built = time.perf_counter()
        try:
            app.synth()
        except RuntimeError as error:  # jsii: aws-cdk-lib refused (e.g. TooManyResourcesInStack)
            return {"refused": str(error).splitlines()[0], "breaches": breaches}
        synthesized = time.perf_counter()
        templates = read_assembly(outdir)
        check_stack_names(fleet, templates)
    return {
        "stacks": len(templates),
        **describe_templates(templates),
        "breaches": breaches,
        "import_s": imported - started,
        "build_s": built - imported,
        "synth_s": synthesized - built,
        "peak_mib": read_peak_mib(os.getpid()),
    }


def synthesize_as_cdk_app(count: int) -> None:
    """What app.py does, for the generated fleet and without the limit checks: the app the CDK
    CLI runs under `--cdk` (it sets CDK_OUTDIR)."""
    sys.path.insert(0, str(ROOT))
    from runawaytrain_stack.config import parse_fleet
    from runawaytrain_stack.fleet import add_fleet_stacks, new_app

    app = new_app(outdir=os.environ["CDK_OUTDIR"])
    add_fleet_stacks(app, parse_fleet(generate_fleet_yaml(count), "bench", check_limits=False))
    app.synth()


def time_cdk_synth(count: int) -> float:
    """Wall time of `npx cdk synth --quiet` (the CDK CLI, node start to exit) for the generated
    fleet; the CLI runs this script as its app (synthesize_as_cdk_app)."""
    app = f"{sys.executable} {Path(__file__).resolve()} --as-cdk-app {count}"
    environment = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    with tempfile.TemporaryDirectory() as scratch:
        command = ["npx", "cdk", "synth", "--quiet", "--no-notices", "--app", app]
        command += ["--output", str(Path(scratch) / "cdk.out")]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, check=True)
        return time.perf_counter() - started


def read_assembly(outdir: Path) -> dict[str, bytes]:
    """Each CloudFormation stack of the assembly: its name and its template as written."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        artifact.get("displayName", name): (
            outdir / artifact["properties"]["templateFile"]
        ).read_bytes()
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def check_stack_names(fleet: Fleet, templates: dict[str, bytes]) -> None:
    """The assembly holds exactly the stacks `runawaytrain check` lists (names.py)."""
    from runawaytrain_stack.names import list_account_stacks

    listed = {name for a in fleet.accounts for name in list_account_stacks(fleet, a)}
    if listed != set(templates):
        only_built, only_listed = sorted(set(templates) - listed), sorted(listed - set(templates))
        raise SystemExit(f"assembly and check differ: built {only_built}, listed {only_listed}")


def describe_templates(templates: dict[str, bytes]) -> dict[str, object]:
    """The stack with most resources and the largest template, as written and minified (the
    CDK CLI uploads the written file: stack_limits.py MAX_TEMPLATE_BYTES)."""
    sizes = {}
    for name, written in templates.items():
        template = json.loads(written)
        minified = len(json.dumps(template, separators=(",", ":")).encode())
        sizes[name] = (len(template.get("Resources", {})), len(written), minified)
    most = max(sizes, key=lambda name: sizes[name][0])
    largest = max(sizes, key=lambda name: sizes[name][1])
    return {
        "max_resources": sizes[most][0],
        "max_resources_stack": most,
        "largest_bytes": sizes[largest][1],
        "largest_minified": sizes[largest][2],
        "largest_stack": largest,
    }


def read_peak_mib(pid: int) -> float:
    """Sum of VmHWM (peak resident set) over `pid` and all its descendants."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        parents[int(stat.parent.name)] = int(fields[1])
    family = {pid}
    while grown := {child for child, parent in parents.items() if parent in family} - family:
        family |= grown
    peak_kib = 0
    for member in family:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak_kib += int(line.split()[1])
    return peak_kib / 1024


def run_size(count: int, cdk_validation: bool, fast_trip: bool) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", str(count)]
    if cdk_validation:
        command.append("--cdk-validation")
    if not fast_trip:
        command.append("--no-fast-trip")
    environment = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    started = time.perf_counter()
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, check=True, timeout=3600
    )
    wall = time.perf_counter() - started
    return {"accounts": count, "wall_s": wall, **json.loads(result.stdout.splitlines()[-1])}


def print_report(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'accounts':>8} {'stacks':>7} {'wall s':>7} {'synth':>6} {'peak MiB':>8} "
        f"{'max res':>7} {'largest template bytes (minified)':>34}  stacks with most / largest"
    )
    for row in rows:
        if "refused" in row:
            print(f"{row['accounts']:>8} refused by aws-cdk-lib at synth: {row['refused']}")
        else:
            print(
                f"{row['accounts']:>8} {row['stacks']:>7} {row['wall_s']:>7.2f} "
                f"{row['synth_s']:>6.2f} {row['peak_mib']:>8.0f} {row['max_resources']:>7} "
                f"{row['largest_bytes']:>20,} ({row['largest_minified']:>11,})  "
                f"{row['max_resources_stack']} / {row['largest_stack']}"
            )
        for breach in row["breaches"]:
            print(f"{'':>8} over a limit (check refuses it): {breach}")
    by_size = {int(row["accounts"]): row for row in rows if "refused" not in row}
    if 10 in by_size and 100 in by_size:
        marginal = (by_size[100]["wall_s"] - by_size[10]["wall_s"]) / 90
        fixed = by_size[10]["wall_s"] - 10 * marginal
        print(f"growth 10 -> 100: {marginal * 1000:.0f} ms per account on {fixed:.1f} s fixed")
    if 100 in by_size:
        wall = by_size[100]["wall_s"]
        verdict = "meets" if wall <= TARGET_SECONDS_AT_100 else "MISSES"
        print(f"100 accounts: {wall:.1f} s, {verdict} the {TARGET_SECONDS_AT_100:.0f} s target")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each size this many times and keep the fastest (a shared machine is noisy)",
    )
    parser.add_argument(
        "--cdk-validation",
        action="store_true",
        help="turn CDK's built-in CloudFormation validation back on (app.py turns it off)",
    )
    parser.add_argument(
        "--no-fast-trip",
        dest="fast_trip",
        action="store_false",
        help="generate the fleet with fast_trip: false (no Region stacks), for comparison",
    )
    parser.add_argument(
        "--cdk",
        action="store_true",
        help="also time `npx cdk synth` (the CLI around the app) for each size",
    )
    parser.add_argument(
        "--organization",
        action="store_true",
        help="generate an organisation fleet (organization:, members by StackSets)",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--as-cdk-app", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.organization:
        os.environ[ORGANIZATION_ENV] = "1"  # the child processes and the CDK app read it
    if args.as_cdk_app is not None:
        synthesize_as_cdk_app(args.as_cdk_app)
        return 0
    if args.child is not None:
        result = synthesize_in_this_process(args.child, args.cdk_validation, args.fast_trip)
        print(json.dumps(result))
        return 0
    print(
        f"synth benchmark on {os.cpu_count()} cores, cdk validation {args.cdk_validation}, "
        f"fast trip {args.fast_trip}"
    )
    rows = [
        min(
            (run_size(count, args.cdk_validation, args.fast_trip) for _ in range(args.repeat)),
            key=lambda row: float(row["wall_s"]),
        )
        for count in args.sizes
    ]
    print_report(rows)
    if args.cdk:
        for count in args.sizes:
            best = min(time_cdk_synth(count) for _ in range(args.repeat))
            print(f"npx cdk synth, {count} accounts: {best:.1f} s (best of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
