"""The breaker end to end in one moto account: handler in, instance states and SNS mail out."""

from __future__ import annotations

import pytest

from guard.handler import handler
from tests.guard.conftest import FakeContext, instance_states, instance_tags

SEED_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def launch_seed_fleet(launch) -> dict[str, list[str]]:
    return {region: launch(region, 3) for region in SEED_REGIONS}


def all_states(fleet: dict[str, list[str]]) -> set[str]:
    return {
        state for region, ids in fleet.items() for state in instance_states(region, ids).values()
    }


def test_seed_scenario_over_limit_stops_all_nine(launch, guard_env, inbox):
    fleet = launch_seed_fleet(launch)
    guard_env(ec2limit=4)

    response = handler({}, FakeContext())

    report = response["report"]
    assert response["statusCode"] == 200
    assert report["tripped"] is True
    assert report["count"] == 9
    assert report["limit"] == 4
    assert {region: report["by_region"][region] for region in SEED_REGIONS} == dict.fromkeys(
        SEED_REGIONS, 3
    )
    assert sorted(report["stopped"]) == sorted(id_ for ids in fleet.values() for id_ in ids)
    assert report["not_stopped"] == {}
    assert report["region_errors"] == {}
    assert report["notified"] is True
    assert all_states(fleet) == {"stopped"}
    for region, ids in fleet.items():
        assert instance_tags(region, ids[0])["runawaytrain:incident"] == report["incident"]


def test_seed_scenario_at_limit_changes_nothing_and_sends_nothing(launch, guard_env, inbox):
    fleet = launch_seed_fleet(launch)
    guard_env(ec2limit=9)

    report = handler({}, FakeContext())["report"]

    assert report["tripped"] is False
    assert report["verdict"] == "ok"
    assert report["count"] == 9
    assert report["stopped"] == []
    assert report["incident"] is None
    assert report["notified"] is False
    assert all_states(fleet) == {"running"}
    assert inbox.messages() == []


def test_cross_region_fleet_of_21_is_stopped_everywhere(launch, guard_env):
    fleet = {
        "us-east-1": launch("us-east-1", 4),
        "us-east-2": launch("us-east-2", 3),
        "us-west-2": launch("us-west-2", 3),
        "eu-west-1": launch("eu-west-1", 3),
        "eu-central-1": launch("eu-central-1", 2),
        "ap-northeast-1": launch("ap-northeast-1", 2),
        "ap-south-1": launch("ap-south-1", 2),
        "sa-east-1": launch("sa-east-1", 2),
    }
    guard_env(ec2limit=4)

    report = handler({"source": "aws.scheduler"}, FakeContext())["report"]

    assert report["count"] == 21
    assert len(report["stopped"]) == 21
    assert all_states(fleet) == {"stopped"}


def test_counts_only_enabled_regions_of_the_own_partition(launch, guard_env):
    launch("us-east-1", 5)
    guard_env(ec2limit=4)

    report = handler({}, FakeContext())["report"]

    counted = set(report["by_region"])
    assert {"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"} <= counted
    assert not {region for region in counted if region.startswith(("cn-", "us-gov-"))}


@pytest.mark.parametrize(
    ("event", "env", "expected_reason"),
    [
        ({"action": "pass"}, {}, "action: pass"),
        ({"action": "PASS"}, {}, "action: pass"),
        ({}, {"envaction": "pass"}, "envaction=pass"),
        ({"action": "proceed"}, {"envaction": "pass"}, "envaction=pass"),
    ],
)
def test_pass_override_voids_a_run_that_would_trip(
    launch, guard_env, inbox, event, env, expected_reason
):
    fleet = launch_seed_fleet(launch)
    guard_env(ec2limit=4, **env)

    response = handler(event, FakeContext())

    assert response["statusCode"] == 200
    assert "voided" in response["body"]
    assert expected_reason in response["body"]
    assert response["report"]["verdict"] == "void"
    assert response["report"]["tripped"] is False
    assert all_states(fleet) == {"running"}
    assert inbox.messages() == []


