"""Lambda provisioned concurrency (issue 21): removed at a trip (recorded first, reversible, so
by default), put back exactly by restore; never on the guard's own stacks, named exactly."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from guard import lambda_provisioned
from guard.clients import ClientFactory
from guard.handler import run_guard, run_restore
from guard.incident import INCIDENT_TAG
from guard.invocation import Invocation, Trigger
from guard.lambda_functions import RESERVED_TAG
from guard.lambda_provisioned import RECORD_KEY
from guard.ledger import read_record
from guard.logs import configure_logging
from guard.service_names import REVERSIBLE, resolve_halt
from guard.settings import Action, Mode, Settings
from tests.guard.conftest import AMI, HOME

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "Lambda provisioned concurrency"
THROTTLED = "Lambda function"
GUARD = "Guard-own-function"
OUR_STACK = f"arn:aws:cloudformation:{HOME}:{ACCOUNT}:stack/runawaytrain-guard-dev/"
RESTORE = Invocation(Action.RESTORE, Trigger.OPERATOR, restart_instances=True)
NO_RESTART = Invocation(Action.RESTORE, Trigger.OPERATOR)


def lambda_(region: str = REGION) -> Any:
    return boto3.client("lambda", region_name=region)


def provisioned_function(
    name: str, provisioned: dict[str, int], reserved: int | None = None, **extra: Any
) -> str:
    """A function with version 1 and alias `live` of it, `provisioned` {qualifier: count}."""
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
    lambda_().publish_version(FunctionName=name)
    lambda_().create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    if reserved is not None:
        lambda_().put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    for qualifier, count in provisioned.items():
        lambda_().put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=count
        )
    return str(arn)


def provisioned(name: str) -> dict[str, int]:
    configs = lambda_().list_provisioned_concurrency_configs(FunctionName=name)
    return {
        c["FunctionArn"].rsplit(":", 1)[1]: c["RequestedProvisionedConcurrentExecutions"]
        for c in configs["ProvisionedConcurrencyConfigs"]
    }


def reserved(name: str) -> int | None:
    return lambda_().get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")


def tags(arn: str) -> dict[str, str]:
    return dict(lambda_().list_tags(Resource=arn)["Tags"])


def launch(count: int) -> None:
    boto3.client("ec2", region_name=HOME).run_instances(
        ImageId=AMI, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )


def settings(inbox: Any, mode: Mode = Mode.ENFORCE, *names: str) -> Settings:
    return Settings(
        ec2limit=1, snstopic=inbox.topic_arn, mode=mode, halt=resolve_halt([REVERSIBLE, *names])
    )


@pytest.fixture(autouse=True)
def running_as_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", GUARD)
    monkeypatch.setenv("own_stacks", OUR_STACK)
    configure_logging()


def test_a_trip_removes_provisioned_concurrency_and_restore_puts_back_exactly_that(
    strict, inbox, clients
):
    api = provisioned_function("api", {"live": 5})
    batch = provisioned_function("batch", {"live": 2, "1": 3}, reserved=10)
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert sorted(report.services_halted[KIND]) == [
        f"{REGION}/api:live",
        f"{REGION}/batch:1",
        f"{REGION}/batch:live",
    ]
    assert provisioned("api") == {} and provisioned("batch") == {}
    assert tags(api) == {INCIDENT_TAG: report.incident, RECORD_KEY: "live=5"}
    assert tags(batch)[RECORD_KEY] == "1=3 live=2"
    body = inbox.messages()[0]["Message"]
    assert "on-demand concurrency" in body

    kept = run_restore(settings(inbox), NO_RESTART, clients, ACCOUNT)
    assert f"{REGION}/api:live" in kept.restore["services_not_yet"]
    assert provisioned("api") == {}

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert sorted(restored.restore["services_restored"]) == [
        f"{REGION}/api:live",
        f"{REGION}/batch:1",
        f"{REGION}/batch:live",
    ]
    assert provisioned("api") == {"live": 5}
    assert provisioned("batch") == {"live": 2, "1": 3}
    assert reserved("batch") == 10
    assert tags(api) == {} and tags(batch) == {}


def test_the_census_finds_only_configured_aliases_and_versions(strict, inbox, clients):
    provisioned_function("api", {"live": 5})
    provisioned_function("plain", {})
    launch(2)

    report = run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert report.would_halt_services == {KIND: [f"{REGION}/api:live"]}
    assert provisioned("api") == {"live": 5}


def test_dry_run_changes_nothing(strict, inbox, clients):
    api = provisioned_function("api", {"live": 5})
    launch(2)

    run_guard(settings(inbox, Mode.DRY_RUN), Invocation(), clients, ACCOUNT)

    assert provisioned("api") == {"live": 5}
    assert tags(api) == {}


def test_only_runawaytrains_exact_stack_and_the_guard_are_spared_not_a_name_prefix(
    strict, inbox, clients
):
    provisioned_function(GUARD, {"live": 1})
    ours = provisioned_function(
        "GuardHelper-Xyz", {"live": 1}, Tags={"aws:cloudformation:stack-id": f"{OUR_STACK}abc"}
    )
    elsewhere = f"arn:aws:cloudformation:us-west-2:{ACCOUNT}:stack/runawaytrain-guard-dev/abc"
    provisioned_function(
        "Lookalike-Abc", {"live": 1}, Tags={"aws:cloudformation:stack-id": elsewhere}
    )
    provisioned_function("runawaytrain-miner", {"live": 1})
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert sorted(report.services_halted[KIND]) == [
        f"{REGION}/Lookalike-Abc:live",
        f"{REGION}/runawaytrain-miner:live",
    ]
    assert provisioned(GUARD) == {"live": 1} and provisioned("GuardHelper-Xyz") == {"live": 1}
    assert INCIDENT_TAG not in tags(ours)


class LambdaTimeout(BaseException):
    """Lambda ends the invocation: nothing of it runs on."""


def test_the_record_goes_on_first_and_a_timeout_before_the_removal_restores_cleanly(
    strict, inbox, clients
):
    api = provisioned_function("api", {"live": 5})
    launch(2)
    made: list[str] = []
    client = clients.client("lambda", REGION)
    client.meta.events.register("before-call.lambda.TagResource", lambda **_: made.append("Tag"))

    def timeout(**_: Any) -> None:
        made.append("Delete")
        raise LambdaTimeout

    client.meta.events.register("before-call.lambda.DeleteProvisionedConcurrencyConfig", timeout)
    with pytest.raises(LambdaTimeout):
        run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert made == ["Tag", "Delete"]
    assert provisioned("api") == {"live": 5} and tags(api)[RECORD_KEY] == "live=5"

    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    restored = run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert provisioned("api") == {"live": 5}
    assert tags(api) == {}


def test_a_removal_aws_refuses_takes_its_record_off_again(strict, inbox, clients):
    api = provisioned_function("api", {"live": 5})
    launch(2)

    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ResourceConflictException", "Message": "busy"}},
            "DeleteProvisionedConcurrencyConfig",
        )

    clients.client("lambda", REGION).meta.events.register(
        "before-call.lambda.DeleteProvisionedConcurrencyConfig", refuse
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert KIND not in report.services_halted
    assert f"{REGION}: {KIND} api:live: removing: ResourceConflictException: busy" in (
        report.action_errors
    )
    assert tags(api) == {}
    assert provisioned("api") == {"live": 5}


def test_a_function_also_throttled_gets_its_reservation_then_its_provisioned_back(
    strict, inbox, clients
):
    """Both kinds halted: the throttle's restore must not see provisioned records as its own,
    and provisioned concurrency cannot come back above a reservation of 0: restore again."""
    batch = provisioned_function("batch", {"live": 4}, reserved=10)
    launch(2)

    both = settings(inbox, Mode.ENFORCE, "lambda-functions")
    report = run_guard(both, Invocation(), clients, ACCOUNT)

    assert report.services_halted[THROTTLED] == [f"{REGION}/batch"]
    assert report.services_halted[KIND] == [f"{REGION}/batch:live"]
    assert reserved("batch") == 0 and provisioned("batch") == {}
    record = read_record(boto3.client("ssm", region_name=REGION), str(report.incident))
    waits = lambda_provisioned.restore(
        lambda_(),
        REGION,
        report.incident,
        dry_run=False,
        restart=True,
        record=record.of(lambda_provisioned.NAME),
    )  # alone, while the throttle holds: AWS would refuse the put (4 > 0 reserved)
    assert (waits.not_yet, waits.errors) == ([f"{REGION}/batch:live"], {})
    again = Invocation(
        Action.RESTORE, Trigger.OPERATOR, incident=report.incident, restart_instances=True
    )
    for _ in range(2):  # beside the throttle's restore, it waits at most one pass
        restored = run_restore(settings(inbox), again, clients, ACCOUNT)
        assert restored.restore["errors"] == {}

    assert reserved("batch") == 10
    assert provisioned("batch") == {"live": 4}
    assert tags(batch) == {}


def test_restoring_provisioned_concurrency_leaves_an_owners_reservation_alone(
    strict, inbox, clients
):
    """Only provisioned concurrency halted (lambda-functions not in halt:): the incident tag on
    the function is not a throttle record, and restore keeps the owner's reservation."""
    batch = provisioned_function("batch", {"live": 4}, reserved=10)
    launch(2)

    run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert reserved("batch") == 10
    assert provisioned("batch") == {"live": 4}
    assert RESERVED_TAG not in tags(batch) and tags(batch) == {}


