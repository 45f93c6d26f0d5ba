"""`make run` on a temporary home with the shipped sample data, checked against its ground truth."""

import json
from itertools import combinations

import duckdb
import pytest

from orchestration import cli
from orchestration.lib.paths import REPO_ROOT

MANIFEST = json.loads((REPO_ROOT / "sample_data" / "manifest.json").read_text())


def _locator(record: dict) -> tuple:
    return (record["file"], record.get("sheet"), record["row"])


@pytest.fixture(scope="module")
def run(tmp_path_factory, dbt_manifest):
    """Two complete runs of `dripline run` on one home: the second must change nothing."""
    import shutil

    home = tmp_path_factory.mktemp("e2e-home")
    shutil.copytree(REPO_ROOT / "sample_data" / "inbox", home / "inbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRIPLINE_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        first_code = cli.main(["run"])
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
            first_ids = connection.execute(
                "select source, source_record_id, customer_id from customer_source_records order by all"
            ).fetchall()
        second_code = cli.main(["run"])
    connection = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield {"home": home, "codes": (first_code, second_code), "first_ids": first_ids, "db": connection}
    connection.close()


@pytest.fixture(scope="module")
def customer_of(run) -> dict[tuple, str]:
    rows = (
        run["db"]
        .execute(
            """
        select regexp_replace(source_file, '^', source || '/'), source_sheet, source_row, customer_id
        from customer_source_records
        """
        )
        .fetchall()
    )
    return {(file, sheet, row): customer for file, sheet, row, customer in rows}


def test_both_runs_succeed_and_the_second_lands_and_renames_nothing(run):
    assert run["codes"] == (0, 0)
    ids = (
        run["db"]
        .execute("select source, source_record_id, customer_id from customer_source_records order by all")
        .fetchall()
    )
    assert ids == run["first_ids"]
    batches = list((run["home"] / "landing").rglob("*.parquet"))
    assert len([b for b in batches if not b.name.startswith("_")]) == len(MANIFEST["files"])


def test_every_accepted_record_is_one_source_record_and_every_rejected_one_is_quarantined(run, customer_of):
    accepted = [r for r in MANIFEST["records"] if r["accepted"]]
    assert set(customer_of) == {_locator(r) for r in accepted}
    quarantined = (
        run["db"]
        .execute(
            "select source || '/' || source_file, source_sheet, source_row, reason from quarantined_rows"
        )
        .fetchall()
    )
    assert {(f, sheet, row) for f, sheet, row, _ in quarantined} == {
        _locator(r) for r in MANIFEST["rejected"]
    }
    for file, _, row, reason in quarantined:
        assert file.split("/", 1)[1] in reason and str(row) in reason, reason


def test_no_two_people_share_a_customer(customer_of):
    may_merge = {frozenset(_locator(r) for r in group) for group in MANIFEST["may_merge"]}
    person = {_locator(r): r["person_id"] for r in MANIFEST["records"] if r["accepted"]}
    false_merges = [
        (a, b)
        for a, b in combinations(sorted(person, key=str), 2)
        if customer_of[a] == customer_of[b] and person[a] != person[b] and frozenset((a, b)) not in may_merge
    ]
    assert false_merges == []


@pytest.mark.parametrize("index", range(len(MANIFEST["expected_merged"])))
def test_each_planted_duplicate_group_is_one_customer(customer_of, index):
    group = MANIFEST["expected_merged"][index]
    assert len({customer_of[_locator(r)] for r in group}) == 1, group


@pytest.mark.parametrize("index", range(len(MANIFEST["expected_separate"])))
def test_each_planted_trap_stays_apart(customer_of, index):
    group = MANIFEST["expected_separate"][index]
    assert len({customer_of[_locator(r)] for r in group}) == len(group), group


def test_the_customer_count_is_the_number_of_people(run):
    [(customers,)] = run["db"].execute("select count(*) from customers").fetchall()
    expected = MANIFEST["expected_customers"]
    assert expected["min"] <= customers <= expected["max"]


def test_consent_is_the_latest_explicit_answer(run, customer_of):
    consent = dict(run["db"].execute("select customer_id, consent_email from customers").fetchall())
    person_customer = {r["person_id"]: customer_of[_locator(r)] for r in MANIFEST["records"] if r["accepted"]}
    wrong = {
        person: (expected, consent[person_customer[person]])
        for person, expected in MANIFEST["expected_consent"].items()
        if person in person_customer and consent[person_customer[person]] is not bool(expected)
    }
    assert wrong == {}


def test_the_customers_asset_reports_its_counts_in_the_homes_dagster_instance(run):
    import dagster as dg

    with dg.DagsterInstance.from_config(str(run["home"] / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["customers"]))
        ingest = instance.get_latest_materialization_event(dg.AssetKey(["spreadsheets", "contacts"]))
    metadata = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    [(customers, records, consented)] = (
        run["db"]
        .execute("select count(*), sum(record_count), count(*) filter (where consent_email) from customers")
        .fetchall()
    )
    assert metadata["customer_count"] == customers
    assert metadata["merge_count"] == records - customers > 0
    assert metadata["consented_email_share"] == pytest.approx(consented / customers, abs=1e-4)
    assert metadata["quarantined_row_count"] == len(MANIFEST["rejected"])
    # The second run landed nothing new; its metadata says so.
    assert ingest.asset_materialization.metadata["files_already_landed"].value == 3
