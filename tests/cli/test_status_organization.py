"""`runawaytrain status` with `organization:`: the accounts of the target OUs that accounts.yaml
does not list, with their last heartbeat as the watchdog recorded it, or none yet."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
from moto.core import DEFAULT_ACCOUNT_ID

from runawaytrain_cli.main import main
from runawaytrain_stack.names import HEARTBEAT_PATH

LISTED = "222222222222"
BEAT = datetime(2026, 12, 7, 9, 5, tzinfo=UTC)


def _organisation() -> dict[str, str]:
    """moto's default account as the payer: its organisation, a target OU holding a listed
    member, a heartbeating newcomer and a silent one; another account at the root."""
    organizations = boto3.client("organizations", region_name="us-east-1")
    org_id = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="guarded")
    ou_id = ou["OrganizationalUnit"]["Id"]
    ids = {"org": org_id, "ou": ou_id}
    for name, into in (("beating", ou_id), ("silent", ou_id), ("elsewhere", root)):
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        ids[name] = created["CreateAccountStatus"]["AccountId"]
        if into != root:
            organizations.move_account(
                AccountId=ids[name], SourceParentId=root, DestinationParentId=into
            )
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=f"{HEARTBEAT_PATH}{ids['beating']}",
        Value=json.dumps(
            {
                "time": datetime(2026, 12, 7, 9, 5, tzinfo=UTC).isoformat(),
                "detail": {"verdict": "ok"},
            }
        ),
        Type="String",
    )
    return ids


def _fleet(ids: dict[str, str]) -> str:
    return f"""
organization: {{id: {ids["org"]}, target_ous: [{ids["ou"]}]}}
defaults: {{notify: [ops@example.com], ec2_limit: 2}}
payer: {{id: "{DEFAULT_ACCOUNT_ID}", name: payer}}
accounts:
  - {{id: "{LISTED}", name: genomics, fast_trip: false}}
"""


def test_status_lists_the_target_ous_accounts_nobody_listed(aws, tmp_path, capsys) -> None:
    ids = _organisation()
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(_fleet(ids))

    main(["status", "--config", str(fleet_file)])

    out = capsys.readouterr().out
    section = out[out.index("Accounts in the target OUs") :].splitlines()
    beating = next(line for line in section if line.startswith(ids["beating"]))
    silent = next(line for line in section if line.startswith(ids["silent"]))
    assert "2026-12-07 09:05 ok" in beating and ids["ou"] in beating
    assert "NO HEARTBEAT YET" in silent
    assert ids["elsewhere"] not in "\n".join(section)  # outside the target OUs
    assert not any(line.startswith(LISTED) for line in section)  # listed: in the table above


def test_status_without_organization_lists_no_such_section(aws, tmp_path, capsys) -> None:
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(f"""
defaults: {{notify: [ops@example.com], ec2_limit: 2}}
payer: {{id: "{DEFAULT_ACCOUNT_ID}", name: payer}}
accounts:
  - {{id: "{LISTED}", name: genomics, fast_trip: false}}
""")
    main(["status", "--config", str(fleet_file)])
    assert "Accounts in the target OUs" not in capsys.readouterr().out
