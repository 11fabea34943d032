"""Quarantine end to end in moto: a member's guard trips, its request crosses to the payer's
bus (strict layer: delivered with the sender's account), the payer's quarantine code attaches
that account's SCP; restore detaches it; repeats change nothing; a full quota is reported."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.notify import compose_body
from guard.settings import Action
from quarantine.handler import act
from runawaytrain_cli.drill.payer_standin import take_requests
from runawaytrain_stack.fleet import add_fleet_stacks, new_app
from runawaytrain_stack.names import QUARANTINE_POLICY_PREFIX, QUARANTINE_STATE_PATH
from tests.payer.conftest import REGION, Org, member_clients

QUARANTINE = "Quarantine"  # the role's inline policy name
SERVICE_PREFIX = {"organizations": "organizations"}  # botocore service id -> IAM prefix
SCHEDULED = Invocation(action=Action.PROCEED, trigger=Trigger.SCHEDULE)


def deliver(org: Org, events: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Hand every event the quarantine rule caught to the Lambda's code, as EventBridge would."""
    if events is None:
        events = take_requests(org.payer, org.stand_in, REGION)
    return [
        act(
            event,
            accounts={a.id: a.name for a in org.fleet.sub_accounts if a.quarantine},
            policy_prefix=QUARANTINE_POLICY_PREFIX,
            state_path=QUARANTINE_STATE_PATH,
            topic_arn=org.payer_topic,
            session=org.payer,
        )
        for event in events
    ]


def trip(org: Org, name: str, **settings: Any) -> Any:
    org.launch(name)
    clients = member_clients(org, name)
    return run_guard(org.guard_settings(name, **settings), SCHEDULED, clients, org.ids[name])


def quarantine_name(org: Org, name: str) -> str:
    return f"{QUARANTINE_POLICY_PREFIX}{org.ids[name]}"


def test_a_trip_quarantines_exactly_the_tripped_account_and_restore_releases_it(org: Org) -> None:
    report = trip(org, "prod")
    assert report.tripped and report.quarantine == "quarantine requested from the payer"
    mail = compose_body(report)
    assert "IAM Identity Center (SSO) users and the root user" in mail

    results = deliver(org)

    assert [(r["account"], r["action"], r["changed"]) for r in results] == [
        (org.ids["prod"], "attach", True)
    ]
    assert quarantine_name(org, "prod") in org.scps_of("prod")
    assert quarantine_name(org, "lab") not in org.scps_of("lab")
    # Both lists hear it: the payer's, and prod's (not lab's).
    payer_mail = [m["Subject"] for m in org.payer_list.messages()]
    assert payer_mail == ["runawaytrain prod: account QUARANTINED"]
    assert [m["Subject"] for m in org.member_lists["prod"].messages()] == payer_mail
    assert org.member_lists["lab"].messages() == []
    ssm = org.payer.client("ssm", region_name=REGION)
    record = ssm.get_parameter(Name=f"{QUARANTINE_STATE_PATH}{org.ids['prod']}")
    assert '"state": "attached"' in record["Parameter"]["Value"]

    restored = run_restore(
        org.guard_settings("prod"),
        Invocation(action=Action.RESTORE, trigger=Trigger.OPERATOR),
        member_clients(org, "prod"),
        org.ids["prod"],
    )
    assert restored.quarantine == "release requested from the payer"
    assert [(r["action"], r["changed"]) for r in deliver(org)] == [("detach", True)]
    assert quarantine_name(org, "prod") not in org.scps_of("prod")


def test_a_second_trip_does_not_attach_twice_nor_mail_again(org: Org) -> None:
    trip(org, "prod")
    deliver(org)
    org.payer_list.messages()

    again = trip(org, "prod")  # the incident continues: the guard asks again

    assert again.continues_incident
    assert [(r["action"], r["changed"], r["error"]) for r in deliver(org)] == [
        ("attach", False, None)
    ]
    assert org.scps_of("prod").count(quarantine_name(org, "prod")) == 1
    assert org.payer_list.messages() == []


def test_a_full_scp_quota_is_mailed_to_both_lists_and_the_halt_stands(org: Org) -> None:
    organizations = org.payer.client("organizations", region_name=REGION)
    attached = len(org.scps_of("prod"))  # FullAWSAccess and the guard protection
    for index in range(5 - attached):
        policy = organizations.create_policy(
            Name=f"team-policy-{index}",
            Description="",
            Type="SERVICE_CONTROL_POLICY",
            Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:x",'
            '"Resource":"*"}]}',
        )["Policy"]["PolicySummary"]["Id"]
        organizations.attach_policy(PolicyId=policy, TargetId=org.ids["prod"])

    report = trip(org, "prod")
    results = deliver(org)

    assert report.stopped  # the halt does not wait for the payer
    assert results[0]["error"].startswith("ConstraintViolationException (POLICY_NUMBER_LIMIT")
    assert quarantine_name(org, "prod") not in org.scps_of("prod")
    for mailbox in (org.payer_list, org.member_lists["prod"]):
        (mail,) = mailbox.messages()
        assert mail["Subject"] == "runawaytrain prod: quarantine could NOT attach"
        assert "already has 5 SCPs attached" in mail["Message"]
        assert "The guard's halt stands" in mail["Message"]


