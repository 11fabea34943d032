"""What a person reads at 3 a.m.: subject limits, body content, size limits."""

from __future__ import annotations

from guard.notify import BODY_MAX_BYTES, compose_body, compose_subject
from guard.report import Report
from guard.undo import INSTALL_LINE


def tripped_report(**changes) -> Report:
    report = Report(
        account="111111111111",
        account_name="genomics-lab",
        mode="enforce",
        limit=4,
        verdict="trip",
        reason="9 pending/running EC2 instances exceed the limit of 4",
        trigger="schedule",
        tripped=True,
        trip_reasons=["instance-limit"],
        count=9,
        by_region={"eu-west-1": 3, "us-east-1": 6, "sa-east-1": 0},
        incident="20261126T030000Z-abc123",
        stopped=[f"i-{n:017x}" for n in range(9)],
        stopped_by_region={
            "eu-west-1": [f"i-{n:017x}" for n in range(3)],
            "us-east-1": [f"i-{n:017x}" for n in range(3, 9)],
        },
    )
    for key, value in changes.items():
        setattr(report, key, value)
    return report


def test_subject_is_ascii_single_line_and_under_100_characters():
    report = tripped_report(account_name="Ünïcode lab " + "x" * 150)
    subject = compose_subject(report)
    assert len(subject) < 100
    assert subject.isascii()
    assert "\n" not in subject
    assert subject.startswith("runawaytrain TRIPPED 111111111111")


def test_body_has_counts_stops_incident_and_exact_undo_commands():
    body = compose_body(tripped_report(suspended_by_region={"us-east-1": {"farm": ["Launch"]}}))
    assert "runawaytrain TRIPPED in account 111111111111 (genomics-lab)." in body
    assert "Incident: 20261126T030000Z-abc123" in body
    assert "  us-east-1        6" in body
    assert "sa-east-1" not in body  # regions with nothing are left out of the table
    assert "  total            9   (limit 4)" in body
    assert (
        "runawaytrain restore --account 111111111111 --incident 20261126T030000Z-abc123 "
        "--restart-instances --dry-run"
    ) in body
    assert "runawaytrain pass --account 111111111111" in body


def test_the_undo_says_once_how_to_install_the_cli():
    body = compose_body(tripped_report())
    [line] = [line for line in body.splitlines() if "install" in line.lower()]
    assert line.endswith(f"Install the CLI: {INSTALL_LINE}")
    assert body.index(line) > body.index("How to undo")


def test_undo_commands_are_shell_quoted_and_are_runawaytrain_commands_only():
    """The one restore command does everything; an `aws lambda invoke` of the guard would not
    detach the quarantine and cannot be run here (tests/cli/test_mail_commands.py runs the rest)."""
    body = compose_body(
        tripped_report(
            function="runawaytrain guard;rm", home_region="eu-west-1", incident="2026 x;rm"
        )
    )
    assert (
        "runawaytrain restore --account 111111111111 --home-region eu-west-1 "
        "--incident '2026 x;rm' --restart-instances"
    ) in body
    assert "aws lambda invoke" not in body
    assert "runawaytrain guard;rm" not in body


def test_dry_run_body_says_nothing_was_changed():
    report = tripped_report(mode="dry-run", stopped=[], stopped_by_region={}, would_stop=["i-1"])
    assert "WOULD TRIP (dry-run)" in compose_subject(report)
    body = compose_body(report)
    assert "nothing was stopped" in body
    assert "start-instances" not in body


def test_huge_incident_stays_under_the_sns_size_limit():
    ids = [f"i-{n:017x}" for n in range(20_000)]
    report = tripped_report(
        count=20_000,
        stopped=ids,
        stopped_by_region={"us-east-1": ids},
        not_stopped={id_: "IncorrectInstanceState" for id_ in ids[:5000]},
    )
    body = compose_body(report)
    assert len(body.encode()) <= BODY_MAX_BYTES + 100
    assert "... and 19800 more, tagged runawaytrain:incident" in body
    assert "... and 4800 more (see the log)" in body
