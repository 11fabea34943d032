"""The settings documents (issue 23, docs/settings.md): what each guard of the organisation reads
from the payer's settings bucket instead of a per-account stack update. Pure: no CDK, no AWS.

One JSON file is built at synth from accounts.yaml:

    {"defaults": {<name>: <value>, ...}, "accounts": {"<account id>": {<name>: <value>, ...}}}

Each settings mapping holds exactly what the guard reads from its environment today, under the
same names and in the same text form (lambda/guard/settings.py parses both along one path), for
the keys a document may set (guard.settings.DOCUMENT_KEYS), plus `notify`, which routes the
member's mail on the payer's topic. `defaults` is what an account of a target OU that accounts.yaml
does not list is guarded with. The payer's guard is deployed by `cdk deploy` with its settings in
its environment, so it has no document. The settings publisher (lambda/settings) copies each
mapping to `accounts/<id>.json` and `defaults.json`.
"""

from __future__ import annotations

import json
from typing import Any

from guard.settings import DOCUMENT_KEYS
from runawaytrain_stack.fleet_model import Account, Fleet


def build_account_settings(account: Account, *, named: bool = True) -> dict[str, str]:
    """One guard's settings document: the values runawaytrain_stack/guard.py writes into the
    guard's environment for the same account (tests/stack/test_settings_documents.py holds them
    equal), plus `notify`. `named`: False for the defaults, which name no account."""
    settings = {
        "ec2limit": str(account.ec2_limit),
        "mode": account.mode.value,
        "account_name": account.name if named else "",
        "lockout": account.lockout.value,
        "break_glass": ",".join(account.break_glass),
        "unstoppable": account.unstoppable.value,
        "halt": ",".join(sorted(account.halt)),
        "blind_runs_to_trip": str(account.blind_runs_to_trip),
        "launch_block": "true" if account.launch_block else "false",
        "quarantine": "true" if account.quarantine else "false",
        "notify": ",".join(account.notify),
    }
    for name in ("max_vcpus", "max_gpus", "max_usd_per_hour"):
        value = getattr(account, name)
        if value is not None:
            settings[name] = str(value)
    unknown = set(settings) - DOCUMENT_KEYS
    assert not unknown, f"the guard would refuse these document keys: {sorted(unknown)}"
    return settings


def build_settings_document(fleet: Fleet) -> dict[str, Any]:
    """The whole document for an organisation-delivered fleet (fleet.organization set)."""
    if fleet.defaults is None:
        raise ValueError("settings documents exist only with organization: (and its defaults)")
    return {
        "defaults": build_account_settings(fleet.defaults, named=False),
        "accounts": {a.id: build_account_settings(a) for a in fleet.sub_accounts},
    }


def serialize(document: dict[str, Any]) -> str:
    """Stable text: the same fleet gives the same bytes, so the asset's hash (and the
    publisher's comparison) changes only when a setting does."""
    return json.dumps(document, sort_keys=True, indent=1) + "\n"