def refuse(code: str, operation: str) -> Any:
    def refused(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "refused"}}, operation)

    return refused


def test_nothing_is_removed_when_its_record_cannot_be_written(strict, inbox, clients):
    """Record first: a refused TagResource leaves the configuration (restore could not put
    back what it never recorded)."""
    api = provisioned_function("api", {"live": 5})
    launch(2)
    clients.client("lambda", REGION).meta.events.register(
        "before-call.lambda.TagResource", refuse("AccessDeniedException", "TagResource")
    )

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert KIND not in report.services_halted
    assert any("not removed: recording: AccessDeniedException" in e for e in report.action_errors)
    assert provisioned("api") == {"live": 5} and tags(api) == {}


def test_a_long_alias_and_many_qualifiers_are_recorded_within_lambdas_tag_limits(
    strict, inbox, clients
):
    """An alias of 120 characters (a per-qualifier key would be 145 > 128), five qualifiers
    (their pairs 357 characters): two record tags, every key within 128 characters, every value
    within 256; restored exactly."""
    long = "a" * 120
    arn = provisioned_function("api", {"live": 5, "1": 2})
    for alias in (long, "b" * 100, "c" * 110):
        lambda_().create_alias(FunctionName="api", Name=alias, FunctionVersion="1")
        lambda_().put_provisioned_concurrency_config(
            FunctionName="api", Qualifier=alias, ProvisionedConcurrentExecutions=1
        )
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert len(report.services_halted[KIND]) == 5 and provisioned("api") == {}
    recorded = tags(arn)
    assert all(len(k) <= 128 and len(v) <= 256 for k, v in recorded.items())
    assert sorted(recorded) == sorted([INCIDENT_TAG, RECORD_KEY, f"{RECORD_KEY}-2"])
    run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert provisioned("api") == {"live": 5, "1": 2, long: 1, "b" * 100: 1, "c" * 110: 1}
    assert tags(arn) == {}


