"""`check` and `cdk synth` refuse, naming the limit, every fleet AWS would refuse once built
(runawaytrain_stack/stack_limits.py); and each limit's computation matches what synth writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runawaytrain_stack import stack_limits
from runawaytrain_stack.config import ConfigError, parse_fleet
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from runawaytrain_stack.fleet_model import Fleet
from tests.stack.template_policies import SynthesizedStack, load_stacks

ROOT = Path(__file__).resolve().parents[2]


def fleet_yaml(
    members: int,
    *,
    scps: bool = False,
    shared_notify: str | None = None,
    budgets: int = 0,
    spend_limits: int = 0,
    extra_notify: bool = False,
) -> str:
    """The payer plus `members` member accounts. Without `scps` there are no quarantine or
    guard-protection SCPs (they take ~10 ms a member to build); the first `budgets` accounts
    have a monthly budget, the first `spend_limits` a spend limit (with a `cur:`)."""
    lines = [
        "defaults:",
        "  notify: [ops@example.com]",
        "  ec2_limit: 10",
        "  fast_trip: false",
        *([] if scps else ["  quarantine: false"]),
        *(["cur: {bucket: payer-cur, prefix: cur, report_name: hourly}"] if spend_limits else []),
        *([] if scps else ["protect_guards: false"]),
        "payer:",
        '  id: "100000000000"',
        "  name: payer",
        "  quarantine: false",
        "accounts:",
    ]
    for index in range(members + 1):
        limits = ["monthly_budget_usd: 100"] if index < budgets else []
        limits += ["max_spend_per_day_usd: 20"] if index < spend_limits else []
        if index == 0:  # the payer: its keys go above `accounts:`, its notify is the default
            lines[-1:-1] = [f"  {limit}" for limit in limits]
            continue
        notify = [f"team-{index}@example.com"]
        notify += [shared_notify] if shared_notify else []
        notify += [f"lead-{index}@example.com"] if extra_notify else []
        lines += [
            f'  - id: "{200000000000 + index}"',
            f"    name: account-{index:04d}",
            f"    notify: [{', '.join(notify)}]",
            *(f"    {limit}" for limit in limits),
        ]
    return "\n".join(lines) + "\n"


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_fleet(text, "fleet.yaml")
    return str(raised.value)


def measured(text: str) -> Fleet:
    return parse_fleet(text, "fleet.yaml", check_limits=False)


def test_refuses_151_members_sharing_one_notify_address_at_the_151st() -> None:
    text = fleet_yaml(151, shared_notify="all@example.com")
    message = refusal(text)
    line = text.splitlines().index('  - id: "200000000151"') + 3  # its notify line
    assert (
        f"fleet.yaml:{line}: accounts[150].notify: all@example.com is the notify address of "
        in (message)
    )
    assert "filter policy allows at most 150 values" in message
    assert (
        stack_limits.check_notify_filter_values(measured(fleet_yaml(150, shared_notify="a@b.co")))
        == []
    )


def test_refuses_budgets_that_overflow_the_billing_stack() -> None:
    message = refusal(fleet_yaml(249, budgets=249))
    assert "give the billing stack 503 resources" in message
    assert "set budgets on at most 247 accounts" in message
    assert "over CloudFormation's 500 per stack" in message
    assert stack_limits.check_billing_resources(measured(fleet_yaml(247, budgets=247))) == []


def test_refuses_a_payer_stack_over_500_resources() -> None:
    # Two member-only addresses each: one subscription per address in the payer stack.
    message = refusal(fleet_yaml(243, extra_notify=True))
    assert "243 member accounts give the payer stack 503 resources" in message
    assert "with organization:" in message


def test_refuses_a_payer_template_over_1_mb() -> None:
    message = refusal(fleet_yaml(70, scps=True))
    assert "70 member accounts make the payer stack's template about 1," in message
    assert "over CloudFormation's 1,000,000 for a template deployed from S3" in message
    small = measured(fleet_yaml(40, scps=True))
    assert stack_limits.check_payer_template_bytes(small) == []


def test_a_watchdog_of_many_accounts_reads_them_from_a_layer_not_its_environment() -> None:
    """Lambda allows 4,096 bytes for all variables: past ~16 accounts the watched list moves to
    a layer file (watchdog.py), so a fleet of 30 is not refused for it."""
    fleet = measured(fleet_yaml(30))
    assert stack_limits.check_watchdog_environment(fleet) == []
    assert stack_limits.size_watchdog_environment(fleet) < 1000


def test_refuses_a_quarantine_environment_over_4_kb() -> None:
    assert "the payer's quarantine function would have a " in refusal(fleet_yaml(75, scps=True))


def test_refuses_a_spend_watcher_environment_over_4_kb() -> None:
    message = refusal(fleet_yaml(180, spend_limits=181))
    assert "the payer's spend watcher function would have a " in message
    assert "set max_spend_per_day_usd on fewer accounts" in message


def test_refuses_a_payer_bus_policy_over_10240_characters() -> None:
    message = refusal(fleet_yaml(130))
    assert "make the payer bus's resource policy 10," in message
    assert "over EventBridge's 10,240" in message


def test_refuses_an_event_pattern_over_2048_characters() -> None:
    message = refusal(fleet_yaml(140))
    assert "the payer's Heartbeats rule lists " in message
    assert "over EventBridge's event pattern size of 2,048" in message


def test_check_command_and_cdk_app_print_the_limit_without_a_traceback(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(fleet_yaml(75, scps=True))
    environment = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambda"), str(ROOT)]),
        "CDK_CONTEXT_JSON": json.dumps({"accounts": str(fleet_file)}),
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
    }
    commands = {
        "check": [sys.executable, "-m", "runawaytrain_cli.main", "check", str(fleet_file)],
        "app.py": [sys.executable, str(ROOT / "app.py")],
    }
    for name, command in commands.items():
        done = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 1, (name, done.stdout, done.stderr)
        assert "quarantine function would have a " in done.stderr, (name, done.stderr)
        assert "Traceback" not in done.stderr, (name, done.stderr)
    assert not list(tmp_path.glob("cdk.out/*.template.json"))  # nothing synthesized


# --- each computation against what synth writes -------------------------------------------

MIXED_FLEET_YAML = """\
defaults:
  notify: [ops@example.com]
  ec2_limit: 10
  fast_trip: false