@pytest.mark.parametrize(
    "event", [{"action": "stop-everything"}, {"action": 42}, ["a", "list"], None]
)
def test_unknown_action_or_odd_event_proceeds_and_trips(launch, guard_env, event):
    fleet = launch_seed_fleet(launch)
    guard_env(ec2limit=4)

    report = handler(event, FakeContext())["report"]

    assert report["tripped"] is True
    assert all_states(fleet) == {"stopped"}


def test_dry_run_reports_what_it_would_stop_and_stops_nothing(launch, guard_env, inbox):
    fleet = launch_seed_fleet(launch)
    guard_env(ec2limit=4, mode="dry-run")

    report = handler({}, FakeContext())["report"]

    assert report["tripped"] is True
    assert report["mode"] == "dry-run"
    assert sorted(report["would_stop"]) == sorted(id_ for ids in fleet.values() for id_ in ids)
    assert report["stopped"] == []
    assert all_states(fleet) == {"running"}
    [message] = inbox.messages()
    assert "WOULD TRIP" in message["Subject"]
    assert "nothing was stopped" in message["Message"]


def test_pending_instances_count_stopped_and_terminated_do_not(launch, guard_env):
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    ids = launch("us-east-1", 6)
    ec2 = boto3.client("ec2", region_name="us-east-1")
    ec2.stop_instances(InstanceIds=ids[:2])
    ec2.terminate_instances(InstanceIds=ids[2:4])
    # moto moves new instances to running at once; put one back to pending as AWS shows it.
    ec2_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_instance(ids[4])._state.name = "pending"
    guard_env(ec2limit=1)

    report = handler({}, FakeContext())["report"]

    assert report["count"] == 2
    # AWS refuses to stop an instance that never reached running: it is left for later, tagged.
    assert report["stopped"] == [ids[5]]
    assert report["still_pending"] == {"us-east-1": [ids[4]]}
    assert instance_tags("us-east-1", ids[4])["runawaytrain:incident"] == report["incident"]
    assert instance_states("us-east-1", ids[:4]) == {
        ids[0]: "stopped",
        ids[1]: "stopped",
        ids[2]: "terminated",
        ids[3]: "terminated",
    }


def test_notification_tells_counts_stopped_ids_incident_and_undo(launch, guard_env, inbox):
    fleet = launch_seed_fleet(launch)
    guard_env(ec2limit=4, account_name="genomics-lab")

    report = handler({}, FakeContext())["report"]

    [message] = inbox.messages()
    subject, body = message["Subject"], message["Message"]
    assert len(subject) < 100
    assert "TRIPPED" in subject
    assert "genomics-lab" in subject
    assert "9 EC2 vs limit 4" in subject
    assert report["incident"] in body
    for region, ids in fleet.items():
        assert f"{region:<16} 3" in body
        for id_ in ids:
            assert id_ in body
    assert (
        "runawaytrain restore --account 123456789012 --home-region us-east-1 "
        f"--incident {report['incident']}"
    ) in body
    assert report["notified"] is True


def test_logs_one_json_object_per_line_for_the_decision_and_each_action(launch, guard_env, capsys):
    import json

    launch_seed_fleet(launch)
    guard_env(ec2limit=4)

    handler({}, FakeContext())

    lines = capsys.readouterr().out.splitlines()
    # The run's metrics follow as EMF documents (tests/guard/test_metrics.py): log lines too.
    entries = [json.loads(line) for line in lines if '"_aws"' not in line]
    assert len(entries) < len(lines)
    events = [entry["message"] for entry in entries]
    assert events[0] == "invoked"
    assert events[-1] == "done"
    assert events.count("region_halted") == 3
    assert {"census_done", "decided", "notified"} <= set(events)
    decided = entries[events.index("decided")]
    assert decided["verdict"] == "trip"
    assert decided["count"] == 9
    assert decided["request_id"] == "test-request"
    assert all(entry["timestamp"].endswith("+00:00") for entry in entries)


def test_never_calls_terminate(launch, guard_env, monkeypatch):
    import botocore.client

    launch_seed_fleet(launch)
    guard_env(ec2limit=0)
    calls: list[str] = []
    real_call = botocore.client.BaseClient._make_api_call

    def recording_call(self, operation_name, api_params):
        calls.append(operation_name)
        return real_call(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording_call)

    handler({}, FakeContext())

    assert "StopInstances" in calls
    assert "TerminateInstances" not in calls
