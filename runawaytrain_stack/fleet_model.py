"""The fleet as the rest of the app sees it: frozen, typed accounts with every default filled in.

config.py builds these from accounts.yaml (and rejects a file with any problem); the stacks, the
names and the SCPs read them. Kept apart from the loader so that the modules the loader's checks
use (names.py, scp.py) depend on the model only, never back on the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guard.blindness import DEFAULT_BLIND_RUNS_TO_TRIP
from guard.service_names import DEFAULT_HALT
from guard.settings import Lockout, Mode, Unstoppable

DEFAULT_SCHEDULE_MINUTES = 5
DEFAULT_HOME_REGION = "us-east-1"
# The role operators (and `runawaytrain restore`) assume from the payer into a member account:
# AWS Organizations creates it in every account it creates (Organizations User Guide, "Accessing
# a member account that has a management account access role"), never in the management account.
DEFAULT_OPERATOR_ROLE = "OrganizationAccountAccessRole"
# The Regions enabled in every AWS account: "Regions launched before March 20, 2019 are enabled by
# default" and "cannot be enabled or disabled" (AWS Account Management Reference Guide, "Enable or
# disable AWS Regions in your account"); every later Region is opt-in. Commercial partition only.
DEFAULT_ENABLED_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
)


@dataclass(frozen=True)
class Account:
    """One guarded account with every default filled in."""

    id: str
    name: str
    notify: tuple[str, ...]
    ec2_limit: int
    schedule_minutes: int = DEFAULT_SCHEDULE_MINUTES
    # A Region that held instances and cannot be counted (throttled, refused) for this many runs
    # in a row trips the breaker; the reasoning for the default: lambda/guard/blindness.py.
    blind_runs_to_trip: int = DEFAULT_BLIND_RUNS_TO_TRIP
    mode: Mode = Mode.ENFORCE
    lockout: Lockout = Lockout.NONE
    # A trip in enforce mode attaches the launch-block policy to every principal the guard may
    # touch (lambda/guard/launch_block.py), whatever `lockout` says; restore detaches it.
    launch_block: bool = True
    break_glass: tuple[str, ...] = ()
    home_region: str = DEFAULT_HOME_REGION
    # Where fast trip listens for launches (empty: the default-enabled regions plus home). The
    # census always counts every region the account has enabled, whatever this says.
    regions: tuple[str, ...] = ()
    monthly_budget_usd: float | None = None  # None: no billing alarm
    max_spend_per_day_usd: float | None = None  # None: no spend-rate trip
    fast_trip: bool = True  # EC2 launches prompt a census at once (fast_trip.py)
    unstoppable: Unstoppable = Unstoppable.TERMINATE_SPOT  # what a trip does to one-time Spot
    # The kinds of capacity outside EC2 a trip halts (lambda/guard/service_names.py).
    halt: frozenset[str] = DEFAULT_HALT
    # A trip in enforce mode has the payer attach the quarantine SCP (member accounts only: SCPs
    # do not bind the management account). Filled in by _resolve: True for members.
    quarantine: bool = False
    # Weighted limits (None: not checked); the guard trips when any is exceeded (README).
    max_vcpus: int | None = None
    max_gpus: int | None = None
    max_usd_per_hour: float | None = None


@dataclass(frozen=True)
class CurConfig:
    """The fleet's `cur:`: where the payer's Cost and Usage Report is delivered."""

    bucket: str
    prefix: str
    report_name: str


@dataclass(frozen=True)
class Organization:
    """The fleet's `organization:`: members are delivered by StackSets to these OUs, and every
    account in them is guarded, on `defaults` unless listed (docs/deploy.md)."""

    id: str
    target_ous: tuple[str, ...]
    # The watchdog's time for a joining account's first heartbeat (lambda/watchdog/joined.py).
    join_minutes: int = 30

    @property
    def member_conditions(self) -> dict[str, dict[str, Any]]:
        """The condition a payer resource policy admits the members with: a principal of the
        organisation (aws:PrincipalOrgID) in one of the target OUs or below them
        (aws:PrincipalOrgPaths: "o-id/r-root/ou-parent/ou-child/", multivalued, so
        ForAnyValue:StringLike; `*` matches any characters, slashes included: IAM User Guide,
        "AWS global condition context keys" and "Condition operators"). The organisation alone
        also admitted accounts outside the target OUs, where no protection SCP binds: an
        administrator there could make a /runawaytrain/ role and forge the payer's mail or a
        guard's heartbeat. A missing key matches nothing, so a principal outside any
        organisation is refused."""
        return {
            "StringEquals": {"aws:PrincipalOrgID": self.id},
            "ForAnyValue:StringLike": {
                "aws:PrincipalOrgPaths": [f"{self.id}/*/{ou}/*" for ou in self.target_ous]
            },
        }


@dataclass(frozen=True)
class Fleet:
    payer: Account
    sub_accounts: tuple[Account, ...]
    cur: CurConfig | None = None
    protect_guards: bool = True  # the standing SCP: nobody inside a member switches its guard off
    operator_role: str = DEFAULT_OPERATOR_ROLE
    # Identity Center permission sets exempt from both SCPs in every member (e.g. BreakGlass).
    break_glass_permission_sets: tuple[str, ...] = ()
    # None: every account is deployed by `cdk deploy` (as before issue 23).
    organization: Organization | None = None
    # With `organization`: what an unlisted account in a target OU is guarded with (accounts.yaml
    # `defaults` filled in like a member's; its id and name are placeholders). None otherwise.
    defaults: Account | None = None

    @property
    def accounts(self) -> tuple[Account, ...]:
        """Every guarded account, the payer first."""
        return (self.payer, *self.sub_accounts)

    @property
    def has_payer_stack(self) -> bool:
        """The payer's stack (bus, SCPs, quarantine, watchdog) exists: with member accounts,
        listed or, under `organization:`, joining its target OUs."""
        return bool(self.sub_accounts) or self.organization is not None

    @property
    def budgeted_accounts(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.monthly_budget_usd is not None)

    @property
    def spend_limited_accounts(self) -> tuple[Account, ...]:
        return tuple(a for a in self.accounts if a.max_spend_per_day_usd is not None)

    @property
    def has_billing_stack(self) -> bool:
        """The payer's us-east-1 stack exists for billing alarms or the spend watcher."""
        return bool(self.budgeted_accounts) or self.cur is not None


def list_fast_trip_regions(account: Account) -> tuple[str, ...]:
    """The Regions whose EC2 launches prompt `account`'s guard at once; empty with fast trip off.

    `regions:` when set. Otherwise every Region enabled by default
    plus the home Region (a home in an opt-in Region is enabled, or the guard could not run
    there). An opt-in Region the account enabled is watched only when listed in `regions:`; the
    scheduled census counts it either way (the guard asks EC2 which Regions are enabled).
    """
    if not account.fast_trip:
        return ()
    if account.regions:
        return account.regions
    if account.home_region in DEFAULT_ENABLED_REGIONS:
        return DEFAULT_ENABLED_REGIONS
    return (*DEFAULT_ENABLED_REGIONS, account.home_region)


def list_member_home_regions(fleet: Fleet) -> tuple[str, ...]:
    """Organisation delivery: the members' home Regions, `defaults`' and every listed
    member's (a payer code bucket and stack each: members.py)."""
    homes = {a.home_region for a in fleet.sub_accounts}
    if fleet.defaults is not None:
        homes.add(fleet.defaults.home_region)
    return tuple(sorted(homes))
