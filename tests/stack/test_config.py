"""accounts.yaml loading: valid files become typed accounts; every malformed one is rejected
with a message naming the file, line, key and value (written to tmp_path, read from disk)."""

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runawaytrain_stack.config import ConfigError, Lockout, Mode, load_fleet, parse_fleet

VALID = """\
payer:
  id: "111111111111"
  name: payer
  notify: [a@example.com]
  ec2_limit: 2
accounts:
  - id: "222222222222"
    name: dev
    notify: [d@example.com]
    ec2_limit: 5
"""


def write_fleet(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CUR = "cur: {bucket: payer-cur, prefix: cur, report_name: org_cur}\n"


def replace_line(number: int, new: str) -> str:
    """VALID with line `number` (1-based) replaced."""
    lines = VALID.splitlines()
    lines[number - 1] = new
    return "\n".join(lines) + "\n"


# (case id, file text, fragments the error must contain: location, key, what was found)
MALFORMED = [
    (
        "typo-in-account-key",
        replace_line(10, "    ec2_limt: 5"),
        [":10: accounts[0].ec2_limt: unknown key (value integer 5)", "did you mean ec2_limit?"],
    ),
    (
        "typo-in-top-level-key",
        VALID.replace("accounts:", "acounts:"),
        [":6: acounts: unknown key (value list", "did you mean accounts?"],
    ),
    (
        "typo-in-defaults-key",
        "defaults:\n  schedule: 5\n" + VALID,
        [":2: defaults.schedule: unknown key (value integer 5)", "did you mean schedule_minutes?"],
    ),
    (
        "unquoted-id",
        replace_line(2, "  id: 111111111111"),
        [":2: payer.id: expected a quoted 12-digit", "found integer 111111111111", "quote it"],
    ),
    (
        "id-too-short",
        replace_line(7, '  - id: "22222222222"'),
        [":7: accounts[0].id: expected a quoted 12-digit", "found text '22222222222'"],
    ),
    (
        "id-with-letters",
        replace_line(2, '  id: "11111111111x"'),
        [":2: payer.id:", "found text '11111111111x'"],
    ),
    (
        "negative-limit",
        replace_line(10, "    ec2_limit: -1"),
        [":10: accounts[0].ec2_limit: expected a whole number >= 0", "found integer -1"],
    ),
    (
        "limit-as-text",
        replace_line(5, '  ec2_limit: "2"'),
        [":5: payer.ec2_limit: expected a whole number", "found text '2'"],
    ),
    (
        "fractional-limit",
        replace_line(5, "  ec2_limit: 2.5"),
        [":5: payer.ec2_limit:", "found number 2.5"],
    ),
    (
        "boolean-limit",
        replace_line(5, "  ec2_limit: yes"),
        [":5: payer.ec2_limit:", "found boolean True"],
    ),
    (
        "negative-max-vcpus",
        VALID + "    max_vcpus: -8\n",
        [":11: accounts[0].max_vcpus: expected a whole number >= 0", "found integer -8"],
    ),
    (
        "fractional-max-gpus",
        VALID + "    max_gpus: 1.5\n",
        [":11: accounts[0].max_gpus: expected a whole number >= 0 (GPUs", "found number 1.5"],
    ),
    (
        "max-usd-per-hour-as-text",
        VALID + '    max_usd_per_hour: "50"\n',
        [":11: accounts[0].max_usd_per_hour: expected a number of US dollars", "found text '50'"],
    ),
    (
        "negative-max-usd-per-hour",
        VALID + "    max_usd_per_hour: -1\n",
        [":11: accounts[0].max_usd_per_hour: expected a number of US dollars >= 0"],
    ),
    (
        "invalid-email",
        replace_line(9, "    notify: [d@example.com, not-an-email]"),
        [":9: accounts[0].notify[1]: expected an email address", "found text 'not-an-email'"],
    ),
    (
        "empty-notify",
        replace_line(4, "  notify: []"),
        [":4: payer.notify: expected a non-empty list of email addresses", "found list []"],
    ),
    (
        "notify-not-a-list",
        replace_line(4, "  notify: a@example.com"),
        [":4: payer.notify: expected a non-empty list", "found text 'a@example.com'"],
    ),
    (
        "duplicate-id",
        replace_line(7, '  - id: "111111111111"'),
        [
            ":7: accounts[0].id: repeats text '111111111111' from payer.id (line 2)",
            "every account needs its own id",
        ],
    ),
    (
        "duplicate-name",
        replace_line(8, "    name: payer"),
        [":8: accounts[0].name: repeats text 'payer' from payer.name (line 3)"],
    ),
    (
        "unknown-mode",
        VALID + "    mode: enforced\n",
        [":11: accounts[0].mode: expected enforce or dry-run, found text 'enforced'"],
    ),
    (
        "unknown-lockout",
        VALID + "    lockout: users+groups\n",
        [":11: accounts[0].lockout: expected none, users, users+roles", "'users+groups'"],
    ),
    (
        "zero-schedule",
        VALID + "    schedule_minutes: 0\n",
        [":11: accounts[0].schedule_minutes: expected a whole number of minutes from 1 to 1440"],
    ),
    (
        "schedule-over-a-day",
        VALID + "    schedule_minutes: 1441\n",
        [":11: accounts[0].schedule_minutes:", "found integer 1441"],
    ),
    (
        "zero-blind-runs",
        VALID + "    blind_runs_to_trip: 0\n",
        [
            ":11: accounts[0].blind_runs_to_trip: expected a whole number of runs >= 1",
            "found integer 0",
        ],
    ),
    (
        "quoted-blind-runs",
        'defaults:\n  blind_runs_to_trip: "3"\n' + VALID,
        [":2: defaults.blind_runs_to_trip: expected a whole number of runs >= 1", "text '3'"],
    ),
    (
        "invalid-home-region",
        VALID + "    home_region: Europe\n",
        [":11: accounts[0].home_region: expected an AWS region name", "found text 'Europe'"],
    ),
    (
        "invalid-region-in-list",
        VALID + "    regions: [eu-west-1, mars-1]\n",
        [":11: accounts[0].regions[1]: expected an AWS region name", "found text 'mars-1'"],
    ),
    (
        "region-shaped-but-not-a-region",
        VALID + "    regions: [us-east-7]\n",
        [":11: accounts[0].regions[0]:", "'us-east-7': not a Region", "did you mean us-east-2"],
    ),
    (
        "home-region-shaped-but-not-a-region",
        VALID + "    home_region: us-east-7\n",
        [":11: accounts[0].home_region:", "'us-east-7': not a Region", "did you mean us-east-2"],
    ),
    (
        "region-of-another-partition",
        VALID + "    regions: [cn-north-1]\n",
        [":11: accounts[0].regions[0]:", "cn-north-1 is a Region of AWS China, not of the comm"],
    ),
    (
        "govcloud-home-region",
        VALID + "    home_region: us-gov-west-1\n",
        [":11: accounts[0].home_region:", "a Region of AWS GovCloud (US)"],
    ),
    (
        "negative-budget",
        VALID + "    monthly_budget_usd: -5\n",
        [":11: accounts[0].monthly_budget_usd: expected a number of US dollars > 0", "-5"],
    ),
    (
        "budget-with-currency-sign",
        VALID + '    monthly_budget_usd: "$500"\n',
        [":11: accounts[0].monthly_budget_usd:", "found text '$500'"],
    ),
    (
        "break-glass-name-with-space",
        VALID + "    break_glass: [break glass]\n",
        [":11: accounts[0].break_glass[0]: expected an IAM user or role name", "'break glass'"],
    ),
    (
        "upper-case-name",
        replace_line(8, "    name: Dev"),
        [":8: accounts[0].name: expected lower-case letters", "found text 'Dev'"],
    ),
    (
        "repeated-notify-address",
        replace_line(9, "    notify: [d@example.com, D@Example.com]"),
        [":9: accounts[0].notify[1]: repeats text 'D@Example.com' from notify[0]"],
    ),
    ("empty-file", "", [":1: expected a mapping with keys defaults, payer and accounts", "empty"]),
    ("comments-only", "# nothing yet\n", [":1: expected a mapping", "it is empty"]),
    ("top-level-list", "- 1\n- 2\n", [":1: expected a mapping", "found list [1, 2]"]),
    (
        "yaml-syntax-error",
        replace_line(4, "  notify: [a@example.com"),
        [":4: payer.notify: YAML syntax error at column", "close the [list] with ] on the same"],
    ),
    (
        "repeated-key",
        VALID.replace("  ec2_limit: 2\n", "  ec2_limit: 2\n  ec2_limit: 3\n"),
        [":6: payer.ec2_limit: repeats the key from line 5"],
    ),
    (
        "key-without-value",
        replace_line(5, "  ec2_limit:"),
        [":5: payer.ec2_limit: has no value"],
    ),
    (
        "missing-payer",
        VALID[VALID.index("accounts:") :],
        [":1: payer: required key is missing", "a mapping describing the payer account"],
    ),
    (
        "missing-required-key-without-default",
        VALID.replace("  notify: [a@example.com]\n", ""),
        [":2: payer.notify: required key is missing (set it here or in defaults)"],
    ),
    (
        "account-entry-not-a-mapping",
        VALID + "  - just-a-name\n",
        [":11: accounts[1]: expected a mapping describing one sub-account", "'just-a-name'"],
    ),
    (
        "two-documents",
        VALID + "---\npayer: {}\n",
        [":11: ", "YAML syntax error at column 1:", "remove the '---' or '...' line"],
    ),
    (
        "spend-limit-zero",
        CUR + VALID + "    max_spend_per_day_usd: 0\n",
        [
            ":12: accounts[0].max_spend_per_day_usd: expected a number of US dollars > 0",
            "found integer 0",
        ],
    ),
    (
        "spend-limit-text",
        CUR + VALID + '    max_spend_per_day_usd: "200"\n',
        [":12: accounts[0].max_spend_per_day_usd:", "found text '200'"],
    ),
    (
        "spend-limit-without-cur",
        VALID + "    max_spend_per_day_usd: 200\n",
        [":11: accounts[0].max_spend_per_day_usd: is set but the fleet has no cur:"],
    ),
    (
        "cur-bucket-upper-case",
        CUR.replace("payer-cur", "Payer_CUR") + VALID,
        [":1: cur.bucket: expected an S3 bucket name", "found text 'Payer_CUR'"],
    ),
    (
        "cur-prefix-trailing-slash",
        CUR.replace("prefix: cur", "prefix: cur/") + VALID,
        [":1: cur.prefix: expected an S3 key prefix without leading or trailing slash"],
    ),
    (
        "cur-report-name-missing",
        CUR.replace(", report_name: org_cur", "") + VALID,
        [":1: cur.report_name: required key is missing; expected a CUR report or export name"],
    ),
    (
        "fast-trip-as-quoted-text",
        VALID + '    fast_trip: "yes"\n',
        [":11: accounts[0].fast_trip: expected true or false (unquoted)", "found text 'yes'"],
    ),
    (
        "fast-trip-as-number",
        VALID + "    fast_trip: 1\n",
        [":11: accounts[0].fast_trip: expected true or false", "found integer 1"],
    ),
    (
        "fast-trip-in-defaults-as-text",
        'defaults:\n  fast_trip: "off"\n' + VALID,
        [":2: defaults.fast_trip: expected true or false", "found text 'off'"],
    ),
    (
        "name-of-another-accounts-fast-trip-stack",
        VALID + '  - id: "333333333333"\n    name: payer-eu-west-1\n'
        "    notify: [x@example.com]\n    ec2_limit: 1\n",
        [
            ":12: accounts[1].name: names the same stack as the fast trip of account payer in "
            "eu-west-1 (runawaytrain-guard-payer-eu-west-1)"
        ],
    ),
    (
        "launch-block-as-quoted-text",
        VALID + '    launch_block: "no"\n',
        [":11: accounts[0].launch_block: expected true or false (unquoted)", "found text 'no'"],
    ),
    (
        "launch-block-in-defaults-as-number",
        "defaults:\n  launch_block: 0\n" + VALID,
        [":2: defaults.launch_block: expected true or false (unquoted)", "found integer 0"],
    ),
    (
        "launch-block-misspelt",
        VALID + "    launchblock: false\n",
        [
            ":11: accounts[0].launchblock: unknown key (value boolean False)",
            "did you mean launch_block?",
        ],
    ),
    (
        "cur-key-typo",
        CUR.replace("report_name", "report") + VALID,
        [":1: cur.report: unknown key", "did you mean report_name?"],
    ),
]


@pytest.mark.parametrize(
    ("text", "fragments"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_rejects_malformed_fleet_naming_file_line_key_and_value(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = write_fleet(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_fleet(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_spend_limit_and_cur_location_are_read() -> None:
    text = (
        CUR
        + "defaults:\n  max_spend_per_day_usd: 100\n"
        + VALID.replace(
            "    ec2_limit: 5\n", "    ec2_limit: 5\n    max_spend_per_day_usd: 250.5\n"
        )
    )
    fleet = parse_fleet(text)
    assert fleet.cur is not None
    assert (fleet.cur.bucket, fleet.cur.prefix, fleet.cur.report_name) == (
        "payer-cur",
        "cur",
        "org_cur",
    )
    assert [a.max_spend_per_day_usd for a in fleet.accounts] == [100, 250.5]
    assert parse_fleet(VALID).cur is None
    assert parse_fleet(VALID).spend_limited_accounts == ()


def test_has_at_least_twenty_malformed_cases() -> None:
    assert len(MALFORMED) >= 20


def test_reports_every_problem_of_a_file_at_once(tmp_path: Path) -> None:
    text = replace_line(5, "  ec2_limit: -1").replace("name: dev", "name: Dev")
    with pytest.raises(ConfigError) as raised:
        load_fleet(write_fleet(tmp_path, text))
    assert [problem.line for problem in raised.value.problems] == [5, 8]


def test_reports_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_fleet(tmp_path / "missing.yaml")


def test_reports_repeat_inherited_from_defaults_once_at_its_line() -> None:
    text = "defaults:\n  regions: [eu-west-1, eu-west-1]\n" + VALID
    with pytest.raises(ConfigError) as raised:
        parse_fleet(text)
    assert str(raised.value) == (
        "accounts.yaml:2: defaults.regions[1]: repeats text 'eu-west-1' from regions[0]; "
        "list it once"
    )


def test_loads_sample_fleet_with_payer_first(sample_fleet) -> None:
    assert [account.name for account in sample_fleet.accounts] == [
        "payer",
        "prod",
        "staging",
        "sandbox",
    ]
    assert sample_fleet.payer.id == "111111111111"


def test_fills_unset_keys_from_builtin_defaults() -> None:
    dev = parse_fleet(VALID).sub_accounts[0]
    assert (dev.schedule_minutes, dev.mode, dev.lockout) == (5, Mode.ENFORCE, Lockout.NONE)
    assert (dev.home_region, dev.regions, dev.break_glass) == ("us-east-1", (), ())
    assert dev.monthly_budget_usd is None


def test_fills_unset_keys_from_defaults_block_and_account_overrides_it() -> None:
    text = "defaults:\n  mode: dry-run\n  schedule_minutes: 10\n  ec2_limit: 7\n" + VALID
    fleet = parse_fleet(text.replace("    ec2_limit: 5\n", "    mode: enforce\n"))
    dev = fleet.sub_accounts[0]
    assert (dev.mode, dev.schedule_minutes, dev.ec2_limit) == (Mode.ENFORCE, 10, 7)
    assert (fleet.payer.mode, fleet.payer.ec2_limit) == (Mode.DRY_RUN, 2)


def test_blind_runs_to_trip_defaults_to_3_and_inherits_from_defaults() -> None:
    assert [a.blind_runs_to_trip for a in parse_fleet(VALID).accounts] == [3, 3]
    text = "defaults:\n  blind_runs_to_trip: 6\n" + VALID + "    blind_runs_to_trip: 2\n"
    assert [a.blind_runs_to_trip for a in parse_fleet(text).accounts] == [6, 2]


def test_weighted_limits_are_unset_unless_given_and_inherit_from_defaults() -> None:
    assert [(a.max_vcpus, a.max_gpus, a.max_usd_per_hour) for a in parse_fleet(VALID).accounts] == [
        (None, None, None)
    ] * 2
    text = "defaults:\n  max_gpus: 8\n  max_usd_per_hour: 50\n" + VALID + "    max_gpus: 0\n"
    payer, dev = parse_fleet(text).accounts
    assert (payer.max_vcpus, payer.max_gpus, payer.max_usd_per_hour) == (None, 8, 50)
    assert (dev.max_gpus, dev.max_usd_per_hour) == (0, 50)


def test_launch_block_is_on_unless_turned_off_in_defaults_or_per_account() -> None:
    """Issue 20: a trip refuses launches by default, even with lockout none (the default)."""
    fleet = parse_fleet(VALID)
    assert [(a.launch_block, a.lockout) for a in fleet.accounts] == [(True, Lockout.NONE)] * 2
    text = "defaults:\n  launch_block: false\n" + VALID + "    launch_block: true\n"
    assert [a.launch_block for a in parse_fleet(text).accounts] == [False, True]


def test_fast_trip_is_on_unless_turned_off_in_defaults_or_per_account() -> None:
    assert [a.fast_trip for a in parse_fleet(VALID).accounts] == [True, True]
    text = "defaults:\n  fast_trip: false\n" + VALID + "    fast_trip: true\n"
    assert [a.fast_trip for a in parse_fleet(text).accounts] == [False, True]


def test_fast_trip_off_or_regions_key_avoid_a_stack_name_clash() -> None:
    clash = '  - id: "333333333333"\n    name: payer-eu-west-1\n    notify: [x@example.com]\n'
    text = VALID.replace("    ec2_limit: 5\n", "    ec2_limit: 5\n" + clash + "    ec2_limit: 1\n")
    for fix in ("  fast_trip: false\n", "  regions: [us-east-1, us-west-2]\n"):
        fixed = text.replace("  ec2_limit: 2\n", "  ec2_limit: 2\n" + fix, 1)
        assert [a.name for a in parse_fleet(fixed).accounts][-1] == "payer-eu-west-1"


def test_accepts_whole_dollar_budget_as_number() -> None:
    fleet = parse_fleet(VALID + "    monthly_budget_usd: 500\n")
    assert fleet.sub_accounts[0].monthly_budget_usd == 500.0
    assert fleet.budgeted_accounts == (fleet.sub_accounts[0],)


def test_accepts_payer_only_fleet() -> None:
    fleet = parse_fleet(VALID[: VALID.index("accounts:")])
    assert fleet.sub_accounts == ()


def test_accounts_are_immutable() -> None:
    account = parse_fleet(VALID).payer
    with pytest.raises(FrozenInstanceError):
        account.ec2_limit = 100  # type: ignore[misc]


YAML_SCALARS = st.one_of(
    st.integers(-(10**13), 10**13).map(str),
    st.sampled_from(["yes", "~", "2.5", "[]", "{}", "enforce", '"111111111111"', "-", "'x'"]),
    st.text(alphabet="abcdefghij-_.@ 0123", max_size=12).map(lambda s: f'"{s}"'),
)
KEYS = [
    "ec2_limit",
    "schedule_minutes",
    "blind_runs_to_trip",
    "mode",
    "lockout",
    "home_region",
    "monthly_budget_usd",
    "fast_trip",
    "launch_block",
]


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(KEYS), value=YAML_SCALARS)
def test_any_value_for_any_key_loads_or_fails_with_its_location(key: str, value: str) -> None:
    text = VALID + f"    {key}: {value}\n"
    try:
        parse_fleet(text)
    except ConfigError as error:
        message = str(error)
        assert message.startswith("accounts.yaml:11: "), message
        assert f"accounts[0].{key}:" in message or "YAML syntax error" in message, message
