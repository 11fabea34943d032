"""An organisation-delivered guard reads its settings from the payer's store each run
(lambda/guard/settings_store.py): its own document over the environment, else the defaults;
when the store fails or its document is refused, the last-known-good copy, else the template's
environment, said in the report and mailed once. Its mail also reaches the payer's topic,
routed to its own notify list only."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from guard.handler import handler
from guard.settings_store import PARAMETER
from tests.guard.conftest import HOME, FakeContext, Inbox

STORE = "runawaytrain-settings-111111111111"
OWN_KEY = f"accounts/{DEFAULT_ACCOUNT_ID}.json"


@pytest.fixture
def store(aws: None) -> Any:
    s3 = boto3.client("s3", region_name=HOME)
    s3.create_bucket(Bucket=STORE)

    def put(key: str, document: object) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        s3.put_object(Bucket=STORE, Key=key, Body=body)

    return put


def run() -> dict[str, Any]:
    return handler({}, FakeContext())["report"]


def mails(inbox: Inbox) -> list[str]:
    return [message["Subject"] for message in inbox.messages()]


def last_known_good() -> dict[str, Any]:
    ssm = boto3.client("ssm", region_name=HOME)
    return json.loads(ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"])


def test_its_own_document_overrides_the_environment(launch, guard_env, store, inbox) -> None:
    launch(HOME, 2)
    store(OWN_KEY, {"ec2limit": "1", "account_name": "prod"})
    store("defaults.json", {"ec2limit": "9"})
    guard_env(ec2limit=4, SETTINGS_BUCKET=STORE)

    report = run()

    assert (report["limit"], report["verdict"], report["account_name"]) == (1, "trip", "prod")
    assert report["settings_source"] == f"the settings store (s3://{STORE}/{OWN_KEY})"
    assert last_known_good()["document"] == {"ec2limit": "1", "account_name": "prod"}
    (body,) = [m["Message"] for m in inbox.messages()]
    assert f"Settings: the settings store (s3://{STORE}/{OWN_KEY})" in body


def test_an_unlisted_account_reads_the_defaults(launch, guard_env, store) -> None:
    launch(HOME, 2)
    store("defaults.json", {"ec2limit": "5"})
    guard_env(ec2limit=1, SETTINGS_BUCKET=STORE)

    report = run()

    assert (report["limit"], report["verdict"]) == (5, "ok")
    assert report["settings_source"].endswith(f"s3://{STORE}/defaults.json)")


def test_an_unreadable_store_falls_back_to_the_last_known_good_and_mails_once(
    launch, guard_env, store, inbox
) -> None:
    store(OWN_KEY, {"ec2limit": "10"})
    guard_env(ec2limit=4, SETTINGS_BUCKET=STORE)
    assert run()["limit"] == 10
    launch(HOME, 6)  # over the environment's 4, under the document's 10
    guard_env(SETTINGS_BUCKET="runawaytrain-settings-999999999999")  # gone: NoSuchBucket

    first, second = run(), run()

    assert (first["limit"], first["verdict"], second["limit"]) == (10, "ok", 10)
    assert first["settings_source"].startswith(
        f"the last-known-good copy of s3://{STORE}/{OWN_KEY} ({PARAMETER}): the settings "
        f"store failed: reading s3://runawaytrain-settings-999999999999/{OWN_KEY}: NoSuchBucket"
    )
    subjects = mails(inbox)
    assert subjects == [
        f"runawaytrain SETTINGS FALLBACK {DEFAULT_ACCOUNT_ID}: settings store unreadable"
    ]


def test_without_a_last_known_good_copy_it_uses_the_template_environment_mailed_once(
    launch, guard_env, aws, inbox
) -> None:
    launch(HOME, 2)
    guard_env(ec2limit=4, SETTINGS_BUCKET=STORE)  # the bucket does not exist

    first, second = run(), run()

    assert (first["limit"], first["verdict"], second["limit"]) == (4, "ok", 4)
    assert first["settings_source"].startswith("the template's defaults (no last-known-good")
    assert len(mails(inbox)) == 1


def test_a_malformed_document_is_refused_and_falls_back_mailed(
    launch, guard_env, store, inbox
) -> None:
    store(OWN_KEY, {"ec2limit": "many"})
    guard_env(ec2limit=4, SETTINGS_BUCKET=STORE)

    report = run()

    assert report["limit"] == 4
    assert (
        f"settings document s3://{STORE}/{OWN_KEY}: environment variable ec2limit='many' is not "
        "a whole number" in report["settings_source"]
    )
    (message,) = inbox.messages()
    assert "SETTINGS FALLBACK" in message["Subject"]
    assert "ec2limit='many'" in message["Message"]


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        b"[1]",
        {"snstopic": "arn:aws:sns:us-east-1:999999999999:theirs"},
        {"ec2limit": 4},
    ],
)
def test_a_document_that_sets_what_it_may_not_is_refused(guard_env, store, inbox, document) -> None:
    store(OWN_KEY, document)
    guard_env(ec2limit=4, SETTINGS_BUCKET=STORE)

    report = run()

    assert report["settings_source"].startswith("the template's defaults")
    assert [m["TopicArn"] for m in inbox.messages()] == [inbox.topic_arn]


def test_recovery_clears_the_fallback_so_the_next_one_is_mailed_again(
    guard_env, store, inbox
) -> None:
    store(OWN_KEY, {"ec2limit": "7"})
    guard_env(ec2limit=4, SETTINGS_BUCKET="runawaytrain-settings-999999999999")
    run()
    guard_env(SETTINGS_BUCKET=STORE)
    assert run()["limit"] == 7
    assert last_known_good()["told"] is False
    guard_env(SETTINGS_BUCKET="runawaytrain-settings-999999999999")
    run()
    assert len(mails(inbox)) == 2


def subscribe(sns: Any, sqs: Any, topic: str, name: str, notify: str | None) -> str:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"FilterPolicy": json.dumps({"notify": [notify]})} if notify else {}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return url


def test_its_mail_reaches_the_payer_topic_routed_to_its_notify_list_only(
    launch, guard_env, store, inbox
) -> None:
    """The payer topic's subscriptions as payer_stack.py makes them, each a queue here: moto
    matches a String.Array attribute element by element as SNS does (SNS Developer Guide,
    "String value matching")."""
    sns = boto3.client("sns", region_name=HOME)
    sqs = boto3.client("sqs", region_name=HOME)
    payer_topic = sns.create_topic(Name="runawaytrain-payer-alerts")["TopicArn"]
    queues = {
        "payer": subscribe(sns, sqs, payer_topic, "payer", None),
        "ops": subscribe(sns, sqs, payer_topic, "ops", "ops@example.com"),
        "oncall": subscribe(sns, sqs, payer_topic, "oncall", "oncall@example.com"),
        "other": subscribe(sns, sqs, payer_topic, "other", "dev-team@example.com"),
    }
    launch(HOME, 2)
    store(OWN_KEY, {"ec2limit": "1", "notify": "ops@example.com,oncall@example.com"})
    guard_env(
        ec2limit=4, SETTINGS_BUCKET=STORE, PAYER_TOPIC_ARN=payer_topic, notify="x@example.com"
    )

    report = run()

    received = {
        name: [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url).get("Messages", [])]
        for name, url in queues.items()
    }
    assert report["notified"] is True
    assert {name: len(found) for name, found in received.items()} == {
        "payer": 1,
        "ops": 1,
        "oncall": 1,
        "other": 0,
    }
    attributes = received["ops"][0]["MessageAttributes"]
    assert attributes["account"] == {"Type": "String", "Value": DEFAULT_ACCOUNT_ID}
    assert attributes["notify"]["Type"] == "String.Array"
    assert json.loads(attributes["notify"]["Value"]) == ["ops@example.com", "oncall@example.com"]
    assert len(inbox.messages()) == 1  # and its own topic, as before
