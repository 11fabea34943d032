"""Bedrock tokens (issue 21): counted per model from CloudWatch's AWS/Bedrock metrics, one
GetMetricData per region, weighed at assumed Sonnet-class rates, input and output
apart (the Price List names no Bedrock price by model id); never stopped: a trip refuses
invocation through the launch block, and the mail says so."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.authorization import enable_iam_authentication

from guard import bedrock_tokens
from guard.handler import run_guard, run_restore
from guard.invocation import Action, Invocation
from guard.logs import configure_logging
from guard.notify import compose_body
from guard.service_names import resolve_halt
from guard.settings import Mode, Settings, WeightedLimits
from tests.bedrock_usage import publish_bedrock_usage, publish_many_models
from tests.guard.accounts import create_launch_block_policy, guard_clients, iam
from tests.guard.conftest import AMI

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KIND = "Bedrock tokens"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
PER_HOUR = 4  # the window is 15 minutes


@pytest.fixture(autouse=True)
def logging_as_in_lambda() -> None:
    configure_logging()


def usd_limit(usd: float, **more: Any) -> WeightedLimits:
    return WeightedLimits(usd_per_hour=usd, **more)


def test_tokens_in_cloudwatch_are_weighed_per_hour_at_the_assumed_rates(strict, inbox, clients):
    """25 M input and 5 M output tokens in the last 15 minutes are 100 M and 20 M an hour, at 3
    and 15 USD per million: 600 USD/h, over a 500 limit: a trip, not a degraded run; the
    mail's line says what was assumed."""
    publish_bedrock_usage(REGION, MODEL, 20e6, 4e6, invocations=300, minutes_ago=2)
    publish_bedrock_usage(REGION, MODEL, 5e6, 1e6, invocations=100, minutes_ago=9)
    publish_bedrock_usage(REGION, "amazon.titan-old", 9e9, 9e9, minutes_ago=40)  # before it
    settings = Settings(ec2limit=99, snstopic=inbox.topic_arn, weighted=usd_limit(500.0))

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.services == {KIND: {REGION: 1}}
    assert report.burn is not None
    [line] = [line for line in report.burn["lines"] if line["instance_type"] == MODEL]
    assert line["price_source"] == "service" and line["vcpus_each"] == 0
    assert line["usd_each"] == pytest.approx(PER_HOUR * (25 * 3.0 + 5 * 15.0))
    assert report.burn["usd_per_hour"] == pytest.approx(600.0)
    assert report.verdict == "trip"
    assert bedrock_tokens.ASSUMED in compose_body(report)


def test_bedrock_use_under_the_dollar_limit_is_a_quiet_ok_run(strict, inbox, clients):
    """Under the limit the run is ok, not degraded: a DEGRADED mail every few minutes for every
    account that uses Bedrock would have its owners switch the limit off."""
    publish_bedrock_usage(REGION, MODEL, 1e6, 1e5, invocations=10, minutes_ago=3)
    settings = Settings(ec2limit=99, snstopic=inbox.topic_arn, weighted=usd_limit(500.0))

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.verdict == "ok", report.reason
    assert report.burn is not None
    assert report.burn["usd_per_hour"] == pytest.approx(PER_HOUR * (1 * 3.0 + 0.1 * 15.0))


def test_no_usage_counts_nothing_at_one_call_per_region(strict):
    """A region where nothing was invoked costs one GetMetricData; a model last invoked before
    the window is not counted."""
    calls: list[str] = []
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.meta.events.register("before-call", lambda event_name, **_: calls.append(event_name))

    assert bedrock_tokens.count(cloudwatch, REGION) == []
    publish_bedrock_usage(REGION, MODEL, 1e6, 1e6, minutes_ago=20)
    assert bedrock_tokens.count(cloudwatch, REGION) == []
    assert calls == ["before-call.cloudwatch.GetMetricData"] * 2


