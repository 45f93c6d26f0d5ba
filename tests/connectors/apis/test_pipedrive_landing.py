"""Pipedrive syncs into the landing zone against the loopback fake: pages as batches, the landed cursor,
counts, deletions and the normalised contact columns of persons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from connectors.apis.http import MalformedResponseError
from connectors.apis.pipedrive import PipedriveClient, landing_zone, person_contacts, sync_entity
from connectors.apis.sync_engine import MassDeletionError, latest_indices
from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA, LandingZone
from tests.connectors.apis.harness import client_fixture, fake_fixture, landed_rows
from tests.fakes.pipedrive import EPOCH, FakePipedrive, deal, organization, person

TOKEN = "pd-sync-token-0123"
OVERLAP = timedelta(minutes=5)


fake = fake_fixture(FakePipedrive, token=TOKEN)


client = client_fixture(
    lambda fake: PipedriveClient(fake.url, SecretStr(TOKEN), page_size=3, backoff_factor=0.01)
)


def people(*ids: int, **values) -> list[dict]:
    return [person(i, email=f"p{i}@haneul.kr", **values) for i in ids]


landed = landed_rows


def test_each_page_lands_as_its_own_batch_with_the_api_columns(fake, client, tmp_path):
    fake.add("persons", *people(*range(1, 8)))
    zone = landing_zone(tmp_path, "persons")

    report = sync_entity(client, zone, overlap=OVERLAP)

    assert zone.schema == API_CONTACT_RECORD_SCHEMA
    assert [b.rsplit("-", 1)[1] for b in zone.batch_ids()] == ["p00001", "p00002", "p00003"]
    assert all(b.startswith(report.sync_id) for b in zone.batch_ids())
    rows = landed(zone)
    assert [row["record_id"] for row in rows] == [str(i) for i in range(1, 8)]
    assert [row["_page"] for row in rows] == [1, 1, 1, 2, 2, 2, 3]
    assert rows[0]["_cursor"] is None and rows[3]["_cursor"] == fake.requests[1].query["cursor"]
    assert rows[0]["updated_at"] == EPOCH + timedelta(minutes=1)
    assert rows[0]["record"].startswith('{"id":1,')
    assert (report.records_new, report.pages, report.stats.api_calls) == (7, 3, 3)
    assert report.cursor_before is None and report.cursor_after == EPOCH + timedelta(minutes=7)


def test_persons_are_normalised_like_a_spreadsheet_row(tmp_path):
    record = person(5, name="KIM MINSU", email=" Kim.Minsu+crm@Gmail.com ", org_id=10)
    record["phones"] = [
        {"value": "02-123-4567", "primary": False, "label": "work"},
        {"value": "010-2345-6789", "primary": True, "label": "mobile"},
    ]
    bare = person(6, name="  ")
    bare["emails"], bare["phones"] = [], []

    rows = person_contacts([record, bare], {"10": "  (주) 한빛  푸드 "}).to_pylist()

    assert rows[0]["source_record_id"] == "5"
    assert (rows[0]["full_name"], rows[0]["email"]) == ("Kim Minsu", "kimminsu@gmail.com")
    assert (rows[0]["phone"], rows[0]["phone_type"]) == ("+821023456789", "mobile")
    assert rows[0]["company"] == "(주) 한빛 푸드"
    assert rows[0]["record_at"] == EPOCH + timedelta(minutes=5)
    assert rows[0]["rejection_reason"] is None
    assert rows[1]["rejection_reason"].startswith("Pipedrive person 6: no valid email or phone")


def test_the_next_sync_starts_at_the_landed_cursor_minus_the_overlap(fake, client, tmp_path):
    fake.add("persons", *people(*range(1, 5)))
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.add("persons", person(2, email="new@haneul.kr", updated=EPOCH + timedelta(hours=1)))
    fake.add("persons", *people(9))
    fake.requests.clear()

    report = sync_entity(client, zone, overlap=OVERLAP)

    assert report.cursor_before == EPOCH + timedelta(minutes=4)
    assert fake.requests[0].query["updated_since"] == "2024-12-31T23:59:00Z"  # 00:04 minus 5 minutes
    assert (report.records_new, report.records_updated, report.records_unchanged) == (1, 1, 3)
    assert report.cursor_after == EPOCH + timedelta(hours=1)


def test_a_full_refresh_walks_everything_and_reconciles_deleted_persons(fake, client, tmp_path):
    fake.add("persons", *people(*range(1, 7)))
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.records["persons"][2]["is_deleted"] = True  # Pipedrive stops listing a deleted person
    fake.requests.clear()

    incremental = sync_entity(client, zone, overlap=OVERLAP)
    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert incremental.records_deleted == 0
    assert "updated_since" not in fake.requests[-1].query
    assert full.records_deleted == 1
    tombstones = [row for row in landed(zone) if row["is_deleted"]]
    assert [(row["record_id"], row["email"]) for row in tombstones] == [("2", "p2@haneul.kr")]
    assert tombstones[0]["updated_at"] == EPOCH + timedelta(minutes=2)
    assert full.cursor_after == EPOCH + timedelta(minutes=6)


def test_a_tombstoned_person_listed_again_with_the_same_update_time_is_live_again(fake, client, tmp_path):
    fake.add("persons", *people(*range(1, 7)))
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.records["persons"][2]["is_deleted"] = True  # missing from one full walk…
    assert sync_entity(client, zone, overlap=OVERLAP, full_refresh=True).records_deleted == 1
    fake.records["persons"][2]["is_deleted"] = False  # …and listed again, its update_time unchanged

    back = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    again = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert (back.records_updated, back.records_deleted, back.rows_landed) == (1, 0, 1)
    versions = [(row["is_deleted"], row["updated_at"]) for row in landed(zone) if row["record_id"] == "2"]
    assert versions == [(False, EPOCH + timedelta(minutes=2))] * 1 + [
        (True, EPOCH + timedelta(minutes=2)),
        (False, EPOCH + timedelta(minutes=2)),
    ]
    # The later landing wins the tie, so the next full refresh finds person 2 live and unchanged.
    assert (again.records_unchanged, again.records_deleted, again.rows_landed) == (6, 0, 0)


def test_the_latest_version_breaks_a_tie_by_the_later_landing_like_staging():
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    table = pa.table(
        {
            "record_id": ["1", "1", "1", "2", "2"],
            "updated_at": pa.array([moment] * 5, pa.timestamp("us", tz="UTC")),
            "_loaded_at": pa.array(
                [moment, moment + timedelta(days=1), moment + timedelta(days=1), moment, moment],
                pa.timestamp("us", tz="UTC"),
            ),
            "_load_id": ["a", "b", "c", "z", "y"],
        }
    )

    latest = table.take(latest_indices(table))

    assert latest.column("_load_id").to_pylist() == ["c", "z"]


def test_a_full_walk_missing_more_than_a_fifth_of_the_live_persons_tombstones_nothing(fake, client, tmp_path):
    fake.add("persons", *people(*range(1, 11)))
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, zone, overlap=OVERLAP)
    for i in (1, 2, 3):  # e.g. a token that sees less, or a walk that came back short
        fake.records["persons"][i]["is_deleted"] = True
    batches = zone.batch_ids()

    with pytest.raises(MassDeletionError, match=r"3 of 10 live landed records \(30%\).*allow_mass_deletion"):
        sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert zone.batch_ids() == batches  # the walk was unchanged, and nothing was tombstoned
    assert not [row for row in landed(zone) if row["is_deleted"]]


def test_an_empty_full_walk_tombstones_nothing_unless_mass_deletion_is_allowed(fake, client, tmp_path):
    fake.add("organizations", *(organization(i) for i in range(1, 6)))
    zone = landing_zone(tmp_path, "organizations")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.records["organizations"].clear()

    with pytest.raises(MassDeletionError, match="5 of 5 live landed records \\(100%\\)"):
        sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    allowed = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True, allow_mass_deletion=True)

    assert allowed.records_deleted == 5
    assert sorted(row["record_id"] for row in landed(zone) if row["is_deleted"]) == [
        str(i) for i in range(1, 6)
    ]


def test_an_archived_deal_missing_from_a_full_walk_keeps_its_last_landed_version(fake, client, tmp_path):
    fake.add("deals", deal(1, status="won", value=500.0), *(deal(i) for i in range(2, 6)))
    zone = landing_zone(tmp_path, "deals")
    sync_entity(client, zone, overlap=OVERLAP)
    del fake.records["deals"][1]  # archived: since 2025-07-15 GET /api/v2/deals leaves it out

    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True, allow_mass_deletion=True)

    assert full.records_deleted == 0
    assert not [row for row in landed(zone) if row["is_deleted"]]
    assert [row["record_id"] for row in landed(zone)].count("1") == 1


def test_unchanged_records_are_landed_once_across_full_refreshes(fake, client, tmp_path):
    fake.add("organizations", organization(10, name="Haneul Foods"))
    fake.add("persons", *people(*range(1, 8), org_id=10))
    organizations = landing_zone(tmp_path, "organizations")
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, organizations, overlap=OVERLAP)
    first = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True, organizations=organizations)
    batches = zone.batch_ids()

    second = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True, organizations=organizations)
    incremental = sync_entity(client, zone, overlap=OVERLAP, organizations=organizations)

    assert (first.rows_landed, first.records_new) == (7, 7)
    assert (second.pages, second.records_fetched, second.records_unchanged) == (3, 7, 7)
    assert (second.rows_landed, second.batches) == (0, [])
    assert (incremental.records_unchanged, incremental.rows_landed) == (incremental.records_fetched, 0)
    assert zone.batch_ids() == batches
    assert second.cursor_after == first.cursor_after


def test_a_renamed_organization_relands_its_persons_on_a_full_refresh(fake, client, tmp_path):
    fake.add("organizations", organization(10, name="Haneul Foods"))
    fake.add("persons", *people(1, 2, org_id=10), *people(3))
    organizations = landing_zone(tmp_path, "organizations")
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, organizations, overlap=OVERLAP)
    sync_entity(client, zone, overlap=OVERLAP, organizations=organizations)
    fake.add("organizations", organization(10, name="Haneul Foods Korea", updated=EPOCH + timedelta(hours=1)))
    sync_entity(client, organizations, overlap=OVERLAP)

    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True, organizations=organizations)

    assert (full.rows_landed, full.records_unchanged) == (2, 3)
    relanded = [(row["record_id"], row["company"]) for row in landed(zone) if row["_sync_id"] == full.sync_id]
    assert relanded == [("1", "Haneul Foods Korea"), ("2", "Haneul Foods Korea")]


def test_the_reconcile_reads_the_record_json_of_the_tombstoned_batches_only(
    fake, client, tmp_path, monkeypatch
):
    fake.add("persons", *people(*range(1, 10)))
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, zone, overlap=OVERLAP)
    fake.records["persons"][2]["is_deleted"] = True
    requested: list[list[str]] = []
    read_columns = LandingZone.read_columns

    def spy(self, columns):
        requested.append(list(columns))
        return read_columns(self, columns)

    monkeypatch.setattr(LandingZone, "read_columns", spy)
    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert full.records_deleted == 1
    assert requested and all("record" not in columns for columns in requested)
    tombstone = next(row for row in landed(zone) if row["is_deleted"])
    assert (tombstone["record_id"], tombstone["email"]) == ("2", "p2@haneul.kr")
    assert tombstone["record"].startswith('{"id":2,')


def test_deals_come_in_one_walk_with_deleted_ones_flagged(fake, client, tmp_path):
    fake.add("deals", deal(1, status="won"), deal(2), deal(3, is_deleted=True, status="won"))
    zone = landing_zone(tmp_path, "deals")

    report = sync_entity(client, zone, overlap=OVERLAP)

    assert zone.schema == API_RECORD_SCHEMA
    assert {row["record_id"]: row["is_deleted"] for row in landed(zone)} == {
        "1": False,
        "2": False,
        "3": True,
    }
    assert (report.records_new, report.records_deleted) == (2, 1)
    assert {request.query["status"] for request in fake.requests} == {"open,won,lost,deleted"}


def test_persons_take_their_organization_name_from_landed_organizations(fake, client, tmp_path):
    fake.add("organizations", organization(10, name="Haneul Foods"))
    fake.add("persons", *people(1, org_id=10), *people(2, org_id=99))
    organizations = landing_zone(tmp_path, "organizations")
    sync_entity(client, organizations, overlap=OVERLAP)

    sync_entity(client, landing_zone(tmp_path, "persons"), overlap=OVERLAP, organizations=organizations)

    companies = {row["record_id"]: row["company"] for row in landed(landing_zone(tmp_path, "persons"))}
    assert companies == {"1": "Haneul Foods", "2": None}


def test_a_malformed_page_fails_after_the_good_pages_landed_and_nothing_partial(fake, client, tmp_path):
    fake.add("persons", *people(*range(1, 8)))
    fake.inject("malformed", skip=1)
    zone = landing_zone(tmp_path, "persons")

    with pytest.raises(MalformedResponseError, match="persons page 2"):
        sync_entity(client, zone, overlap=OVERLAP)

    assert [row["record_id"] for row in landed(zone)] == ["1", "2", "3"]
    assert not list(zone.directory.glob(".tmp-*"))


def test_a_record_without_an_update_time_is_a_malformed_page(fake, client, tmp_path):
    broken = person(1)
    broken["update_time"] = None
    fake.add("persons", broken)

    with pytest.raises(MalformedResponseError, match="record 1 without a readable update_time"):
        sync_entity(client, landing_zone(tmp_path, "persons"), overlap=OVERLAP)


def test_the_landed_cursor_is_read_from_parquet_statistics(tmp_path):
    zone = landing_zone(tmp_path, "organizations")
    zone.prepare()
    assert zone.max_value("updated_at") is None
    row = {"_source": "pipedrive", "_entity": "organizations", "_sync_id": "s", "_page": 1, "_cursor": None}
    zone.write_batch(
        "a", [{**row, "record_id": "1", "updated_at": None, "is_deleted": False, "record": "{}"}]
    )
    zone.write_batch(
        "b",
        [
            {
                **row,
                "record_id": "2",
                "updated_at": datetime(2025, 3, 1, tzinfo=UTC),
                "is_deleted": False,
                "record": "{}",
            },
            {
                **row,
                "record_id": "3",
                "updated_at": datetime(2025, 2, 1, tzinfo=UTC),
                "is_deleted": False,
                "record": "{}",
            },
        ],
    )
    assert zone.max_value("updated_at") == datetime(2025, 3, 1, tzinfo=UTC)


def _as_landed_before_birthdays(zone) -> None:
    """Rewrite the zone's batches and schema file as a version without birthday columns landed them."""
    for path in [*(zone.batch_path(b) for b in zone.batch_ids()), zone.directory / "_schema.parquet"]:
        table = pq.read_table(path)
        pq.write_table(table.drop_columns(["raw_birthday", "birthday"]), path)


