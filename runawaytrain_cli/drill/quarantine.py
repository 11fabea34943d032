"""The drill's quarantine step (issue 12): the payer's organization holds the fleet's accounts;
the tripped account's guard asks the payer to quarantine it, the payer's code attaches that
account's SCP (and no other's); restore asks for the release, and it is detached.

moto's CloudFormation creates neither the SCPs nor an invocable Lambda target, so the payer's
side is the stand-in of payer_standin.py (same builders as the stack), and the quarantine
function's code runs here on the events its rule caught; the drill says so among what is not
emulated.
"""

from __future__ import annotations

from typing import Any

from quarantine.handler import act
from runawaytrain_cli.drill.bedrock_probe import REFUSALS, try_invoke_model
from runawaytrain_cli.drill.emulator import Emulator
from runawaytrain_cli.drill.payer_standin import PayerStandIn, stand_in_payer, take_requests
from runawaytrain_cli.drill.scenario import SEED_LAUNCHER, DrillContext, DrillError, DrillResult
from runawaytrain_stack.fleet_model import Account, Fleet
from runawaytrain_stack.names import (
    QUARANTINE_POLICY_PREFIX,
    QUARANTINE_STATE_PATH,
    name_quarantine_policy,
)

NOT_EMULATED = (
    "the payer bus rule's Lambda target: moto invokes no Lambda, so a queue stands in for it "
    "and the drill runs the quarantine function's code on the events the bus delivered there"
)


class Quarantine:
    def __init__(self, emulator: Emulator, fleet: Fleet) -> None:
        self.emulator = emulator
        self.fleet = fleet
        self.region = fleet.payer.home_region
        self.payer = emulator.operator(fleet.payer.id, self.region)
        self.stand_in: PayerStandIn | None = None
        self.topic_arn = ""

    def prepare(self) -> str:
        """The organization and its accounts, the SCPs, the bus route; a progress line."""
        organizations = self.payer.client("organizations", region_name="us-east-1")
        organizations.create_organization(FeatureSet="ALL")
        for account in self.fleet.sub_accounts:
            created = organizations.create_account(
                AccountName=account.name, Email=f"{account.name}@example.com"
            )["CreateAccountStatus"]["AccountId"]
            if created != account.id:
                raise DrillError(f"the emulator created account {created}, not {account.id}")
        self.stand_in = stand_in_payer(self.payer, self.fleet, self.region)
        sns = self.payer.client("sns", region_name=self.region)
        self.topic_arn = sns.create_topic(Name="runawaytrain-payer-drill")["TopicArn"]
        return (
            f"payer: organization with {len(self.fleet.sub_accounts)} member account(s), "
            f"{len(self.stand_in.policies)} SCPs (guard protection attached)"
        )

    def deliver(self) -> list[dict[str, Any]]:
        assert self.stand_in is not None
        accounts = {a.id: a.name for a in self.fleet.sub_accounts if a.quarantine}
        return [
            act(
                event,
                accounts=accounts,
                policy_prefix=QUARANTINE_POLICY_PREFIX,
                state_path=QUARANTINE_STATE_PATH,
                topic_arn=self.topic_arn,
                session=self.payer,
                pieces=self.stand_in.pieces,
            )
            for event in take_requests(self.payer, self.stand_in, self.region)
        ]

    def quarantined(self) -> set[str]:
        """Names of the member accounts whose quarantine SCP is attached now."""
        organizations = self.payer.client("organizations", region_name="us-east-1")
        found = set()
        for account in self.fleet.sub_accounts:
            policies = organizations.list_policies_for_target(
                TargetId=account.id, Filter="SERVICE_CONTROL_POLICY"
            )["Policies"]
            names = {p["Name"] for p in policies}
            wanted = self.stand_in.pieces.get(account.id, 0) if self.stand_in else 0
            if wanted and all(
                name_quarantine_policy(account.id, n) in names for n in range(wanted)
            ):
                found.add(account.name)
        return found

    def check_attached(self, result: DrillResult) -> str:
        tripped = next(a for a in self.fleet.sub_accounts if a.name == result.tripped)
        outcomes = self.deliver()
        attached = self.quarantined()
        expected = {tripped.name} if tripped.quarantine else set()
        assert self.stand_in is not None
        pieces = self.stand_in.pieces.get(tripped.id, 0)
        result.check(
            f"{tripped.name}: its {pieces} quarantine SCP(s) attached to it, and to no other "
            "account",
            attached == expected and all(o.get("error") is None for o in outcomes),
            f"attached to {sorted(attached) or 'none'}",
        )
        if tripped.quarantine:
            invoked, detail = self.invoke(tripped)
            result.check(
                f"{tripped.name}: a Bedrock invocation by role {SEED_LAUNCHER} is refused by the "
                "quarantine SCPs",
                not invoked and detail in REFUSALS,
                f"invoked {detail}" if invoked else detail,
            )
        return (
            f"payer: quarantine requests {len(outcomes)}, attached to "
            f"{', '.join(sorted(attached)) or 'none'}"
        )

    def check_released(self, result: DrillResult) -> str:
        outcomes = self.deliver()
        attached = self.quarantined()
        result.check(
            f"{result.tripped}: restore detached its quarantine SCPs",
            result.tripped not in attached and any(o.get("action") == "detach" for o in outcomes),
            f"still attached to {sorted(attached) or 'none'}",
        )
        tripped = next(a for a in self.fleet.sub_accounts if a.name == result.tripped)
        if tripped.quarantine:
            invoked, detail = self.invoke(tripped)
            result.check(
                f"{tripped.name}: the same Bedrock invocation succeeds once released",
                invoked,
                detail,
            )
        return (
            f"payer: release requests {len(outcomes)}, attached to "
            f"{', '.join(sorted(attached)) or 'none'}"
        )

    def invoke(self, account: Account) -> tuple[bool, str]:
        """One InvokeModel as the probe role of `account`, IAM not enforced: only the SCPs
        can refuse it (the launch block, an IAM policy, refuses it too while attached)."""
        region = account.home_region
        operator = self.emulator.operator(account.id, region)
        role = f"arn:aws:iam::{account.id}:role/{SEED_LAUNCHER}"
        return try_invoke_model(self.emulator.assume(role, region, via=operator), region)


def step_payer(drill: DrillContext) -> None:
    """The payer's organization, its SCPs and the bus route (before any guard runs)."""
    drill.quarantine = Quarantine(drill.emulator, drill.fleet)
    drill.progress(drill.quarantine.prepare())


def step_quarantine(drill: DrillContext) -> None:
    """The tripped account asked the payer; its quarantine SCP is attached, no other."""
    if drill.tripped is None:
        drill.result.skip(
            "quarantine attached on trip",
            "no account is in enforce mode: a dry-run trip asks the payer for nothing",
        )
        drill.quarantine.deliver()  # nothing should be there; drained all the same
        return
    drill.progress(drill.quarantine.check_attached(drill.result))


def step_release(drill: DrillContext) -> None:
    """Restore asked the payer to release; the quarantine SCP is gone."""
    if drill.tripped is None:
        drill.result.skip("restore detached the quarantine", "nothing was quarantined")
        return
    drill.progress(drill.quarantine.check_released(drill.result))
