"""SageMaker real-time endpoints (issue 21): counted by the instances their variants hold,
deleted at a trip after a record on their endpoint configuration, created again from it by
restore (with restart); one still Creating at the trip is deleted by the next run."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from guard import sagemaker_endpoints
from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.invocation import Invocation, Trigger
from guard.ledger import Ledger
from guard.logs import configure_logging
from guard.notify import compose_body
from guard.sagemaker_endpoints import RECORD_PREFIX, TAGS_MAX, record_of, recorded_tags
from guard.service_capacity import Running, ServiceHalt
from guard.services import halt_services
from guard.settings import Action, Mode, Settings, WeightedLimits
from tests.guard.conftest import AMI, HOME
from tests.sagemaker_resources import (
    create_endpoint,
    create_endpoint_config,
    endpoint_status,
    sagemaker,
    tags_of,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "SageMaker endpoint"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)
CONFIG_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/serving"


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def settings(inbox: Any, mode: Mode = Mode.ENFORCE) -> Settings:
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode)


def serving(name: str = "ranker", tags: dict[str, str] | None = None) -> str:
    """An endpoint of 2 ml.g4dn.xlarge, 1 ml.m5.large and a serverless variant."""
    create_endpoint_config(
        REGION, "serving", [("ml.g4dn.xlarge", 2), ("ml.m5.large", 1), ("serverless", 0)]
    )
    return create_endpoint(REGION, name, "serving", tags)


def test_a_trip_deletes_the_endpoint_and_restore_creates_it_again_as_it_was(strict, inbox, clients):
    serving(tags={"team": "search", "cost-centre": "42"})
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    # Per instance type, the serverless variant left out: 2 + 1 instances.
    assert report.services == {KIND: {REGION: 3}}
    assert report.services_halted == {KIND: [f"{REGION}/ranker"]}
    assert endpoint_status(REGION, "ranker") is None  # pending_seconds 0: gone at once
    assert tags_of(REGION, CONFIG_ARN)[RECORD_PREFIX + "ranker"] == report.incident
    body = inbox.messages()[0]["Message"]
    assert f"Stopped 1 {KIND}(s): {REGION}/ranker" in body
    assert "register them again by hand" in body

    kept = run_restore(settings(inbox), NO_RESTART, clients, ACCOUNT)

    assert kept.restore["services_not_yet"] == [f"{REGION}/ranker"]
    assert endpoint_status(REGION, "ranker") is None  # an endpoint bills: only with restart

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["services_restored"] == [f"{REGION}/ranker"]
    described = sagemaker(REGION).describe_endpoint(EndpointName="ranker")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == (
        "InService",
        "serving",
    )
    assert tags_of(REGION, described["EndpointArn"]) == {"team": "search", "cost-centre": "42"}
    assert tags_of(REGION, CONFIG_ARN) == {}  # the record is gone
    assert f"Started again (other services): {REGION}/ranker" in compose_body(restored)


def test_an_endpoint_still_creating_at_the_trip_is_deleted_by_the_next_run(
    strict, clock, inbox, clients
):
    strict.pending_seconds = 300
    launch(2)
    serving()

    first = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert first.services == {KIND: {REGION: 3}}  # its desired instances bill while Creating
    assert first.services_waiting == {KIND: [f"{REGION}/ranker"]}
    assert first.action_errors == []
    assert endpoint_status(REGION, "ranker") == "Creating"

    clock(301)  # InService now
    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT, pending_wait_s=0)

    assert later.services_halted == {KIND: [f"{REGION}/ranker"]}
    assert endpoint_status(REGION, "ranker") == "Deleting"


def test_dry_run_says_what_it_would_delete_and_deletes_nothing(strict, inbox, clients):
    serving()
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/ranker"]}
    assert endpoint_status(REGION, "ranker") == "InService"
    assert tags_of(REGION, CONFIG_ARN) == {}


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_before_the_delete_and_a_timeout_between_restores_cleanly(
    strict, inbox, clients
):
    serving()
    launch(2)
    made: list[str] = []
    events = clients.client("sagemaker", REGION).meta.events
    events.register("before-call.sagemaker.AddTags", lambda **_: made.append("AddTags"))

    def timeout(**_: Any) -> None:
        made.append("DeleteEndpoint")
        raise LambdaTimeout

    events.register("before-call.sagemaker.DeleteEndpoint", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made.index("AddTags") < made.index("DeleteEndpoint")
    assert RECORD_PREFIX + "ranker" in tags_of(REGION, CONFIG_ARN)
    assert endpoint_status(REGION, "ranker") == "InService"

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == []  # never deleted: nothing created
    assert endpoint_status(REGION, "ranker") == "InService"
    assert tags_of(REGION, CONFIG_ARN) == {}


def test_a_delete_aws_refuses_takes_the_record_off_again(strict, inbox, clients):
    """Updated by its owner between the count and the delete: AWS refuses ours; the incident
    must not claim it, or restore would create an endpoint the incident never deleted."""
    serving()
    launch(2)

    def refused(**_: Any) -> None:
        from botocore.exceptions import ClientError

        message = "Cannot update in-progress endpoint"
        raise ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "D")

    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.DeleteEndpoint", refused
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert any(f"{KIND} ranker: deleting it" in e for e in report.action_errors)
    assert tags_of(REGION, CONFIG_ARN) == {}


def test_an_endpoint_created_again_by_hand_is_left_alone_by_restore(strict, inbox, clients):
    serving()
    launch(2)
    run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    create_endpoint(REGION, "ranker", "serving", {"by": "hand"})

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert restored.restore["services_restored"] == []
    arn = sagemaker(REGION).describe_endpoint(EndpointName="ranker")["EndpointArn"]
    assert tags_of(REGION, arn) == {"by": "hand"}
    assert tags_of(REGION, CONFIG_ARN) == {}


def test_a_sagemaker_only_account_trips_on_its_dollar_limit_in_one_run(strict, inbox, clients):
    """No EC2 instance at all: 2 ml.g4dn.xlarge (4 vCPUs each) and 1 ml.m5.large (2) weigh 10
    vCPUs at the unpriced rate of 1 USD per vCPU-hour (burn.py): 10 USD/h against 5."""
    serving()

    report = run_guard(
        Settings(ec2limit=10, snstopic=inbox.topic_arn, weighted=WeightedLimits(usd_per_hour=5)),
        Invocation(),
        clients,
        ACCOUNT,
    )

    assert report.count == 0
    assert report.tripped, report.reason
    assert (report.burn["vcpus"], report.burn["usd_per_hour"]) == (10, 10.0)
    assert report.services_halted == {KIND: [f"{REGION}/ranker"]}
    assert endpoint_status(REGION, "ranker") is None


def test_the_endpoint_tags_go_on_the_record_only_when_they_fit() -> None:
    own = {"team": "search", "note": "x" * 250}

    record = record_of("ranker", "inc-1", own, room=TAGS_MAX)

    assert record[RECORD_PREFIX + "ranker"] == "inc-1"
    assert len(record) == 3  # the JSON of the tags, base64, takes two 256-character values
    assert all(len(value) <= 256 for value in record.values())
    assert recorded_tags("ranker", record) == own
    assert recorded_tags("rank", record) == {}
    assert record_of("ranker", "inc-1", own, room=2) == {RECORD_PREFIX + "ranker": "inc-1"}


@pytest.fixture
def clock(strict: Any) -> Any:
    now = [0.0]
    strict.clock = lambda: now[0]

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def test_the_runnings_of_one_endpoint_go_to_one_halt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Halted item by item at once, an endpoint on two instance types would be deleted twice
    (the second delete refused, and its failure taking the first one's record off)."""
    calls: list[list[str]] = []

    def halt(_: Any, found: list[Running], __: str) -> ServiceHalt:
        calls.append([item.instance_type for item in found])
        return ServiceHalt()

    monkeypatch.setattr(sagemaker_endpoints, "halt", halt)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ranker"
    two = [
        Running(KIND, REGION, "ranker", arn, "ml.g4dn.xlarge", "InService", 2),
        Running(KIND, REGION, "ranker", arn, "ml.m5.large", "InService", 1),
    ]

    class Ssm:  # the record's writes, accepted
        def put_parameter(self, **_: Any) -> None:
            return None

    halt_services(two, Ledger(lambda _: Ssm(), "inc-1", REGION), lambda *_: None, 4)

    assert calls == [["ml.g4dn.xlarge", "ml.m5.large"]]