def test_a_person_birthday_lands_normalised_and_a_bad_one_is_a_field_issue(fake, client, tmp_path):
    fake.add(
        "persons",
        person(1, email="p1@haneul.kr", birthday="1990-03-15"),
        person(2, email="p2@haneul.kr"),
        person(3, email="p3@haneul.kr", birthday="1990-02-30"),
    )
    zone = landing_zone(tmp_path, "persons")

    sync_entity(client, zone, overlap=OVERLAP)

    rows = [(r["record_id"], r["raw_birthday"], r["birthday"], r["field_issues"]) for r in landed(zone)]
    assert rows == [
        ("1", "1990-03-15", "1990-03-15", None),
        ("2", None, None, None),
        ("3", "1990-02-30", None, "birthday: '1990-02-30' is not a real date"),
    ]
    assert all(r["rejection_reason"] is None for r in landed(zone))


def test_a_full_refresh_lands_the_birthdays_of_persons_landed_before_birthdays_were_read(
    fake, client, tmp_path
):
    fake.add("persons", *people(*range(1, 5)))
    zone = landing_zone(tmp_path, "persons")
    sync_entity(client, zone, overlap=OVERLAP)
    _as_landed_before_birthdays(zone)
    for person_id in (1, 2):
        fake.records["persons"][person_id]["birthday"] = (
            "1990-03-15"  # given all along, update_time unchanged
        )

    zone.prepare()
    full = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)
    again = sync_entity(client, zone, overlap=OVERLAP, full_refresh=True)

    assert (full.rows_landed, full.records_unchanged, full.records_deleted) == (2, 4, 0)
    relanded = [(r["record_id"], r["birthday"]) for r in landed(zone) if r["_sync_id"] == full.sync_id]
    assert relanded == [("1", "1990-03-15"), ("2", "1990-03-15")]
    assert again.rows_landed == 0
