"""A bus policy admitting the guard roles of the organisation's target OUs (payer_wiring.py,
organisation delivery): aws:PrincipalOrgID is the sender's organisation and aws:PrincipalOrgPaths
its path through the OUs (strict_aws/events.py)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from guard.clients import assume_role_session
from runawaytrain_stack.fleet_model import Organization
from strict_aws import StrictAWS

REGION = "us-east-1"
BUS = "runawaytrain-payer"


def _session_as(account: str, role_path: str) -> Any:
    role_arn = f"arn:aws:iam::{account}:role{role_path}runawaytrain-guard"
    return assume_role_session(role_arn, REGION, "guard")


@pytest.fixture
def payer_bus(strict: StrictAWS) -> dict[str, str]:
    """The payer (moto's default account) manages an organisation: one member in an OU nested
    in the target OU, one in another OU; its bus admits the target OU's roles under
    /runawaytrain/, with the condition the payer stack writes."""
    organizations = boto3.client("organizations", region_name=REGION)
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]

    def ou(name: str, parent: str) -> str:
        return organizations.create_organizational_unit(ParentId=parent, Name=name)[
            "OrganizationalUnit"
        ]["Id"]

    def account(name: str, parent: str) -> str:
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        account_id = created["CreateAccountStatus"]["AccountId"]
        organizations.move_account(
            AccountId=account_id, SourceParentId=root, DestinationParentId=parent
        )
        return account_id

    research = ou("research", root)
    member = account("m", ou("lab", research))  # in an OU below the target OU
    direct = account("d", research)  # directly in the target OU
    elsewhere = account("e", ou("admin", root))
    target = Organization(organization, (research,))
    events = boto3.client("events", region_name=REGION)
    arn = events.create_event_bus(Name=BUS)["EventBusArn"]
    statement = {
        "Sid": "OrganizationGuardsReport",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "events:PutEvents",
        "Resource": arn,
        "Condition": {
            **target.member_conditions,
            "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/runawaytrain/*"]},
        },
    }
    events.put_permission(
        EventBusName=BUS, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    return {"arn": arn, "member": member, "direct": direct, "elsewhere": elsewhere}


def _put(session: Any, bus_arn: str) -> dict[str, Any]:
    entry = {"Source": "runawaytrain.guard", "DetailType": "Heartbeat", "Detail": "{}"}
    return session.client("events").put_events(Entries=[{**entry, "EventBusName": bus_arn}])


@pytest.mark.parametrize("where", ["member", "direct"])
def test_a_guard_role_of_the_target_ous_puts_events(payer_bus: dict[str, str], where: str) -> None:
    done = _put(_session_as(payer_bus[where], "/runawaytrain/"), payer_bus["arn"])
    assert done["FailedEntryCount"] == 0, done


def test_an_account_outside_the_organisation_is_refused(payer_bus: dict[str, str]) -> None:
    done = _put(_session_as("999999999999", "/runawaytrain/"), payer_bus["arn"])
    assert done["FailedEntryCount"] == 1
    assert done["Entries"][0]["ErrorCode"] == "AccessDeniedException"


def test_an_account_of_the_organisation_outside_the_target_ous_is_refused(
    payer_bus: dict[str, str],
) -> None:
    """No protection SCP binds there: its administrator could make a /runawaytrain/ role."""
    done = _put(_session_as(payer_bus["elsewhere"], "/runawaytrain/"), payer_bus["arn"])
    assert done["FailedEntryCount"] == 1
    assert done["Entries"][0]["ErrorCode"] == "AccessDeniedException"


def test_a_role_outside_runawaytrains_path_is_refused(payer_bus: dict[str, str]) -> None:
    done = _put(_session_as(payer_bus["member"], "/"), payer_bus["arn"])
    assert done["FailedEntryCount"] == 1
