"""bench/synth.py counts what the app synthesizes for any fleet size, from the cloud assembly's
manifest: the payer's stacks included (issue 23: it counted N guards + billing + Region stacks
and failed its own check for any fleet with a member)."""

from __future__ import annotations

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from bench.synth import synthesize_in_this_process


def test_counts_the_payer_stacks_of_a_fleet_with_members() -> None:
    row = synthesize_in_this_process(3, cdk_validation=False, fast_trip=False)
    # 3 guards, the payer's billing stack and the payer stack (members report to it).
    assert row["stacks"] == 5
    assert row["largest_minified"] < row["largest_bytes"]
    assert row["breaches"] == []