def test_a_function_with_no_tag_left_for_its_record_keeps_its_provisioned_concurrency(
    strict, inbox, clients
):
    """49 tags of its own (aws: ones not counted): the incident and the record would make 51,
    over Lambda's 50: nothing recorded, nothing removed, said."""
    own = {f"team{i}": "x" for i in range(49)}
    arn = provisioned_function("api", {"live": 5}, Tags=own)
    launch(2)

    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert KIND not in report.services_halted
    assert any("no room for its record (50 tags" in e for e in report.action_errors)
    assert provisioned("api") == {"live": 5} and tags(arn) == own


def test_a_timeout_after_the_removal_keeps_the_record_and_restore_puts_it_back(
    strict, inbox, clients
):
    """A read timeout after AWS removed the configuration: the record stays (no ClientError:
    AWS may have acted), and restore gives the configuration back."""
    api = provisioned_function("api", {"live": 5})
    launch(2)

    def timeout(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://lambda.eu-west-1.amazonaws.com")

    clients.client("lambda", REGION).meta.events.register(
        "after-call.lambda.DeleteProvisionedConcurrencyConfig", timeout
    )
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)

    assert any("removing: ReadTimeoutError" in e for e in report.action_errors)
    assert provisioned("api") == {} and tags(api)[RECORD_KEY] == "live=5"
    fresh = ClientFactory(boto3.session.Session(region_name=HOME))
    run_restore(settings(inbox), RESTORE, fresh, ACCOUNT)
    assert provisioned("api") == {"live": 5} and tags(api) == {}


