import pytest

from connectors.files.headers import (
    DEFAULT_SYNONYMS,
    FIELDS,
    find_header_row,
    map_headers,
    normalize_header,
)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("이메일 주소 (필수)", "이메일주소"),
        ("이메일（선택）", "이메일"),
        ("E-mail", "email"),
        ("Customer_ID", "customerid"),
        (" 고객 ID ", "고객id"),
        ("[필수] 연락처", "연락처"),
        ("성함*", "성함"),
        ("(이름)", "이름"),
    ],
)
def test_normalize_header_ignores_case_spacing_punctuation_and_remarks(header, key):
    assert normalize_header(header) == key


def test_every_default_synonym_names_a_known_field():
    assert set(DEFAULT_SYNONYMS) <= set(FIELDS)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        *[(h, "name") for h in ["이름", "성명", "성함", "고객명", "담당자", "담당자명", "Name", "Full Name"]],
        *[(h, "name") for h in ["customer name", "Contact Name"]],
        *[
            (h, "email")
            for h in ["이메일", "메일", "이메일 주소", "E-mail", "email", "Email Address", "메일주소"]
        ],
        *[
            (h, "phone")
            for h in ["휴대폰", "핸드폰", "연락처", "전화번호", "휴대전화", "휴대폰번호", "Mobile"]
        ],
        *[(h, "phone") for h in ["phone", "Phone Number", "cell", "Tel"]],
        *[(h, "company") for h in ["회사", "회사명", "업체명", "상호", "기업명", "Company", "company name"]],
        *[(h, "company") for h in ["Organization", "organisation"]],
        *[
            (h, "record_id")
            for h in ["id", "ID", "고객번호", "고객 ID", "customer id", "customer_id", "Record ID"]
        ],
        *[(h, "record_id") for h in ["응답 ID", "submission_id", "response_id", "token"]],
        *[
            (h, "consent_email")
            for h in ["마케팅 정보 수신 동의", "마케팅 수신 동의", "광고성 정보 수신 동의"]
        ],
        *[(h, "consent_email") for h in ["수신동의", "Marketing consent", "Email opt-in", "Newsletter"]],
        *[(h, "record_at") for h in ["등록일", "등록일시", "수정일", "작성일", "일자", "날짜", "Updated at"]],
        *[(h, "record_at") for h in ["created_at", "Date", "Timestamp", "타임스탬프", "submitted_at"]],
        *[
            (h, "birthday")
            for h in ["생일", "생년월일", "생년월일(8자리)", "출생일", "birthday", "Birth Date"]
        ],
        *[
            (h, "birthday")
            for h in ["date of birth", "date_of_birth", "DOB", "Birthday (MM/DD)", "생일 (월/일)"]
        ],
    ],
)
def test_map_headers_knows_korean_and_english_synonyms(header, field):
    assert map_headers(["메모", header]) == {1: field}


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("마케팅 정보 수신에 동의하십니까? (선택)", "consent_email"),
        ("광고성 정보(이메일) 수신에 동의합니다", "consent_email"),
        ("이메일 수신 여부", "consent_email"),
        ("I agree to receive marketing emails", "consent_email"),
        ("Subscribe to our newsletter?", "consent_email"),
        ("Email opt-in (marketing)", "consent_email"),
        ("연락 받으실 이메일을 적어주세요", "email"),
        ("Your email", "email"),
        ("연락처를 남겨주세요 (- 없이)", "phone"),
        ("담당자 휴대전화", "phone"),
        ("What is your phone number?", "phone"),
        ("소속 회사", "company"),
        ("성함을 알려주세요", "name"),
        ("생년월일을 입력해 주세요", "birthday"),
        ("고객님의 생일은 언제인가요?", "birthday"),
        ("What is your date of birth?", "birthday"),
        ("Your birthday", "birthday"),
    ],
)
def test_map_headers_maps_long_form_questions_by_containment(header, field):
    assert map_headers([header]) == {0: field}


