"""What the quarantine needs to know of one account when the payer creates its SCPs on demand
(fleets with an `organization`): its name (for the mail), its break_glass principals (exempt),
and whether it is quarantined at all. One function answers, `find_account_settings`, so the
source can change without the rest noticing.

Source today: the file the payer stack ships with the function (a layer: /opt/...; built from
accounts.yaml, runawaytrain_stack/quarantine.py): the quarantine template, the payer's id and
the listed accounts. An account of the organisation nobody listed is quarantined with the
org-wide exemptions only. Planned: the per-account settings document in the payer's settings
bucket (accounts/<id>.json, else defaults.json; issue 23, "Settings as data").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quarantine.documents import QuarantineTemplate


@dataclass(frozen=True)
class AccountSettings:
    name: str
    break_glass: tuple[str, ...] = ()
    quarantine: bool = True


@dataclass(frozen=True)
class QuarantineData:
    """The shipped file, read once per invocation."""

    template: QuarantineTemplate
    payer: str  # the management account: no SCP binds it, never quarantined
    accounts: dict[str, AccountSettings]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuarantineData:
        return cls(
            template=QuarantineTemplate.from_json(data["template"]),
            payer=str(data["payer"]),
            accounts={
                account_id: AccountSettings(
                    name=str(values["name"]),
                    break_glass=tuple(values.get("break_glass", ())),
                    quarantine=bool(values.get("quarantine", True)),
                )
                for account_id, values in data["accounts"].items()
            },
        )

    @classmethod
    def read(cls, path: str) -> QuarantineData:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def find_account_settings(data: QuarantineData, account_id: str) -> AccountSettings | None:
    """The account's settings; None for the payer (never quarantined). An account nobody listed
    is a member of a target OU on defaults: quarantined, org-wide exemptions only."""
    if account_id == data.payer:
        return None
    return data.accounts.get(account_id, AccountSettings(name=account_id))
