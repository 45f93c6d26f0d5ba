import json
import os
from datetime import UTC, datetime

import pytest

from connectors.core.landing import READER_SCHEMA
from connectors.files.forms import UnreadableFileError, read_form_export, submission_key

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
        "01023456789",
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
    assert records[0]["phone"] == "+821023456789"
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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("lp_a4886cf4c2f0", "submission=lp_a4886cf4c2f0"),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "submission=0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("ivr0tp3zsdkgbn7hf1ivr0tp3zsdkgb", "submission=ivr0tp3zsdkgbn7hf1ivr0tp3zsdkgb"),
        ("abcd1234", "submission=abcd1234"),
        ("1", "forms/a.csv:id=1"),
        ("20240305123", "forms/a.csv:id=20240305123"),  # digits only, however long
        ("r-001", "forms/a.csv:id=r-001"),  # 7 characters
        ("abc1234", "forms/a.csv:id=abc1234"),
    ],
)
def test_submission_key_is_global_only_for_ids_that_look_globally_unique(value, expected):
    assert submission_key("forms/a.csv", value) == expected


@pytest.mark.parametrize("header", ["id", "No", "번호", "순번"])
def test_row_numbers_of_two_exports_do_not_collide(inbox, write_csv, header):
    keys = []
    for name in ("a.csv", "b.csv"):
        rows = [
            [header, "이름", "이메일"],
            ["1", "김민수", f"one@{name[0]}.com"],
            ["2", "이영희", f"two@{name[0]}.com"],
        ]
        records = _records(read_form_export(write_csv(inbox / name, rows), inbox_dir=inbox))
        assert [r["rejection_reason"] for r in records] == [None, None]
        keys += [r["source_record_id"] for r in records]
    assert keys == ["a.csv:id=1", "a.csv:id=2", "b.csv:id=1", "b.csv:id=2"]


def test_form_csv_with_a_submission_id_uses_it(inbox, write_csv):
    rows = [["응답 ID", "이메일"], ["r-7f3a9c2e", "a@x.com"], ["", "b@x.com"]]
    records = _records(read_form_export(write_csv(inbox / "form.csv", rows), inbox_dir=inbox))
    assert [r["source_record_id"] for r in records] == ["submission=r-7f3a9c2e", "form.csv:row=3"]


HOOKS = [
    '{"id": "sub_0c9f3a11", "submitted_at": "2024-03-05T14:31:07+09:00", '
    '"data": {"name": "김민수", "email": "kim@x.com"}}',
    "",
    '{"id": "sub_0c9f3a12", "submitted_at": "2024-03-05T05:40:00Z", '
    '"data": {"name": "Lee" "email": "lee@x.com"}}',
    '{"id": "sub_0c9f3a13", "submitted_at": 1709616667, '
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
        "submission=sub_0c9f3a11",
        "hooks/2024-03-05.jsonl:row=3",
        "submission=sub_0c9f3a13",
        "hooks/2024-03-05.jsonl:row=5",
    ]
    broken = records[1]
    column = HOOKS[2].index('"email"') + 1
    assert broken["rejection_reason"] == (
        f"hooks/2024-03-05.jsonl line 3: not valid JSON (Expecting ',' delimiter at column {column})"
    )
    assert json.loads(broken["raw_row"]) == {"line": HOOKS[2]}
    assert broken["record_at"] is None  # an unreadable line has no date of its own
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
        {"submission_id": "a1b2c3d4e5", "email": "a@x.com", "created_at": "2024-03-05"},
        "oops",
        {"submission_id": "a3", "email": "bad", "phone": "", "consent": "yes"},
    ]
    path = inbox / "capture.json"
    path.write_text(json.dumps(payloads, ensure_ascii=False), encoding="utf-8")
    records = _records(read_form_export(path, inbox_dir=inbox))
    assert [r["_source_row"] for r in records] == [1, 2, 3]
    assert records[0]["source_record_id"] == "submission=a1b2c3d4e5"
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
    assert record["record_at"] is None  # no timestamp in the payload; the file's time is not one
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


