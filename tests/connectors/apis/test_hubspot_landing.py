"""HubSpot syncs into the landing zone against the loopback fake: pages as batches, search from the landed
cursor, archived records as deletions, associations only from list walks, and normalised contacts."""

from __future__ import annotations

import json
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from connectors.apis.http import MalformedResponseError
from connectors.apis.hubspot import HubSpotClient, contact_columns, landing_zone, sync_entity
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA
from tests.connectors.apis.harness import client_fixture, fake_fixture, landed_rows
from tests.fakes.hubspot import EPOCH, FakeHubSpot, PostRequest, contact, deal, millis

TOKEN = "pat-na1-sync-0123"
OVERLAP = timedelta(minutes=5)


fake = fake_fixture(FakeHubSpot, token=TOKEN)


CLIENT_OPTIONS = {"page_size": 3, "search_page_size": 3, "backoff_factor": 0.01, "max_retries": 1}
client = client_fixture(lambda fake: HubSpotClient(fake.url, SecretStr(TOKEN), **CLIENT_OPTIONS))


landed = landed_rows


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


@pytest.mark.parametrize(
    ("firstname", "lastname", "full_name"),
    [
        ("민수", "김", "김민수"),
        (" 민수 ", "남궁", "남궁민수"),
        ("Minsu", "Kim", "Minsu Kim"),
        ("David", "김", "David 김"),
        ("민수", None, "민수"),
        (None, "Kim", "Kim"),
    ],
)
def test_a_contacts_name_is_assembled_in_the_order_of_its_script(firstname, lastname, full_name):
    record = contact(7, firstname=firstname, lastname=lastname)

    [row] = contact_columns([record]).to_pylist()

    assert row["full_name"] == full_name


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


def test_a_contact_date_of_birth_is_asked_for_and_lands_as_the_birthday(fake, client, tmp_path):
    birthdays = {1: "1990-03-15", 2: None, 3: "15/03", 4: "next spring"}
    fake.add(
        "contacts", *(contact(i, email=f"c{i}@haneul.kr", date_of_birth=b) for i, b in birthdays.items())
    )
    zone = landing_zone(tmp_path, "contacts")
    sync_entity(client, zone, overlap=OVERLAP)
    later = EPOCH + timedelta(hours=1)
    fake.add("contacts", contact(5, email="c5@haneul.kr", date_of_birth="1985. 7. 2.", modified=later))

    sync_entity(client, zone, overlap=OVERLAP)  # a search walk asks for the same properties

    assert "date_of_birth" in fake.requests[0].query["properties"].split(",")
    rows = [(r["record_id"], r["raw_birthday"], r["birthday"], r["field_issues"]) for r in landed(zone)]
    assert rows == [
        ("1", "1990-03-15", "1990-03-15", None),
        ("2", None, None, None),
        ("3", "15/03", "--03-15", None),
        ("4", "next spring", None, "birthday: 'next spring' is not a recognised date"),
        ("5", "1985. 7. 2.", "1985-07-02", None),
    ]
    assert landed(zone)[-1]["_cursor"].startswith("search ")


def test_a_full_refresh_lands_the_birthdays_of_contacts_landed_before_they_were_asked_for(
    fake, client, tmp_path
):
    fake.add("contacts", *(contact(i) for i in range(1, 5)))
    zone = landing_zone(tmp_path, "contacts")
    sync_entity(client, zone, overlap=OVERLAP)
    for path in [*(zone.batch_path(b) for b in zone.batch_ids()), zone.directory / "_schema.parquet"]:
        pq.write_table(pq.read_table(path).drop_columns(["raw_birthday", "birthday"]), path)
    for record_id in ("1", "3"):
        fake.store.records["contacts"][record_id]["properties"]["date_of_birth"] = "1990-03-15"

    zone.prepare()
    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    again = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert full.rows_landed == 2
    relanded = [(r["record_id"], r["birthday"]) for r in landed(zone) if r["_sync_id"] == full.sync_id]
    assert relanded == [("1", "1990-03-15"), ("3", "1990-03-15")]
    assert again.rows_landed == 0
