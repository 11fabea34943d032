"""A whole spend-watcher run in moto: one trip event per delivery, the payer told."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from spend.cur import CurLocation
from spend.handler import Settings, SettingsError
from spend.watch import run_watcher

from strict_aws.cur_deliveries import (
    BUCKET,
    CUR2,
    LEGACY,
    LIMITS,
    NOW,
    PREFIX,
    REPORT,
    generate,
    gzip_csv,
    put_delivery,
)

PARAMETER = "/runawaytrain/spend/last-delivery"


@dataclass
class Payer:
    s3: Any
    events: Any
    sns: Any
    ssm: Any
    sqs: Any
    topic_arn: str
    inbox_url: str
    events_url: str

    def run(self, location: CurLocation | None = None) -> Any:
        return run_watcher(
            location=location or CurLocation(BUCKET, PREFIX, REPORT),
            limits=LIMITS,
            topic_arn=self.topic_arn,
            state_parameter=PARAMETER,
            now=NOW,
            s3=self.s3,
            events=self.events,
            sns=self.sns,
            ssm=self.ssm,
        )

    def _drain(self, url: str) -> list[dict[str, Any]]:
        bodies = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return bodies
            for message in got["Messages"]:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def messages(self) -> list[dict[str, Any]]:
        return self._drain(self.inbox_url)

    def trip_events(self) -> list[dict[str, Any]]:
        return self._drain(self.events_url)


@pytest.fixture
def payer(s3: Any) -> Payer:
    sqs = boto3.client("sqs", region_name="us-east-1")
    sns = boto3.client("sns", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    topic_arn = sns.create_topic(Name="payer-notify")["TopicArn"]
    inbox_url = sqs.create_queue(QueueName="payer-inbox")["QueueUrl"]
    events_url = sqs.create_queue(QueueName="spend-events")["QueueUrl"]

    def arn(url: str) -> str:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn(inbox_url),
        Attributes={"RawMessageDelivery": "false"},
    )
    events.put_rule(Name="spend", EventPattern=json.dumps({"source": ["runawaytrain.spend"]}))
    events.put_targets(Rule="spend", Targets=[{"Id": "q", "Arn": arn(events_url)}])
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
    return Payer(s3, events, sns, ssm, sqs, topic_arn, inbox_url, events_url)


@pytest.mark.parametrize("layout", [LEGACY, CUR2])
def test_over_budget_account_trips_once_per_delivery(payer: Payer, layout: str) -> None:
    put_delivery(payer.s3, layout, "d1", [gzip_csv(layout, generate(9, 2))])

    first = payer.run()
    assert (first.status, first.tripped, first.trip_errors) == ("tripped", ["333333333333"], {})
    (event,) = payer.trip_events()
    assert (event["source"], event["detail-type"]) == ("runawaytrain.spend", "Spend Rate Exceeded")
    detail = event["detail"]
    assert detail["account"] == "333333333333"
    assert detail["spend_24h_usd"] == first.spend_24h_usd["333333333333"]
    assert (detail["limit_usd"], detail["delivery"]) == (300.0, "d1")
    assert detail["newest_data"] == "2026-11-26T09:00:00+00:00"
    (told,) = payer.messages()
    assert told["Subject"] == "runawaytrain SPEND RATE: 333333333333"
    assert "CUR data lags actual usage by hours" in told["Message"]
    assert "newest data 2026-11-26T09:00:00+00:00" in told["Message"]

    again = payer.run()
    assert again.status == "already-acted"
    assert payer.trip_events() == [] and payer.messages() == []

    put_delivery(payer.s3, layout, "d2", [gzip_csv(layout, generate(8, 3))])
    assert payer.run().tripped == ["333333333333"]
    assert len(payer.trip_events()) == 1


def test_under_budget_accounts_trip_nothing_and_tell_nobody(payer: Payer) -> None:
    items = [item for item in generate(9, 2) if item.account != "333333333333"]
    put_delivery(payer.s3, LEGACY, "d1", [gzip_csv(LEGACY, items)])
    report = payer.run()
    assert (report.status, report.tripped) == ("ok", [])
    assert payer.trip_events() == [] and payer.messages() == []


def _truncated() -> list[bytes]:
    whole = gzip_csv(LEGACY, generate(9, 4))
    return [whole[: len(whole) // 2]]


@pytest.mark.parametrize(
    ("files", "location", "expected"),
    [
        (_truncated(), None, "unreadable: EOFError"),
        ([gzip.compress(b"a,b\n1,2\n")], None, "unknown column layout"),
        ([gzip_csv(LEGACY, [])], None, "the delivery holds no line items"),
        ([], CurLocation("no-such-bucket", PREFIX, REPORT), "bucket does not exist"),
        ([], CurLocation(BUCKET, "elsewhere", REPORT), "no CUR manifest for the billing period"),
    ],
)
def test_a_bad_delivery_tells_the_payer_and_trips_nothing(
    payer: Payer, files: list[bytes], location: CurLocation | None, expected: str
) -> None:
    put_delivery(payer.s3, LEGACY, "d1", files)
    report = payer.run(location)
    assert report.status == "degraded" and report.tripped == []
    (told,) = payer.messages()
    assert told["Subject"] == "runawaytrain spend watcher DEGRADED"
    assert told["Message"].startswith("spend watcher degraded: ")
    assert expected in told["Message"]
    assert payer.trip_events() == []


ENV = {
    "cur_bucket": BUCKET,
    "cur_prefix": PREFIX,
    "cur_report": REPORT,
    "limits": '{"111111111111": 50, "222222222222": "12.5"}',
    "snstopic": "arn:aws:sns:us-east-1:111111111111:notify",
    "state_parameter": PARAMETER,
}


def test_settings_read_from_the_environment() -> None:
    settings = Settings.from_env(ENV)
    assert settings.location == CurLocation(BUCKET, PREFIX, REPORT)
    assert settings.limits == {"111111111111": 50.0, "222222222222": 12.5}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cur_bucket": ""}, "environment variable cur_bucket is missing or empty"),
        ({"limits": "[1]"}, "environment variable limits is '\\[1\\]': expected a JSON object"),
        ({"limits": '{"1": "x"}'}, "expected a JSON object of account id -> USD per day"),
    ],
)
def test_a_bad_setting_names_the_variable(change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**ENV, **change})
