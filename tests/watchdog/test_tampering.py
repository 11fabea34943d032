"""The watchdog notices what an insider can change in a member that no SCP refuses: the notify
list's subscriptions and their filter policies, the topic's key, the billing bus's and the
fast-trip queue's policies. Each finding is mailed once, not again while it stays, and again once
it cleared and came back (moto, strict layer: email subscriptions pending until confirmed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from strict_aws.sns import confirm_email
from tests.watchdog.conftest import (
    MEMBER,
    NOTIFY,
    PAYER,
    Watchdog,
    create_reader_role,
    deploy_wired_stack,
    heartbeat_event,
    member_session,
)

TAMPERED = "tampered with"


def healthy(watchdog: Watchdog, now: datetime) -> dict[str, str]:
    """A check at `now` with the guard's heartbeat just in: only tampering can be mailed."""
    watchdog.record(heartbeat_event(MEMBER, now - timedelta(minutes=1)))
    return dict(watchdog.check(now)["mailed"])


def tampering_mails(watchdog: Watchdog) -> list[str]:
    return [m["body"] for m in watchdog.mails() if TAMPERED in m["subject"]]


def wired(watchdog: Watchdog) -> tuple[dict[str, str], datetime]:
    create_reader_role()
    ids = deploy_wired_stack()
    now = datetime.now(UTC)
    assert healthy(watchdog, now) == {}, [m["body"] for m in watchdog.mails()]
    return ids, now


def unsubscribe(ids: dict[str, str]) -> None:
    sns = member_session().client("sns")
    for subscription in sns.list_subscriptions_by_topic(TopicArn=ids["topic"])["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])


def test_an_unsubscribed_notify_list_is_mailed_once_and_again_after_it_came_back(
    watchdog: Watchdog,
) -> None:
    ids, now = wired(watchdog)
    unsubscribe(ids)
    assert healthy(watchdog, now + timedelta(minutes=5)) == {MEMBER: "tampering"}
    (body,) = tampering_mails(watchdog)
    assert f"- notify address {NOTIFY} is not subscribed to the guard's topic" in body
    assert healthy(watchdog, now + timedelta(minutes=10)) == {}  # no repeat
    assert watchdog.mails() == []

    sns = member_session().client("sns")
    sns.subscribe(TopicArn=ids["topic"], Protocol="email", Endpoint=NOTIFY)
    confirm_email(NOTIFY)
    assert healthy(watchdog, now + timedelta(minutes=15)) == {}  # cleared: forgotten, no mail
    unsubscribe(ids)
    assert healthy(watchdog, now + timedelta(minutes=20)) == {MEMBER: "tampering"}
    assert len(tampering_mails(watchdog)) == 1


def test_a_removed_billing_bus_permission_is_mailed_once_and_again_after_it_came_back(
    watchdog: Watchdog,
) -> None:
    ids, now = wired(watchdog)
    events = member_session().client("events")
    events.remove_permission(
        EventBusName=ids["bus"], StatementId="cdk-AllowPayerToForwardBillingAlarms"
    )
    assert healthy(watchdog, now + timedelta(minutes=5)) == {MEMBER: "tampering"}
    (body,) = tampering_mails(watchdog)
    assert (
        "- billing bus runawaytrain-billing-trips's policy lost a statement the guard stack set "
        f"(Allow events:PutEvents for arn:aws:iam::{PAYER}:root): billing and spend trips" in body
    )
    assert healthy(watchdog, now + timedelta(minutes=10)) == {}

    arn = events.describe_event_bus(Name=ids["bus"])["Arn"]
    events.put_permission(  # put back as deployed
        EventBusName=ids["bus"],
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "cdk-AllowPayerToForwardBillingAlarms",
                        "Effect": "Allow",
                        "Principal": {"AWS": PAYER},  # AWS may store the account as its id
                        "Action": "events:PutEvents",
                        "Resource": arn,
                    }
                ],
            }
        ),
    )
    assert healthy(watchdog, now + timedelta(minutes=15)) == {}
    events.remove_permission(EventBusName=ids["bus"], RemoveAllPermissions=True)
    assert healthy(watchdog, now + timedelta(minutes=20)) == {MEMBER: "tampering"}
    assert len(tampering_mails(watchdog)) == 1