def test_a_bedrock_only_account_over_the_limit_trips_and_its_invocations_are_refused(strict, inbox):
    """Spend-weighted trip with only Bedrock burning: one run trips it, the launch block is
    attached, a later InvokeModel of a user is refused (AccessDeniedException), and restore
    lifts the refusal. The mail says Bedrock has no stop and what refuses it."""
    policy = create_launch_block_policy()
    iam().create_user(UserName="ana")
    allow = {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}
    iam().put_user_policy(
        UserName="ana",
        PolicyName="work",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    key = iam().create_access_key(UserName="ana")["AccessKey"]
    as_ana = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    # 2 M input and 0.5 M output tokens in 15 minutes: 4 x (6 + 7.5) = 54 USD/h.
    publish_bedrock_usage(REGION, MODEL, 2e6, 5e5, invocations=9000)
    clients = guard_clients()
    settings = Settings(
        ec2limit=99,
        snstopic=inbox.topic_arn,
        launch_block=True,
        launch_block_policy=policy,
        weighted=usd_limit(40.0),
    )

    with enable_iam_authentication():
        as_ana.invoke_model(modelId=MODEL, body=b"{}")  # allowed before the trip
        tripped = run_guard(settings, Invocation(), clients, ACCOUNT)
        with pytest.raises(ClientError) as refused:
            as_ana.invoke_model(modelId=MODEL, body=b"{}")
        run_restore(
            settings, Invocation(Action.RESTORE, incident=tripped.incident), clients, ACCOUNT
        )
        as_ana.invoke_model(modelId=MODEL, body=b"{}")  # allowed again

    assert tripped.tripped and "over the limit of 40.00 USD/h" in tripped.reason
    assert "user/ana" in tripped.launch_blocked
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "explicit deny in an identity-based policy" in refused.value.response["Error"]["Message"]
    assert tripped.services_kept == {KIND: [f"{REGION}/{MODEL}"]}
    assert tripped.action_errors == []
    body = compose_body(tripped)
    assert f"Not stoppable, 1 {KIND}(s): {REGION}/{MODEL}" in body
    assert bedrock_tokens.REFUSED in body and "Tokens already billed are not refunded" in body
    assert "Left running" not in body


@pytest.mark.parametrize("halt", [["reversible"], ["all"], ["bedrock-tokens"]])
def test_halt_changes_nothing_and_says_what_refuses_it_whatever_halt_names(
    strict, inbox, clients, halt
):
    publish_bedrock_usage(REGION, MODEL, 1e6, 1e6)
    settings = Settings(ec2limit=-1, snstopic=inbox.topic_arn, halt=resolve_halt(halt))

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.tripped and report.services_halted == {} and report.action_errors == []
    assert report.services_kept == {KIND: [f"{REGION}/{MODEL}"]}
    body = compose_body(report)
    # No launch block configured: the mail does not claim a refusal that did not happen.
    assert bedrock_tokens.NOT_REFUSED in body and bedrock_tokens.REFUSED not in body
    restore = Invocation(Action.RESTORE, incident=report.incident, restart_instances=True)
    assert run_restore(settings, restore, clients, ACCOUNT).restore["errors"] == {}


def test_dry_run_does_not_claim_it_would_stop_bedrock(strict, inbox, clients):
    publish_bedrock_usage(REGION, MODEL, 1e6, 1e6)
    settings = Settings(
        ec2limit=-1, snstopic=inbox.topic_arn, mode=Mode.DRY_RUN, halt=resolve_halt(["all"])
    )

    body = compose_body(run_guard(settings, Invocation(), clients, ACCOUNT))

    assert f"would stop 1 {KIND}" not in body


def test_cloudwatch_failing_is_a_region_not_counted(strict, inbox, clients):
    """No price lookup exists to fail (the rates are assumed): what can fail is the count, which
    leaves the run degraded like any region not counted, never 0 in silence."""
    publish_bedrock_usage(REGION, MODEL, 1e6, 1e6)

    def refuse(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalFailure", "Message": "CloudWatch is down"}},
            "GetMetricData",
        )

    clients.client("cloudwatch", REGION).meta.events.register(
        "before-call.cloudwatch.GetMetricData", refuse
    )
    settings = Settings(ec2limit=99, snstopic=inbox.topic_arn, weighted=usd_limit(100.0))

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.verdict == "degraded"
    assert "CloudWatch is down" in report.service_errors[f"{KIND} in {REGION}"]


def test_a_model_id_is_never_described_as_an_instance_type(strict, inbox, clients):
    """A model id is no EC2 type: asked of DescribeInstanceTypes beside the region's real
    types, it would make EC2 refuse the call (InvalidInstanceType) and leave them unweighed."""
    boto3.client("ec2", region_name=REGION).run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    publish_bedrock_usage(REGION, MODEL, 1e6, 1e6)
    settings = Settings(ec2limit=99, snstopic=inbox.topic_arn, weighted=WeightedLimits(vcpus=64))

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.burn is not None and report.burn["unweighed"] == {}
    assert report.burn["vcpus"] == 2 and report.verdict == "ok"


def test_a_search_cut_at_500_series_counts_what_it_got_and_makes_the_region_degraded(
    strict, inbox, clients
):
    """501 models invoked: a SEARCH answers 500 series and says so; the 500 count, the region
    is reported not counted fully (degraded), never a silent undercount."""
    publish_many_models(REGION, 501)
    settings = Settings(ec2limit=99, snstopic=inbox.topic_arn, weighted=usd_limit(1e6))

    report = run_guard(settings, Invocation(), clients, ACCOUNT)

    assert report.verdict == "degraded"
    assert report.services[KIND] == {REGION: 500}
    assert "not counted fully" in report.service_errors[f"{KIND} in {REGION}"]
