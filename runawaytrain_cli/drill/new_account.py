"""The drill's new-account step (issue 23): an account created in a target OU is guarded on
`defaults` with no one running cdk for it, heartbeats to the payer and trips.

The drill's fleet file plus an `organization:` block (a scratch copy: the organisation's id and
a new OU `drill-new-accounts`; `defaults` given a notify address and an ec2_limit where the
fleet has none) is what the payer deploys with `cdk deploy --exclusively` of its organisation
stacks (`runawaytrain-members` and the code buckets). The fleet's listed members stay at the
organisation's root, outside the target OU, so their own cdk stacks from the deploy step are
the only guards they have (the two kinds of delivery never meet in one account here).

Then Organizations' CreateAccount (at the root) and MoveAccount into the OU, and nothing else:
the strict layer's stand-in for service-managed StackSets (strict_aws/stacksets.py) deploys the
default group's guard and forwarder sets into it, as AWS's automatic deployment does. The
step checks that it holds exactly that guard, running on `defaults`; that the payer's watchdog
mails once while it has not reported (its clock moved past `join_minutes`); that the guard, run
under its deployed role with IAM enforced, trips over instances launched beyond the default
limit, stops them and heartbeats to the payer's bus; and that `runawaytrain status` lists the
account as in a target OU but not in accounts.yaml.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from guard.handler import run_guard
from guard.invocation import Invocation
from guard.payer_events import HEARTBEAT, SOURCE
from guard.settings import Mode, Settings
from runawaytrain_cli.drill.deploy import deploy
from runawaytrain_cli.drill.emulator import Emulator, bootstrap
from runawaytrain_cli.drill.scenario import AMI, DrillContext, DrillError, Guard
from runawaytrain_cli.drill.trip import guard_clients, prepare_role_for_emulator
from runawaytrain_stack.config import load_fleet
from runawaytrain_stack.fleet_model import Fleet, list_member_home_regions
from runawaytrain_stack.members import (
    DEFAULT_GROUP,
    group_members,
    name_stack_sets,
)
from runawaytrain_stack.names import (
    HEARTBEAT_PATH,
    MEMBERS_STACK_NAME,
    PAYER_BUS_NAME,
    WATCHDOG_STATE_PATH,
    name_code_stack,
)
from runawaytrain_stack.payer_wiring import build_bus_statement
from watchdog.handler import Settings as WatchdogSettings
from watchdog.handler import record
from watchdog.joined import check_joined

OU_NAME = "drill-new-accounts"
NEW_ACCOUNT = "newcomer"
# What `defaults` gets in the scratch copy where the drill's fleet sets none (an organisation
# fleet requires both: every unlisted account runs on them).
DEFAULT_NOTIFY = "new-accounts@example.com"
DEFAULT_LIMIT = 2
NOT_EMULATED = (
    "service-managed StackSets: moto deploys none by itself; the strict layer's stand-in "
    "(strict_aws/stacksets.py) reads the sets `runawaytrain-members` declares and deploys them "
    "to accounts of the target OU as automatic deployment does, at once and in the call that "
    "moved the account (AWS: an operation started within minutes, docs/deploy.md)"
)


@dataclass(frozen=True)
class Organisation:
    fleet: Fleet
    fleet_file: Path
    ou: str
    root: str


def write_organization_fleet(source: Path, workdir: Path, org_id: str, ou: str) -> Path:
    """The drill's fleet file with `organization:` (comments are not kept)."""
    document = yaml.safe_load(source.read_text())
    document["organization"] = {"id": org_id, "target_ous": [ou]}
    defaults = document.setdefault("defaults", {})
    defaults.setdefault("notify", [DEFAULT_NOTIFY])
    defaults.setdefault("ec2_limit", DEFAULT_LIMIT)
    path = workdir / "accounts-organization.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def prepare_organisation(drill: DrillContext) -> Organisation:
    """The target OU, the scratch fleet file, and `cdk deploy` of the payer's organisation
    stacks."""
    payer = drill.fleet.payer
    operator = drill.emulator.operator(payer.id, payer.home_region)
    organizations = operator.client("organizations", region_name="us-east-1")
    org_id = organizations.describe_organization()["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name=OU_NAME)
    ou_id = ou["OrganizationalUnit"]["Id"]
    fleet_file = write_organization_fleet(drill.fleet_file, drill.workdir, org_id, ou_id)
    fleet = load_fleet(fleet_file)
    assert fleet.organization is not None
    regions = list_member_home_regions(fleet)
    for region in regions:  # the code bucket stacks deploy with the payer's home roles
        if region != payer.home_region:
            bootstrap(drill.emulator.operator(payer.id, region), payer.id, region)
    stacks = [MEMBERS_STACK_NAME, *(name_code_stack(r) for r in regions)]
    workdir = drill.workdir / "organisation"
    workdir.mkdir()
    deployed = deploy(drill.emulator, fleet_file, workdir, drill.progress, stacks=stacks)
    drill.result.check(
        f"cdk deploy of the payer's organisation stacks ({', '.join(stacks)})",
        set(stacks) <= set(deployed),
        f"deployed: {', '.join(deployed) or 'none'}",
    )
    return Organisation(fleet, fleet_file, ou_id, root)


def step_new_account(drill: DrillContext) -> None:
    organisation = prepare_organisation(drill)
    fleet, result, emulator = organisation.fleet, drill.result, drill.emulator
    assert fleet.organization is not None and fleet.defaults is not None
    payer = fleet.payer
    operator = emulator.operator(payer.id, payer.home_region)
    organizations = operator.client("organizations", region_name="us-east-1")
    created = organizations.create_account(
        AccountName=NEW_ACCOUNT, Email=f"{NEW_ACCOUNT}@example.com"
    )["CreateAccountStatus"]["AccountId"]
    defaults = fleet.defaults
    account = replace(defaults, id=created, name=NEW_ACCOUNT)
    home = account.home_region
    result.check(
        f"{NEW_ACCOUNT} ({created}) created at the root: no guard yet",
        not _stack_sets_in(emulator, created, [home]),
        "it already has StackSet stacks",
    )
    organizations.move_account(
        AccountId=created, SourceParentId=organisation.root, DestinationParentId=organisation.ou
    )
    drill.progress(f"new account: {NEW_ACCOUNT} ({created}) moved into {organisation.ou}")
    drill.progress(f"not emulated: {NOT_EMULATED}")
    [default] = [g for g in group_members(fleet, fleet.organization) if g.label == DEFAULT_GROUP]
    guard_set, forwarder_set = name_stack_sets(default)
    found = _stack_sets_in(emulator, created, [home, *default.forwarder_regions])
    guards = [s for s in found if s.startswith(f"StackSet-{guard_set}-")]
    forwarders = [s for s in found if s.startswith(f"StackSet-{forwarder_set}-")]
    result.check(
        f"{NEW_ACCOUNT}: its guard from the payer's StackSets, no cdk run for it "
        f"({guard_set} in {home}, {forwarder_set} in {len(default.forwarder_regions)} Regions)",
        len(guards) == 1 and len(forwarders) == len(default.forwarder_regions),
        f"StackSet stacks: {found or 'none'}",
    )
    result.check(
        f"{NEW_ACCOUNT}: no other group's guard (their sets do not deploy to joiners)",
        len(found) == len(guards) + len(forwarders),
        f"also: {sorted(set(found) - set(guards) - set(forwarders))}",
    )
    guard = _read_guard(emulator, account, guards[0] if guards else "")
    result.check(
        f"{NEW_ACCOUNT}: the guard runs on defaults (ec2_limit {defaults.ec2_limit}, notify "
        f"{', '.join(defaults.notify)})",
        guard.environment.get("ec2limit") == str(defaults.ec2_limit),
        f"environment ec2limit {guard.environment.get('ec2limit')!r}",
    )
    watchdog = _watchdog_settings(fleet, organisation, drill)
    joined_at = datetime.now(UTC)
    mailed = _join_check(emulator, fleet, watchdog, joined_at)
    late = _join_check(
        emulator, fleet, watchdog, joined_at + timedelta(minutes=watchdog.join_minutes + 1)
    )
    again = _join_check(
        emulator, fleet, watchdog, joined_at + timedelta(minutes=watchdog.join_minutes + 6)
    )
    result.check(
        f"watchdog: {NEW_ACCOUNT} silent {watchdog.join_minutes} min after joining is mailed "
        "once (not before, not again)",
        mailed == [] and late == [created] and again == [],
        f"mailed at join {mailed}, after {watchdog.join_minutes} min {late}, later {again}",
    )
    _admit_organisation(emulator, fleet)
    _trip(drill, guard)
    report = guard.report
    assert report is not None
    drill.progress(f"guard {NEW_ACCOUNT}: {report.summary()}")
    seeded = result.seeded[NEW_ACCOUNT]
    if defaults.mode is Mode.DRY_RUN:  # e.g. a first rollout: the defaults only report
        result.check(
            f"{NEW_ACCOUNT}: would trip over the default limit ({len(seeded)} instances, limit "
            f"{defaults.ec2_limit}) and stopped nothing (defaults: mode dry-run)",
            report.verdict == "trip" and not report.stopped,
            f"verdict {report.verdict}, stopped {len(report.stopped)}",
        )
    else:
        result.check(
            f"{NEW_ACCOUNT}: tripped over the default limit ({len(seeded)} instances, limit "
            f"{defaults.ec2_limit}) and stopped them",
            report.tripped and set(seeded) <= set(report.stopped),
            f"verdict {report.verdict}, stopped {len(report.stopped)} of {len(seeded)}",
        )
    result.check(
        f"{NEW_ACCOUNT}: heartbeat put on the payer's bus",
        report.heartbeat is not None and report.heartbeat_error is None,
        str(report.heartbeat_error),
    )
    kept = _record_heartbeat(emulator, fleet, watchdog, created, report.heartbeat or {})
    result.check(
        f"watchdog: keeps {NEW_ACCOUNT}'s heartbeat although accounts.yaml does not list it",
        kept == created,
        f"recorded {kept!r}",
    )


def _stack_sets_in(emulator: Emulator, account: str, regions: list[str]) -> list[str]:
    found = []
    for region in regions:
        cloudformation = emulator.operator(account, region).client(
            "cloudformation", region_name=region
        )
        found += [
            s["StackName"]
            for page in cloudformation.get_paginator("list_stacks").paginate()
            for s in page["StackSummaries"]
            if s["StackName"].startswith("StackSet-") and s["StackStatus"] != "DELETE_COMPLETE"
        ]
    return sorted(found)


def _read_guard(emulator: Emulator, account: Any, stack: str) -> Guard:
    """The guard function of the StackSet instance `stack` (CloudFormation names it after the
    stack)."""
    session = emulator.operator(account.id, account.home_region)
    cloudformation = session.client("cloudformation", region_name=account.home_region)
    functions = (
        [
            r["PhysicalResourceId"]
            for r in cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::Lambda::Function" and r.get("PhysicalResourceId")
        ]
        if stack
        else []
    )
    if len(functions) != 1:
        raise DrillError(f"{account.name}: expected one guard function in {stack}: {functions}")
    lam = session.client("lambda", region_name=account.home_region)
    config = lam.get_function_configuration(FunctionName=functions[0])
    return Guard(
        account=account,
        function=functions[0],
        role_arn=config["Role"],
        environment=dict(config.get("Environment", {}).get("Variables", {})),
    )


def _watchdog_settings(
    fleet: Fleet, organisation: Organisation, drill: DrillContext
) -> WatchdogSettings:
    assert fleet.organization is not None
    return WatchdogSettings(
        accounts=(),
        topic_arn=drill.quarantine.topic_arn,  # the payer's drill topic (quarantine step)
        heartbeat_path=HEARTBEAT_PATH,
        state_path=WATCHDOG_STATE_PATH,
        reader_role="",
        schedule_name="",
        target_ous=(organisation.ou,),
        join_minutes=fleet.organization.join_minutes,
    )


def _join_check(
    emulator: Emulator, fleet: Fleet, settings: WatchdogSettings, now: datetime
) -> list[str]:
    session = emulator.operator(fleet.payer.id, fleet.payer.home_region)
    region = fleet.payer.home_region
    return check_joined(
        organizations=session.client("organizations", region_name="us-east-1"),
        ssm=session.client("ssm", region_name=region),
        sns=session.client("sns", region_name=region),
        topic_arn=settings.topic_arn,
        target_ous=settings.target_ous,
        listed={a.id for a in fleet.accounts},
        heartbeat_path=settings.heartbeat_path,
        state_path=settings.state_path,
        grace=timedelta(minutes=settings.join_minutes),
        now=now,
    )


def _record_heartbeat(
    emulator: Emulator,
    fleet: Fleet,
    settings: WatchdogSettings,
    account: str,
    detail: dict[str, Any],
) -> str | None:
    session = emulator.operator(fleet.payer.id, fleet.payer.home_region)
    event = {"source": SOURCE, "detail-type": HEARTBEAT, "account": account, "detail": detail}
    ssm = session.client("ssm", region_name=fleet.payer.home_region)
    return record(event, settings, ssm, now=datetime.now(UTC))["recorded"]


def _admit_organisation(emulator: Emulator, fleet: Fleet) -> None:
    """The payer's bus policy for the organisation fleet (payer_wiring.py: the organisation's
    guard roles, by aws:PrincipalOrgID). The payer stack the drill deployed earlier is the
    sample's, without organization:, and moto's CloudFormation fails stack updates, so the
    drill writes the statement the payer's redeploy would."""
    statement = build_bus_statement(fleet)
    events = emulator.operator(fleet.payer.id, fleet.payer.home_region).client(
        "events", region_name=fleet.payer.home_region
    )
    events.put_permission(
        EventBusName=PAYER_BUS_NAME,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )


def _trip(drill: DrillContext, guard: Guard) -> None:
    """Instances over the default limit in the home Region; the guard run once, as scheduled,
    under its deployed role with IAM enforced."""
    account, emulator = guard.account, drill.emulator
    ec2 = emulator.operator(account.id, account.home_region).client(
        "ec2", region_name=account.home_region
    )
    count = account.ec2_limit + 1
    launched = ec2.run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )
    drill.result.seeded[NEW_ACCOUNT] = [i["InstanceId"] for i in launched["Instances"]]
    ec2.get_waiter("instance_running").wait(
        InstanceIds=drill.result.seeded[NEW_ACCOUNT], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    prepare_role_for_emulator(emulator, guard)
    clients = guard_clients(emulator, guard)
    emulator.set_iam_enforcement(True)
    try:
        guard.report = run_guard(
            Settings.from_env(guard.environment), Invocation(), clients, account.id, guard.function
        )
    finally:
        emulator.set_iam_enforcement(False)
