"""The whole app: one guard stack per account, plus the payer's billing stack if any budget."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App

from runawaytrain_stack.billing_stack import BillingStack
from runawaytrain_stack.config import Fleet
from runawaytrain_stack.guard_stack import GuardStack


def new_app(outdir: str | None = None) -> App:
    """The CDK app every entry point builds on (app.py, tests, bench).

    CDK's built-in CloudFormation validation is off: measured by bench/synth.py it costs about
    3 s to start plus about 0.07 s per template (100 accounts: 18.3 s instead of 7.9 s), and the
    test suite lints every template with cfn-lint and runs that validator over the sample fleet.
    """
    return App(outdir=outdir, builtin_cloud_formation_validation=False)


@dataclass(frozen=True)
class FleetStacks:
    guards: dict[str, GuardStack]  # by account name
    billing: BillingStack | None


def add_fleet_stacks(app: App, fleet: Fleet) -> FleetStacks:
    guards = {
        account.name: GuardStack(app, account=account, fleet=fleet) for account in fleet.accounts
    }
    billing = BillingStack(app, fleet=fleet) if fleet.has_billing_stack else None
    if billing is not None:
        # `cdk deploy --all` creates each billing bus before the rule that targets it.
        targeted = {a.name: a for a in (*fleet.budgeted_accounts, *fleet.spend_limited_accounts)}
        for account in targeted.values():
            billing.add_stack_dependency(guards[account.name], "its rules target the guard's bus")
    return FleetStacks(guards=guards, billing=billing)
