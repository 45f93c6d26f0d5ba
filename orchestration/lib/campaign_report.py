"""What the campaign_metrics asset shows a marketer: one table row per campaign and step, and each campaign's
rates as numbers Dagster plots over materializations.

campaign_metrics has a row per campaign, step and send date; a step's rates over all its dates are its
counts summed, over the mart's own denominators (delivered for opens, clicks, replies, conversions,
unsubscribes and spam reports; sent for bounces), so the two always agree. A campaign's rehearsal (dry run)
rows are shown, and marked, but once it has sent for real its plotted rates and checks read only real sends.
Lift comes from campaign_lift, one row per campaign. Aggregates only: no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.lib import display

# (plotted name, column of CampaignRates); the UI sorts plots by key, so a campaign's six sit together.
PLOTTED_RATES = (
    ("open %", "open_rate"),
    ("click %", "click_rate"),
    ("reply %", "reply_rate"),
    ("conversion %", "conversion_rate"),
    ("unsubscribe %", "unsubscribe_rate"),
)
TABLE_COLUMNS = ["step", "deliv.", "open", "click", "reply", "conv.", "unsub."]
LIFT_COLUMNS = ["campaign", "lift", "95 % range", "mailed", "held out"]

# The step's counts summed over its send dates, and its rates over the mart's denominators.
_SUMS = """
    sum(sent) as sent,
    sum(delivered) as delivered,
    sum(unique_opens) / nullif(sum(delivered), 0) as open_rate,
    sum(unique_clicks) / nullif(sum(delivered), 0) as click_rate,
    sum(replies) / nullif(sum(delivered), 0) as reply_rate,
    sum(conversions) / nullif(sum(delivered), 0) as conversion_rate,
    sum(unsubscribes) / nullif(sum(delivered), 0) as unsubscribe_rate,
    sum(bounced) / nullif(sum(sent), 0) as bounce_rate,
    sum(spam_reports) / nullif(sum(delivered), 0) as spam_report_rate
"""
RATE_COLUMNS = (
    "sent",
    "delivered",
    "open_rate",
    "click_rate",
    "reply_rate",
    "conversion_rate",
    "unsubscribe_rate",
    "bounce_rate",
    "spam_report_rate",
)


@dataclass(frozen=True)
class CampaignRates:
    """One campaign's (or one step's) sends and rates; a rate is None when its denominator is zero."""

    campaign: str
    rehearsal: bool
    sent: int
    delivered: int
    open_rate: float | None
    click_rate: float | None
    reply_rate: float | None
    conversion_rate: float | None
    unsubscribe_rate: float | None
    bounce_rate: float | None
    spam_report_rate: float | None


@dataclass(frozen=True)
class StepRates:
    step: str
    step_index: int
    rates: CampaignRates


@dataclass(frozen=True)
class Lift:
    lift: float | None
    low: float | None
    high: float | None
    treated: int
    holdout: int


def has_campaign_metrics(warehouse: Path) -> bool:
    if not warehouse.exists():
        return False
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return bool(
            connection.execute(
                "select count(*) from information_schema.tables where table_name = 'campaign_metrics'"
            ).fetchall()[0][0]
        )


def _rates(campaign: str, rehearsal: bool, values: tuple) -> CampaignRates:
    return CampaignRates(campaign, rehearsal, **dict(zip(RATE_COLUMNS, values, strict=True)))


def campaign_rates(connection: duckdb.DuckDBPyConnection) -> dict[str, CampaignRates]:
    """Each campaign's rates over its real sends, or over its rehearsals when it has sent nothing for real."""
    rows = connection.execute(
        f"""
        select campaign, rehearsal, {_SUMS}
        from campaign_metrics
        group by campaign, rehearsal
        order by campaign, rehearsal desc
        """
    ).fetchall()
    # Ordered rehearsal first: a campaign's real sends, when it has any, replace its rehearsals.
    return {campaign: _rates(campaign, rehearsal, values) for campaign, rehearsal, *values in rows}


def step_rates(connection: duckdb.DuckDBPyConnection) -> dict[str, list[StepRates]]:
    rows = connection.execute(
        f"""
        select campaign, step, step_index, rehearsal, {_SUMS}
        from campaign_metrics
        group by campaign, step, step_index, rehearsal
        order by campaign, step_index, rehearsal
        """
    ).fetchall()
    steps: dict[str, list[StepRates]] = {}
    for campaign, step, step_index, rehearsal, *values in rows:
        steps.setdefault(campaign, []).append(
            StepRates(step, step_index, _rates(campaign, rehearsal, values))
        )
    return steps


