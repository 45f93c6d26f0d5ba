"""Segmentation through `dbt build`: attributes, segments, the membership history and transitions.

Pipedrive persons and won deals come through the real sync against the loopback fake; contacts from a
spreadsheet and a form. The same landed data is segmented as of 2025-03-15 and then as of 2025-06-15, when
the regular has gone past their usual purchase interval and the form has gone cold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from connectors.apis.pipedrive import TOKEN_SETTING
from orchestration.defs.apis.pipedrive import (
    PipedriveResource,
    pipedrive_deals,
    pipedrive_organizations,
    pipedrive_persons,
)
from orchestration.lib.segments import ATTRIBUTE_COLUMNS
from tests.dbt.test_dbt_build import FORMS, SHEETS, at, dbt_build, form, land, prepare_landing, query, sheet
from tests.fakes.pipedrive import EPOCH, FakePipedrive, deal, person

TOKEN = "pd-segments-token"
FIRST, SECOND = "2025-03-15T00:00:00+00:00", "2025-06-15T00:00:00+00:00"
FAST = ("--exclude-resource-type", "unit_test")


def won(deal_id: int, person_id: int, day: int, value: float = 1000.0) -> dict:
    """A deal won `day` days after 2025-01-01 (the fake's won_time is its update time)."""
    return deal(deal_id, status="won", value=value, person_id=person_id, updated=EPOCH + timedelta(days=day))


def segment_as_of(home: Path, as_of: str) -> None:
    dbt_build(home, "--vars", json.dumps({"as_of": as_of}), *FAST)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("segments-home")
    prepare_landing(home)
    with pytest.MonkeyPatch.context() as patch, FakePipedrive.running(token=TOKEN) as fake:
        patch.setenv("DRIPLINE_HOME", str(home))
        patch.setenv("DRIPLINE_PIPEDRIVE_BASE_URL", fake.url)
        patch.setenv(TOKEN_SETTING, TOKEN)
        fake.add("persons", *(person(i, email=f"p{i}@haneul.kr") for i in range(1, 5)))
        fake.add(
            "deals",
            # p1: three purchases 30 days apart, the last on 2025-03-02: a regular
            won(101, 1, 0),
            won(102, 1, 30),
            won(103, 1, 60),
            won(201, 2, 31),  # p2: one purchase
            won(301, 3, 9),  # p3: two purchases
            won(302, 3, 40),
            won(401, 4, 45, value=60_000_000.0),  # p4: the top value band, and a large deal
            deal(402, status="lost", value=90_000_000.0, person_id=2),
        )
        result = dg.materialize(
            [pipedrive_organizations, pipedrive_persons, pipedrive_deals],
            resources={"pipedrive": PipedriveResource()},
        )
        assert result.success
    land(home, SHEETS, "sheet", at("2025-01-01"), sheet("s1", "Kim Minsu", "minsu@haneul.kr"))
    land(
        home,
        FORMS,
        "form",
        at("2025-03-01"),
        form("f1", "Lee Sora", "sora@lee.kr", consent_email=True, record_at=at("2025-03-01")),
    )
    segment_as_of(home, FIRST)
    first = snapshot_of(home)
    segment_as_of(home, SECOND)
    second = snapshot_of(home)
    segment_as_of(home, SECOND)
    again = snapshot_of(home)
    with pytest.raises(AssertionError) as going_back:
        segment_as_of(home, FIRST)
    yield {"home": home, "first": first, "second": second, "again": again, "going_back": going_back.value}


def snapshot_of(home: Path) -> dict:
    email = "(select primary_email from customers as c where c.customer_id = t.customer_id)"
    return {
        "segments": dict(query(home, "select primary_email, segment from customers")),
        "lifecycle": dict(query(home, "select primary_email, lifecycle_stage from customers")),
        "transitions": sorted(
            query(
                home,
                f"select {email}, event_type, segment, from_segment, to_segment, reason, is_baseline"
                " from segment_transitions as t",
            )
        ),
        "versions": query(home, "select count(*) from segment_memberships")[0][0],
    }


def test_the_first_run_puts_everyone_in_the_segment_their_attributes_say(runs):
    assert runs["first"]["segments"] == {
        "p1@haneul.kr": "loyal_regulars",
        "p2@haneul.kr": "first_time_buyers",
        "p3@haneul.kr": "repeat_buyers",
        "p4@haneul.kr": "vip_accounts",
        "sora@lee.kr": "warm_prospects",
        "minsu@haneul.kr": "cold_prospects",
    }
    assert runs["first"]["lifecycle"]["p4@haneul.kr"] == "vip"


def test_the_first_run_is_a_baseline_where_everyone_enters(runs):
    transitions = runs["first"]["transitions"]
    assert len(transitions) == 6
    assert {
        (event, from_segment, reason, baseline)
        for _, event, _, from_segment, _, reason, baseline in transitions
    } == {("entered", None, "first seen", True)}


def test_a_later_as_of_moves_the_lapsed_regular_and_the_cold_form_with_their_reasons(runs):
    assert runs["second"]["transitions"] == sorted(
        [
            (
                "p1@haneul.kr",
                "entered",
                "at_risk_regulars",
                "loyal_regulars",
                "at_risk_regulars",
                "lifecycle_stage regular → at_risk",
                False,
            ),
            (
                "p1@haneul.kr",
                "exited",
                "loyal_regulars",
                "loyal_regulars",
                "at_risk_regulars",
                "lifecycle_stage regular → at_risk",
                False,
            ),
            (
                "sora@lee.kr",
                "entered",
                "cold_prospects",
                "warm_prospects",
                "cold_prospects",
                "time passed: a rule on days since the last activity or purchase",
                False,
            ),
            (
                "sora@lee.kr",
                "exited",
                "warm_prospects",
                "warm_prospects",
                "cold_prospects",
                "time passed: a rule on days since the last activity or purchase",
                False,
            ),
        ]
    )
    assert runs["second"]["versions"] == runs["first"]["versions"] + 2


def test_re_running_with_the_same_as_of_changes_nothing(runs):
    assert runs["again"] == runs["second"]


def test_segmenting_as_of_an_earlier_time_stops_before_the_history_is_written(runs):
    assert "segment_memberships already holds a run as of 2025-06-15" in str(runs["going_back"])
    assert "(earlier)" in str(runs["going_back"])
    assert query(runs["home"], "select count(*) from segment_memberships")[0][0] == runs["second"]["versions"]


def test_the_history_says_who_entered_a_segment_and_when(runs):
    home = runs["home"]
    rows = query(
        home,
        """
        select c.primary_email, m.dbt_valid_from, m.dbt_valid_to
        from segment_memberships as m
        inner join customers as c on m.customer_id = c.customer_id
        where m.segment = 'loyal_regulars'
        """,
    )
    first, second = (datetime.fromisoformat(t) for t in (FIRST, SECOND))
    assert [
        (email, valid_from.astimezone(UTC), valid_to.astimezone(UTC)) for email, valid_from, valid_to in rows
    ] == [("p1@haneul.kr", first, second)]


def test_the_summary_covers_every_customer_once(runs):
    home = runs["home"]
    [(customers, shares, segments, currency)] = query(
        home,
        "select sum(customer_count), sum(customer_share), count(*), any_value(currency) from segment_summary",
    )
    assert customers == 6 and shares == pytest.approx(1.0) and segments == 9 and currency == "KRW"
    [(total, average)] = query(
        home, "select total_value, average_value from segment_summary where segment = 'vip_accounts'"
    )
    assert (total, average) == (60_000_000.0, 60_000_000.0)


def test_the_rule_columns_are_the_columns_of_the_attributes_model(runs):
    columns = dict(
        query(
            runs["home"],
            "select column_name, data_type from information_schema.columns"
            " where table_name = 'int_customers__attributes' and column_name <> 'customer_id'",
        )
    )
    assert columns == ATTRIBUTE_COLUMNS