def test_a_member_can_only_ever_quarantine_itself(org: Org) -> None:
    """lab's guard sends a request whose detail names prod: EventBridge sets `account` to lab
    (the strict layer does what AWS does), so lab's own quarantine is what is asked for."""
    events = member_clients(org, "lab").client("events", REGION)
    events.put_events(Entries=[forged_request(org)])
    results = deliver(org)
    assert [r["account"] for r in results] == [org.ids["lab"]]
    assert quarantine_name(org, "prod") not in org.scps_of("prod")


def test_only_the_guards_role_may_speak_to_the_payer(org: Org) -> None:
    """An administrator of a member (not the guard's /runawaytrain/ role) is refused by the bus
    policy, whether or not the standing SCP is there: no forged release."""
    trip(org, "prod")
    deliver(org)
    admin = org.members["prod"].client("events", region_name=REGION)
    forged = {**forged_request(org), "DetailType": "Quarantine Released"}

    answer = admin.put_events(Entries=[forged])

    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert deliver(org) == []
    assert quarantine_name(org, "prod") in org.scps_of("prod")


def forged_request(org: Org) -> dict[str, Any]:
    return {
        "Source": "runawaytrain.guard",
        "DetailType": "Quarantine Requested",
        "Detail": json.dumps({"incident": "x", "account_name": "prod", "account": org.ids["prod"]}),
        "EventBusName": org.stand_in.bus_arn,
    }


def test_dry_run_and_quarantine_off_ask_nothing(org: Org) -> None:
    from guard.settings import Mode

    dry = trip(org, "prod", mode=Mode.DRY_RUN)
    off = trip(org, "lab", quarantine=False)

    assert dry.tripped and off.tripped
    assert (dry.quarantine, off.quarantine) == (None, None)
    assert take_requests(org.payer, org.stand_in, REGION) == []


def test_a_payer_that_cannot_be_reached_is_reported_and_the_halt_stands(org: Org) -> None:
    report = trip(org, "prod", payer_bus=org.stand_in.bus_arn.replace("payer", "missing"))
    assert report.stopped and report.quarantine is None
    assert any("AccessDeniedException" in error for error in report.action_errors)