def campaign_lifts(connection: duckdb.DuckDBPyConnection) -> dict[str, Lift]:
    exists = connection.execute(
        "select count(*) from information_schema.tables where table_name = 'campaign_lift'"
    ).fetchall()[0][0]
    if not exists:
        return {}
    rows = connection.execute(
        "select campaign, lift, lift_ci_low, lift_ci_high, treated, holdout from campaign_lift"
    ).fetchall()
    return {campaign: Lift(*values) for campaign, *values in rows}


def label(campaign: str, step: str | None = None) -> str:
    """A row's name: "welcome first buyers › hello"."""
    return display.name(campaign) + (f" › {display.name(step)}" if step else "")


def lift_row(campaign: str, lift: Lift) -> dict[str, str]:
    """The lift in percentage points and its 95 % range: a range above zero says the campaign made a
    difference; one that spans zero, that the data cannot tell yet."""
    if lift.lift is None:
        shown = display.MISSING if lift.holdout else "no holdout"
        low_high = display.MISSING
    else:
        shown = display.points(lift.lift)
        low_high = (
            display.MISSING
            if lift.low is None or lift.high is None
            else f"{lift.low * 100:+.1f}\N{NO-BREAK SPACE}to\N{NO-BREAK SPACE}{lift.high * 100:+.1f}"
        )
    return {
        "campaign": label(campaign),
        "lift": shown,
        "95 % range": low_high,
        "mailed": display.count(lift.treated),
        "held out": display.count(lift.holdout),
    }


def step_row(campaign: str, step: StepRates) -> dict[str, str]:
    rates = step.rates
    return {
        "step": label(campaign, step.step),
        "deliv.": f"{display.count(rates.delivered)}/{display.count(rates.sent)}",
        "open": display.percent(rates.open_rate),
        "click": display.percent(rates.click_rate),
        "reply": display.percent(rates.reply_rate),
        "conv.": display.percent(rates.conversion_rate),
        "unsub.": display.percent(rates.unsubscribe_rate),
    }


def campaign_metrics_metadata(warehouse: Path) -> dict[str, Any]:
    """The metadata of a campaign_metrics materialization, read from the warehouse once dbt let it go.

    The asset page gives a metadata value about 500 px at 1600 px (a quarter to the key, 150 px to the
    timestamp, a right-hand panel; a table header never wraps), and a wider table pushes the keys out of
    sight: so the step rates are one table of seven narrow columns ("deliv." 19/24: 19 delivered of 24
    sent; a campaign's rehearsals, if any, in "campaigns · dry run"), and each campaign's lift another.
    Then each campaign's rates as plotted numbers."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        steps = step_rates(connection)
        totals = campaign_rates(connection)
        lifts = campaign_lifts(connection)
    # Real sends and rehearsals in tables of their own: the key says which, not every row.
    metadata: dict[str, Any] = {}
    for key, rehearsal in (("campaigns", False), ("campaigns · dry run", True)):
        rows = [
            step_row(campaign, step)
            for campaign, campaign_steps in steps.items()
            for step in campaign_steps
            if step.rates.rehearsal is rehearsal
        ]
        if rows or not rehearsal:
            metadata[key] = display.text_table(rows, TABLE_COLUMNS)
    metadata["lift vs holdout"] = display.text_table(
        [lift_row(campaign, lifts[campaign]) for campaign in steps if campaign in lifts], LIFT_COLUMNS
    )
    # Six plots a campaign, always (a rate with nothing to divide by is a gap), so that each campaign fills
    # three rows of the UI's two-column plots. No dagster/row_count: it would sort among the campaigns.
    for campaign, rates in totals.items():
        name = campaign.replace("_", " ")
        for plotted, column in PLOTTED_RATES:
            metadata[f"{name} · {plotted}"] = display.plotted_percent(getattr(rates, column))
        lift = lifts.get(campaign)
        metadata[f"{name} · lift pts"] = display.plotted(
            None if lift is None or lift.lift is None else lift.lift * 100
        )
    return metadata


def campaigns_above(warehouse: Path, rate: str, limit: float) -> dict[str, float]:
    """The campaigns whose `rate` (bounce_rate, spam_report_rate) is above `limit`, over their real sends
    (over their rehearsals when they have sent nothing for real)."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        values = {campaign: getattr(rates, rate) for campaign, rates in campaign_rates(connection).items()}
    return {campaign: value for campaign, value in values.items() if value is not None and value > limit}
