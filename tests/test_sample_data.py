import csv
import io
import json
import zipfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from scripts.generate_sample_data import DEMO_AS_OF, WORKBOOK_SAVED_AT, generate_inbox
from scripts.synthetic_contacts import generate_synthetic

CUSTOMER_LIST = "spreadsheets/고객명단_2024.csv"
EVENT_LEADS = "spreadsheets/event_leads_2024-10.csv"
WORKBOOK = "spreadsheets/영업팀_거래처.xlsx"
ORDERS = "spreadsheets/주문내역.xlsx"
POS_ORDERS = "spreadsheets/POS_주문내역_2024.csv"
ORDERS_2025 = "spreadsheets/주문내역_2025.xlsx"
ORDERS_2026 = "spreadsheets/주문내역_2026.xlsx"
ORDER_BOOKS = [POS_ORDERS, ORDERS, ORDERS_2025, ORDERS_2026]
KR_FORM = "forms/구글폼_상담신청.csv"
EN_FORM = "forms/google_form_newsletter.csv"
WEBHOOK = "forms/webhook_submissions.jsonl"
LANDING = "forms/landing_page_signups.json"
ENCODINGS = {
    CUSTOMER_LIST: "cp949",
    EVENT_LEADS: "utf-8-sig",
    KR_FORM: "utf-8",
    EN_FORM: "utf-8",
    POS_ORDERS: "cp949",
}
SEGMENTS = [
    "vip_accounts",
    "large_accounts",
    "at_risk_regulars",
    "loyal_regulars",
    "repeat_buyers",
    "first_time_buyers",
    "warm_prospects",
    "churned",
    "cold_prospects",
]
AS_OF = datetime.fromisoformat(DEMO_AS_OF)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sample") / "inbox"
    return out, generate_inbox(out)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_writes_identical_bytes(inbox, tmp_path):
    first_out, first_manifest = inbox
    second_manifest = generate_inbox(tmp_path / "inbox")

    first, second = _files(first_out), _files(tmp_path / "inbox")
    assert sorted(first) == sorted(
        [CUSTOMER_LIST, EVENT_LEADS, WORKBOOK, KR_FORM, EN_FORM, WEBHOOK, LANDING, *ORDER_BOOKS]
    )
    assert first == second
    assert first_manifest == second_manifest


def test_another_seed_writes_other_data(inbox, tmp_path):
    out, _ = inbox
    generate_inbox(tmp_path / "inbox", seed=8)
    assert (out / CUSTOMER_LIST).read_bytes() != (tmp_path / "inbox" / CUSTOMER_LIST).read_bytes()


def test_customer_list_is_cp949_not_utf8(inbox):
    raw = (inbox[0] / CUSTOMER_LIST).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("cp949").startswith("번호,고객명,휴대폰,이메일,회사명,마케팅 수신 동의,등록일")


def test_event_leads_start_with_a_bom(inbox):
    raw = (inbox[0] / EVENT_LEADS).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfName,Email,Mobile,Company,Marketing consent,Date")


def test_customer_list_has_blank_lines_and_a_row_with_too_many_cells(inbox):
    rows = list(csv.reader(io.StringIO((inbox[0] / CUSTOMER_LIST).read_bytes().decode("cp949"))))
    header = rows[0]
    assert [] in rows
    assert [""] * len(header) in rows
    assert [len(row) for row in rows].count(len(header) + 1) == 1


def test_workbook_has_a_title_row_above_the_header_and_a_notes_sheet(inbox):
    workbook = load_workbook(inbox[0] / WORKBOOK)
    assert workbook.sheetnames == ["거래처", "신규 거래처", "설명"]
    accounts = workbook["거래처"]
    assert accounts["A1"].value == "2024 거래처 담당자 명단"
    assert all(cell.value is None for cell in accounts[2])
    assert [cell.value for cell in accounts[3]] == ["성명", "연락처", "메일", "업체명", "비고"]
    assert all(len(row) == 1 for row in workbook["설명"].iter_rows(values_only=True))


def test_workbook_stores_formula_like_text_as_a_string_and_a_phone_as_a_number(inbox):
    accounts = load_workbook(inbox[0] / WORKBOOK)["거래처"]
    cells = [cell for row in accounts.iter_rows() for cell in row]
    formula_text = [c for c in cells if isinstance(c.value, str) and c.value.startswith("=")]
    assert [c.data_type for c in formula_text] == ["s"]
    assert 1048217730 in [c.value for c in cells]
    with zipfile.ZipFile(inbox[0] / WORKBOOK) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()