@pytest.mark.parametrize(
    "header",
    [
        "개인정보 수집 및 이용 동의",
        "개인정보 수집 및 이용에 동의하십니까? (필수)",
        "개인정보 제3자 제공 동의",
        "회사 주소",
        "연락 가능한 시간",
        "메모",
        "출생지",
        "출생연도",
        "Place of birth",
        "Birth year",
    ],
)
def test_map_headers_leaves_privacy_consent_and_unrelated_columns_unmapped(header):
    assert map_headers([header]) == {}


def test_map_headers_maps_each_field_to_the_first_column_only():
    assert map_headers(["이메일", "이름", "메일주소", "Email"]) == {0: "email", 1: "name"}


def test_map_headers_prefers_an_exact_match_over_a_containment_match():
    assert map_headers(["담당자 이메일", "email"]) == {1: "email"}


def test_map_headers_extra_synonyms_extend_the_defaults():
    headers = ["Kunde", "Handy", "이메일"]
    assert map_headers(headers) == {2: "email"}
    assert map_headers(headers, {"name": ["Kunde"], "phone": ["Handy"]}) == {
        0: "name",
        1: "phone",
        2: "email",
    }


def test_map_headers_extra_synonyms_extend_the_birthday_field():
    assert map_headers(["이메일", "태어난 날"]) == {0: "email"}
    assert map_headers(["이메일", "태어난 날"], {"birthday": ["태어난 날"]}) == {0: "email", 1: "birthday"}


def test_map_headers_rejects_extra_synonyms_for_an_unknown_field():
    with pytest.raises(ValueError, match="'nickname'"):
        map_headers(["별명"], {"nickname": ["별명"]})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "2", "3"], {0: "record_id", 1: "email"}),
        (["C-0017", "C-0018"], {0: "record_id", 1: "email"}),
        (["010-1234-5678", "010-2222-3333"], {0: "phone", 1: "email"}),
        (["1", "1", "2"], {1: "email"}),
        (["VIP 고객", "일반"], {1: "email"}),
    ],
)
def test_map_headers_treats_an_ambiguous_number_column_by_its_values(values, expected):
    rows = [[value, f"user{i}@x.com"] for i, value in enumerate(values)]
    assert map_headers(["번호", "이메일"], sample_rows=rows) == expected


def test_map_headers_leaves_an_ambiguous_number_column_unmapped_without_samples():
    assert map_headers(["No.", "이메일"]) == {1: "email"}


def test_map_headers_ambiguous_number_column_does_not_replace_a_named_phone_column():
    rows = [["010-1234-5678", "010-2222-3333"]]
    assert map_headers(["번호", "휴대폰"], sample_rows=rows) == {1: "phone"}


def test_find_header_row_skips_title_rows_and_blank_lines():
    rows = [
        ["2024년 3월 고객 명단", None, None],
        [None, None, None],
        ["작성자: 김민수", None, None],
        ["이름", "이메일", "연락처"],
        ["김민수", "kim@x.com", "010-1234-5678"],
    ]
    assert find_header_row(rows) == 3


def test_find_header_row_picks_the_row_naming_the_most_fields():
    rows = [["이름", "비고"], ["이름", "이메일", "회사명"], ["김민수", "kim@x.com", "가나"]]
    assert find_header_row(rows) == 1


@pytest.mark.parametrize(
    "rows",
    [
        [["등록일", "회사명", "메모"], ["2024-03-05", "가나", ""]],
        [["이메일", "메모"], ["a@x.com", ""]],
        [["메모"], ["이 시트는 설명입니다"]],
        [],
    ],
)
def test_find_header_row_needs_a_contact_field_and_two_matches(rows):
    assert find_header_row(rows) is None


def test_find_header_row_accepts_a_single_column_contact_list():
    assert find_header_row([["이메일"], ["a@x.com"], ["b@x.com"]]) == 0


def test_find_header_row_only_looks_at_the_first_20_rows():
    rows = [[f"설명 {i}", None] for i in range(20)] + [["이름", "이메일"]]
    assert find_header_row(rows) is None
    assert find_header_row(rows[1:]) == 19


def test_find_header_row_uses_extra_synonyms():
    rows = [["Kunde", "Handy"], ["Anna", "+49 30 1234567"]]
    assert find_header_row(rows) is None
    assert find_header_row(rows, {"name": ["Kunde"], "phone": ["Handy"]}) == 0
