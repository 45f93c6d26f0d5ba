"""Numbers as a marketer reads them in the Dagster UI: "12.3 %", "1,234", "₩1,234,000", "USD 1,234.50".

The UI prints a metadata table's cells and a float's value as they come (AssetEventMetadataEntriesTable and
TableMetadataEntryComponent in dagster-webserver), so the text is made here; numbers that Dagster plots stay
numbers, in percent (12.3, not 0.123) so a plot's axis reads like the table.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

MISSING = "–"
# Currencies written with their symbol and no minor unit; every other one is written with its ISO code.
SYMBOLS = {"KRW": "₩"}
NO_MINOR_UNIT = {"KRW", "JPY", "VND", "CLP", "ISK", "HUF", "TWD"}


def name(identifier: str) -> str:
    """A campaign, step or segment name as a table cell: words apart, so that a narrow column wraps it
    ("consent reconfirmation"), and a soft hyphen in a long word, which shows only where it breaks."""
    return " ".join(
        "\N{SOFT HYPHEN}".join(word[i : i + 8] for i in range(0, len(word), 8)) if len(word) > 10 else word
        for word in identifier.split("_")
    )


def count(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def percent(fraction: float | None, digits: int = 1) -> str:
    """0.1234 → "12.3 %" (a no-break space: a narrow column never wraps the sign away); None (no
    denominator) → "–"."""
    return MISSING if fraction is None else f"{fraction * 100:.{digits}f}\N{NO-BREAK SPACE}%"


def points(fraction: float | None) -> str:
    """A difference of two rates in percentage points: 0.021 → "+2.1 pts"."""
    return MISSING if fraction is None else f"{fraction * 100:+.1f}\N{NO-BREAK SPACE}pts"


def money(amount: float | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return MISSING
    digits = 0 if currency in NO_MINOR_UNIT else 2
    number = f"{abs(amount):,.{digits}f}"
    sign = "-" if amount < 0 else ""
    if currency in SYMBOLS:
        return f"{sign}{SYMBOLS[currency]}{number}"
    return f"{sign}{currency} {number}"


def plotted(value: float | None) -> dg.FloatMetadataValue:
    """A number Dagster plots over materializations. None (nothing to divide by) is NaN, a gap in the plot
    and an empty value, not a missing key: the UI lays plots out two to a row in key order, and one key
    missing would shift every plot after it to the other column."""
    return dg.MetadataValue.float(float("nan") if value is None else round(value, 2))


def plotted_percent(fraction: float | None) -> dg.FloatMetadataValue:
    """A rate, plotted in percent (12.3, not 0.123)."""
    return plotted(None if fraction is None else fraction * 100)


def text_table(rows: list[dict[str, Any]], columns: list[str]) -> dg.TableMetadataValue:
    """A table of already formatted cells, its columns in the order given (the ones that matter first)."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord({column: row[column] for column in columns}) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(column, "string") for column in columns]),
    )
