"""Benchmark: how long does `cdk synth` take for 1, 10 and 100 accounts, and how much memory?

Each size runs in a fresh process, as `cdk synth` runs app.py: generate a fleet file (the payer
plus N-1 sub-accounts, every one with a billing budget and fast trip on with `regions` unset, so
16 fast-trip Region stacks each; homes spread over four regions), load it, build the stacks and
synthesize them into a temporary directory. Wall time is the whole
process, start to exit; peak memory is the sum of each process's peak resident set (VmHWM):
Python plus the jsii kernel's node processes, where most of the work happens.

    .venv/bin/python bench/synth.py                     # 1, 10, 100 accounts
    .venv/bin/python bench/synth.py --sizes 100 --cdk-validation   # with CDK's validator on
    .venv/bin/python bench/synth.py --sizes 100 --no-fast-trip     # without Region stacks
    .venv/bin/python bench/synth.py --repeat 3                     # fastest of 3 runs per size

Target (issue 3): 100 accounts <= 15 s on a 2-core machine, growing linearly.
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

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS_AT_100 = 15.0
HOME_REGIONS = ("us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2")


def generate_fleet_yaml(count: int, fast_trip: bool = True) -> str:
    """The payer plus count-1 sub-accounts, all budgeted, so every account adds both stacks, and
    (with `fast_trip`) 16 fast-trip Region stacks each."""
    lines = [
        "defaults:",
        "  notify: [ops@example.com]",
        "  ec2_limit: 10",
        "  monthly_budget_usd: 1000",
        f"  fast_trip: {'true' if fast_trip else 'false'}",
        "payer:",
        '  id: "100000000000"',
        "  name: payer",
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
) -> dict[str, float]:
    """Runs in the child process; returns phase timings and peak memory."""
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import aws_cdk

    from runawaytrain_stack.config import load_fleet
    from runawaytrain_stack.fleet import add_fleet_stacks, new_app

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        fleet_file = Path(scratch) / "accounts.yaml"
        fleet_file.write_text(generate_fleet_yaml(count, fast_trip))
        fleet = load_fleet(fleet_file)
        outdir = str(Path(scratch) / "cdk.out")
        app = (
            aws_cdk.App(outdir=outdir, builtin_cloud_formation_validation=True)
            if cdk_validation
            else new_app(outdir=outdir)
        )
        stacks = add_fleet_stacks(app, fleet)
        built = time.perf_counter()
        assembly = app.synth()
        synthesized = time.perf_counter()
        regional = sum(map(len, stacks.fast_trip.values()))
        assert len(stacks.guards) == count
        assert len(assembly.stacks) == count + 1 + regional
    return {
        "stacks": len(assembly.stacks),
        "import_s": imported - started,
        "build_s": built - imported,
        "synth_s": synthesized - built,
        "peak_mib": read_peak_mib(os.getpid()),
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


def run_size(count: int, cdk_validation: bool, fast_trip: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(count)]
    if cdk_validation:
        command.append("--cdk-validation")
    if not fast_trip:
        command.append("--no-fast-trip")
    environment = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    started = time.perf_counter()
    result = subprocess.run(
        command, env=environment, capture_output=True, text=True, check=True, timeout=900
    )
    wall = time.perf_counter() - started
    return {"accounts": count, "wall_s": wall, **json.loads(result.stdout.splitlines()[-1])}


def print_report(rows: list[dict[str, float]]) -> None:
    header = (
        f"{'accounts':>8} {'stacks':>7} {'wall s':>7} {'import':>7} {'build':>7} {'synth':>7} "
        f"{'peak MiB':>9}"
    )
    print(header)
    for row in rows:
        print(
            f"{row['accounts']:>8.0f} {row['stacks']:>7.0f} {row['wall_s']:>7.2f} "
            f"{row['import_s']:>7.2f} {row['build_s']:>7.2f} {row['synth_s']:>7.2f} "
            f"{row['peak_mib']:>9.0f}"
        )
    by_size = {int(row["accounts"]): row for row in rows}
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
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
            key=lambda row: row["wall_s"],
        )
        for count in args.sizes
    ]
    print_report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