def test_workbook_timestamps_are_pinned(inbox):
    workbook = load_workbook(inbox[0] / WORKBOOK)
    assert workbook.properties.created == WORKBOOK_SAVED_AT
    assert workbook.properties.modified == WORKBOOK_SAVED_AT
    with zipfile.ZipFile(inbox[0] / WORKBOOK) as archive:
        assert {info.date_time for info in archive.infolist()} == {WORKBOOK_SAVED_AT.timetuple()[:6]}


def test_order_workbook_has_a_title_row_korean_order_columns_and_a_notes_sheet(inbox):
    workbook = load_workbook(inbox[0] / ORDERS)
    assert workbook.sheetnames == ["주문", "안내"]
    orders = workbook["주문"]
    assert orders["A1"].value == "2024년 11~12월 케이터링 주문내역"
    assert [cell.value for cell in orders[3]] == [
        "주문번호", "주문일자", "고객명", "연락처", "이메일", "상품명", "수량", "결제금액", "비고"
    ]  # fmt: skip
    amounts = [row[7] for row in orders.iter_rows(min_row=4, values_only=True)]
    assert {"240만원", "₩175,000", -90000} <= set(amounts)


@pytest.mark.parametrize("book", [ORDERS, ORDERS_2025, ORDERS_2026])
def test_order_workbooks_are_pinned_to_the_day_they_were_last_saved(inbox, book):
    workbook = load_workbook(inbox[0] / book)
    saved_at = workbook.properties.modified
    assert workbook.properties.created == saved_at <= AS_OF.replace(tzinfo=None)
    with zipfile.ZipFile(inbox[0] / book) as archive:
        assert {info.date_time for info in archive.infolist()} == {saved_at.timetuple()[:6]}


def test_yearly_order_books_name_the_buyers_company_and_hold_large_catering_orders(inbox):
    large = []
    for book, year in [(ORDERS_2025, 2025), (ORDERS_2026, 2026)]:
        sheet = load_workbook(inbox[0] / book)[str(year)]
        assert sheet["A1"].value == f"{year}년 케이터링 주문내역"
        assert [cell.value for cell in sheet[3]] == [
            "주문번호", "주문일", "주문자", "연락처", "이메일", "업체명", "상품명", "수량", "금액", "비고"
        ]  # fmt: skip
        rows = list(sheet.iter_rows(min_row=4, values_only=True))
        days = [row[1] for row in rows]
        assert {day.year for day in days} == {year}
        assert days == sorted(days)
        large += [row for row in rows if isinstance(row[8], int) and row[8] >= 50_000_000]
    assert len(large) >= 3
    assert all(company for *_, company, _, _, _, _ in large)


def test_pos_export_is_cp949_with_the_time_of_each_sale(inbox):
    raw = (inbox[0] / POS_ORDERS).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(raw.decode("cp949"))))
    assert list(rows[0]) == [
        "주문번호",
        "주문일시",
        "주문자",
        "휴대폰",
        "이메일",
        "상품명",
        "수량",
        "결제금액",
        "결제수단",
    ]
    times = [datetime.strptime(row["주문일시"], "%Y-%m-%d %H:%M") for row in rows]
    assert times == sorted(times)
    assert datetime(2024, 1, 1) <= times[0] and times[-1] < datetime(2024, 11, 1)


def test_order_manifest_locates_every_order_row_and_knows_each_outcome(inbox):
    out, manifest = inbox
    orders = manifest["orders"]
    assert sum(orders["files"].values()) == len(orders["rows"])
    books = {f: load_workbook(out / f) for f in orders["files"] if f.endswith(".xlsx")}
    for ref in orders["rows"]:
        if "sheet" in ref:
            cells = [cell.value for cell in books[ref["file"]][ref["sheet"]][ref["row"]]]
        else:
            cells = next(csv.reader([_row_text(out, ref)]))
        assert cells[0] == ref["order_id"] and cells[2] == ref["name"], ref
    assert [r["expect"] for r in orders["rows"]].count("rejected") == len(orders["rejected"]) == 1
    assert [r["name"] for r in orders["unlinked"]] == ["김민수"]
    assert "eunseo_pyo_orders" in orders["order_only_people"]
    assert orders["expected_purchases"]["seoyeon_lee_bluefork"] == {
        "purchase_count": 1,
        "total_value": 210000,
        "currency": "KRW",
        "last_purchase_at": "2024-11-07T00:00:00+09:00",
    }
    # the buyers said to be known are people of the contact files
    known = {r["person_id"] for r in manifest["records"] if r["accepted"]}
    assert set(orders["expected_purchases"]) - known == set(orders["order_only_people"])


