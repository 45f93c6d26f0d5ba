"""`dbt build` of the whole project (models, unit tests, data tests) on a fixture landing zone.

dbt costs seconds to start, so one module-scoped build serves every identity and survivorship check;
the stability scenario needs several builds and runs on a home of its own.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import dbtRunner, dbtRunnerResult

from connectors.core.landing import RECORD_COLUMNS, LandingZone
from orchestration.lib.landing import prepare_landing as prepare_all_landing_zones
from orchestration.lib.paths import DBT_PROJECT_DIR

SHEETS = ("spreadsheets", "contacts")
FORMS = ("forms", "submissions")


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def contact(
    source: str,
    record_id: str,
    name: str | None,
    email: str | None = None,
    phone: str | None = None,
    **values,
) -> dict[str, object]:
    """A reader's row; Korean mobile numbers (+8210...) are typed mobile, other phones fixed_line."""
    record = dict.fromkeys(RECORD_COLUMNS)
    record.update(
        _source=source,
        _source_file=f"{source}-{record_id}.xlsx",
        _source_sheet="Sheet1" if source == "spreadsheets" else None,
        _source_row=1,
        source_record_id=record_id,
        raw_name=name,
        raw_email=email,
        raw_phone=phone,
        raw_row=f'{{"record_id": "{record_id}"}}',
        full_name=name,
        email=email,
        phone=phone,
        phone_type=None if phone is None else "mobile" if phone.startswith("+8210") else "fixed_line",
    )
    record.update(values)
    return record


def sheet(record_id: str, name: str | None, email: str | None = None, phone: str | None = None, **values):
    return contact("spreadsheets", record_id, name, email, phone, **values)


def form(record_id: str, name: str | None, email: str | None = None, phone: str | None = None, **values):
    return contact("forms", record_id, name, email, phone, **values)


def prepare_landing(home: Path) -> None:
    prepare_all_landing_zones(home / "landing")


def land(home: Path, where: tuple[str, str], batch_id: str, loaded_at: datetime, *rows: Mapping) -> None:
    source, entity = where
    zone = LandingZone(root=home / "landing", source=source, entity=entity)
    zone.prepare()
    zone.write_batch(batch_id, rows, loaded_at=loaded_at)


