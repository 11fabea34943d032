"""accounts.yaml `organization:`: the organisation whose OUs the payer's StackSets guard."""

from pathlib import Path

import pytest

from runawaytrain_stack.config import ConfigError, parse_fleet

# With organization:, defaults must hold notify and ec2_limit (test_settings_documents.py).
SAMPLE = (
    (Path(__file__).parents[2] / "accounts.yaml")
    .read_text()
    .replace("defaults:\n", "defaults:\n  notify: [everyone@example.com]\n  ec2_limit: 3\n", 1)
)


def test_an_organization_with_target_ous_is_read():
    fleet = parse_fleet(
        SAMPLE + "organization:\n  id: o-abcdef1234\n  target_ous: [ou-ab12-cdef3456]\n"
    )
    assert fleet.organization is not None
    assert fleet.organization.id == "o-abcdef1234"
    assert fleet.organization.target_ous == ("ou-ab12-cdef3456",)


def test_without_organization_every_account_is_deployed_by_cdk_as_before():
    assert parse_fleet(SAMPLE).organization is None


@pytest.mark.parametrize(
    ("block", "says", "offset"),
    [
        (
            "  id: o-ABC\n  target_ous: [ou-ab12-cdef3456]\n",
            "organization.id: expected an organization id",
            1,
        ),
        (
            "  id: o-abcdef1234\n  target_ous: []\n",
            "organization.target_ous: expected a non-empty list",
            2,
        ),
        ("  id: o-abcdef1234\n  target_ous: [r-ab12]\n", "expected an organizational unit id", 2),
        ("  id: o-abcdef1234\n", "organization.target_ous: required key is missing", 1),
    ],
)
def test_a_wrong_organization_is_refused_with_its_line_and_key(block, says, offset):
    text = SAMPLE + "organization:\n" + block
    line = text.count("\n", 0, text.index("organization:")) + 1 + offset
    with pytest.raises(ConfigError) as caught:
        parse_fleet(text)
    assert says in str(caught.value)
    assert str(caught.value).startswith(f"accounts.yaml:{line}: ")
