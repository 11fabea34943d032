"""The drill's scenario: which accounts to trip, what to seed into them, and the results record.

The tripped account gets instances over its limit in 3 regions plus, in its first region, the
capacity a halt must handle with care (see `Capacity`): an Auto Scaling group, a group whose warm
pool is kept Running, a `maintain` Spot Fleet, a persistent Spot instance, a stop-protected
instance and a launch still pending at the trip; IAM users with access keys (and a role when its
lockout is users+roles), and a role that may launch (the launch block must refuse it after the
trip). Another enforcing account stays under its limit; a dry-run account, if any, goes over its
limit (it must change nothing).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guard.report import Report
from guard.settings import Lockout, Mode
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.services import seed_services
from runawaytrain_stack.fleet_model import Account, Fleet

AMI = "ami-12c6146b"  # moto accepts any id when its AMI catalogue is not loaded
SEED_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
SEED_USERS = ("alice", "bob")
SEED_ROLE = "drill-ci-deployer"  # locked too when the tripped account's lockout is users+roles
SEED_LAUNCHER = "drill-launcher"  # may launch: the launch block must refuse it (launch_probe.py)
SEED_GROUP = "drill-workers"  # an Auto Scaling group in the tripped account
# A group of none whose warm pool keeps 2 instances Running (max 2 - desired 0): no group
# instance holds it, only its pool runs (issue 20).
SEED_WARM_GROUP = "drill-warm-pool"
SEED_WARM_POOL = {"PoolState": "Running", "MinSize": 1, "MaxGroupPreparedCapacity": 2}
SEED_FLEET_CAPACITY = 3  # one-time Spot instances of a `maintain` Spot Fleet
# A Spot instance AWS lets the guard stop: RunInstances with a persistent request whose
# interruption behaviour is stop (EC2 User Guide, "Stop a Spot Instance").
PERSISTENT_SPOT = {
    "MarketType": "spot",
    "SpotOptions": {"SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "stop"},
}
SETTLE_TIMEOUT_S = 30.0  # for the seeded instances to leave `pending` before the trip


@dataclass
class Capacity:
    """What the tripped account holds besides plain on-demand instances, all in `region`."""

    region: str
    regions: list[str] = field(default_factory=list)  # every region seeded in the account
    spot_fleet: str = ""
    spot_instances: list[str] = field(default_factory=list)  # the fleet's one-time Spot
    persistent_spot: str = ""  # Spot of a persistent request: stopped, never terminated
    protected: str = ""  # DisableApiStop true
    pending: str = ""  # launched just before the trip
    pending_state: str = ""  # its state as the drill saw it right after launching it
    group_instances: list[str] = field(default_factory=list)
    warm_pool: dict[str, Any] = field(default_factory=dict)  # as DescribeWarmPool read it back
    warm_instances: list[str] = field(default_factory=list)  # Warmed:Running at the trip
    before_trip: set[str] = field(default_factory=set)  # every instance id of the account
    waited_s: float = 0.0  # how long the trip's guard waited for pending instances
    # Capacity outside EC2 (drill/services.py): {kind: what the drill read before the trip}.
    services_before: dict[str, dict[str, Any]] = field(default_factory=dict)

    def sleep(self, seconds: float) -> None:
        """The tripped guard's sleep: a real one, counted."""
        time.sleep(seconds)
        self.waited_s += seconds


@dataclass
class Check:
    """One thing the drill verified (or could not, and says why: `skipped`)."""

    step: str
    name: str
    ok: bool
    detail: str = ""
    skipped: str = ""  # why this check could not be made; a skipped check neither passes nor fails