def invoke_dbt_build(home: Path, *extra: str, project_dir: Path = DBT_PROJECT_DIR) -> dbtRunnerResult:
    """`dbt build` against `home`; logs and artifacts (run_results.json) go to home, not the repository."""
    args = [
        "build",
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(home / "dbt-target"),
        "--log-path",
        str(home / "dbt-logs"),
        *extra,
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRIPLINE_HOME", str(home))
        result = dbtRunner().invoke(args)
    # dbt-duckdb keeps its read-write connection to the warehouse cached after the invocation, and
    # DuckDB refuses a read-only connection to a file the same process holds read-write.
    DuckDBConnectionManager.close_all_connections()
    gc.collect()
    return result


def dbt_build(home: Path, *extra: str, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """`dbt build` that must succeed (warnings allowed)."""
    result = invoke_dbt_build(home, *extra, project_dir=project_dir)
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success, result.exception or "\n".join(failures)


def query(home: Path, sql: str, *params: object) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def customer_ids(home: Path) -> dict[str, str]:
    rows = query(home, "select source || ':' || source_record_id, customer_id from customer_source_records")
    return dict(rows)


def expected_customer_id(source: str, record_id: str) -> str:
    return "cus_" + hashlib.md5(f"{source}:{record_id}".encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def built_home(tmp_path_factory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("dripline-home")
    prepare_landing(home)
    land(
        home,
        SHEETS,
        "sheet-january",
        at("2024-01-10"),
        sheet("s-minsu", "Minsu Kim", "minsu@haneul.kr", "+821011112222", company="Haneul"),
        sheet("s-jihoon-a", "Park Jihoon", "jihoon@park.kr"),
        # the role-mailbox and switchboard trap: two colleagues behind info@ and the office number
        sheet("s-acme-minsu", "김민수", "info@acme.kr", "+8221234000", company="Acme"),
        sheet("s-acme-younghee", "이영희", "info@acme.kr", "+8221234000", company="Acme"),
        sheet("s-kim-alpha", "김민수", "kim@alpha.kr", "+821030000001"),
        sheet("s-rejected", "??", _source_row=7, rejection_reason="no email or phone"),
        sheet("s-seoyeon", "Choi Seoyeon", "seoyeon@old.kr"),
        sheet("s-hana", "Jung Hana", "hana@jung.kr", consent_email=True, record_at=at("2024-01-01")),
        sheet("s-hong", "Hong Gildong", "test@test.com"),
    )
    land(
        home,
        FORMS,
        "forms-january",
        at("2024-01-15"),
        form("f-minsu", "Kim Minsu", "minsu@haneul.kr", consent_email=True),
        form("f-sora", "Lee Sora", "sora@lee.kr", "+821055556666"),
        form("f-jihoon-b", "Park Jihoon", "jihoon@park.kr", "+821077778888"),
        form("f-kim-beta", "김민수", "kim@beta.kr", "+821030000002"),
        form("f-hana", "Jung Hana", "hana@jung.kr", consent_email=False, record_at=at("2024-02-01")),
        form("f-hong", "Hong Gildong", "test@test.com"),
    )
    land(
        home,
        SHEETS,
        "sheet-february",
        at("2024-02-01"),
        sheet("s-sora", "Sora Lee", phone="+821055556666"),
        sheet("s-jihoon-c", "Jihoon Park", phone="+821077778888"),
        # the same spreadsheet row again, edited
        sheet("s-seoyeon", "Choi Seo-yeon", "seoyeon@new.kr"),
    )
    dbt_build(home)
    yield home


def customer_of(home: Path, source: str, record_id: str) -> str:
    [(customer_id,)] = query(
        home,
        "select customer_id from customer_source_records where source = ? and source_record_id = ?",
        source,
        record_id,
    )
    return customer_id


def match_rule_of(home: Path, record_id: str) -> str:
    [(rule,)] = query(
        home, "select match_rule from customer_source_records where source_record_id = ?", record_id
    )
    return rule


def test_every_accepted_record_belongs_to_exactly_one_customer(built_home):
    [(records, customers, referenced)] = query(
        built_home,
        """
        select
            (select count(*) from customer_source_records),
            (select count(*) from customers),
            (select count(distinct customer_id) from customer_source_records)
        """,
    )
    assert records == 16
    assert customers == referenced == 11


def test_customer_ids_are_cus_and_sixteen_hex_digits(built_home):
    ids = [row[0] for row in query(built_home, "select customer_id from customers")]
    assert all(re.fullmatch(r"cus_[0-9a-f]{16}", customer_id) for customer_id in ids)


def test_duplicate_across_sources_by_email_is_one_customer(built_home):
    customer_id = customer_of(built_home, "spreadsheets", "s-minsu")
    assert customer_of(built_home, "forms", "f-minsu") == customer_id
    assert customer_id == expected_customer_id("spreadsheets", "s-minsu")
    assert match_rule_of(built_home, "f-minsu") == "email"
    [(sources, source_count, record_count, name, phone, company)] = query(
        built_home,
        "select sources, source_count, record_count, full_name, primary_phone, company"
        " from customers where customer_id = ?",
        customer_id,
    )
    assert (sources, source_count, record_count) == ("forms,spreadsheets", 2, 2)
    assert (name, phone, company) == ("Kim Minsu", "+821011112222", "Haneul")


def test_duplicate_across_sources_by_phone_is_one_customer(built_home):
    assert customer_of(built_home, "spreadsheets", "s-sora") == customer_of(built_home, "forms", "f-sora")
    assert match_rule_of(built_home, "s-sora") == "phone"


def test_joins_are_transitive(built_home):
    """A shares an email with B and B a phone with C (name in the other order): one customer."""
    ids = {
        customer_of(built_home, s, r)
        for s, r in [("spreadsheets", "s-jihoon-a"), ("forms", "f-jihoon-b"), ("spreadsheets", "s-jihoon-c")]
    }
    assert len(ids) == 1
    assert [match_rule_of(built_home, r) for r in ("s-jihoon-a", "f-jihoon-b", "s-jihoon-c")] == [
        "email",
        "email",
        "phone",
    ]


def test_role_mailbox_and_switchboard_do_not_join_different_people(built_home):
    minsu = customer_of(built_home, "spreadsheets", "s-acme-minsu")
    younghee = customer_of(built_home, "spreadsheets", "s-acme-younghee")
    assert minsu != younghee
    assert (
        match_rule_of(built_home, "s-acme-minsu")
        == match_rule_of(built_home, "s-acme-younghee")
        == "singleton"
    )
    [(email, phone)] = query(
        built_home, "select primary_email, primary_phone from customers where customer_id = ?", minsu
    )
    assert (email, phone) == ("info@acme.kr", "+8221234000")


def test_people_with_the_same_common_name_stay_apart(built_home):
    alpha = customer_of(built_home, "spreadsheets", "s-kim-alpha")
    beta = customer_of(built_home, "forms", "f-kim-beta")
    acme = customer_of(built_home, "spreadsheets", "s-acme-minsu")
    assert len({alpha, beta, acme}) == 3


def test_placeholder_email_does_not_join_people_with_the_same_name(built_home):
    assert customer_of(built_home, "spreadsheets", "s-hong") != customer_of(built_home, "forms", "f-hong")
    assert query(
        built_home,
        "select primary_email from customers where customer_id = ?",
        customer_of(built_home, "forms", "f-hong"),
    ) == [(None,)]


def test_relanded_record_keeps_its_first_load_and_takes_the_new_values(built_home):
    [(email, name, loaded_at, first_loaded_at)] = query(
        built_home,
        "select email, full_name, loaded_at, first_loaded_at from int_contacts__unioned"
        " where record_key = 'spreadsheets:s-seoyeon'",
    )
    assert (email, name) == ("seoyeon@new.kr", "Choi Seo-yeon")
    assert (loaded_at, first_loaded_at) == (at("2024-02-01"), at("2024-01-10"))
    assert query(
        built_home, "select count(*) from customer_source_records where source_record_id = 's-seoyeon'"
    ) == [(1,)]


def test_rejected_row_is_quarantined_and_not_a_customer(built_home):
    assert query(
        built_home, "select source, source_row, reason, raw_row, load_id, source_file from quarantined_rows"
    ) == [
        (
            "spreadsheets",
            7,
            "no email or phone",
            '{"record_id": "s-rejected"}',
            "sheet-january",
            "spreadsheets-s-rejected.xlsx",
        )
    ]
    assert query(
        built_home, "select count(*) from customer_source_records where source_record_id = 's-rejected'"
    ) == [(0,)]


@pytest.mark.parametrize(
    ("record_id", "consent"),
    [
        pytest.param("s-hana", False, id="later-refusal-withdraws-consent"),
        pytest.param("f-minsu", True, id="one-yes-and-no-answer-is-yes"),
        pytest.param("f-sora", False, id="no-answer-is-false"),
    ],
)
def test_consent_is_the_latest_explicit_answer(built_home, record_id, consent):
    [(customer_id,)] = query(
        built_home, "select customer_id from customer_source_records where source_record_id = ?", record_id
    )
    assert query(built_home, "select consent_email from customers where customer_id = ?", customer_id) == [
        (consent,)
    ]


def test_customer_ids_are_stable_across_runs_new_members_and_merges(tmp_path):
    fast = ("--exclude-resource-type", "unit_test", "--exclude-resource-type", "test")
    prepare_landing(tmp_path)
    land(tmp_path, SHEETS, "first", at("2024-01-01"), sheet("p1", "Kim Minsu", "a@x.kr", "+821011110000"))
    land(tmp_path, SHEETS, "second", at("2024-01-02"), sheet("p2", "Lee Younghee", "b@y.kr"))
    dbt_build(tmp_path, *fast)
    first = customer_ids(tmp_path)
    assert first == {
        "spreadsheets:p1": expected_customer_id("spreadsheets", "p1"),
        "spreadsheets:p2": expected_customer_id("spreadsheets", "p2"),
    }

    dbt_build(tmp_path, *fast)
    assert customer_ids(tmp_path) == first, "re-running on the same data changed ids"

    land(tmp_path, FORMS, "joins-p1", at("2024-01-03"), form("f1", "Minsu Kim", "a@x.kr"))
    land(tmp_path, SHEETS, "newcomer", at("2024-01-03"), sheet("p3", "Park Jihoon", "c@z.kr"))
    dbt_build(tmp_path, *fast)
    grown = customer_ids(tmp_path)
    assert grown["forms:f1"] == grown["spreadsheets:p1"] == first["spreadsheets:p1"]
    assert grown["spreadsheets:p2"] == first["spreadsheets:p2"]
    assert grown["spreadsheets:p3"] not in first.values()

    # f2 (no name) carries p2's email and p1's phone: the customers merge and the older anchor's id wins.
    land(tmp_path, FORMS, "merges", at("2024-01-04"), form("f2", None, "b@y.kr", "+821011110000"))
    dbt_build(tmp_path, *fast)
    merged = customer_ids(tmp_path)
    assert {merged[k] for k in ("spreadsheets:p1", "forms:f1", "spreadsheets:p2", "forms:f2")} == {
        first["spreadsheets:p1"]
    }
    assert merged["spreadsheets:p3"] == grown["spreadsheets:p3"]
