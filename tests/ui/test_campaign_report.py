"""The campaign_metrics metadata on a hand-made warehouse: the numbers a marketer reads, computed by hand."""

import math
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.lib import display
from orchestration.lib.campaign_report import campaign_metrics_metadata, campaigns_above, has_campaign_metrics

COLUMNS = (
    "campaign, step, step_index, send_date, rehearsal, sent, delivered, bounced, dropped, unique_opens, "
    "machine_opens, unique_clicks, replies, auto_replies, conversions, unsubscribes, spam_reports"
)
# (campaign, step, step_index, send_date, rehearsal, sent, delivered, bounced, dropped, unique_opens,
#  machine_opens, unique_clicks, replies, auto_replies, conversions, unsubscribes, spam_reports)
METRICS = [
    ("welcome", "hello", 1, "2026-03-01", False, 600, 580, 20, 0, 150, 40, 30, 6, 2, 12, 3, 1),
    ("welcome", "hello", 1, "2026-03-02", False, 400, 390, 10, 0, 97, 10, 20, 4, 0, 6, 1, 0),
    ("welcome", "nudge", 2, "2026-03-05", False, 900, 870, 25, 5, 174, 30, 29, 0, 0, 9, 2, 0),
    ("welcome", "hello", 1, "2026-02-20", True, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ("win_back", "offer", 1, "2026-03-03", True, 1200, 1100, 100, 0, 110, 0, 11, 0, 0, 0, 0, 0),
]
LIFT = [
    ("welcome", 7, 1500, 60, 0.04, 150, 3, 0.02, 0.02, 0.004321, 0.035679),
    ("win_back", 14, 1200, 0, 0.0, 0, 0, None, None, None, None),
]


def build_warehouse(path: Path) -> Path:
    rates = """
        unique_opens / nullif(delivered, 0) as open_rate,
        unique_clicks / nullif(delivered, 0) as click_rate,
        replies / nullif(delivered, 0) as reply_rate,
        conversions / nullif(delivered, 0) as conversion_rate,
        unsubscribes / nullif(delivered, 0) as unsubscribe_rate,
        bounced / nullif(sent, 0) as bounce_rate,
        spam_reports / nullif(delivered, 0) as spam_report_rate
    """
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "create table raw (campaign varchar, step varchar, step_index integer, send_date date, "
            "rehearsal boolean, sent bigint, delivered bigint, bounced bigint, dropped bigint, "
            "unique_opens bigint, machine_opens bigint, unique_clicks bigint, replies bigint, "
            "auto_replies bigint, conversions bigint, unsubscribes bigint, spam_reports bigint)"
        )
        connection.executemany(f"insert into raw values ({', '.join(['?'] * 17)})", METRICS)
        connection.execute(f"create table campaign_metrics as select {COLUMNS}, {rates} from raw")
        connection.execute(
            "create table campaign_lift (campaign varchar, attribution_days integer, treated bigint, "
            "treated_conversions bigint, treated_conversion_rate double, holdout bigint, "
            "holdout_conversions bigint, holdout_conversion_rate double, lift double, lift_ci_low double, "
            "lift_ci_high double)"
        )
        connection.executemany(f"insert into campaign_lift values ({', '.join(['?'] * 11)})", LIFT)
    return path


@pytest.fixture
def warehouse(tmp_path) -> Path:
    return build_warehouse(tmp_path / "warehouse.duckdb")


def cells(table: dg.TableMetadataValue) -> list[dict]:
    """The rows as read on screen: no-break spaces are spaces, soft hyphens do not show."""
    return [
        {k: v.replace("\N{NO-BREAK SPACE}", " ").replace("\N{SOFT HYPHEN}", "") for k, v in r.data.items()}
        for r in table.records
    ]


def test_one_row_per_campaign_and_step_with_rates_over_all_its_send_dates(warehouse):
    metadata = campaign_metrics_metadata(warehouse)
    table = metadata["campaigns"]
    rows = cells(table)
    assert [column.name for column in table.schema.columns] == [
        "step",
        "deliv.",
        "open",
        "click",
        "reply",
        "conv.",
        "unsub.",
    ]
    # welcome/hello: 970 of 1,000 delivered, 247 opens (25.5 %), 50 clicks, 10 replies, 18 conversions
    assert rows[0] == {
        "step": "welcome › hello",
        "deliv.": "970/1,000",
        "open": "25.5 %",
        "click": "5.2 %",
        "reply": "1.0 %",
        "conv.": "1.9 %",
        "unsub.": "0.4 %",
    }
    assert [r["step"] for r in rows] == ["welcome › hello", "welcome › nudge"]
    # rehearsals, a campaign's first steps included, are a table of their own
    rehearsals = cells(metadata["campaigns · dry run"])
    assert [r["step"] for r in rehearsals] == ["welcome › hello", "win back › offer"]
    assert rehearsals[0]["deliv."] == "0/50" and rehearsals[0]["open"] == display.MISSING  # no denominator