cur: {bucket: payer-cur, prefix: cur, report_name: hourly}
payer:
  id: "100000000000"
  name: payer
  quarantine: false
  notify: [ops@example.com, Finance@example.com]
  monthly_budget_usd: 1000
accounts:
  - id: "200000000001"
    name: prod
    notify: [prod-team@example.com, shared@example.com]
    break_glass: [BreakGlassAdmin, incident-responder]
    monthly_budget_usd: 500
    max_spend_per_day_usd: 100
  - id: "200000000002"
    name: staging
    notify: [shared@example.com, ops@example.com]
    quarantine: false
    max_spend_per_day_usd: 50
  - id: "200000000003"
    name: sandbox-with-a-longer-name
    notify: [finance@example.com, sandbox@example.com]
    monthly_budget_usd: 75.5
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fleet, dict[str, SynthesizedStack]]:
    fleet = parse_fleet(MIXED_FLEET_YAML)
    outdir = tmp_path_factory.mktemp("limits")
    app = new_app(outdir=str(outdir))
    add_fleet_stacks(app, fleet)
    app.synth()
    return fleet, {stack.name: stack for stack in load_stacks(outdir)}


def _resources(stack: SynthesizedStack, kind: str) -> list[dict]:
    return [r for r in stack.resources.values() if r["Type"] == kind]


def _environment(stack: SynthesizedStack, fragment: str) -> int:
    function = next(
        r
        for r in _resources(stack, "AWS::Lambda::Function")
        if fragment in r["Properties"]["Handler"]
    )
    variables = stack.resolve(function["Properties"]["Environment"]["Variables"])
    return stack_limits.size_environment(variables)


def test_resource_counts_are_the_synthesized_ones(mixed) -> None:
    fleet, stacks = mixed
    assert stack_limits.count_payer_resources(fleet) == len(stacks["runawaytrain-payer"].resources)
    billing = stacks["runawaytrain-billing"].resources
    assert stack_limits.count_billing_resources(fleet) == len(billing)


def test_payer_template_estimate_is_within_one_percent_above_the_written_size(
    mixed, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for fleet in (mixed[0], measured(fleet_yaml(12, scps=True, extra_notify=True))):
        outdir = tmp_path_factory.mktemp("payer-bytes")
        app = new_app(outdir=str(outdir))
        add_fleet_stacks(app, fleet)
        app.synth()
        written = (outdir / "runawaytrain-payer.template.json").stat().st_size
        estimate = stack_limits.estimate_payer_template_bytes(fleet)
        assert written <= estimate <= written * 1.01, (written, estimate)


def test_sizes_are_at_least_the_synthesized_ones(mixed) -> None:
    fleet, stacks = mixed
    payer, billing = stacks["runawaytrain-payer"], stacks["runawaytrain-billing"]
    for size, actual in (
        (stack_limits.size_watchdog_environment(fleet), _environment(payer, "watchdog.")),
        (stack_limits.size_quarantine_environment(fleet), _environment(payer, "quarantine.")),
        (stack_limits.size_spend_environment(fleet), _environment(billing, "spend.")),
    ):
        assert actual <= size <= actual + 60  # the topic ARN is taken at its longest
    (bus_policy,) = _resources(payer, "AWS::Events::EventBusPolicy")
    statement = payer.resolve(bus_policy["Properties"]["Statement"])
    expected = {"Version": "2012-10-17", "Statement": [statement]}
    assert stack_limits.size_bus_policy(fleet) == len(json.dumps(expected, separators=(",", ":")))
    patterns = sorted(
        len(json.dumps(rule["Properties"]["EventPattern"], separators=(",", ":")))
        for rule in _resources(payer, "AWS::Events::Rule")
        if "account" in rule["Properties"].get("EventPattern", {})
    )
    assert sorted(stack_limits.size_event_patterns(fleet).values()) == patterns
