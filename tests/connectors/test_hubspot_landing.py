"""HubSpot syncs into the landing zone against the loopback fake: pages as batches, search from the landed
cursor, archived records as deletions, associations only from list walks, and normalised contacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from connectors.http import MalformedResponseError
from connectors.hubspot import HubSpotClient
from connectors.hubspot_sync import contact_columns, landing_zone, sync_entity
from connectors.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA
from tests.fakes.hubspot import EPOCH, FakeHubSpot, PostRequest, contact, deal, millis

TOKEN = "pat-na1-sync-0123"
OVERLAP = timedelta(minutes=5)


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot.running(token=TOKEN) as running:
        yield running


@pytest.fixture
def client(fake) -> Iterator[HubSpotClient]:
    options = {"page_size": 3, "search_page_size": 3, "backoff_factor": 0.01, "max_retries": 1}
    with HubSpotClient(fake.url, SecretStr(TOKEN), **options) as hubspot:
        yield hubspot


def landed(zone) -> list[dict]:
    rows = []
    for batch_id in zone.batch_ids():
        rows += pq.read_table(zone.batch_path(batch_id)).to_pylist()
    return rows


def test_each_page_lands_as_its_own_batch_with_the_api_columns(fake, client, tmp_path):
    fake.add("contacts", *(contact(i) for i in range(1, 8)))
    zone = landing_zone(tmp_path, "contacts")

    report = sync_entity(client, zone, overlap=OVERLAP)

    assert zone.schema == API_CONTACT_RECORD_SCHEMA
    assert landing_zone(tmp_path, "deals").schema == API_RECORD_SCHEMA
    assert [b.rsplit("-", 1)[1] for b in zone.batch_ids()] == ["p00001", "p00002", "p00003"]
    rows = landed(zone)
    assert [row["record_id"] for row in rows] == [str(i) for i in range(1, 8)]
    assert [row["_cursor"] for row in rows[::3]] == ["list", "list after 4", "list after 7"]
    assert rows[0]["updated_at"] == EPOCH + timedelta(minutes=1)
    assert json.loads(rows[0]["record"])["properties"]["email"] == "contact1@example.com"
    # three live pages and the (empty) archived walk
    assert (report.records_new, report.pages, report.stats.api_calls) == (7, 4, 4)
    assert report.cursor_before is None and report.cursor_after == EPOCH + timedelta(minutes=7)


def test_contacts_are_normalised_like_a_spreadsheet_row():
    record = contact(5, email=" Kim.Minsu+crm@Gmail.com ", firstname="MINSU", lastname="KIM", phone=None)
    record["properties"]["mobilephone"] = "010-2345-6789"
    bare = contact(6, firstname=" ", lastname="", phone=None)
    bare["properties"].update(email=None, mobilephone=None)

    rows = contact_columns([record, bare]).to_pylist()

    assert rows[0]["source_record_id"] == "5"
    assert (rows[0]["full_name"], rows[0]["email"]) == ("Minsu Kim", "kimminsu@gmail.com")
    assert (rows[0]["phone"], rows[0]["phone_type"]) == ("+821023456789", "mobile")
    assert rows[0]["company"] == "Acme Korea"
    assert rows[0]["record_at"] == EPOCH + timedelta(minutes=5)
    assert rows[1]["rejection_reason"].startswith("HubSpot contact 6: no valid email or phone")


def test_the_next_sync_searches_from_the_landed_cursor_minus_the_overlap(fake, client, tmp_path):
    fake.add("contacts", *(contact(i) for i in range(1, 5)))
    zone = landing_zone(tmp_path, "contacts")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.add("contacts", contact(2, email="new@example.com", modified=EPOCH + timedelta(hours=1)))
    fake.add("contacts", contact(9, modified=EPOCH + timedelta(hours=2)))
    fake.requests.clear()

    report = sync_entity(client, zone, overlap=OVERLAP)

    search = json.loads(next(r for r in fake.requests if isinstance(r, PostRequest)).body)
    [bound] = search["filterGroups"][0]["filters"]
    assert (bound["propertyName"], bound["operator"]) == ("lastmodifieddate", "GTE")
    assert bound["value"] == str(millis(EPOCH + timedelta(minutes=4) - OVERLAP))
    assert (report.records_new, report.records_updated, report.records_unchanged) == (1, 1, 3)
    assert report.rows_landed == 2
    assert report.cursor_after == EPOCH + timedelta(hours=2)
    assert landed(zone)[-1]["_cursor"].startswith("search lastmodifieddate GTE ")


def test_an_archived_record_lands_once_as_deleted(fake, client, tmp_path):
    fake.add("contacts", *(contact(i) for i in range(1, 4)))
    zone = landing_zone(tmp_path, "contacts")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.add("contacts", contact(2, archived=True, modified=EPOCH + timedelta(hours=1)))

    first = sync_entity(client, zone, overlap=OVERLAP)
    again = sync_entity(client, zone, overlap=OVERLAP)

    assert (first.records_deleted, first.rows_landed) == (1, 1)
    [tombstone] = [row for row in landed(zone) if row["is_deleted"]]
    assert (tombstone["record_id"], tombstone["_cursor"]) == ("2", "archived")
    assert tombstone["updated_at"] == EPOCH + timedelta(hours=1)
    assert (again.records_deleted, again.rows_landed) == (0, 0)


def test_a_full_refresh_lands_again_only_what_changed_including_associations(fake, client, tmp_path):
    fake.add("deals", *(deal(i) for i in range(1, 5)))
    fake.associate("deals", 1, "contacts", 7)
    zone = landing_zone(tmp_path, "deals")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.associate("deals", 2, "contacts", 8)  # associating does not touch hs_lastmodifieddate

    incremental = sync_entity(client, zone, overlap=OVERLAP)
    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert incremental.rows_landed == 0
    assert (full.records_updated, full.records_unchanged, full.rows_landed) == (1, 3, 1)
    latest = landed(zone)[-1]
    assert latest["record_id"] == "2"
    assert json.loads(latest["record"])["associations"]["contacts"]["results"][0]["id"] == "8"


def test_a_record_without_a_modification_time_fails_the_page_and_lands_nothing_of_it(fake, client, tmp_path):
    broken = contact(2)
    del broken["properties"]["lastmodifieddate"]
    fake.add("contacts", contact(1), broken)
    zone = landing_zone(tmp_path, "contacts")

    with pytest.raises(MalformedResponseError, match="'2' without a readable modification time"):
        sync_entity(client, zone, overlap=OVERLAP)

    assert zone.batch_ids() == []
