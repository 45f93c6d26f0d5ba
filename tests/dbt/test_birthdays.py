"""Birthdays from every source, and when the deciding consent answer was given, through dbt to customers.

One home: a form batch landed before birthdays were read (no birthday columns, nor in its zone's schema
file, and no later batch in that zone), a CP949 CSV read by today's reader, and Pipedrive, HubSpot and
Typeform synced from their loopback fakes. One `dbt build` serves every check.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from connectors.apis import hubspot, pipedrive
from connectors.apis.hubspot import HubSpotClient
from connectors.apis.pipedrive import PipedriveClient
from connectors.apis.typeform import TypeformClient, responses_zone, sync_form, walks_zone
from connectors.core.landing import CONTACT_RECORD_SCHEMA, SCHEMA_FILE, LandingZone
from connectors.files.spreadsheets import read_spreadsheet
from tests.dbt.test_dbt_build import at, dbt_build, form, prepare_landing, query
from tests.fakes import hubspot as fake_hubspot
from tests.fakes import pipedrive as fake_pipedrive
from tests.fakes import typeform as fake_typeform

OVERLAP = timedelta(minutes=5)
BEFORE_BIRTHDAYS = pa.schema([f for f in CONTACT_RECORD_SCHEMA if f.name not in ("raw_birthday", "birthday")])
TYPEFORM_SUBMITTED = fake_typeform.EPOCH + timedelta(minutes=7)


def land_before_birthdays(home: Path) -> None:
    """A form batch and its zone's schema file as the version before birthdays wrote them."""
    zone = LandingZone(home / "landing", "forms", "submissions")
    zone.directory.mkdir(parents=True)
    pq.write_table(BEFORE_BIRTHDAYS.empty_table(), zone.directory / SCHEMA_FILE)
    row = {
        **form("old-minsu", "Minsu Kim", "minsu@haneul.kr", consent_email=True, record_at=at("2024-01-01")),
        "_load_id": "forms-before-birthdays",
        "_loaded_at": at("2024-01-10"),
    }
    pq.write_table(pa.Table.from_pylist([row], schema=BEFORE_BIRTHDAYS), zone.batch_path(row["_load_id"]))


def land_cp949_csv(home: Path) -> None:
    inbox = home / "inbox"
    path = inbox / "spreadsheets" / "회원.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(
        "이름,이메일,생년월일,등록일\r\n"
        "김민수,minsu@haneul.kr,1990.3.15,2024-02-01\r\n"
        "이영희,younghee@haneul.kr,02-30,2024-02-01\r\n".encode("cp949")
    )
    read = read_spreadsheet(path, inbox_dir=inbox)
    assert read.encoding == "cp949"
    zone = LandingZone(home / "landing", "spreadsheets", "contacts")
    zone.write_batch("sheet-birthdays", read.table, loaded_at=at("2024-02-02"))


def sync_api_sources(home: Path) -> None:
    landing = home / "landing"
    with fake_pipedrive.FakePipedrive.running(token="pd-token") as fake:
        fake.add("persons", fake_pipedrive.person(1, email="jihoon@park.kr", birthday="1988-12-25"))
        with PipedriveClient(fake.url, SecretStr("pd-token"), backoff_factor=0.01) as client:
            pipedrive.sync_entity(client, pipedrive.landing_zone(landing, "persons"), overlap=OVERLAP)
    with fake_hubspot.FakeHubSpot.running(token="hs-token") as fake:
        fake.add("contacts", fake_hubspot.contact(1, email="hana@jung.kr", date_of_birth="3/15"))
        with HubSpotClient(fake.url, SecretStr("hs-token"), backoff_factor=0.01) as client:
            hubspot.sync_entity(client, hubspot.landing_zone(landing, "contacts"), overlap=OVERLAP)
    with fake_typeform.FakeTypeform.running(token="tf-token") as fake:
        fake.add_form(
            fake_typeform.form(
                "Bd4yForm",
                fake_typeform.question("em01", "email", "email", "이메일"),
                fake_typeform.question("dt01", "x9y8z7", "date", "생년월일"),
                fake_typeform.question("yn01", "consent", "yes_no", "마케팅 정보 수신에 동의하십니까?"),
            )
        )
        fake.add_responses(
            "Bd4yForm",
            fake_typeform.response(
                "tok001",
                fake_typeform.answer("em01", "email", "email", "email", "seoyeon@choi.kr"),
                fake_typeform.answer("dt01", "x9y8z7", "date", "date", "1995-05-05"),
                fake_typeform.answer("yn01", "consent", "yes_no", "boolean", True),
                submitted=TYPEFORM_SUBMITTED,
            ),
        )
        with TypeformClient(fake.url, SecretStr("tf-token"), request_interval=0.0) as client:
            sync_form(
                client,
                responses_zone(landing),
                walks_zone(landing),
                "Bd4yForm",
                overlap=OVERLAP,
                now=fake_typeform.EPOCH + timedelta(days=1),
            )


@pytest.fixture(scope="module")
def built_home(tmp_path_factory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("birthday-home")
    land_before_birthdays(home)
    prepare_landing(home)
    land_cp949_csv(home)
    sync_api_sources(home)
    dbt_build(home)
    yield home


def customer(home: Path, email: str) -> tuple:
    columns = "birthday, consent_email, consent_email_at, record_count"
    [row] = query(home, f"select {columns} from customers where primary_email = ?", email)
    return row


@pytest.mark.parametrize(
    ("email", "birthday"),
    [
        pytest.param("minsu@haneul.kr", "1990-03-15", id="cp949-csv"),
        pytest.param("younghee@haneul.kr", None, id="impossible-date-is-null"),
        pytest.param("jihoon@park.kr", "1988-12-25", id="pipedrive-person"),
        pytest.param("hana@jung.kr", "--03-15", id="hubspot-date-of-birth-without-a-year"),
        pytest.param("seoyeon@choi.kr", "1995-05-05", id="typeform-date-question"),
    ],
)
def test_customers_have_the_birthday_of_every_source(built_home, email, birthday):
    assert customer(built_home, email)[0] == birthday


def test_a_zone_landed_only_before_birthdays_reads_with_a_null_birthday(built_home):
    assert query(built_home, "select source_record_id, birthday from stg_forms__submissions") == [
        ("old-minsu", None)
    ]
    # The merged customer: the birthday from the CSV, the consent answer from the old form batch.
    assert customer(built_home, "minsu@haneul.kr") == ("1990-03-15", True, at("2024-01-01"), 2)


def test_an_unreadable_birthday_stays_in_the_record_field_issues(built_home):
    issues = "select raw_birthday, field_issues from stg_spreadsheets__contacts where email = ?"
    assert query(built_home, issues, "younghee@haneul.kr") == [
        ("02-30", "birthday: '02-30' is not a real date")
    ]


def test_consent_email_at_is_when_the_answer_was_given_and_null_without_one(built_home):
    assert customer(built_home, "seoyeon@choi.kr")[1:3] == (True, TYPEFORM_SUBMITTED)
    assert customer(built_home, "younghee@haneul.kr")[1:3] == (False, None)
    assert customer(built_home, "jihoon@park.kr")[1:3] == (False, None)
