"""Settings come from the environment the stack sets; anything wrong fails loudly by name."""

from __future__ import annotations

import pytest

from guard.handler import handler
from guard.settings import (
    Action,
    Mode,
    Settings,
    SettingsError,
    Unstoppable,
    WeightedLimits,
    read_env_action,
)
from tests.guard.conftest import FakeContext, instance_states

TOPIC = "arn:aws:sns:us-east-1:123456789012:runawaytrain-notify"


def test_reads_every_setting():
    settings = Settings.from_env(
        {
            "ec2limit": " 4 ",
            "snstopic": TOPIC,
            "mode": "dry-run",
            "account_name": "genomics",
            "unstoppable": "report",
        }
    )
    assert settings == Settings(4, TOPIC, Mode.DRY_RUN, "genomics", unstoppable=Unstoppable.REPORT)


def test_reads_the_operator_role_the_lockout_spares():
    environ = {"ec2limit": "4", "snstopic": TOPIC, "operator_role": " PayerOperator "}
    assert Settings.from_env(environ).operator_role == "PayerOperator"
    assert Settings.from_env({"ec2limit": "4", "snstopic": TOPIC}).operator_role == ""


def test_reads_the_launch_block_and_its_policy_even_when_off():
    """The stack always sets the policy (restore detaches it whatever the switch says)."""
    policy = "arn:aws:iam::123456789012:policy/runawaytrain/runawaytrain-launch-block"
    base = {"ec2limit": "4", "snstopic": TOPIC, "launch_block_policy": policy}
    on = Settings.from_env({**base, "launch_block": "true"})
    assert (on.launch_block, on.launch_block_policy) == (True, policy)
    off = Settings.from_env({**base, "launch_block": "false"})
    assert (off.launch_block, off.launch_block_policy) == (False, policy)
    assert not Settings.from_env({"ec2limit": "4", "snstopic": TOPIC}).launch_block


def test_reads_weighted_limits_and_leaves_unset_ones_unchecked():
    environ = {"ec2limit": "4", "snstopic": TOPIC, "max_gpus": "8", "max_usd_per_hour": "12.5"}
    weighted = Settings.from_env(environ).weighted
    assert weighted == WeightedLimits(vcpus=None, gpus=8, usd_per_hour=12.5)
    assert not Settings.from_env({"ec2limit": "4", "snstopic": TOPIC}).weighted.any


def test_defaults_are_enforce_and_terminate_spot():
    settings = Settings.from_env({"ec2limit": "0", "snstopic": TOPIC})
    assert settings.mode is Mode.ENFORCE
    assert settings.unstoppable is Unstoppable.TERMINATE_SPOT


def test_a_regions_variable_left_by_an_old_stack_cannot_narrow_the_census(launch, guard_env):
    """A leaked key launches where nobody looks: the census counts every enabled region."""
    ids = launch("ap-northeast-3", 2)
    guard_env(ec2limit=1, regions="us-east-1")

    report = handler({}, FakeContext())["report"]

    assert report["by_region"]["ap-northeast-3"] == 2
    assert report["stopped"] == sorted(ids)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"snstopic": TOPIC}, "ec2limit is required"),
        ({"ec2limit": "", "snstopic": TOPIC}, "ec2limit is required"),
        ({"ec2limit": "-1", "snstopic": TOPIC}, "ec2limit='-1' is negative"),
        ({"ec2limit": "four", "snstopic": TOPIC}, "ec2limit='four' is not a whole number"),
        ({"ec2limit": "4.5", "snstopic": TOPIC}, "ec2limit='4.5' is not a whole number"),
        ({"ec2limit": "4"}, "snstopic is required"),
        ({"ec2limit": "4", "snstopic": "my-topic"}, "snstopic='my-topic' is not an SNS topic ARN"),
        ({"ec2limit": "4", "snstopic": TOPIC, "mode": "enforced"}, "mode='enforced' is not one of"),
        (
            {"ec2limit": "4", "snstopic": TOPIC, "unstoppable": "terminate"},
            "unstoppable='terminate' is not one of: terminate-spot, terminate-all, report",
        ),
        ({"ec2limit": "4", "snstopic": TOPIC, "max_vcpus": "-2"}, "max_vcpus='-2' is not a whole"),
        ({"ec2limit": "4", "snstopic": TOPIC, "max_gpus": "1.5"}, "max_gpus='1.5' is not a whole"),
        (
            {"ec2limit": "4", "snstopic": TOPIC, "max_usd_per_hour": "nan"},
            "max_usd_per_hour='nan' is not a number of US dollars >= 0",
        ),
        (
            {"ec2limit": "4", "snstopic": TOPIC, "launch_block": "yes"},
            "launch_block='yes' is not one of: true, false",
        ),
        (
            {"ec2limit": "4", "snstopic": TOPIC, "launch_block": "true"},
            "launch_block='true' needs launch_block_policy",
        ),
        (
            {
                "ec2limit": "4",
                "snstopic": TOPIC,
                "launch_block_policy": "runawaytrain-launch-block",
            },
            "launch_block_policy='runawaytrain-launch-block' is not a managed policy ARN",
        ),
    ],
)
def test_bad_setting_is_named_in_the_error(environ, expected):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)
    assert expected in str(raised.value)


@pytest.mark.parametrize(("raw", "action"), [(None, Action.PROCEED), ("pass", Action.PASS)])
def test_env_action(raw, action):
    assert read_env_action({} if raw is None else {"envaction": raw}) is action


def test_unknown_env_action_fails_rather_than_guessing():
    with pytest.raises(SettingsError, match="envaction='pas' is not one of: pass, proceed"):
        read_env_action({"envaction": "pas"})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ec2limit": None}, "ec2limit is required"),
        ({"ec2limit": "-1"}, "ec2limit='-1' is negative"),
        ({"ec2limit": "four"}, "ec2limit='four' is not a whole number"),
        ({"mode": "yolo"}, "mode='yolo' is not one of: enforce, dry-run"),
    ],
)
def test_handler_with_bad_settings_raises_logs_and_touches_nothing(
    launch, guard_env, monkeypatch, capsys, env, expected
):
    ids = launch("us-east-1", 5)
    guard_env(ec2limit=0)
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=expected.replace("[", r"\[")):
        handler({}, FakeContext())

    assert set(instance_states("us-east-1", ids).values()) == {"running"}
    assert '"message": "bad_settings"' in capsys.readouterr().out


def test_reads_blind_runs_to_trip_and_refuses_what_is_not_a_count_of_runs():
    base = {"ec2limit": "4", "snstopic": TOPIC}
    assert Settings.from_env(base).blind_runs_to_trip == 3  # blindness.py: why 3
    assert Settings.from_env({**base, "blind_runs_to_trip": "5"}).blind_runs_to_trip == 5
    for bad in ("0", "-1", "three", ""):
        with pytest.raises(SettingsError, match=f"blind_runs_to_trip={bad!r} is not a whole"):
            Settings.from_env({**base, "blind_runs_to_trip": bad})
