"""Fast trip: batches of EC2 launch events (as Lambda's SQS poller delivers them) prompt a census.

Each batch is one census, the census is the truth, and anything in a batch that is not a launch
is ignored with a log line.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest

from guard.clients import ClientFactory
from guard.handler import handler
from guard.launches import parse_launch_batch
from tests.guard.conftest import FakeContext, instance_states
from tests.guard.launch_events import (
    batch_for,
    endpoint_event,
    launch_event,
    service_event,
    sqs_batch,
)

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


@pytest.fixture
def ec2_calls(shared: ClientFactory) -> Counter[str]:
    """EC2 calls the handler makes, by operation; the handler uses `shared` for every call."""
    calls: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[1]] += 1

    for region in ("us-east-1", *REGIONS[1:]):
        shared.client("ec2", region).meta.events.register("before-call.ec2.*", count)
    return calls


def test_a_burst_of_launch_events_is_one_census_that_trips(launch, guard_env, inbox, ec2_calls):
    launched = {region: launch(region, 20) for region in REGIONS}
    guard_env(ec2limit=4)

    report = handler(batch_for(launched), FakeContext())["report"]

    assert ec2_calls["DescribeInstanceStatus"] == len(REGIONS)  # one census, one page per region
    assert report["trigger"] == "launch-event"
    assert report["tripped"] is True
    assert report["count"] == 60
    every_id = sorted(i for ids in launched.values() for i in ids)
    assert sorted(report["stopped"]) == every_id
    for region, ids in launched.items():
        assert set(instance_states(region, ids).values()) == {"stopped"}
    (mail,) = inbox.messages()
    assert (
        "Prompted by: 60 EC2 launch event(s) (ap-southeast-2: 20, eu-west-1: 20, "
        in (mail["Message"])
    )


def test_each_batch_is_a_census_and_launches_after_the_trip_keep_being_stopped(
    launch, guard_env, inbox, ec2_calls
):
    guard_env(ec2limit=4)
    first = {region: launch(region, 2) for region in REGIONS}
    assert handler(batch_for(first), FakeContext())["report"]["tripped"] is True

    later = {region: launch(region, 2) for region in REGIONS}  # the script goes on launching
    report = handler(batch_for(later), FakeContext())["report"]

    assert ec2_calls["DescribeInstanceStatus"] == 2 * len(REGIONS)
    assert report["count"] == 6  # the first batch's instances are stopped and no longer count
    assert sorted(report["stopped"]) == sorted(i for ids in later.values() for i in ids)
    # One mail: the second trip comes within the schedule's interval, so its mail is held and
    # carried by the next one (follow_up.py); the run's report still has everything.
    assert len(inbox.messages()) == 1
    assert report["notified"] is False


def test_the_census_decides_not_the_events(launch, guard_env, inbox, ec2_calls):
    """Ten events, but only two instances still running: under the limit, nothing stops."""
    guard_env(ec2limit=4)
    running = launch("eu-west-1", 2)
    stale = [f"i-{n:017x}" for n in range(8)]  # launched and gone before the batch arrived
    batch = sqs_batch(*(launch_event(i, "us-east-1") for i in stale + running))

    report = handler(batch, FakeContext())["report"]

    assert report["verdict"] == "ok"
    assert report["count"] == 2
    assert report["stopped"] == []
    assert set(instance_states("eu-west-1", running).values()) == {"running"}
    assert inbox.messages() == []


def test_a_batch_without_launches_is_ignored_without_any_aws_call(
    launch, guard_env, inbox, ec2_calls, capsys
):
    launch("us-east-1", 9)  # over the limit, but nothing in the batch prompts a count
    guard_env(ec2limit=4)
    batch = sqs_batch(
        "not json",
        "[1, 2]",
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {}},
        launch_event("i-0123456789abcdef0", "us-east-1", state="running"),
        launch_event("i-0123456789abcdef0", "us-east-1", state="exploding"),
        launch_event("i-0123456789abcdef0", "us-east-1", detail="pending"),
        launch_event("not-an-instance", "us-east-1"),
        launch_event("i-0123456789abcdef0", "mars-1"),
    )

    response = handler(batch, FakeContext())

    assert response["report"]["verdict"] == "ignored"
    assert sum(ec2_calls.values()) == 0
    assert inbox.messages() == []
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    reasons = [line["reason"] for line in logged if line["message"] == "event_ignored"]
    assert reasons == [
        "body is not JSON",
        "body is not a JSON object",
        "not a launch event (source 'aws.s3', detail-type 'Object Created')",
        "state 'running' is not a launch",
        "state 'exploding' is not a launch",
        "state None is not a launch",
        "instance-id 'not-an-instance' is not an instance id",
        "region 'mars-1' is not a region name",
    ]


def test_malformed_records_beside_a_launch_are_logged_and_the_census_still_runs(
    launch, guard_env, inbox, ec2_calls, capsys
):
    ids = launch("us-east-1", 5)
    guard_env(ec2limit=4)

    report = handler(sqs_batch("{broken", launch_event(ids[0], "us-east-1")), FakeContext())[
        "report"
    ]

    assert report["tripped"] is True
    assert report["prompt"].startswith("1 EC2 launch event(s) (us-east-1: 1)")
    assert report["prompt"].endswith("1 other record(s) ignored")
    assert '"reason": "body is not JSON"' in capsys.readouterr().out


def test_envaction_pass_voids_a_launch_batch(launch, guard_env, inbox, ec2_calls):
    ids = launch("us-east-1", 9)
    guard_env(ec2limit=4, envaction="pass")

    report = handler(batch_for({"us-east-1": ids}), FakeContext())["report"]

    assert report["verdict"] == "void"
    assert sum(ec2_calls.values()) == 0
    assert set(instance_states("us-east-1", ids).values()) == {"running"}


def test_an_event_delivered_twice_counts_once_and_the_earliest_time_is_kept():
    late = launch_event("i-0123456789abcdef0", "eu-west-1", time="2026-11-26T12:00:09Z")
    early = launch_event("i-0fedcba9876543210", "us-east-1", time="2026-11-26T12:00:01Z")

    prompt = parse_launch_batch(sqs_batch(late, early, late)["Records"])

    assert prompt.by_region == {"eu-west-1": 1, "us-east-1": 1}
    assert prompt.instances == ("i-0123456789abcdef0", "i-0fedcba9876543210")
    assert prompt.first_event == "2026-11-26T12:00:01Z"
    assert prompt.ignored == ()


def test_a_record_that_did_not_come_from_sqs_is_ignored():
    prompt = parse_launch_batch([{"eventSource": "aws:kinesis", "messageId": "m-1"}, "text"])

    assert [(r.message_id, r.reason) for r in prompt.ignored] == [
        ("m-1", "not an SQS record"),
        ("record 1", "not an SQS record"),
    ]


def create_notebook(name: str, region: str, kind: str) -> None:
    boto3.client("sagemaker", region_name=region).create_notebook_instance(
        NotebookInstanceName=name,
        InstanceType=kind,
        RoleArn="arn:aws:iam::123456789012:role/notebooks",
    )


def test_a_sagemaker_endpoint_event_prompts_a_census_that_trips_at_once(
    aws, guard_env, inbox, ec2_calls
):
    """Issue 21: capacity outside EC2 wakes the guard too. The endpoint event is only the prompt;
    the census finds a notebook over the dollar limit and halts it in the same run."""
    create_notebook("big-box", "eu-west-1", "ml.m5.4xlarge")  # 16 vCPUs: 16 USD/h unpriced
    guard_env(ec2limit=10, max_usd_per_hour=5)

    report = handler(sqs_batch(endpoint_event("churn", "eu-west-1")), FakeContext())["report"]

    assert report["trigger"] == "launch-event"
    assert report["prompt"] == (
        "1 launch event(s) (SageMaker endpoint: 1; eu-west-1: 1), the first at 2026-11-26T12:00:00Z"
    )
    assert ec2_calls["DescribeInstanceImageMetadata"] == len(REGIONS)  # the census ran
    assert report["tripped"] is True
    assert report["trip_reasons"] == ["usd-limit"]
    assert report["services_halted"] == {"SageMaker notebook instance": ["eu-west-1/big-box"]}
    status = boto3.client("sagemaker", region_name="eu-west-1").describe_notebook_instance(
        NotebookInstanceName="big-box"
    )["NotebookInstanceStatus"]
    assert status == "Stopped"


ARN = "arn:aws:service:eu-west-1:123456789012:thing/x"


@pytest.mark.parametrize(
    ("detail_type", "source", "launch", "routine"),
    [
        (
            "SageMaker Notebook Instance State Change",
            "aws.sagemaker",
            {"NotebookInstanceStatus": "Pending"},
            {"NotebookInstanceStatus": "Stopping"},
        ),
        (
            "SageMaker Endpoint State Change",
            "aws.sagemaker",
            {"EndpointStatus": "InService"},
            {"EndpointStatus": "Deleting"},
        ),
        (
            "SageMaker Training Job State Change",
            "aws.sagemaker",
            {"TrainingJobStatus": "InProgress"},
            {"TrainingJobStatus": "Completed"},
        ),
        (
            "SageMaker Processing Job State Change",
            "aws.sagemaker",
            {"ProcessingJobStatus": "InProgress"},
            {"ProcessingJobStatus": "Stopped"},
        ),
        (
            "SageMaker Transform Job State Change",
            "aws.sagemaker",
            {"TransformJobStatus": "InProgress"},
            {"TransformJobStatus": "Failed"},
        ),
        (
            "ECS Task State Change",
            "aws.ecs",
            {"lastStatus": "PENDING", "desiredStatus": "RUNNING"},
            {"lastStatus": "RUNNING", "desiredStatus": "STOPPED"},  # a task being stopped
        ),
        (
            "Batch Job State Change",
            "aws.batch",
            {"status": "RUNNING"},
            {"status": "RUNNABLE"},
        ),
        (
            "RDS DB Instance Event",
            "aws.rds",
            {"EventID": "RDS-EVENT-0088"},
            {"EventID": "RDS-EVENT-0087"},  # stopped
        ),
        (
            "RDS DB Cluster Event",
            "aws.rds",
            {"EventID": "RDS-EVENT-0153"},
            {"EventID": "RDS-EVENT-0150"},
        ),
    ],
)
def test_a_service_entering_a_billing_state_is_a_launch_and_routine_states_are_not(
    detail_type: str, source: str, launch: dict, routine: dict
) -> None:
    started = service_event(detail_type, source, "eu-west-1", thingArn=ARN, **launch)
    again = service_event(detail_type, source, "eu-west-1", thingArn=ARN, **launch)  # resent
    routine_event = service_event(detail_type, source, "eu-west-1", thingArn=ARN, **routine)

    prompt = parse_launch_batch(sqs_batch(started, again, routine_event)["Records"])

    assert prompt.by_region == {"eu-west-1": 1}
    assert prompt.instances == ()  # no EC2 instance named: nothing for the open-incident rule
    assert len(prompt.ignored) == 1 and "is not a launch" in prompt.ignored[0].reason


def test_service_events_aws_would_never_send_are_ignored_and_never_fail_the_run(
    launch, guard_env, inbox, ec2_calls
):
    launch("us-east-1", 9)  # over the limit, but nothing in the batch prompts a count
    guard_env(ec2limit=4)
    endpoint = endpoint_event("x", "eu-west-1")
    batch = sqs_batch(
        {**endpoint, "detail": ["EndpointStatus", "Creating"]},
        {**endpoint, "detail": {"EndpointStatus": ["Creating"]}},  # unhashable
        {**endpoint, "detail": {"EndpointStatus": {"Creating": 1}}},
        {**endpoint, "region": None},
        {**endpoint, "source": ["aws.sagemaker"]},
        {**endpoint, "detail-type": "SageMaker Endpoint Deployment State Change"},
    )

    response = handler(batch, FakeContext())

    assert response["report"]["verdict"] == "ignored"
    assert sum(ec2_calls.values()) == 0
    assert inbox.messages() == []


def test_a_service_launch_event_without_a_resource_name_still_prompts():
    endpoint = endpoint_event("x", "eu-west-1")
    nameless = {**endpoint, "resources": "not a list", "detail": {"EndpointStatus": "Creating"}}

    prompt = parse_launch_batch(sqs_batch(nameless)["Records"])

    assert prompt.by_kind == {"SageMaker endpoint": 1}
    assert prompt.ignored == ()
