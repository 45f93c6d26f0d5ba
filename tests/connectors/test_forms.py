import json
import os
from datetime import UTC, datetime

import pytest

from connectors.forms import UnreadableFileError, read_form_export
from connectors.landing import READER_SCHEMA

KOREAN_FORM = [
    [
        "타임스탬프",
        "성함을 입력해 주세요",
        "이메일 주소",
        "연락처 (- 없이 입력)",
        "회사명",
        "마케팅 정보 수신에 동의하십니까? (선택)",
        "개인정보 수집 및 이용에 동의하십니까? (필수)",
        "문의 내용",
    ],
    [
        "2024. 3. 5 오후 2:31:07",
        "김 민수",
        "Kim@Naver.com",
        "01012345678",
        "(주)가나",
        "동의합니다",
        "동의합니다",
        "견적",
    ],
    ["2024. 3. 5 오전 9:05:00", "이영희", "lee@daum.net", "", "", "동의하지 않습니다", "동의합니다", ""],
    ["2024. 3. 6 오후 12:00:00", "박지훈", "park@", "02-12", "", "", "동의합니다", "연락 주세요"],
]
ENGLISH_FORM = [
    ["Timestamp", "Email Address", "Name", "Phone number", "I agree to receive marketing emails", "Comments"],
    ["3/5/2024 14:31:07", "ann@x.com", "ANN LEE", "+1 650-253-0000", "I agree", ""],
    ["3/6/2024 9:00:00", "bob@x.com", "bob", "", "No", "later"],
]
MTIME = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def _records(result) -> list[dict]:
    return result.table.to_pylist()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_korean_google_forms_export_is_read(inbox, write_csv, encoding):
    path = write_csv(inbox / "forms" / "상담신청 (응답).csv", KOREAN_FORM, encoding=encoding)
    result = read_form_export(path, inbox_dir=inbox)
    records = _records(result)
    assert result.table.schema == READER_SCHEMA
    assert [r["_source"] for r in records] == ["forms"] * 3
    assert [r["_source_row"] for r in records] == [2, 3, 4]
    assert [r["record_at"] for r in records] == [
        datetime(2024, 3, 5, 5, 31, 7, tzinfo=UTC),
        datetime(2024, 3, 5, 0, 5, tzinfo=UTC),
        datetime(2024, 3, 6, 3, 0, tzinfo=UTC),
    ]
    assert [r["consent_email"] for r in records] == [True, False, None]
    assert [r["raw_consent_email"] for r in records] == ["동의합니다", "동의하지 않습니다", None]
    assert records[0]["full_name"] == "김민수"
    assert records[0]["phone"] == "+821012345678"
    assert records[0]["source_record_id"] == "forms/상담신청 (응답).csv:row=2"


def test_korean_google_forms_privacy_consent_stays_an_attribute(inbox, write_csv):
    path = write_csv(inbox / "form.csv", KOREAN_FORM)
    result = read_form_export(path, inbox_dir=inbox)
    assert result.sheets[0].mapping["마케팅 정보 수신에 동의하십니까? (선택)"] == "consent_email"
    assert result.sheets[0].extra_columns == ["개인정보 수집 및 이용에 동의하십니까? (필수)", "문의 내용"]
    assert json.loads(_records(result)[0]["attributes"]) == {
        "개인정보 수집 및 이용에 동의하십니까? (필수)": "동의합니다",
        "문의 내용": "견적",
    }


def test_google_forms_submission_without_a_valid_channel_is_rejected(inbox, write_csv):
    path = write_csv(inbox / "form.csv", KOREAN_FORM)
    third = _records(read_form_export(path, inbox_dir=inbox))[2]
    assert third["rejection_reason"] == (
        "form.csv row 4: no valid email or phone (email: 'park@' is not a valid address; "
        "phone: '02-12' is not a valid phone number for region KR)"
    )
    assert third["raw_name"] == "박지훈"


def test_english_google_forms_export_is_read(inbox, write_csv):
    path = write_csv(inbox / "form.csv", ENGLISH_FORM)
    result = read_form_export(path, inbox_dir=inbox)
    first, second = _records(result)
    assert first["record_at"] == datetime(2024, 3, 5, 5, 31, 7, tzinfo=UTC)
    assert (first["consent_email"], second["consent_email"]) == (True, False)
    assert (first["full_name"], second["full_name"]) == ("Ann Lee", "Bob")
    assert (first["phone"], first["phone_type"]) == ("+16502530000", "other")
    assert second["attributes"] == '{"Comments": "later"}'


def test_form_timestamps_use_the_given_local_time_zone(inbox, write_csv):
    path = write_csv(inbox / "form.csv", ENGLISH_FORM)
    first = _records(read_form_export(path, inbox_dir=inbox, local_tz="UTC"))[0]
    assert first["record_at"] == datetime(2024, 3, 5, 14, 31, 7, tzinfo=UTC)


def test_form_csv_with_a_submission_id_uses_it(inbox, write_csv):
    rows = [["응답 ID", "이메일"], ["r-001", "a@x.com"], ["", "b@x.com"]]
    records = _records(read_form_export(write_csv(inbox / "form.csv", rows), inbox_dir=inbox))
    assert [r["source_record_id"] for r in records] == ["submission=r-001", "form.csv:row=3"]