FLAT_SIGNUP = {
    "submission_id": "lp_a4886cf4c2f1",
    "submitted_at": "2024-06-14T19:36:16+09:00",
    "name": "Hannah Tanaka",
    "email": "",
    "phone": "01024123105",
    "company": "한빛푸드",
    "marketing_consent": False,
}
NESTED_SIGNUP = {
    "id": "lp_a4886cf4c2f2",
    "created_at": "2024-06-23T03:12:55Z",
    "data": {"이름": "박우진", "이메일": "parkwoojin@bluefork.co.kr", "휴대폰": "010-2749-8889"},
}
FLAT_SIGNUP_2 = {
    "submission_id": "lp_a4886cf4c2f3",
    "submitted_at": "2024-06-27T20:05:12+09:00",
    "name": "Daniel Park",
    "email": "Contact@Brightside.io",
    "phone": "010-5150-3398",
    "company": "Brightside Events",
    "marketing_consent": True,
}
NESTED_SIGNUP_2 = {
    "id": "lp_a4886cf4c2f4",
    "created_at": "2024-06-25T07:38:53Z",
    "data": {"이름": "이서현", "이메일": "", "휴대폰": "010-9968-1434"},
}
MIXED_SIGNUPS = [FLAT_SIGNUP, NESTED_SIGNUP, FLAT_SIGNUP_2, NESTED_SIGNUP_2]


def _assert_mixed_signups_read(records: list[dict], rows: list[int]) -> None:
    assert [r["rejection_reason"] for r in records] == [None] * 4
    assert [r["_source_row"] for r in records] == rows
    assert [r["source_record_id"] for r in records] == [
        "submission=lp_a4886cf4c2f1",
        "submission=lp_a4886cf4c2f2",
        "submission=lp_a4886cf4c2f3",
        "submission=lp_a4886cf4c2f4",
    ]
    assert [r["record_at"] for r in records] == [
        datetime(2024, 6, 14, 10, 36, 16, tzinfo=UTC),
        datetime(2024, 6, 23, 3, 12, 55, tzinfo=UTC),
        datetime(2024, 6, 27, 11, 5, 12, tzinfo=UTC),
        datetime(2024, 6, 25, 7, 38, 53, tzinfo=UTC),
    ]
    assert [r["full_name"] for r in records] == ["Hannah Tanaka", "박우진", "Daniel Park", "이서현"]
    assert [r["email"] for r in records] == [None, "parkwoojin@bluefork.co.kr", "contact@brightside.io", None]
    assert [r["phone"] for r in records] == [
        "+821024123105",
        "+821027498889",
        "+821051503398",
        "+821099681434",
    ]
    assert [r["consent_email"] for r in records] == [False, None, True, None]
    assert json.loads(records[1]["raw_row"]) == NESTED_SIGNUP


