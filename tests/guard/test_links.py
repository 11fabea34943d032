"""The trip mail links to the fleet dashboard (in the payer's Region) and to the guard's own log
group, as console URLs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from guard.handler import handler
from guard.links import DASHBOARD_NAME, dashboard_url, log_group_url
from tests.guard.conftest import FUNCTION_ARN, HOME, FakeContext
from tests.guard.test_heartbeat import BUS_ARN, payer_bus  # noqa: F401 -- fixture by name

LOG_GROUP = "runawaytrain-guard-prod-GuardLogs1A2B3C"


@dataclass
class LoggingContext(FakeContext):
    log_group_name: str = LOG_GROUP


def test_a_trip_mail_links_to_the_dashboard_and_the_log_group(
    launch,
    guard_env,
    inbox,
    payer_bus,  # noqa: F811
) -> None:
    launch(HOME, 3)
    guard_env(ec2limit=1, payer_bus=BUS_ARN)

    handler({}, LoggingContext())

    (mail,) = inbox.messages()
    body = mail["Message"]
    assert (
        "Fleet dashboard (in the payer account): "
        f"https://{HOME}.console.aws.amazon.com/cloudwatch/home?region={HOME}"
        f"#dashboards/dashboard/{DASHBOARD_NAME}"
    ) in body
    assert (
        "This guard's log (in this account): "
        f"https://{HOME}.console.aws.amazon.com/cloudwatch/home?region={HOME}"
        f"#logsV2:log-groups/log-group/{LOG_GROUP}"
    ) in body


def test_without_a_payer_the_mail_has_no_dashboard_link(launch, guard_env, inbox) -> None:
    launch(HOME, 3)
    guard_env(ec2limit=1)

    handler({}, LoggingContext())

    (mail,) = inbox.messages()
    assert "Fleet dashboard" not in mail["Message"]
    assert "This guard's log" in mail["Message"]


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:events:eu-central-1:100000000001:event-bus/runawaytrain-payer",
            "https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1"
            f"#dashboards/dashboard/{DASHBOARD_NAME}",
        ),
        (
            "arn:aws-us-gov:events:us-gov-west-1:100000000001:event-bus/runawaytrain-payer",
            "https://us-gov-west-1.console.amazonaws-us-gov.com/cloudwatch/home?"
            f"region=us-gov-west-1#dashboards/dashboard/{DASHBOARD_NAME}",
        ),
        ("arn:aws-iso:events:us-iso-east-1:1:event-bus/x", ""),  # no console we know: no link
        ("", ""),
    ],
)
def test_the_dashboard_is_in_the_payer_buss_region(arn: str, expected: str) -> None:
    assert dashboard_url(arn) == expected


def test_a_log_group_name_is_encoded_as_the_console_reads_it() -> None:
    url = log_group_url(FUNCTION_ARN, "/aws/lambda/runawaytrain-guard")
    assert url.endswith("#logsV2:log-groups/log-group/$252Faws$252Flambda$252Frunawaytrain-guard")
    assert log_group_url(FUNCTION_ARN, "") == ""