def test_a_deleted_alias_leaves_the_record_at_restore(strict, inbox, clients):
    """The alias was deleted since the trip (ResourceNotFoundException at the put): that part
    of the record is done, the rest is put back, and no record stays behind."""
    api = provisioned_function("api", {"live": 5, "1": 2})
    launch(2)
    report = run_guard(settings(inbox), Invocation(), clients, ACCOUNT)
    assert tags(api)[RECORD_KEY] == "1=2 live=5"
    lambda_().delete_alias(FunctionName="api", Name="live")

    restored = run_restore(settings(inbox), RESTORE, clients, ACCOUNT)

    assert restored.restore["errors"] == {}
    assert provisioned("api") == {"1": 2}
    assert tags(api) == {}
    assert report.incident


def test_a_functions_provisioned_concurrency_goes_before_its_throttle(strict, inbox, clients):
    """AWS refuses a reservation below the provisioned total (strict layer), so the throttle of
    a function waits for its provisioned concurrency's removal, even when that removal is slow
    (a second here): both halted, no error."""
    batch = provisioned_function("batch", {"live": 4}, reserved=10)
    launch(2)
    clients.client("lambda", REGION).meta.events.register(
        "before-call.lambda.DeleteProvisionedConcurrencyConfig", lambda **_: time.sleep(1)
    )

    report = run_guard(
        settings(inbox, Mode.ENFORCE, "lambda-functions"), Invocation(), clients, ACCOUNT
    )

    assert report.action_errors == []
    assert report.services_halted[THROTTLED] == [f"{REGION}/batch"]
    assert reserved("batch") == 0 and provisioned("batch") == {}
    assert tags(batch)[RECORD_KEY] == "live=4"


def test_a_refused_throttle_leaves_the_provisioned_record_and_its_incident_tag(
    strict, inbox, clients
):
    """The throttle refused after the provisioned removal was recorded: the throttle's record
    goes, the incident tag stays with the provisioned record (restore needs both)."""
    batch = provisioned_function("batch", {"live": 4}, reserved=10)
    launch(2)
    clients.client("lambda", REGION).meta.events.register(
        "before-call.lambda.PutFunctionConcurrency",
        refuse("ResourceConflictException", "PutFunctionConcurrency"),
    )

    report = run_guard(
        settings(inbox, Mode.ENFORCE, "lambda-functions"), Invocation(), clients, ACCOUNT
    )

    assert THROTTLED not in report.services_halted
    assert tags(batch) == {INCIDENT_TAG: report.incident, RECORD_KEY: "live=4"}
    run_restore(settings(inbox), RESTORE, clients, ACCOUNT)
    assert provisioned("batch") == {"live": 4} and reserved("batch") == 10 and tags(batch) == {}
