"""Lambda functions (issue 21): throttled at a trip (reserved concurrency 0, recorded first),
given back their exact reservation by restore; the guard never throttles itself or its stacks."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.lambda_functions import RESERVED_TAG
from guard.logs import configure_logging
from guard.service_names import REVERSIBLE, resolve_halt
from guard.settings import Action, Mode, Settings
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "Lambda function"
GUARD = "Guard-own-function"  # not runawaytrain-*: only AWS_LAMBDA_FUNCTION_NAME spares it
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)


def lambda_(region: str = REGION) -> Any:
    return boto3.client("lambda", region_name=region)


def create_function(name: str, reserved: int | None = None, **extra: Any) -> str:
    iam = boto3.client("iam", region_name=HOME)
    try:
        role = iam.create_role(RoleName="functions", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="functions")["Role"]["Arn"]
    arn = lambda_().create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"not run"},
        MemorySize=3538,
        **extra,
    )["FunctionArn"]
    if reserved is not None:
        lambda_().put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    return str(arn)


def reserved(name: str) -> int | None:
    answer = lambda_().get_function_concurrency(FunctionName=name)
    return answer.get("ReservedConcurrentExecutions")


def tags(arn: str) -> dict[str, str]:
    return dict(lambda_().list_tags(Resource=arn)["Tags"])


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def settings(inbox: Any, mode: Mode = Mode.ENFORCE) -> Settings:
    """halt: names lambda-functions (a throttle loses queued events: not in the default)."""
    chosen = resolve_halt([REVERSIBLE, "lambda-functions"])
    return Settings(ec2limit=1, snstopic=inbox.topic_arn, mode=mode, halt=chosen)


@pytest.fixture(autouse=True)
def running_as_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in Lambda: the runtime names the guard's own function; INFO logging on."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", GUARD)
    configure_logging()


def test_a_trip_throttles_functions_and_restore_gives_back_their_exact_reservation(
    strict, inbox, clients
):
    api = create_function("api")
    batch = create_function("batch", reserved=20)
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {KIND: [f"{REGION}/api", f"{REGION}/batch"]}
    assert (reserved("api"), reserved("batch")) == (0, 0)
    assert tags(api) == {INCIDENT_TAG: report.incident, RESERVED_TAG: "none"}
    assert tags(batch) == {INCIDENT_TAG: report.incident, RESERVED_TAG: "20"}
    body = inbox.messages()[0]["Message"]
    assert "Stopped 2 Lambda function(s)" in body
    assert "429 TooManyRequestsException" in body

    kept = run_restore(settings(inbox), NO_RESTART, clients, ACCOUNT)
    assert sorted(kept.restore["services_not_yet"]) == [f"{REGION}/api", f"{REGION}/batch"]
    assert reserved("api") == 0

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert sorted(restored.restore["services_restored"]) == [f"{REGION}/api", f"{REGION}/batch"]
    assert (reserved("api"), reserved("batch")) == (None, 20)
    assert tags(api) == {} and tags(batch) == {}


def test_the_guard_never_throttles_itself_or_its_exact_stacks_but_a_lookalike_name_it_does(
    strict, inbox, clients, monkeypatch
):
    """Exempt by exact stack ARN (aws:cloudformation:stack-id, set by CloudFormation only), not
    by a `runawaytrain-` name anyone can give a miner or a stack in another Region."""
    ours = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/runawaytrain-payer/"
    monkeypatch.setenv("own_stacks", ours)
    create_function(GUARD, reserved=1)
    tagged = create_function(
        "QuarantineFn-Xyz", Tags={"aws:cloudformation:stack-id": f"{ours}0f1e"}
    )
    elsewhere = f"arn:aws:cloudformation:us-west-2:{ACCOUNT}:stack/runawaytrain-payer/9a8b"
    create_function("Lookalike-Xyz", Tags={"aws:cloudformation:stack-id": elsewhere})
    create_function("runawaytrain-guard-dev-GuardFunction-AbC123", reserved=1)
    create_function("api")
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert sorted(report.services_halted[KIND]) == [
        f"{REGION}/Lookalike-Xyz",
        f"{REGION}/api",
        f"{REGION}/runawaytrain-guard-dev-GuardFunction-AbC123",
    ]
    assert reserved(GUARD) == 1
    assert reserved("QuarantineFn-Xyz") is None
    assert INCIDENT_TAG not in tags(tagged)


def test_a_throttle_lifted_while_the_incident_is_open_is_put_back_and_keeps_its_first_record(
    strict, inbox, clients
):
    api = create_function("api")
    launch(2)
    tripped = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    lambda_().put_function_concurrency(FunctionName="api", ReservedConcurrentExecutions=7)

    later = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert later.services_halted == {KIND: [f"{REGION}/api"]}
    assert reserved("api") == 0
    assert tags(api) == {INCIDENT_TAG: tripped.incident, RESERVED_TAG: "none"}
    run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert reserved("api") is None


def test_dry_run_says_what_it_would_throttle_and_throttles_nothing(strict, inbox, clients):
    api = create_function("api")
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/api"]}
    assert reserved("api") is None
    assert tags(api) == {}


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on (tests/guard/test_record_first.py)."""


def test_the_record_goes_on_first_and_a_timeout_before_its_values_are_recorded_is_said(
    strict, inbox, clients
):
    """The trip dies after the tag, before the batch's values are written (functions are many
    a Region: recorded once the batch is done, ledger.py). Restore never takes the reservation
    from the tag (anyone may write it, review of issue 22 H2): the function is left as the trip
    left it, and the restore says so and what its tags say."""
    batch = create_function("batch", reserved=20)
    launch(2)
    made: list[str] = []
    client = clients.client("lambda", REGION)
    client.meta.events.register("before-call.lambda.TagResource", lambda **_: made.append("Tag"))

    def timeout(**_: Any) -> None:
        made.append("Put")
        raise LambdaTimeout

    client.meta.events.register("before-call.lambda.PutFunctionConcurrency", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made == ["Tag", "Put"]
    assert reserved("batch") == 20 and tags(batch)[RESERVED_TAG] == "20"

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert reserved("batch") == 20
    why = restored.restore["unrecorded"][f"{KIND} {REGION}/batch"]
    assert "left halted" in why and "'20'" in why


def test_a_throttle_aws_refuses_takes_the_record_off_again(strict, inbox, clients):
    api = create_function("api")
    launch(2)

    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ResourceConflictException", "Message": "busy"}},
            "PutFunctionConcurrency",
        )

    clients.client("lambda", REGION).meta.events.register(
        "before-call.lambda.PutFunctionConcurrency", refuse
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert report.services_halted == {}
    assert f"{REGION}: {KIND} api: throttling: ResourceConflictException: busy" in (
        report.action_errors
    )
    assert tags(api) == {}
    assert reserved("api") is None


def test_by_default_a_trip_leaves_functions_running_and_says_so(strict, inbox, clients):
    """A throttle loses the events queued for a function: only where halt: names it."""
    create_function("api", reserved=20)
    launch(2)

    default = Settings(ec2limit=1, snstopic=inbox.topic_arn)
    report = run_guard(default, Invocation(), clients, ACCOUNT)

    assert report.tripped
    assert report.services_kept == {KIND: [f"{REGION}/api"]}
    assert reserved("api") == 20
    assert "halt: does not name lambda-functions" in inbox.messages()[0]["Message"]