def test_korean_form_uses_korean_locale_timestamps_and_answers(inbox):
    rows = list(csv.DictReader(io.StringIO((inbox[0] / KR_FORM).read_text(encoding="utf-8"))))
    for row in rows:
        stamp = row["타임스탬프"].replace("오전", "AM").replace("오후", "PM")
        datetime.strptime(stamp, "%Y. %m. %d %p %I:%M:%S")
    answers = {row["마케팅 정보 수신에 동의하십니까? (선택)"] for row in rows}
    assert answers == {"동의합니다", "동의하지 않습니다", ""}


def test_webhook_jsonl_has_exactly_one_broken_line(inbox):
    broken = 0
    for line in (inbox[0] / WEBHOOK).read_text(encoding="utf-8").splitlines():
        try:
            json.loads(line)
        except json.JSONDecodeError:
            broken += 1
    assert broken == 1


def test_landing_page_json_mixes_flat_and_nested_submissions(inbox):
    items = json.loads((inbox[0] / LANDING).read_text(encoding="utf-8"))
    assert {"submission_id", "marketing_consent"} <= items[0].keys() | items[1].keys()
    nested = [item for item in items if "data" in item]
    assert nested
    assert all(item["data"].keys() == {"이름", "이메일", "휴대폰"} for item in nested)


def _row_text(out: Path, ref: dict) -> str:
    path = out / ref["file"]
    if "sheet" in ref:
        sheet = load_workbook(path)[ref["sheet"]]
        return " ".join(str(cell.value) for cell in sheet[ref["row"]] if cell.value is not None)
    if path.suffix == ".json":
        return json.dumps(json.loads(path.read_text(encoding="utf-8"))[ref["row"] - 1], ensure_ascii=False)
    return path.read_bytes().decode(ENCODINGS.get(ref["file"], "utf-8")).splitlines()[ref["row"] - 1]


def test_manifest_locates_every_record(inbox):
    out, manifest = inbox
    assert len(manifest["records"]) == manifest["record_count"] == sum(manifest["files"].values())
    for ref in manifest["records"]:
        text = _row_text(out, ref)
        assert ref["name"] in text
        if ref["accepted"]:
            assert ref["email"].strip() in text
            assert ref["phone"] in text
            assert ref.get("birthday", "") in text


@pytest.mark.parametrize(
    ("person_id", "consent"),
    [
        ("yerin_song_sodam", False),
        ("hajun_oh_gmail", True),
        ("jiwoo_seo_kakao", True),
        ("chaewon_lim_saebyeok", None),
    ],
)
def test_manifest_gives_the_expected_consent(inbox, person_id, consent):
    assert inbox[1]["expected_consent"][person_id] is consent


def test_manifest_keeps_shared_key_traps_apart(inbox):
    manifest = inbox[1]
    switchboard = next(c for c in manifest["cases"] if c["case"] == "shared_switchboard")
    assert len({r["person_id"] for r in switchboard["records"]}) == 3
    for group in manifest["expected_separate"]:
        assert len({r["person_id"] for r in group}) == len(group)
    for group in manifest["expected_merged"]:
        assert len({r["person_id"] for r in group}) == 1
    rejected = {r["person_id"] for r in manifest["rejected"]}
    assert rejected == {"gildong_hong_invalid", "junk_test_row", "hyunwoo_jo_hanbit", "suji_bae_broken"}
    assert rejected.isdisjoint(manifest["expected_consent"])


def test_synthetic_generator_writes_the_requested_row_count(tmp_path):
    summary = generate_synthetic(tmp_path, n_records=5_000, files=4)

    # Neither CP949 nor UTF-8 uses a line-break byte inside a multibyte character, so bytes can be split.
    raw = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.glob("*/*.*")}
    written = {name: len(data.splitlines()) - name.endswith(".csv") for name, data in raw.items()}
    assert summary["records"] == sum(written.values()) == 5_000
    assert written == summary["files"]
    assert any(data.startswith(b"\xef\xbb\xbf") for data in raw.values())
    assert any(not _is_utf8(data) for data in raw.values())
    truth = (tmp_path / "_truth.csv").read_text(encoding="utf-8").splitlines()
    assert len(truth) - 1 == 5_000
    assert {line.rsplit(",", 1)[1] for line in truth[1:]} == {"ok", "invalid", "switchboard", "bad_phone"}


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_synthetic_generator_is_deterministic(tmp_path):
    generate_synthetic(tmp_path / "a", n_records=2_000, files=3)
    generate_synthetic(tmp_path / "b", n_records=2_000, files=3)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_the_manifest_carries_the_demo_clock_a_monday_morning_in_seoul(inbox):
    assert inbox[1]["as_of"] == DEMO_AS_OF
    assert (AS_OF.isoweekday(), AS_OF.hour, AS_OF.utcoffset()) == (1, 10, timedelta(hours=9))


