"""The whole app: one guard stack per account, its fast-trip stacks (one per other watched
Region), the payer's billing stack if any budget or spend limit, and the payer's stack (bus,
SCPs, quarantine) when the fleet has member accounts."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, BootstraplessSynthesizer, DefaultStackSynthesizer, Stack

from runawaytrain_stack.billing_stack import BillingStack
from runawaytrain_stack.fast_trip_region import FastTripRegionStack
from runawaytrain_stack.fleet_model import (
    Fleet,
    Organization,
    list_fast_trip_regions,
    list_member_home_regions,
)
from runawaytrain_stack.guard_stack import GuardStack
from runawaytrain_stack.mail_routing import list_member_addresses, shard_addresses
from runawaytrain_stack.mail_stack import MailStack
from runawaytrain_stack.members import CodeBucketStack, MembersStack
from runawaytrain_stack.names import BOOTSTRAP_QUALIFIER
from runawaytrain_stack.payer_stack import PayerStack


def new_app(outdir: str | None = None) -> App:
    """The CDK app every entry point builds on (app.py, tests, bench).

    CDK's built-in CloudFormation validation is off: measured by bench/synth.py it costs about
    3 s to start plus about 0.07 s per template (100 accounts: 18.3 s instead of 7.9 s), and the
    test suite lints every template with cfn-lint and runs that validator over the sample fleet.
    """
    return App(
        outdir=outdir,
        builtin_cloud_formation_validation=False,
        context={"@aws-cdk/core:bootstrapQualifier": BOOTSTRAP_QUALIFIER},
    )


@dataclass(frozen=True)
class FleetStacks:
    guards: dict[str, GuardStack]  # by account name
    billing: BillingStack | None
    fast_trip: dict[str, list[Stack]]  # by account name: one stack per watched Region but home
    payer: PayerStack | None = None  # with any member account: its bus, SCPs, quarantine
    # With `organization:`: the payer's StackSets that deliver every member (members.py).
    members: MembersStack | None = None


def add_fleet_stacks(app: App, fleet: Fleet) -> FleetStacks:
    # With `organization:` the members are delivered by the payer's StackSets (members.py):
    # only the payer gets cdk stacks of its own.
    delivered = fleet.accounts if fleet.organization is None else (fleet.payer,)
    guards = {account.name: GuardStack(app, account=account, fleet=fleet) for account in delivered}
    fast_trip: dict[str, list[Stack]] = {}
    for account in delivered:
        regions = [r for r in list_fast_trip_regions(account) if r != account.home_region]
        if not regions:
            continue
        guard = guards[account.name]
        synthesizer = reuse_home_bootstrap(guard)
        fast_trip[account.name] = []
        for region in regions:
            stack = FastTripRegionStack(
                app, account=account, region=region, synthesizer=synthesizer
            )
            # The rule targets the guard stack's bus with its forwarder role: those come first.
            stack.add_stack_dependency(guard, "its rule targets the fast-trip bus and role")
            fast_trip[account.name].append(stack)
    billing = BillingStack(app, fleet=fleet) if fleet.has_billing_stack else None
    if billing is not None:
        # `cdk deploy --all` creates each billing bus before the rule that targets it.
        targeted = {a.name: a for a in (*fleet.budgeted_accounts, *fleet.spend_limited_accounts)}
        for account in targeted.values():
            if account.name in guards:  # a member's bus comes from its StackSet
                billing.add_stack_dependency(
                    guards[account.name], "its rules target the guard's bus"
                )
    payer = PayerStack(app, fleet=fleet) if fleet.has_payer_stack else None
    if payer is not None:
        # `cdk deploy --all` creates the payer's bus before the guards that report to it. It
        # also keeps the payer's stacks in one Region from deploying at once: moto's
        # CloudFormation executes a change set by its name alone, and the CDK CLI gives every
        # stack's the same name, so two at once in one account and Region cross over.
        for guard in guards.values():
            guard.add_stack_dependency(payer, "it reports to the payer's bus")
    members = None
    if fleet.organization is not None:
        members = add_member_stacks(app, fleet, fleet.organization)
        if payer is not None:  # the member guards report to the payer's bus
            members.add_stack_dependency(payer, "its guards report to the payer's bus")
            add_mail_stacks(app, fleet, payer)
    return FleetStacks(
        guards=guards, billing=billing, fast_trip=fast_trip, payer=payer, members=members
    )


def add_mail_stacks(app: App, fleet: Fleet, payer: PayerStack) -> list[MailStack]:
    """The member addresses' subscriptions when the payer's stack cannot hold them all."""
    shards = shard_addresses(list_member_addresses(fleet))
    if len(shards) == 1:
        return []  # in the payer's stack (payer_stack.py subscribe_by_notify)
    stacks = []
    for index, addresses in enumerate(shards, start=1):
        stack = MailStack(app, fleet=fleet, index=index, addresses=addresses)
        stack.add_stack_dependency(payer, "its subscriptions are on the payer's topic")
        stacks.append(stack)
    return stacks


def add_member_stacks(app: App, fleet: Fleet, organization: Organization) -> MembersStack:
    """`runawaytrain-members` and, per member home Region, the code bucket it uploads to (the
    CDK CLI publishes its assets only after these are deployed: stack_set_assets.py)."""
    members = MembersStack(app, fleet=fleet, organization=organization)
    for region in list_member_home_regions(fleet):  # one code bucket per member home
        code = CodeBucketStack(app, fleet=fleet, organization=organization, region=region)
        members.add_stack_dependency(code, "its member templates' code is uploaded there")
    return members


def reuse_home_bootstrap(guard: GuardStack) -> BootstraplessSynthesizer:
    """A synthesizer that deploys with the home Region's bootstrap roles (IAM roles are global;
    CloudFormation's deploy permissions in the bootstrap template are not limited to a Region),
    so the fast-trip Regions need no `cdk bootstrap` of their own. It allows no assets. This is
    what aws-cdk-lib's CodePipeline does for its cross-Region support stacks
    (`Pipeline.getCrossRegionSupportSynthesizer`). One instance serves all of an account's
    Region stacks: a DefaultStackSynthesizer is bound to each stack as a copy."""
    home = guard.synthesizer
    if not isinstance(home, DefaultStackSynthesizer):
        raise TypeError(f"{guard.stack_name}: fast trip needs the default stack synthesizer")
    return BootstraplessSynthesizer(
        deploy_role_arn=home.deploy_role_arn,
        cloud_formation_execution_role_arn=home.cloud_formation_execution_role_arn,
    )