def test_every_call_the_quarantine_code_makes_is_in_its_synthesized_role(org: Org) -> None:
    """Recorded from the payer session while the code attaches, records and mails (and, on a
    second request, finds the policy attached); compared with the role the payer stack
    synthesizes. Lambda's own log calls are the WriteOwnLogs statement."""
    made: set[str] = set()

    def record(event_name: str, **_: Any) -> None:
        _, service, operation = event_name.split(".")
        made.add(f"{SERVICE_PREFIX.get(service, service)}:{operation}")

    trip(org, "prod")
    requests = take_requests(org.payer, org.stand_in, REGION)
    org.payer.events.register("before-call", record)
    try:
        deliver(org, requests)
    finally:
        org.payer.events.unregister("before-call", record)

    stacks = add_fleet_stacks(new_app(), org.fleet)
    (role,) = (
        Template.from_stack(stacks.payer)
        .find_resources(
            "AWS::IAM::Role", {"Properties": {"Policies": [{"PolicyName": "Quarantine"}]}}
        )
        .values()
    )
    allowed: set[str] = set()
    for statement in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        found = statement["Action"]
        allowed.update([found] if isinstance(found, str) else found)
    assert made == {
        "organizations:ListPolicies",
        "organizations:AttachPolicy",
        "ssm:PutParameter",
        "sns:Publish",
    }
    assert made <= allowed
    assert allowed - made == {
        "organizations:DetachPolicy",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_the_restore_command_detaches_the_quarantine_with_the_payers_credentials(
    org: Org, tmp_path, capsys
) -> None:
    from runawaytrain_cli.main import main
    from tests.payer.conftest import fleet_yaml

    trip(org, "prod")
    deliver(org)
    assert quarantine_name(org, "prod") in org.scps_of("prod")
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(fleet_yaml(org.ids))

    status = main(["restore", "--account", "prod", "--config", str(fleet_file)])

    out = capsys.readouterr().out
    assert status == 0, out
    assert f"quarantine: detached {org.stand_in.policies[quarantine_name(org, 'prod')]}" in out
    assert quarantine_name(org, "prod") not in org.scps_of("prod")
    ssm = org.payer.client("ssm", region_name=REGION)
    record = ssm.get_parameter(Name=f"{QUARANTINE_STATE_PATH}{org.ids['prod']}")
    assert '"state": "detached"' in record["Parameter"]["Value"]


def test_a_quarantine_left_behind_is_released_even_with_no_incident_recorded(
    org: Org, tmp_path, capsys
) -> None:
    """A release that failed after restore undid the records (the payer unreachable, say)
    must not leave the account quarantined with no tool to lift it."""
    from runawaytrain_cli.main import main
    from tests.payer.conftest import fleet_yaml

    trip(org, "prod")
    deliver(org)
    fleet_file = tmp_path / "accounts.yaml"
    fleet_file.write_text(fleet_yaml(org.ids))
    restored = ["restore", "--account", "prod", "--config", str(fleet_file)]
    assert main([*restored, "--restart-instances"]) == 0  # undoes every record
    organizations = org.payer.client("organizations", region_name=REGION)
    organizations.attach_policy(  # as if that release had been lost
        PolicyId=org.stand_in.policies[quarantine_name(org, "prod")], TargetId=org.ids["prod"]
    )
    capsys.readouterr()

    status = main(["restore", "--account", "prod", "--config", str(fleet_file)])

    out = capsys.readouterr().out
    assert status == 0, out
    assert "no incident is recorded" in out and "quarantine: detached" in out
    assert quarantine_name(org, "prod") not in org.scps_of("prod")


def add_second_piece(org: Org, name: str) -> str:
    """A second quarantine SCP for `name`, as the payer stack makes one when the quarantine
    outgrows a document (scp.py build_quarantine_policies): the stand-in's, if its quarantine
    needs two already."""
    from runawaytrain_stack.names import QUARANTINE_TAG, name_quarantine_policy

    made = org.stand_in.policies.get(name_quarantine_policy(org.ids[name], 1))
    if made is not None:
        return made
    organizations = org.payer.client("organizations", region_name=REGION)
    return organizations.create_policy(
        Name=name_quarantine_policy(org.ids[name], 1),
        Description="quarantine, second of two",
        Type="SERVICE_CONTROL_POLICY",
        Content='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"bedrock:Invoke*",'
        '"Resource":"*"}]}',
        Tags=[{"Key": QUARANTINE_TAG, "Value": org.ids[name]}],
    )["Policy"]["PolicySummary"]["Id"]


def deliver_pieces(org: Org, pieces: int) -> list[dict[str, Any]]:
    return [
        act(
            event,
            accounts={a.id: a.name for a in org.fleet.sub_accounts if a.quarantine},
            policy_prefix=QUARANTINE_POLICY_PREFIX,
            state_path=QUARANTINE_STATE_PATH,
            topic_arn=org.payer_topic,
            session=org.payer,
            pieces={org.ids["prod"]: pieces},
        )
        for event in take_requests(org.payer, org.stand_in, REGION)
    ]


def test_a_quarantine_of_several_scps_is_attached_and_released_whole(org: Org) -> None:
    second = add_second_piece(org, "prod")
    first = org.stand_in.policies[quarantine_name(org, "prod")]
    trip(org, "prod")

    (attached,) = deliver_pieces(org, 2)

    assert (attached["changed"], attached["error"]) == (True, None)
    assert attached["policy"] == f"{first}, {second}"
    assert {quarantine_name(org, "prod"), f"{quarantine_name(org, 'prod')}-2"} <= set(
        org.scps_of("prod")
    )
    (mail,) = org.payer_list.messages()
    assert f"attached the quarantine SCPs {first}, {second}" in mail["Message"]
    assert "invoke Bedrock models" in mail["Message"]

    run_restore(
        org.guard_settings("prod"),
        Invocation(action=Action.RESTORE, trigger=Trigger.OPERATOR),
        member_clients(org, "prod"),
        org.ids["prod"],
    )
    (released,) = deliver_pieces(org, 2)

    assert (released["changed"], released["error"]) == (True, None)
    assert not any(n.startswith(quarantine_name(org, "prod")) for n in org.scps_of("prod"))


def test_a_missing_piece_is_an_error_and_the_others_are_attached_all_the_same(org: Org) -> None:
    made = org.stand_in.pieces[org.ids["prod"]]  # one more is declared than exists
    trip(org, "prod")

    (attached,) = deliver_pieces(org, made + 1)

    assert attached["changed"] is True
    assert attached["error"] == (
        f"PolicyNotFoundException: no SCP named {quarantine_name(org, 'prod')}-{made + 1}"
    )
    assert quarantine_name(org, "prod") in org.scps_of("prod")
    (mail,) = org.payer_list.messages()
    assert mail["Subject"] == "runawaytrain prod: quarantine could NOT attach"
    assert "redeploy the payer stack" in mail["Message"]
    assert "Attached all the same: " in mail["Message"]