def test_json_array_mixing_flat_and_nested_payloads_maps_each_by_its_shape(inbox):
    path = inbox / "forms" / "signups.json"
    path.parent.mkdir()
    path.write_text(json.dumps(MIXED_SIGNUPS, ensure_ascii=False), encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    _assert_mixed_signups_read(_records(result), rows=[1, 2, 3, 4])
    flat, nested = result.sheets
    assert flat.mapping == {
        "submission_id": "record_id",
        "submitted_at": "record_at",
        "name": "name",
        "email": "email",
        "phone": "phone",
        "company": "company",
        "marketing_consent": "consent_email",
    }
    assert nested.mapping == {
        "id": "record_id",
        "created_at": "record_at",
        "data.이름": "name",
        "data.이메일": "email",
        "data.휴대폰": "phone",
    }
    assert (flat.sheet, nested.sheet) == (None, None)
    assert [(s.rows_read, s.rows_rejected) for s in result.sheets] == [(2, 0), (2, 0)]


def test_jsonl_mixing_payload_shapes_maps_each_by_its_shape(inbox):
    path = inbox / "signups.jsonl"
    lines = [json.dumps(payload, ensure_ascii=False) for payload in MIXED_SIGNUPS]
    path.write_text("\n".join([*lines[:2], "{broken", *lines[2:]]) + "\n", encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    records = _records(result)
    assert records[2]["rejection_reason"] == (
        "signups.jsonl line 3: not valid JSON (Expecting property name enclosed in double quotes at column 2)"
    )
    _assert_mixed_signups_read(records[:2] + records[3:], rows=[1, 2, 4, 5])
    assert (result.rows_read, result.rows_rejected) == (5, 1)


def test_payload_shapes_differing_by_optional_keys_share_one_table(inbox):
    payloads = [
        {"id": "a", "email": "a@x.com"},
        {"id": "b", "email": "b@x.com", "phone": "010-1111-2222", "utm": "ad"},
        {"id": "c", "phone": "010-3333-4444"},
    ]
    path = inbox / "hooks.json"
    path.write_text(json.dumps(payloads), encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    (report,) = result.sheets
    assert report.mapping == {"id": "record_id", "email": "email", "phone": "phone"}
    assert report.extra_columns == ["utm"]
    assert [r["rejection_reason"] for r in _records(result)] == [None] * 3


def test_a_stray_payload_shape_without_contact_fields_is_rejected_not_the_file(inbox):
    payloads = [
        NESTED_SIGNUP,
        {"event": "ping", "hook_id": 42},
        FLAT_SIGNUP_2,
    ]
    path = inbox / "hooks.json"
    path.write_text(json.dumps(payloads, ensure_ascii=False), encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    nested, stray, flat = _records(result)
    assert (nested["rejection_reason"], flat["rejection_reason"]) == (None, None)
    assert (nested["email"], flat["email"]) == ("parkwoojin@bluefork.co.kr", "contact@brightside.io")
    assert stray["rejection_reason"] == (
        "hooks.json element 2: no valid email or phone (no email column; no phone column)"
    )
    assert json.loads(stray["raw_row"]) == {"event": "ping", "hook_id": 42}
    assert stray["source_record_id"] == "hooks.json:row=2"
    assert (result.rows_read, result.rows_rejected) == (3, 1)


def test_a_submission_id_repeated_across_payload_shapes_is_caught(inbox):
    payloads = [{"id": "x1", "email": "a@x.com"}, {"submission_id": "x1", "data": {"phone": "01011112222"}}]
    path = inbox / "hooks.json"
    path.write_text(json.dumps(payloads), encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    assert len(result.sheets) == 2
    first, second = _records(result)
    assert (first["source_record_id"], second["source_record_id"]) == ("hooks.json:id=x1", "hooks.json:row=2")
    assert "repeats the id of row 1" in second["field_issues"]


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


@pytest.mark.parametrize("encoding", ["utf-8", "cp949"])
def test_korean_google_forms_date_question_is_the_birthday(inbox, write_csv, encoding):
    rows = [
        ["타임스탬프", "성함", "연락처", "생년월일을 입력해 주세요"],
        ["2024. 3. 5 오후 2:31:07", "김민수", "010-2345-6789", "1990. 3. 15"],
        ["2024. 3. 5 오후 2:40:00", "이영희", "010-2345-6790", "3월 15일"],
        ["2024. 3. 5 오후 2:50:00", "박지훈", "010-2345-6791", "1990. 2. 30"],
    ]
    result = read_form_export(write_csv(inbox / "신청.csv", rows, encoding=encoding), inbox_dir=inbox)
    assert result.sheets[0].mapping["생년월일을 입력해 주세요"] == "birthday"
    first, second, third = _records(result)
    assert (first["birthday"], second["birthday"]) == ("1990-03-15", "--03-15")
    assert (third["birthday"], third["raw_birthday"]) == (None, "1990. 2. 30")
    assert third["field_issues"] == "birthday: '1990. 2. 30' is not a real date"
    assert third["rejection_reason"] is None


def test_english_google_forms_date_answer_is_month_first(inbox, write_csv):
    rows = [
        ["Timestamp", "Email Address", "Date of birth"],
        ["3/5/2024 14:31:07", "ann@x.com", "4/5/1990"],
        ["3/5/2024 14:32:07", "bob@x.com", "25/12/1988"],
    ]
    first, second = _records(read_form_export(write_csv(inbox / "form.csv", rows), inbox_dir=inbox))
    assert (first["birthday"], second["birthday"]) == ("1990-04-05", "1988-12-25")


def test_webhook_payload_birthday_is_read_from_a_nested_key(inbox):
    payloads = [
        {"id": "lp_a4886cf4c2f0", "data": {"email": "kim@x.com", "birthday": "1990-03-15"}},
        {"id": "lp_b4886cf4c2f0", "data": {"email": "lee@x.com", "birthday": 19850702}},
    ]
    path = inbox / "hooks.json"
    path.write_text(json.dumps(payloads), encoding="utf-8")
    result = read_form_export(path, inbox_dir=inbox)
    assert result.sheets[0].mapping["data.birthday"] == "birthday"
    assert [r["birthday"] for r in _records(result)] == ["1990-03-15", "1985-07-02"]
