"""Fleets and synthesized apps shared by the stack tests, each built and synthesized once.

Synthesis costs seconds (the jsii bridge), so apps are session fixtures and tests only read them.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from pathlib import Path

import pytest
from aws_cdk import App

from runawaytrain_stack.config import load_fleet, parse_fleet
from runawaytrain_stack.fleet import FleetStacks, add_fleet_stacks, new_app
from runawaytrain_stack.fleet_model import Fleet

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FLEET_FILE = REPO_ROOT / "accounts.yaml"

# Covers what the sample does not: a payer outside us-east-1, an account without a budget, and
# every optional key set away from its default on one account or another (sandbox: no fast trip).
TEST_FLEET_YAML = """\
defaults:
  notify: [team@example.com]
payer:
  id: "100000000001"
  name: root
  ec2_limit: 1
  home_region: eu-central-1
  monthly_budget_usd: 50
accounts:
  - id: "200000000002"
    name: prod
    notify: [ops@example.com, oncall@example.com, cto@example.com]
    ec2_limit: 40
    home_region: eu-west-1
    regions: [eu-west-1, us-east-1]
    lockout: users
    break_glass: [breakglass-admin, Deployer]
    monthly_budget_usd: 5000.5
    max_vcpus: 512
    max_gpus: 16
    max_usd_per_hour: 120.5
  - id: "300000000003"
    name: sandbox
    ec2_limit: 0
    schedule_minutes: 15
    mode: dry-run
    lockout: users+roles
    launch_block: false
    fast_trip: false
"""


@pytest.fixture(scope="session")
def test_fleet() -> Fleet:
    return parse_fleet(TEST_FLEET_YAML, "test-fleet.yaml")


@pytest.fixture(scope="session")
def sample_fleet() -> Fleet:
    return load_fleet(SAMPLE_FLEET_FILE)


def _synthesize(fleet: Fleet, outdir: Path) -> tuple[App, FleetStacks]:
    app = new_app(outdir=str(outdir))
    stacks = add_fleet_stacks(app, fleet)
    app.synth()
    return app, stacks


@pytest.fixture(scope="session")
def test_app(
    test_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> tuple[App, FleetStacks]:
    return _synthesize(test_fleet, tmp_path_factory.mktemp("test-fleet"))


@pytest.fixture(scope="session")
def sample_app(
    sample_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> tuple[App, FleetStacks]:
    return _synthesize(sample_fleet, tmp_path_factory.mktemp("sample-fleet"))


@pytest.fixture(scope="session")
def spend_limits_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[App, FleetStacks]:
    """The spend stack tests' fleet (a CUR location, spend limits), for checks over every fleet
    shape; tests/stack/test_spend_stack.py keeps its own module-scoped copy."""
    from tests.stack.test_spend_stack import SPEND_FLEET_YAML

    return _synthesize(
        parse_fleet(SPEND_FLEET_YAML, "spend-fleet.yaml"), tmp_path_factory.mktemp("spend-fleet")
    )


# Organisation delivery (issue 23): the sample with organization: and the defaults an unlisted
# account of a target OU is guarded with.
ORG_FLEET_YAML = (
    SAMPLE_FLEET_FILE.read_text().replace(
        "defaults:\n", "defaults:\n  notify: [everyone@example.com]\n  ec2_limit: 3\n", 1
    )
    + "\norganization:\n  id: o-abcdef1234\n  target_ous: [ou-ab12-cdef3456]\n"
)


@pytest.fixture(scope="session")
def org_fleet() -> Fleet:
    return parse_fleet(ORG_FLEET_YAML, "org-fleet.yaml")


@pytest.fixture(scope="session")
def org_app(org_fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> tuple[App, FleetStacks]:
    return _synthesize(org_fleet, tmp_path_factory.mktemp("org-fleet"))


@pytest.fixture(scope="session")
def organization_app(org_app: tuple[App, FleetStacks]) -> tuple[App, FleetStacks]:
    """The organisation fleet under the name the deploy-permission checks use."""
    return org_app