HOOKS = [
    '{"id": "sub_1", "submitted_at": "2024-03-05T14:31:07+09:00", '
    '"data": {"name": "김민수", "email": "kim@x.com"}}',
    "",
    '{"id": "sub_2", "submitted_at": "2024-03-05T05:40:00Z", "data": {"name": "Lee" "email": "lee@x.com"}}',
    '{"id": "sub_3", "submitted_at": 1709616667, '
    '"data": {"phone": "010-2222-3333", "utm": "ad"}, "tags": ["a", "b"]}',
    '["not", "an", "object"]',
]


def test_jsonl_capture_reads_each_line_and_rejects_a_broken_one(inbox):
    path = inbox / "hooks" / "2024-03-05.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(HOOKS) + "\n", encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    records = _records(result)
    assert [r["_source_row"] for r in records] == [1, 3, 4, 5]
    assert [r["source_record_id"] for r in records] == [
        "submission=sub_1",
        "hooks/2024-03-05.jsonl:row=3",
        "submission=sub_3",
        "hooks/2024-03-05.jsonl:row=5",
    ]
    broken = records[1]
    column = HOOKS[2].index('"email"') + 1
    assert broken["rejection_reason"] == (
        f"hooks/2024-03-05.jsonl line 3: not valid JSON (Expecting ',' delimiter at column {column})"
    )
    assert json.loads(broken["raw_row"]) == {"line": HOOKS[2]}
    assert records[3]["rejection_reason"] == "hooks/2024-03-05.jsonl line 5: not a JSON object (list)"
    assert (result.sheets[0].rows_read, result.sheets[0].rows_rejected) == (4, 2)
    assert result.encoding == "utf-8"


def test_jsonl_payload_fields_are_flattened_and_mapped(inbox):
    path = inbox / "hooks.jsonl"
    path.write_text("\n".join(HOOKS) + "\n", encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    first, _, third, _ = _records(result)
    assert result.sheets[0].mapping == {
        "id": "record_id",
        "submitted_at": "record_at",
        "data.name": "name",
        "data.email": "email",
        "data.phone": "phone",
    }
    assert first["record_at"] == datetime(2024, 3, 5, 5, 31, 7, tzinfo=UTC)
    assert third["record_at"] == datetime(2024, 3, 5, 5, 31, 7, tzinfo=UTC)
    assert (first["full_name"], first["email"]) == ("김민수", "kim@x.com")
    assert third["phone"] == "+821022223333"
    assert json.loads(third["attributes"]) == {"data.utm": "ad", "tags": '["a","b"]'}
    assert json.loads(third["raw_row"]) == json.loads(HOOKS[3])


def test_json_array_of_payloads_is_numbered_by_element(inbox):
    payloads = [
        {"submission_id": "a1", "email": "a@x.com", "created_at": "2024-03-05"},
        "oops",
        {"submission_id": "a3", "email": "bad", "phone": "", "consent": "yes"},
    ]
    path = inbox / "capture.json"
    path.write_text(json.dumps(payloads, ensure_ascii=False), encoding="utf-8")
    records = _records(read_form_export(path, inbox_dir=inbox))
    assert [r["_source_row"] for r in records] == [1, 2, 3]
    assert records[0]["source_record_id"] == "submission=a1"
    assert records[0]["record_at"] == datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    assert records[1]["rejection_reason"] == "capture.json element 2: not a JSON object (str)"
    assert records[2]["rejection_reason"] == (
        "capture.json element 3: no valid email or phone (email: 'bad' is not a valid address; phone empty)"
    )


def test_json_single_object_is_one_submission(inbox):
    path = inbox / "one.json"
    path.write_text('{"name": "Kim", "email": "kim@x.com", "newsletter": true}', encoding="utf-8")
    os.utime(path, (MTIME.timestamp(), MTIME.timestamp()))
    (record,) = _records(read_form_export(path, inbox_dir=inbox))
    assert (record["email"], record["consent_email"], record["raw_consent_email"]) == (
        "kim@x.com",
        True,
        "true",
    )
    assert record["record_at"] == MTIME
    assert record["source_record_id"] == "one.json:row=1"


def test_json_envelope_with_a_list_of_payloads_is_unwrapped(inbox):
    path = inbox / "export.json"
    path.write_text(json.dumps({"responses": [{"email": "a@x.com"}, {"email": "b@x.com"}]}), encoding="utf-8")
    assert [r["email"] for r in _records(read_form_export(path, inbox_dir=inbox))] == ["a@x.com", "b@x.com"]


def test_apps_script_named_values_lists_count_as_their_single_value(inbox):
    payload = {
        "namedValues": {
            "타임스탬프": ["2024. 3. 5 오후 2:31:07"],
            "이메일": ["kim@x.com"],
            "성함": ["김민수"],
        }
    }
    path = inbox / "hook.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    (record,) = _records(read_form_export(path, inbox_dir=inbox))
    assert (record["raw_email"], record["full_name"]) == ("kim@x.com", "김민수")
    assert record["record_at"] == datetime(2024, 3, 5, 5, 31, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"email": "a@x.com"', r"bad\.json: not valid JSON \(Expecting"),
        ("42", r"bad\.json: the JSON is not an object or an array of objects"),
        ('["a", "b"]', r"bad\.json: the JSON is not an object or an array of objects"),
        ('{"colour": "blue", "size": 3}', r"bad\.json: no recognisable contact fields"),
    ],
)
def test_json_file_that_is_not_form_data_is_unreadable(inbox, content, message):
    path = inbox / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=message):
        read_form_export(path, inbox_dir=inbox)


def test_unsupported_form_file_type_is_unreadable(inbox):
    path = inbox / "form.xml"
    path.write_text("<form/>", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"form\.xml: not a form export"):
        read_form_export(path, inbox_dir=inbox)
