"""The pure burn computation: column layouts, hourly sums, the trailing window, overruns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from spend.burn import (
    Burn,
    ColumnLayout,
    SpendError,
    find_overruns,
    locate_columns,
    sum_line_items,
    trailing_spend,
)

LEGACY_HEADER = [
    "identity/LineItemId",
    "lineItem/UsageAccountId",
    "lineItem/UsageStartDate",
    "x",
    "lineItem/UnblendedCost",
]
CUR2_HEADER = [
    "line_item_unblended_cost",
    "line_item_usage_start_date",
    "line_item_usage_account_id",
]


@pytest.mark.parametrize(
    ("header", "layout", "indices"),
    [
        (LEGACY_HEADER, ColumnLayout.LEGACY, (1, 4, 2)),
        (CUR2_HEADER, ColumnLayout.CUR2, (2, 0, 1)),
    ],
)
def test_locates_the_columns_of_either_layout(
    header: list[str], layout: ColumnLayout, indices: tuple[int, int, int]
) -> None:
    columns = locate_columns(header, "f.csv.gz")
    assert (columns.layout, (columns.account, columns.cost, columns.start)) == (layout, indices)


def test_unknown_layout_names_both_expected_column_sets() -> None:
    with pytest.raises(
        SpendError,
        match=r"f\.csv\.gz: unknown column layout.*lineItem/UnblendedCost"
        r".*line_item_unblended_cost.*found a, b",
    ):
        locate_columns(["a", "b"], "f.csv.gz")


def _sum(rows: list[list[str]]) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = {}
    sum_line_items(rows, locate_columns(CUR2_HEADER, "f"), totals, "f")
    return totals


def test_sums_cost_per_account_per_hour_for_both_date_styles() -> None:
    totals = _sum(
        [
            ["1.5", "2026-11-26T05:00:00.000Z", "a"],
            ["2.25", "2026-11-26 05:00:00", "a"],
            ["", "2026-11-26T05:00:00Z", "a"],
            ["-0.75", "2026-11-26T06:00:00Z", "b"],
        ]
    )
    assert totals == {
        ("a", "2026-11-26T05"): 1.5,
        ("a", "2026-11-26 05"): 2.25 + 0.0,
        ("b", "2026-11-26T06"): -0.75,
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ["1.0x", "2026-11-26T05:00:00Z", "a"],
            r"f line 2: line_item_unblended_cost is '1.0x', expected a number",
        ),
        (["1.0", "26/11/2026", "a"], r"f line 2: line_item_usage_start_date is '26/11/2026'"),
        (["1.0", "2026-11-26T05:00:00Z"], r"f line 2: 2 fields, expected at least 3"),
    ],
)
def test_a_malformed_row_is_an_error_naming_file_line_and_value(
    row: list[str], message: str
) -> None:
    with pytest.raises(SpendError, match=message):
        _sum([row])


def test_window_is_the_newest_hour_and_the_23_before() -> None:
    totals = {
        ("a", "2026-11-26T09"): 1.0,  # newest hour
        ("a", "2026-11-25T10"): 2.0,  # 23 hours before: inside
        ("a", "2026-11-25T09"): 4.0,  # 24 hours before: outside
        ("b", "2026-11-25 09"): 8.0,  # outside, other account
        ("c", "2026-11-25 12"): 16.0,
    }
    burn = trailing_spend(totals, "d1", 5)
    assert burn.newest_data == datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert burn.spend_usd == {"a": 3.0, "c": 16.0}


def test_no_data_has_no_newest_hour() -> None:
    assert trailing_spend({}, "d1", 0) == Burn(
        delivery="d1", newest_data=None, spend_usd={}, line_items=0
    )


def test_only_accounts_above_their_limit_overrun() -> None:
    burn = Burn(
        delivery="d1",
        newest_data=None,
        spend_usd={"a": 100.004, "b": 50.0, "c": 10.0},
        line_items=3,
    )
    overruns = find_overruns(burn, {"a": 100.0, "b": 50.0, "d": 0.0})
    assert [(o.account, o.spend_24h_usd, o.limit_usd) for o in overruns] == [("a", 100.0, 100.0)]