def test_nothing_in_the_sample_happens_after_the_demo_clock(inbox):
    manifest = inbox[1]
    stamps = [r["at"] for r in manifest["records"] if r["at"]]
    stamps += [p["last_purchase_at"] for p in manifest["orders"]["expected_purchases"].values()]
    assert max(datetime.fromisoformat(at) for at in stamps) < AS_OF


def test_every_segment_is_planted_and_none_holds_more_than_35_percent(inbox):
    manifest = inbox[1]
    segments = manifest["expected_segments"]
    people = {r["person_id"] for r in manifest["records"] if r["accepted"]}
    people |= set(manifest["orders"]["order_only_people"])
    may_merge = {r["person_id"] for group in manifest["may_merge"] for r in group}
    assert set(segments) == people - may_merge
    assert 250 <= len(people) <= 400
    counts = Counter(segments.values())
    assert set(counts) == set(SEGMENTS)
    assert max(counts.values()) <= 0.35 * len(segments), counts
    assert min(counts.values()) >= 5, counts


def test_first_time_buyers_and_warm_prospects_include_recent_entrants(inbox):
    manifest = inbox[1]
    segments, purchases = manifest["expected_segments"], manifest["orders"]["expected_purchases"]
    fresh_buyers = [
        person
        for person, segment in segments.items()
        if segment == "first_time_buyers"
        and AS_OF - datetime.fromisoformat(purchases[person]["last_purchase_at"]) <= timedelta(days=14)
    ]
    assert len(fresh_buyers) >= 5
    form_files = ("forms/",)
    fresh_forms = {
        r["person_id"]
        for r in manifest["records"]
        if r["accepted"]
        and r["file"].startswith(form_files)
        and AS_OF - datetime.fromisoformat(r["at"]) <= timedelta(days=7)
        and segments.get(r["person_id"]) == "warm_prospects"
    }
    assert len(fresh_forms) >= 5


def test_consent_is_a_realistic_mix_with_withdrawals_and_two_year_old_answers(inbox):
    manifest = inbox[1]
    people = set(manifest["expected_segments"])
    consent = manifest["expected_consent"]
    consented = [p for p in people if consent.get(p) is True]
    assert 0.55 <= len(consented) / len(people) <= 0.70
    assert sum(consent.get(p) is None for p in people) >= 20  # never asked, or known from the order book only
    answers: dict[str, list[tuple[str, bool]]] = {}
    for r in manifest["records"]:
        if r["accepted"] and r["consent"] is not None:
            answers.setdefault(r["person_id"], []).append((r["at"], r["consent"]))
    withdrawn = [p for p, given in answers.items() if True in dict(given).values() and consent[p] is False]
    assert len(withdrawn) >= 5
    two_years_old = [p for p in consented if manifest["expected_consent_at"][p][:7] in ("2024-11", "2024-12")]
    assert len(two_years_old) >= 10


def test_about_half_the_people_give_a_birthday_some_within_the_week_after_the_demo_clock(inbox):
    manifest = inbox[1]
    people = set(manifest["expected_segments"])
    birthdays = {p: datetime.fromisoformat(b).date() for p, b in manifest["birthdays"].items() if p in people}
    assert 0.4 <= len(birthdays) / len(people) <= 0.6
    week = {(AS_OF.date() + timedelta(days=n)).strftime("%m-%d") for n in range(1, 8)}
    soon = [p for p, b in birthdays.items() if b.strftime("%m-%d") in week]
    assert len(soon) >= 5
    assert len(birthdays) - len(soon) >= 100
    written = {r["birthday"] for r in manifest["records"] if "birthday" in r}
    shapes = {_birthday_shape(text) for text in written}
    assert shapes == {"1990-03-15", "1990.3.15", "19900315", "03-15", "3월 15일", "15/03"}


def _birthday_shape(text: str) -> str:
    for shape, pattern in [
        ("1990-03-15", "%Y-%m-%d"),
        ("1990.3.15", "%Y.%m.%d"),
        ("19900315", "%Y%m%d"),
        ("03-15", "%m-%d"),
        ("3월 15일", "%m월 %d일"),
        ("15/03", "%d/%m"),
    ]:
        dated = text if "%Y" in pattern else f"2000 {text}"  # a leap year, so that 29 February reads
        try:
            datetime.strptime(dated, pattern if "%Y" in pattern else f"%Y {pattern}")
        except ValueError:
            continue
        return shape
    raise AssertionError(text)
