import csv
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from scripts.generate_sample_data import WORKBOOK_SAVED_AT, generate_inbox
from scripts.synthetic_contacts import generate_synthetic

CUSTOMER_LIST = "spreadsheets/고객명단_2024.csv"
EVENT_LEADS = "spreadsheets/event_leads_2024-10.csv"
WORKBOOK = "spreadsheets/영업팀_거래처.xlsx"
ORDERS = "spreadsheets/주문내역.xlsx"
KR_FORM = "forms/구글폼_상담신청.csv"
EN_FORM = "forms/google_form_newsletter.csv"
WEBHOOK = "forms/webhook_submissions.jsonl"
LANDING = "forms/landing_page_signups.json"
ENCODINGS = {CUSTOMER_LIST: "cp949", EVENT_LEADS: "utf-8-sig", KR_FORM: "utf-8", EN_FORM: "utf-8"}


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
        [CUSTOMER_LIST, EVENT_LEADS, WORKBOOK, ORDERS, KR_FORM, EN_FORM, WEBHOOK, LANDING]
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
    assert orders["A1"].value == "2024년 11월 케이터링 주문내역"
    assert [cell.value for cell in orders[3]] == [
        "주문번호", "주문일자", "고객명", "연락처", "이메일", "상품명", "수량", "결제금액", "비고"
    ]  # fmt: skip
    amounts = [row[7] for row in orders.iter_rows(min_row=4, values_only=True)]
    assert {"240만원", "₩175,000", -90000} <= set(amounts)
    with zipfile.ZipFile(inbox[0] / ORDERS) as archive:
        assert {info.date_time for info in archive.infolist()} == {WORKBOOK_SAVED_AT.timetuple()[:6]}


def test_order_manifest_locates_every_order_row_and_knows_each_outcome(inbox):
    out, manifest = inbox
    orders = manifest["orders"]
    sheet = load_workbook(out / ORDERS)["주문"]
    for ref in orders["rows"]:
        cells = [cell.value for cell in sheet[ref["row"]]]
        assert cells[0] == ref["order_id"] and cells[2] == ref["name"], ref
    assert [r["expect"] for r in orders["rows"]].count("rejected") == len(orders["rejected"]) == 1
    assert [r["name"] for r in orders["unlinked"]] == ["김민수"]
    assert orders["order_only_people"] == ["eunseo_pyo_orders"]
    assert orders["expected_purchases"]["seoyeon_lee_bluefork"] == {
        "purchase_count": 1,
        "total_value": 210000,
        "currency": "KRW",
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
