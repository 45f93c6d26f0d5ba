"""The Typeform sync asset against the loopback fake on a temporary home, through dbt to customers."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from connectors.apis.typeform import FORM_IDS_SETTING, TOKEN_SETTING, responses_zone, walks_zone
from orchestration.defs.apis.typeform import TypeformResource, typeform_responses
from orchestration.lib.sync_runs import FULL_REFRESH_TAG
from tests.dbt.test_dbt_build import SHEETS, at, dbt_build, land, prepare_landing, query, sheet
from tests.fakes.typeform import EPOCH, FakeTypeform, answer, form, question, response
from tests.orchestration.apis.harness import (
    assert_in_the_code_location,
    assert_skipped_without,
    configured_fake,
    kill_after_pages,
    landed_record_ids,
    node_metadata,
    rejected_token_failure,
    run_syncs,
)

TOKEN = "tfp_orchestration_token_7Qw2"
FORM_ID = "Sg8Lp3Rt"
RESOURCES = {"typeform": TypeformResource(page_size=2, request_interval_seconds=0.0, max_retries=1)}


def signup(n: int, *, submitted: datetime | None = None, email: str | None = None) -> dict:
    return response(
        f"resp{n:03d}",
        answer("nm01", "name", "short_text", "text", f"Respondent {n}"),
        answer("em01", "email", "email", "email", email or f"r{n}@haneul.kr"),
        answer("ch01", "interest", "multiple_choice", "choice", {"label": "Spring box"}),
        submitted=submitted or EPOCH + timedelta(minutes=n),
        hidden={"utm_source": "newsletter"},
    )


def signups(fake: FakeTypeform) -> None:
    fake.add_form(
        form(
            FORM_ID,
            question("nm01", "name", "short_text", "Your name"),
            question("em01", "email", "email", "Email address"),
            question("ch01", "interest", "multiple_choice", "What are you interested in?"),
            hidden=("utm_source",),
        )
    )
    fake.add_responses(FORM_ID, *(signup(n) for n in range(1, 6)))


SETTINGS = {"DRIPLINE_TYPEFORM_BASE_URL": "{url}", TOKEN_SETTING: TOKEN, FORM_IDS_SETTING: FORM_ID}
fake = configured_fake(FakeTypeform, SETTINGS, signups, token=TOKEN)


sync = partial(run_syncs, RESOURCES, typeform_responses)
metadata = partial(node_metadata, source="typeform", entity="responses")
landed_ids = partial(landed_record_ids, source="typeform", entity="responses")


def test_responses_land_reach_customer_source_records_and_merge_with_a_spreadsheet_row(home, fake):
    prepare_landing(home)
    land(
        home,
        SHEETS,
        "sheet-1",
        at("2025-01-01"),
        sheet("s1", "Respondent 3", "r3@haneul.kr", company="Haneul"),
    )

    result = sync()
    dbt_build(home)

    assert result.success
    report = metadata(result)
    assert (report["records_new"], report["pages"], report["api_calls"]) == (5, 3, 4)
    assert report["dagster/row_count"] == 5
    assert report["forms"][FORM_ID]["cursor_before"] is None
    assert report["forms"][FORM_ID]["cursor_after"] is not None
    assert TOKEN not in str(report)
    rows = query(
        home,
        "select source_record_id, email from customer_source_records where source = 'typeform' order by 1",
    )
    assert rows == [(f"resp{n:03d}", f"r{n}@haneul.kr") for n in range(1, 6)]
    merged = query(
        home,
        "select count(distinct customer_id), count(*) from customer_source_records where email = ?",
        "r3@haneul.kr",
    )
    assert merged == [(1, 2)]
    assert query(home, "select company from customers where primary_email = 'r3@haneul.kr'") == [("Haneul",)]
    assert query(
        home, "select form_id, hidden_fields->>'utm_source' from stg_typeform__responses limit 1"
    ) == [(FORM_ID, "newsletter")]


def test_a_second_run_sends_since_from_the_last_complete_walk(home, fake, monkeypatch):
    monkeypatch.setenv("DRIPLINE_SYNC_OVERLAP_MINUTES", "1")
    first = metadata(sync())
    until = datetime.fromisoformat(first["forms"][FORM_ID]["until"])
    fake.add_responses(FORM_ID, signup(6, submitted=datetime.now(UTC).replace(microsecond=0)))
    fake.requests.clear()

    second = metadata(sync())

    responses_request = fake.requests[1]
    assert responses_request.query["since"] == (until - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert second["forms"][FORM_ID]["cursor_before"] == until.isoformat()
    assert (second["records_fetched"], second["records_new"]) == (1, 1)


@pytest.mark.parametrize(
    "how", [{"full_refresh": True}, {"tags": {FULL_REFRESH_TAG: "true"}}], ids=["config", "run_tag"]
)
def test_a_full_refresh_walks_every_response(home, fake, how):
    sync()
    fake.requests.clear()

    report = metadata(sync(**how))

    assert all("since" not in request.query for request in fake.requests)
    assert (report["records_fetched"], report["records_unchanged"]) == (5, 5)


@pytest.mark.parametrize("unset", [TOKEN_SETTING, FORM_IDS_SETTING])
def test_without_a_token_or_forms_the_sync_is_skipped_not_failed(home, monkeypatch, capfd, unset):
    monkeypatch.setenv(TOKEN_SETTING, TOKEN)
    monkeypatch.setenv(FORM_IDS_SETTING, FORM_ID)

    skipped = {"source": "typeform", "entities": ["responses"], "monkeypatch": monkeypatch, "capfd": capfd}
    assert_skipped_without(unset, sync, home, **skipped)


def test_a_rejected_token_fails_the_asset_naming_the_setting(home, fake, monkeypatch):
    failure = rejected_token_failure(monkeypatch, fake, TOKEN_SETTING, sync)

    assert "403" in str(failure)


SYNC_IN_A_CHILD = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from pathlib import Path
    from pydantic import SecretStr
    from connectors.apis.typeform import TypeformClient
    from connectors.apis.typeform import responses_zone, sync_form, walks_zone

    url, token, landing, form_id = sys.argv[1:5]
    client = TypeformClient(url, SecretStr(token), page_size=2, request_interval=0.0, timeout=(5.0, 120.0))
    with client:
        landing = Path(landing)
        sync_form(client, responses_zone(landing), walks_zone(landing), form_id, overlap=timedelta(minutes=5))
    """
)