def test_the_mail_names_the_auto_scaling_a_delete_takes_and_how_to_give_it_back(
    strict, inbox, clients
):
    """Deleting an endpoint deregisters its variants' scalable targets with their policies and
    scheduled actions; restore creates the endpoint without them. Not silently: the mail says,
    per endpoint, each target's bounds, its policies and actions, and the command to register
    it again (insider review)."""
    serving()
    aas = boto3.client("application-autoscaling", region_name=REGION)
    resource = "endpoint/ranker/variant/v0"
    aas.register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=6,
    )
    aas.put_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 70.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {KIND: [f"{REGION}/ranker"]}
    (line,) = [e for e in report.action_errors if resource in e]
    assert "(min 2, max 6) is deregistered with it" in line
    assert f"--resource-id {resource} " in line and "--min-capacity 2 --max-capacity 6" in line
    assert '"PolicyName":"invocations"' in line and '"TargetValue":70.0' in line
    assert resource in inbox.messages()[0]["Message"]


def test_an_endpoint_hosting_inference_components_is_reported_not_deleted(strict, inbox, clients):
    """DeleteEndpoint refuses an endpoint with inference components (gruntwork-io/cloud-nuke
    #1142 quotes the refusal): the record comes off and the mail says it still bills and what
    to do by hand."""
    serving()
    launch(2)

    def refused(**_: Any) -> None:
        from botocore.exceptions import ClientError

        message = (
            "Cannot delete endpoint with inference component associated. Please delete "
            "inference component and try it again."
        )
        raise ClientError({"Error": {"Code": "ValidationException", "Message": message}}, "D")

    clients.client("sagemaker", REGION).meta.events.register(
        "before-call.sagemaker.DeleteEndpoint", refused
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    (line,) = [e for e in report.action_errors if "inference components" in e]
    assert "NOT deleted, still billing" in line and "list-inference-components" in line
    assert tags_of(REGION, CONFIG_ARN) == {}
    assert endpoint_status(REGION, "ranker") == "InService"