@dataclass
class Guard:
    """One deployed guard, as read back from the emulator."""

    account: Account
    function: str
    role_arn: str
    environment: dict[str, str]
    queue_url: str = ""
    queue_region: str = ""  # the topic's region: SNS delivers to SQS in the same region
    report: Report | None = None
    mail: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DrillResult:
    checks: list[Check] = field(default_factory=list)
    step: str = ""  # the step running now: every check made is grouped under it
    guards: dict[str, Guard] = field(default_factory=dict)
    restore: Report | None = None
    tripped: str = ""
    quiet: str = ""
    dry_run: str = ""  # a dry-run account seeded over its limit: reports, changes nothing
    seeded: dict[str, list[str]] = field(default_factory=dict)  # account name -> instance ids
    not_emulated: list[str] = field(default_factory=list)
    capacity: Capacity | None = None  # the tripped account's Spot Fleet, group, protected...
    # The fast-trip launch events drained from the tripped account's queue, as Lambda's poller
    # would invoke the guard with them; the tripped account's run is prompted by this batch.
    launch_batch: dict[str, Any] | None = None

    @property
    def target(self) -> str:
        """The account the scenario drives over its limit: the tripped one, or on a fleet with
        nothing in enforce mode the dry-run one (it shows what would trip)."""
        return self.tripped or self.dry_run

    @property
    def made(self) -> list[Check]:
        return [check for check in self.checks if not check.skipped]

    @property
    def ok(self) -> bool:
        """At least one check made, and every check made passed."""
        return bool(self.made) and all(check.ok for check in self.made)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(self.step, name, ok, detail))

    def check_over(self, name: str, items: Collection[Any], ok: bool, detail: str = "") -> None:
        """A check about `items`: over none of them it fails instead of passing vacuously."""
        if not items:
            self.check(name, False, f"nothing to check: {detail or 'the set is empty'}")
        else:
            self.check(name, ok, detail)

    def skip(self, name: str, reason: str) -> None:
        """A check that cannot be made on this fleet, with the reason shown."""
        self.checks.append(Check(self.step, name, False, skipped=reason))

    def checks_by_step(self) -> dict[str, list[Check]]:
        grouped: dict[str, list[Check]] = {}
        for check in self.checks:
            grouped.setdefault(check.step, []).append(check)
        return grouped


class DrillError(RuntimeError):
    """A drill step could not run at all (as opposed to a check that failed)."""