def test_a_sync_killed_half_way_and_run_again_lands_every_response_once_downstream(home, fake):
    fake.add_responses(FORM_ID, *(signup(n) for n in range(6, 12)))  # 11 responses, 6 pages newest first
    fake.inject("slow", skip=4, delay=60.0)  # the form and three pages answer; the fourth page hangs
    prepare_landing(home)
    zone = responses_zone(home / "landing")
    kill_after_pages(SYNC_IN_A_CHILD, [fake.url, TOKEN, str(home / "landing"), FORM_ID], zone)
    # The newest six landed; the cursor must not believe the older five are there too.
    assert sorted(landed_ids(home)) == [f"resp{n:03d}" for n in range(6, 12)]
    assert walks_zone(home / "landing").batch_ids() == []

    report = metadata(sync())
    dbt_build(home)

    assert report["forms"][FORM_ID]["since"] is None  # no complete walk yet: walk everything again
    assert (report["records_new"], report["records_unchanged"]) == (5, 6)
    rows = query(
        home,
        "select source_record_id, count(*) from customer_source_records where source = 'typeform' group by 1",
    )
    assert sorted(rows) == [(f"resp{n:03d}", 1) for n in range(1, 12)]
    assert query(home, "select count(*), count(distinct source_record_id) from stg_typeform__responses") == [
        (11, 11)
    ]


def test_the_typeform_asset_is_in_the_code_location_and_feeds_its_dbt_staging(dbt_manifest):
    assert_in_the_code_location("typeform", ["responses"])