def test_a_filter_policy_on_a_notify_subscription_is_mailed(watchdog: Watchdog) -> None:
    ids, now = wired(watchdog)
    sns = member_session().client("sns")
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=ids["topic"])["Subscriptions"]
    sns.set_subscription_attributes(
        SubscriptionArn=subscription["SubscriptionArn"],
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"nothing": ["ever"]}),
    )
    assert healthy(watchdog, now + timedelta(minutes=5)) == {MEMBER: "tampering"}
    (body,) = tampering_mails(watchdog)
    assert f"- notify address {NOTIFY}'s subscription has a filter policy" in body
    assert healthy(watchdog, now + timedelta(minutes=10)) == {}


def test_a_disabled_then_deleting_topic_key_is_mailed_once_each(watchdog: Watchdog) -> None:
    ids, now = wired(watchdog)
    kms = member_session().client("kms")
    kms.disable_key(KeyId=ids["key"])
    assert healthy(watchdog, now + timedelta(minutes=5)) == {MEMBER: "tampering"}
    (body,) = tampering_mails(watchdog)
    assert "is Disabled: SNS refuses to publish to the topic" in body
    kms.schedule_key_deletion(KeyId=ids["key"], PendingWindowInDays=7)
    assert healthy(watchdog, now + timedelta(minutes=10)) == {MEMBER: "tampering"}
    (body,) = tampering_mails(watchdog)
    assert "is PendingDeletion (deleted on " in body
    assert healthy(watchdog, now + timedelta(minutes=15)) == {}


def test_a_statement_added_to_the_fast_trip_queue_policy_is_mailed(watchdog: Watchdog) -> None:
    ids, now = wired(watchdog)
    sqs = member_session().client("sqs")
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=ids["queue"], AttributeNames=["Policy"])["Attributes"][
            "Policy"
        ]
    )
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"],
            "Resource": policy["Statement"][0]["Resource"],
        }
    )
    sqs.set_queue_attributes(QueueUrl=ids["queue"], Attributes={"Policy": json.dumps(policy)})
    assert healthy(watchdog, now + timedelta(minutes=5)) == {MEMBER: "tampering"}
    (body,) = tampering_mails(watchdog)
    assert "policy has a statement the guard stack did not set (Allow sqs:ReceiveMessage" in body


def test_a_pending_subscription_is_tolerated_for_48_hours_after_the_deploy(
    watchdog: Watchdog,
) -> None:
    ids, now = wired(watchdog)
    unsubscribe(ids)
    sns = member_session().client("sns")
    sns.subscribe(TopicArn=ids["topic"], Protocol="email", Endpoint="OPS@example.com")
    assert healthy(watchdog, now + timedelta(hours=47)) == {}  # not confirmed yet: tolerated
    assert healthy(watchdog, now + timedelta(hours=49)) == {MEMBER: "tampering"}
    (body,) = tampering_mails(watchdog)
    assert f"- notify address {NOTIFY} has not confirmed its subscription, 49 hours" in body


def test_every_completed_check_logs_one_watchdog_checks_datapoint(
    watchdog: Watchdog, capsys
) -> None:
    watchdog.check(datetime.now(UTC))
    out = capsys.readouterr().out.splitlines()
    (line,) = [line for line in out if '"_aws"' in line and '"WatchdogChecks"' in line]
    document = json.loads(line)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "runawaytrain"
    assert directive["Metrics"] == [{"Name": "WatchdogChecks", "Unit": "Count"}]
    assert document["WatchdogChecks"] == 1