class Progress:
    """Timestamped progress lines; `out` prints without the timestamp."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        self.out(f"[{time.monotonic() - self.started:6.1f}s] {message}")


@dataclass
class DrillContext:
    """What every step of the drill reads, and adds to (`result`: the checks, grouped by step)."""

    fleet: Fleet
    fleet_file: Path
    emulator: Emulator
    workdir: Path
    progress: Progress
    result: DrillResult
    tripped: Account | None  # None: nothing in enforce mode; the dry-run account is the target
    quiet: Account | None
    drop_statements: Sequence[str] = ()
    users: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> access key
    quarantine: Any = None  # quarantine.Quarantine, once the payer step has run


def format_counts(counts: Mapping[str, int]) -> str:
    """{'eu-west-1': 21, 'us-east-1': 14} -> 'eu-west-1 21, us-east-1 14' (zeros left out)."""
    shown = [f"{key} {n}" for key, n in sorted(counts.items()) if n]
    return ", ".join(shown) or "none"


def format_states(states: Mapping[str, str]) -> str:
    """Instance id -> state, as counts: 'stopped 44, stopping 2'."""
    return format_counts(Counter(states.values())) if states else "no instances found"


def choose_scenario(fleet: Fleet) -> tuple[Account | None, Account | None, Account | None]:
    """(the sub-account to trip: enforce, with lockout if any; another enforcing one to stay
    quiet; a dry-run one to drive over its limit). A fleet all in dry-run (the first rollout)
    has nothing to trip: its dry-run account shows what would trip."""
    if not fleet.sub_accounts:
        raise DrillError("the fleet has no sub-account under accounts: the drill needs one")
    enforcing = [a for a in fleet.sub_accounts if a.mode is Mode.ENFORCE]
    dry_run = next((a for a in fleet.sub_accounts if a.mode is Mode.DRY_RUN), None)
    if not enforcing:
        return None, None, dry_run
    tripped = sorted(enforcing, key=lambda a: (a.lockout is Lockout.NONE, a.ec2_limit))[0]
    others = [a for a in enforcing if a != tripped]
    return tripped, (others[0] if others else None), dry_run


def seed(
    emulator: Emulator, tripped: Account | None, quiet: Account | None, result: DrillResult
) -> dict[str, dict[str, str]]:
    """Instances over the limit in 3 regions plus IAM users with keys; a quiet account under it;
    a dry-run account over its limit."""
    users: dict[str, dict[str, str]] = {}
    if tripped is not None:
        users = _seed_tripped(emulator, tripped, result)
    if quiet is not None:
        quiet_regions = list(quiet.regions or _seed_regions(quiet.home_region))[:2]
        per = 1 if quiet.ec2_limit >= len(quiet_regions) else 0
        result.seeded[quiet.name] = _launch(emulator, quiet, quiet_regions, per)
    dry_run = next((a for a in result.guards.values() if a.account.name == result.dry_run), None)
    if dry_run is not None:
        account = dry_run.account
        region = account.regions[0] if account.regions else account.home_region
        result.seeded[account.name] = _launch(emulator, account, [region], account.ec2_limit + 1)
    return users


def _seed_tripped(
    emulator: Emulator, tripped: Account, result: DrillResult
) -> dict[str, dict[str, str]]:
    regions = list(tripped.regions or _seed_regions(tripped.home_region))[:3]
    per_region = max(3, math.ceil((tripped.ec2_limit + 1) / len(regions)))
    result.seeded[tripped.name] = _launch(emulator, tripped, regions, per_region)
    result.capacity = seed_capacity(emulator, tripped, regions[0])
    capacity = result.capacity
    result.seeded[tripped.name] += [
        *capacity.group_instances,
        *capacity.warm_instances,
        capacity.protected,
        capacity.persistent_spot,
    ]
    users: dict[str, dict[str, str]] = {}
    session = emulator.operator(tripped.id, tripped.home_region)
    iam = session.client("iam", region_name=tripped.home_region)
    describe_only = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
        }
    )
    for name in (*SEED_USERS, *tripped.break_glass[:1]):
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="work", PolicyDocument=describe_only)
        users[name] = iam.create_access_key(UserName=name)["AccessKey"]
    if tripped.lockout is Lockout.USERS_AND_ROLES:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{tripped.id}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName=SEED_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    return users


def _seed_regions(home: str) -> tuple[str, ...]:
    return (home, *(region for region in SEED_REGIONS if region != home))


def _launch(emulator: Emulator, account: Account, regions: list[str], count: int) -> list[str]:
    ids: list[str] = []
    if count == 0:
        return ids
    for region in regions:
        ec2 = emulator.operator(account.id, region).client("ec2", region_name=region)
        response = ec2.run_instances(
            ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
        )
        ids += [instance["InstanceId"] for instance in response["Instances"]]
    return ids


def _create_group(
    emulator: Emulator, account: Account, region: str, name: str, *, desired: int, most: int
) -> Any:
    """An Auto Scaling group `name` of `desired` t3.micro (MinSize = desired) in one zone, from
    a launch template of the same name; returns the operator's Auto Scaling client."""
    session = emulator.operator(account.id, region)
    ec2 = session.client("ec2", region_name=region)
    template = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    autoscaling = session.client("autoscaling", region_name=region)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=desired,
        MaxSize=most,
        DesiredCapacity=desired,
        AvailabilityZones=[zone],
    )
    return autoscaling


def _launch_group(emulator: Emulator, account: Account, region: str) -> list[str]:
    """An Auto Scaling group of 2: the halt must suspend it first, restore must resume it."""
    autoscaling = _create_group(emulator, account, region, SEED_GROUP, desired=2, most=2)
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[SEED_GROUP])
    return [i["InstanceId"] for g in groups["AutoScalingGroups"] for i in g["Instances"]]


def _launch_warm_pool(emulator: Emulator, account: Account, region: str) -> Capacity:
    """A group of none with a warm pool kept Running: the halt must set it to Stopped before
    its instances stop (or Auto Scaling replaces them), restore must put it back."""
    autoscaling = _create_group(emulator, account, region, SEED_WARM_GROUP, desired=0, most=2)
    autoscaling.put_warm_pool(AutoScalingGroupName=SEED_WARM_GROUP, **SEED_WARM_POOL)
    pool = autoscaling.describe_warm_pool(AutoScalingGroupName=SEED_WARM_GROUP)
    return Capacity(
        region,
        warm_pool=pool["WarmPoolConfiguration"],
        warm_instances=sorted(i["InstanceId"] for i in pool["Instances"]),
    )