def test_each_campaign_has_its_lift_with_its_range_and_group_sizes(warehouse):
    assert cells(campaign_metrics_metadata(warehouse)["lift vs holdout"]) == [
        {
            "campaign": "welcome",
            "lift": "+2.0 pts",
            "95 % range": "+0.4 to +3.6",
            "mailed": "1,500",
            "held out": "150",
        },
        {"campaign": "win back", "lift": "no holdout", "95 % range": "–", "mailed": "1,200", "held out": "0"},
    ]


def test_each_campaign_plots_its_rates_over_real_sends_in_percent(warehouse):
    metadata = campaign_metrics_metadata(warehouse)
    # welcome's real sends: 1,840 delivered, 421 opens, 79 clicks, 10 replies, 27 conversions, 6 unsubscribes
    expected = {
        "welcome · open %": 22.88,
        "welcome · click %": 4.29,
        "welcome · reply %": 0.54,
        "welcome · conversion %": 1.47,
        "welcome · unsubscribe %": 0.33,
        "welcome · lift pts": 2.0,
        # win_back has only rehearsed: its numbers are its rehearsal's; no holdout, no lift
        "win back · open %": 10.0,
        "win back · click %": 1.0,
    }
    for key, value in expected.items():
        assert isinstance(metadata[key], dg.FloatMetadataValue), key
        assert metadata[key].value == pytest.approx(value, abs=0.005), key
    # six plots a campaign, in key order, so that each campaign fills its own rows of the two-column plots;
    # a rate with nothing to divide by is a gap (NaN), not a missing plot
    plotted = [key for key, value in metadata.items() if isinstance(value, dg.FloatMetadataValue)]
    rates = ("click %", "conversion %", "lift pts", "open %", "reply %", "unsubscribe %")
    assert sorted(plotted)[:6] == [f"welcome · {rate}" for rate in rates]
    assert len(plotted) == 12
    assert math.isnan(metadata["win back · lift pts"].value)  # no holdout
    assert not any(isinstance(value, (dg.IntMetadataValue)) for value in metadata.values())


def test_bounce_and_spam_report_rates_above_a_limit_name_their_campaigns(warehouse):
    # welcome: 55 bounced of 1,900 sent (2.9 %), 1 spam report of 1,840 delivered (0.05 %);
    # win_back (rehearsed only): 100 of 1,200 (8.3 %)
    assert campaigns_above(warehouse, "bounce_rate", 0.05) == {"win_back": pytest.approx(100 / 1200)}
    assert campaigns_above(warehouse, "spam_report_rate", 0.001) == {}
    assert campaigns_above(warehouse, "spam_report_rate", 0.0005) == {"welcome": pytest.approx(1 / 1840)}


def test_a_warehouse_without_campaign_metrics_has_none(tmp_path):
    assert not has_campaign_metrics(tmp_path / "missing.duckdb")
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as connection:
        connection.execute("create table customers (customer_id varchar)")
    assert not has_campaign_metrics(tmp_path / "empty.duckdb")
    assert has_campaign_metrics(build_warehouse(tmp_path / "full.duckdb"))


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1234000, "KRW", "₩1,234,000"),
        (1234.5, "USD", "USD 1,234.50"),
        (-50, "EUR", "-EUR 50.00"),
        (None, "KRW", display.MISSING),
        (10, None, display.MISSING),
    ],
)
def test_money_reads_as_a_marketer_writes_it(amount, currency, text):
    assert display.money(amount, currency) == text


def test_rates_read_as_percentages_that_never_wrap_their_sign():
    assert (display.percent(0.123), display.percent(None), display.points(-0.0051)) == (
        "12.3\N{NO-BREAK SPACE}%",
        display.MISSING,
        "-0.5\N{NO-BREAK SPACE}pts",
    )


def test_names_wrap_at_words_and_long_words_at_soft_hyphens():
    assert display.name("consent_reconfirmation") == "consent reconfir\N{SOFT HYPHEN}mation"
    assert display.name("vip_accounts") == "vip accounts"


def test_the_deliverability_checks_warn_on_the_campaigns_past_their_limits(tmp_path, monkeypatch):
    from orchestration.defs.checks import campaign_rate_checks

    build_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path))
    monkeypatch.setenv("DRIPLINE_MAX_SPAM_REPORT_RATE", "0.0005")
    bounce, spam = (check() for check in campaign_rate_checks)
    assert (bounce.passed, bounce.severity) == (False, dg.AssetCheckSeverity.WARN)
    shown = [check.description.replace("\N{NO-BREAK SPACE}", " ") for check in (bounce, spam)]
    assert shown == [
        "bounce rate above 5.00 %: win_back 8.33 %",
        "spam-report rate above 0.05 %: welcome 0.05 %",
    ]
    assert not spam.passed
    monkeypatch.setenv("DRIPLINE_MAX_BOUNCE_RATE", "0.1")
    assert next(check() for check in campaign_rate_checks).passed
