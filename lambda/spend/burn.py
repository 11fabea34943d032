"""Pure computation: CUR line items -> cost per account per hour -> trailing-window spend.

No boto3 here. `sum_line_items` consumes parsed CSV rows one at a time (the caller streams them);
`trailing_spend` turns the hourly totals into each account's spend over the newest 24 hours of
data the delivery holds (CUR data lags by hours, so the window ends at the newest data seen, not
at "now").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

WINDOW = timedelta(hours=24)


class SpendError(ValueError):
    """A CUR delivery that cannot be read or understood; the message says what and where."""


class ColumnLayout(Enum):
    """The CSV header names of the three columns the watcher reads, per report format.

    Legacy CUR: AWS Data Exports user guide, "Line item details" (lineItem/UsageAccountId,
    lineItem/UnblendedCost, lineItem/UsageStartDate).
    CUR 2.0: "Data Exports table dictionary, CUR 2.0" (line_item_usage_account_id,
    line_item_unblended_cost, line_item_usage_start_date).
    https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html
    """

    LEGACY = ("lineItem/UsageAccountId", "lineItem/UnblendedCost", "lineItem/UsageStartDate")
    CUR2 = ("line_item_usage_account_id", "line_item_unblended_cost", "line_item_usage_start_date")

    @property
    def account_column(self) -> str:
        return self.value[0]

    @property
    def cost_column(self) -> str:
        return self.value[1]

    @property
    def start_column(self) -> str:
        return self.value[2]


@dataclass(frozen=True)
class Columns:
    """Where the three columns sit in one file's header."""

    layout: ColumnLayout
    account: int
    cost: int
    start: int

    @property
    def width(self) -> int:
        return max(self.account, self.cost, self.start) + 1


def locate_columns(header: Sequence[str], where: str) -> Columns:
    """Find the account, cost and start columns in a CSV header, for either layout."""
    names = {name.strip(): index for index, name in enumerate(header)}
    for layout in ColumnLayout:
        if all(column in names for column in layout.value):
            return Columns(
                layout=layout,
                account=names[layout.account_column],
                cost=names[layout.cost_column],
                start=names[layout.start_column],
            )
    expected = " or ".join(", ".join(layout.value) for layout in ColumnLayout)
    found = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
    raise SpendError(
        f"{where}: unknown column layout: expected the columns {expected}; "
        f"found {found or 'no header'}"
    )


# (account id, "YYYY-MM-DDTHH") -> summed unblended cost in USD.
HourlyCost = dict[tuple[str, str], float]


def sum_line_items(
    rows: Iterable[Sequence[str]], columns: Columns, totals: HourlyCost, where: str
) -> int:
    """Add each row's cost to `totals` under (account, hour); return the number of rows read.

    The hour key is the first 13 characters of the start date ("2023-09-01T05" from
    "2023-09-01T05:00:00Z" or "2023-09-01 05:00:00.000"), so dates are parsed once per distinct
    hour, not once per line item. A row with a non-numeric cost or a bad date is an error.
    """
    account_at, cost_at, start_at, width = (
        columns.account,
        columns.cost,
        columns.start,
        columns.width,
    )
    count = 0
    for line, row in enumerate(rows, start=2):
        try:
            start = row[start_at]
            key = (row[account_at], start[:13])
            cost_text = row[cost_at]
            cost = float(cost_text) if cost_text else 0.0
        except IndexError:
            if not row:
                continue
            raise SpendError(
                f"{where} line {line}: {len(row)} fields, expected at least {width}"
            ) from None
        except ValueError:
            raise SpendError(
                f"{where} line {line}: {columns.layout.cost_column} is {row[cost_at]!r}, "
                "expected a number"
            ) from None
        try:
            totals[key] += cost
        except KeyError:  # a new (account, hour): check the date once, here
            if len(start) < 13 or start[10] not in "T ":
                raise SpendError(
                    f"{where} line {line}: {columns.layout.start_column} is {start!r}, "
                    "expected an ISO-8601 date and time"
                ) from None
            totals[key] = cost
        count += 1
    return count


def parse_hour(hour: str) -> datetime:
    """ "2023-09-01T05" (or with a space) -> aware UTC datetime."""
    try:
        return datetime.strptime(hour[:10] + "T" + hour[11:13], "%Y-%m-%dT%H").replace(tzinfo=UTC)
    except ValueError:
        raise SpendError(
            f"line item start date {hour!r} is not an ISO-8601 date and hour"
        ) from None


@dataclass(frozen=True)
class Burn:
    """Each account's spend over the newest `WINDOW` of data in one delivery."""

    delivery: str
    newest_data: datetime | None
    spend_usd: Mapping[str, float]
    line_items: int


def trailing_spend(totals: HourlyCost, delivery: str, line_items: int) -> Burn:
    """Sum each account's hourly cost over the 24 hours ending with the newest hour of data.

    The window covers the hour starting at `newest_data` and the 23 before it; an account with no
    line items in the window is absent (spend 0).
    """
    hours = {hour: parse_hour(hour) for _, hour in totals}
    if not hours:
        return Burn(delivery=delivery, newest_data=None, spend_usd={}, line_items=line_items)
    newest = max(hours.values())
    earliest = newest - WINDOW + timedelta(hours=1)
    spend: dict[str, float] = {}
    for (account, hour), cost in totals.items():
        if hours[hour] >= earliest:
            spend[account] = spend.get(account, 0.0) + cost
    return Burn(delivery=delivery, newest_data=newest, spend_usd=spend, line_items=line_items)


@dataclass(frozen=True)
class Overrun:
    account: str
    spend_24h_usd: float
    limit_usd: float


def find_overruns(burn: Burn, limits: Mapping[str, float]) -> list[Overrun]:
    """Accounts whose trailing spend is more than their limit (an account without one never is)."""
    return [
        Overrun(
            account=account,
            spend_24h_usd=round(burn.spend_usd.get(account, 0.0), 2),
            limit_usd=limit,
        )
        for account, limit in sorted(limits.items())
        if burn.spend_usd.get(account, 0.0) > limit
    ]