def seed_capacity(emulator: Emulator, account: Account, region: str) -> Capacity:
    """An Auto Scaling group, a group's warm pool kept Running, a `maintain` Spot Fleet of
    one-time Spot instances, a persistent Spot instance and a stop-protected instance (the launch
    pending at the trip comes later: `launch_pending`)."""
    capacity = _launch_warm_pool(emulator, account, region)
    capacity.group_instances = _launch_group(emulator, account, region)
    ec2 = emulator.operator(account.id, region).client("ec2", region_name=region)
    capacity.spot_fleet = ec2.request_spot_fleet(
        SpotFleetRequestConfig={
            "IamFleetRole": f"arn:aws:iam::{account.id}:role/drill-spot-fleet",
            "AllocationStrategy": "lowestPrice",
            "TargetCapacity": SEED_FLEET_CAPACITY,
            "Type": "maintain",
            "LaunchSpecifications": [{"ImageId": AMI, "InstanceType": "t3.micro"}],
        }
    )["SpotFleetRequestId"]
    capacity.spot_instances = sorted(
        active["InstanceId"]
        for active in ec2.describe_spot_fleet_instances(SpotFleetRequestId=capacity.spot_fleet)[
            "ActiveInstances"
        ]
    )
    capacity.protected = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", DisableApiStop=True
    )["Instances"][0]["InstanceId"]
    capacity.persistent_spot = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        InstanceMarketOptions=PERSISTENT_SPOT,
    )["Instances"][0]["InstanceId"]
    capacity.services_before = seed_services(emulator, account, region)
    return capacity


def launch_pending(emulator: Emulator, account: Account, result: DrillResult) -> None:
    """Once every seeded instance runs, one more launch: still `pending` when the guard counts."""
    capacity = result.capacity
    assert capacity is not None
    capacity.regions = sorted(
        {capacity.region, *account.regions, *_seed_regions(account.home_region)}
    )
    capacity.before_trip = _settle(emulator, account, capacity.regions)
    ec2 = emulator.operator(account.id, capacity.region).client("ec2", region_name=capacity.region)
    [launched] = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"
    ]
    capacity.pending = launched["InstanceId"]
    [reservation] = ec2.describe_instances(InstanceIds=[capacity.pending])["Reservations"]
    capacity.pending_state = reservation["Instances"][0]["State"]["Name"]
    capacity.before_trip.add(capacity.pending)
    result.seeded[account.name].append(capacity.pending)


def _settle(emulator: Emulator, account: Account, regions: list[str]) -> set[str]:
    """Wait until no instance of `account` is pending; every instance id it has."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        states = {}
        for region in regions:
            ec2 = emulator.operator(account.id, region).client("ec2", region_name=region)
            for page in ec2.get_paginator("describe_instances").paginate():
                for reservation in page["Reservations"]:
                    for instance in reservation["Instances"]:
                        states[instance["InstanceId"]] = instance["State"]["Name"]
        if "pending" not in states.values() or time.monotonic() > deadline:
            return set(states)
        time.sleep(0.5)


def describe_capacity(capacity: Capacity | None) -> str:
    if capacity is None:
        return "no special capacity"
    return (
        f"in {capacity.region}: Auto Scaling group {SEED_GROUP} "
        f"({len(capacity.group_instances)}), group {SEED_WARM_GROUP}'s warm pool kept Running "
        f"({len(capacity.warm_instances)}), maintain Spot Fleet {capacity.spot_fleet} "
        f"({len(capacity.spot_instances)} one-time Spot), persistent Spot "
        f"{capacity.persistent_spot}, stop-protected {capacity.protected}, "
        f"{', '.join(capacity.services_before) or 'nothing outside EC2'}; one more launch "
        "right before the trip"
    )
