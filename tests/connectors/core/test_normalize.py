import csv
import random
from datetime import UTC, date, datetime

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from connectors.core import normalize
from connectors.core.normalize import (
    PLACEHOLDER_CONTACTS_CSV,
    cell_text,
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
    parse_birthday,
    parse_consent,
    parse_timestamp,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Kim@Naver.com", "kim@naver.com"),
        ("  kim@naver.com\t", "kim@naver.com"),
        ("mailto:Kim@Daum.net", "kim@daum.net"),
        ("mailto:kim@daum.net?subject=hi", "kim@daum.net"),
        ("김민수 <minsu@corp.co.kr>", "minsu@corp.co.kr"),
        ("ｋｉｍ＠ｎａｖｅｒ．ｃｏｍ", "kim@naver.com"),
        ("kim＠naver．com", "kim@naver.com"),
        ("Min.Su.Kim+promo@gmail.com", "minsukim@gmail.com"),
        ("min.su@googlemail.com", "minsu@gmail.com"),
        ("min.su+news@naver.com", "min.su@naver.com"),
        ("first.last@corp.co.kr", "first.last@corp.co.kr"),
        ("o'brien@x.ie", "o'brien@x.ie"),
    ],
)
def test_normalize_email_returns_canonical_address(raw, expected):
    assert normalize_email(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        "kim@",
        "@naver.com",
        "kim",
        "kim@naver",
        "kim@@naver.com",
        "kim..min@naver.com",
        "kim @naver.com",
        "+tag@x.com",
    ],
)
def test_normalize_email_rejects_invalid_syntax(raw):
    value, problem = normalize_email(raw)
    assert value is None
    assert problem == f"{raw!r} is not a valid address"


@pytest.mark.parametrize(
    "raw",
    [
        "test@test.com",
        "example@example.com",
        "kim@example.com",
        "kim@example.org",
        "kim@example.net",
        # Listed only in dbt_project/seeds/placeholder_contacts.csv, never in Python.
        "test@naver.com",
        "Test@Naver.com",
        "a@a.com",
        "t.est+x@gmail.com",
        "kim@test.co.kr",
        "kim@noemail.com",
    ],
)
def test_normalize_email_rejects_placeholders_without_echoing_them(raw):
    assert normalize_email(raw) == (None, "placeholder value")


def test_placeholders_come_from_the_dbt_seed():
    assert PLACEHOLDER_CONTACTS_CSV.is_file()
    placeholders = normalize.placeholder_contacts()
    with PLACEHOLDER_CONTACTS_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {kind: {row["value"] for row in rows if row["kind"] == kind} for kind in placeholders} == {
        kind: set(values) for kind, values in placeholders.items()
    }
    assert "test@naver.com" in placeholders["email"]
    assert "+821012345678" in placeholders["phone"]


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_normalize_email_treats_blank_as_absent_not_as_a_problem(raw):
    assert normalize_email(raw) == (None, None)


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("010-2345-6789", "+821023456789", "mobile"),
        ("01023456789", "+821023456789", "mobile"),
        ("+82 10-2345-6789", "+821023456789", "mobile"),
        ("+821023456789", "+821023456789", "mobile"),
        ("82-10-2345-6789", "+821023456789", "mobile"),
        ("010.2345.6789", "+821023456789", "mobile"),
        ("010 2345 6789", "+821023456789", "mobile"),
        ("０１０－２３４５－６７８９", "+821023456789", "mobile"),
        ("010-2345-6789 (집)", "+821023456789", "mobile"),
        ("010-2345-6789(회사)", "+821023456789", "mobile"),
        ("010-2345-6789 ext 12", "+821023456789", "mobile"),
        ("010-2345-6789 / 02-123-4567", "+821023456789", "mobile"),
        ("1023456789", "+821023456789", "mobile"),
        ("011-123-4567", "+82111234567", "mobile"),
        ("(02) 123-4567", "+8221234567", "fixed_line"),
        ("02-123-4567", "+8221234567", "fixed_line"),
        ("02-2345-6789", "+82223456789", "fixed_line"),
        ("031-123-4567", "+82311234567", "fixed_line"),
        ("070-1234-5678", "+827012345678", "voip"),
        ("1588-1234", "+8215881234", "other"),
    ],
)
def test_normalize_phone_returns_e164_and_type_for_korean_numbers(raw, e164, kind):
    assert normalize_phone(raw, "KR") == (e164, kind, None)


def test_normalize_phone_maps_fixed_line_or_mobile_to_other():
    number = phonenumbers.parse("+1 650-253-0000")
    assert phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE_OR_MOBILE
    assert normalize_phone("+1 650-253-0000", "KR") == ("+16502530000", "other", None)


def test_normalize_phone_reads_national_numbers_in_the_given_region():
    assert normalize_phone("(650) 253-0000", "US") == ("+16502530000", "other", None)
    assert normalize_phone("010-2345-6789", "US")[0] is None
    assert normalize_phone("+82 10-2345-6789", "US") == ("+821023456789", "mobile", None)


@pytest.mark.parametrize("raw", ["000-0000-0000", "02-12", "12345", "abc", "010-12ab-5678", "전화 없음"])
def test_normalize_phone_rejects_invalid_numbers_with_a_problem(raw):
    assert normalize_phone(raw, "KR") == (None, None, f"{raw!r} is not a valid phone number for region KR")


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("010-1234-5678", "KR"),  # fast path (mobile)
        ("+82 10 1234 5678", "US"),  # fast path, outside KR
        ("02-1234-5678", "KR"),  # fast path (landline)
        ("1012345678", "KR"),  # an Excel number that lost its leading zero
        ("010-1234-5678 (집)", "KR"),  # slow path
        ("010 1234-5678", "KR"),  # slow path: mixed separators
    ],
)
def test_normalize_phone_rejects_placeholders_from_the_seed_after_normalising(raw, region):
    assert normalize_phone(raw, region) == (None, None, "placeholder value")


def test_normalize_phone_skips_a_placeholder_for_a_real_number_in_the_same_cell():
    assert normalize_phone("010-1234-5678 / 02-123-4567", "KR") == ("+8221234567", "fixed_line", None)


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_normalize_phone_treats_blank_as_absent(raw):
    assert normalize_phone(raw) == (None, None, None)


def _reference_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """phonenumbers alone, without the fast path."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, None
    if not phonenumbers.is_valid_number(number):
        return None, None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 in normalize.placeholder_contacts()["phone"]:
        return None, None
    kind = {
        PhoneNumberType.MOBILE: "mobile",
        PhoneNumberType.FIXED_LINE: "fixed_line",
        PhoneNumberType.VOIP: "voip",
    }.get(phonenumbers.number_type(number), "other")
    return e164, kind


def _fast_path_candidates(rng: random.Random, count: int) -> list[str]:
    areas = [
        "2",
        "31",
        "32",
        "33",
        "41",
        "42",
        "43",
        "44",
        "51",
        "52",
        "53",
        "54",
        "55",
        "61",
        "62",
        "63",
        "64",
    ]
    numbers = []
    for _ in range(count):
        separator = rng.choice(["", "-", ".", " "])
        if rng.random() < 0.6:
            prefix = rng.choice(["0", "+82 ", "+82-", "+82", "82-", "82 ", "82", ""])
            middle = f"{rng.randint(2, 9)}{rng.randint(0, 999):03d}"
            numbers.append(f"{prefix}10{separator}{middle}{separator}{rng.randint(0, 9999):04d}")
        else:
            prefix = rng.choice(["0", "+82 ", "+82-", "+82"])
            middle = f"{rng.randint(1, 9)}{rng.randint(0, 10 ** rng.choice([2, 3]) - 1):0{2}d}"
            middle = middle.ljust(rng.choice([3, 4]), str(rng.randint(0, 9)))
            numbers.append(
                f"{prefix}{rng.choice(areas)}{separator}{middle}{separator}{rng.randint(0, 9999):04d}"
            )
    return numbers


def _near_misses(rng: random.Random, count: int) -> list[str]:
    numbers = []
    for _ in range(count):
        head = rng.choice(
            ["010", "011", "019", "070", "080", "050", "060", "02", "034", "065", "+8210", "8210"]
        )
        body = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 10)))
        cut = rng.randint(0, len(body))
        separator = rng.choice(["", "-", " ", ".", "-"])
        numbers.append(f"{head}{separator}{body[:cut]}{rng.choice(['', separator, ' '])}{body[cut:]}")
    # Numbers phonenumbers does not allocate although they look like every other 010 number.
    numbers += [f"010-59{rng.randint(70, 99)}-{rng.randint(0, 9999):04d}" for _ in range(100)]
    return numbers


def test_phone_fast_path_agrees_with_phonenumbers_on_random_numbers():
    rng = random.Random(20240305)
    candidates = [
        number
        for number in _fast_path_candidates(rng, 4000)
        if normalize._KR_MOBILE.fullmatch(number) or normalize._KR_LANDLINE.fullmatch(number)
    ]
    assert len(candidates) > 3500
    for raw in candidates:
        expected = _reference_phone(raw, "KR")
        assert expected[0] is not None, raw
        assert normalize_phone(raw, "KR")[:2] == expected, raw


def test_phone_fast_path_accepts_nothing_that_phonenumbers_rejects_or_reads_differently():
    rng = random.Random(7)
    for raw in _near_misses(rng, 3000):
        result = normalize_phone(raw, "KR")
        assert result[:2] == _reference_phone(raw, "KR"), raw


def test_phone_fast_path_is_not_taken_outside_korea_for_national_numbers():
    # In the US "010..." is not a Korean mobile number; only +82 numbers may use the KR fast path.
    assert normalize_phone("01012345678", "US") == (
        None,
        None,
        "'01012345678' is not a valid phone number for region US",
    )
    assert normalize_phone("+82-2-123-4567", "GB") == ("+8221234567", "fixed_line", None)


def test_phone_slow_path_is_cached():
    normalize._normalize_phone_slow.cache_clear()
    normalize_phone("(02) 987-6543")
    normalize_phone("(02) 987-6543")
    info = normalize._normalize_phone_slow.cache_info()
    assert (info.hits, info.misses) == (1, 1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("김 민수", "김민수"),
        ("  김민수  ", "김민수"),
        ("남궁 민 수", "남궁민수"),
        ("JOHN   SMITH", "John Smith"),
        ("john smith", "John Smith"),
        ("mary o'neil-jones", "Mary O'Neil-Jones"),
        ("McDonald", "McDonald"),
        ("Kim Min-su", "Kim Min-su"),
        ("김민수 Kim", "김민수 Kim"),
        ("\u3000이영희\u3000", "이영희"),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_name(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  (주)가나다  ", "(주)가나다"),
        ("주식회사   가나다", "주식회사 가나다"),
        ("㈜가나다", "㈜가나다"),
        ("Acme  Inc.", "Acme Inc."),
        ("", None),
        (None, None),
    ],
)
def test_normalize_company_collapses_whitespace_and_keeps_legal_form(raw, expected):
    assert normalize_company(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "동의",
        "동의함",
        "동의합니다",
        "동의합니다.",
        "예",
        "네",
        "네, 동의합니다",
        "Yes",
        "y",
        "TRUE",
        "1",
        "O",
        "✓",
        "checked",
        "Agree",
        "I agree",
        "수신",
        "수신 동의",
    ],
)
def test_parse_consent_reads_yes(raw):
    assert parse_consent(raw) == (True, None)


@pytest.mark.parametrize(
    "raw",
    [
        "동의하지 않습니다",
        "동의하지않음",
        "동의 안 함",
        "비동의",
        "미동의",
        "거부",
        "아니오",
        "아니요",
        "No",
        "n",
        "FALSE",
        "0",
        "X",
        "disagree",
        "I do not agree",
        "수신거부",
        "수신 거부",
    ],
)
def test_parse_consent_reads_no_even_when_the_answer_contains_yes(raw):
    assert parse_consent(raw) == (False, None)


@pytest.mark.parametrize("raw", [None, "", "  "])
def test_parse_consent_blank_is_unknown_without_a_problem(raw):
    assert parse_consent(raw) == (None, None)


@pytest.mark.parametrize("raw", ["모르겠음", "maybe", "2"])
def test_parse_consent_unknown_answer_is_a_problem(raw):
    assert parse_consent(raw) == (None, f"{raw!r} is not a recognised yes/no answer")


SEOUL_0531 = datetime(2024, 3, 5, 5, 31, 7, tzinfo=UTC)
SEOUL_MIDNIGHT = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024. 3. 5 오후 2:31:07", SEOUL_0531),
        ("2024. 3. 5. 오후 2:31:07", SEOUL_0531),
        ("2024. 3. 5 오전 9:05:00", datetime(2024, 3, 5, 0, 5, tzinfo=UTC)),
        ("2024. 3. 5 오전 12:05:00", datetime(2024, 3, 4, 15, 5, tzinfo=UTC)),
        ("2024. 3. 5 오후 12:05:00", datetime(2024, 3, 5, 3, 5, tzinfo=UTC)),
        ("3/5/2024 14:31:07", SEOUL_0531),
        ("3/5/2024 2:31:07 PM", SEOUL_0531),
        ("2024/03/05 2:31:07 PM GMT+9", SEOUL_0531),
        ("2024-03-05T14:31:07", SEOUL_0531),
        ("2024-03-05 14:31:07", SEOUL_0531),
        ("2024-03-05T14:31:07+09:00", SEOUL_0531),
        ("2024-03-05T05:31:07Z", SEOUL_0531),
        ("2024-03-05T05:31:07.000Z", SEOUL_0531),
        ("2024-03-05", SEOUL_MIDNIGHT),
        ("2024.03.05", SEOUL_MIDNIGHT),
        ("2024/03/05", SEOUL_MIDNIGHT),
        ("2024. 3. 5.", SEOUL_MIDNIGHT),
        ("2024년 3월 5일", SEOUL_MIDNIGHT),
        ("1709616667", SEOUL_0531),
        ("1709616667000", SEOUL_0531),
        (1709616667, SEOUL_0531),
        (datetime(2024, 3, 5, 14, 31, 7), SEOUL_0531),
        (datetime(2024, 3, 5, 5, 31, 7, tzinfo=UTC), SEOUL_0531),
        (date(2024, 3, 5), SEOUL_MIDNIGHT),
    ],
)
def test_parse_timestamp_reads_capture_times_as_utc(raw, expected):
    assert parse_timestamp(raw, "Asia/Seoul") == (expected, None)


def test_parse_timestamp_uses_the_given_local_time_zone():
    assert parse_timestamp("2024-03-05 14:31:07", "UTC") == (
        datetime(2024, 3, 5, 14, 31, 7, tzinfo=UTC),
        None,
    )
    assert parse_timestamp("2024-03-05 14:31:07", "America/New_York")[0] == datetime(
        2024, 3, 5, 19, 31, 7, tzinfo=UTC
    )


def test_parse_timestamp_keeps_an_explicit_offset_whatever_the_local_zone():
    assert parse_timestamp("2024-03-05T14:31:07+09:00", "UTC")[0] == SEOUL_0531


@pytest.mark.parametrize(
    "raw", ["어제", "2024-02-30", "13/13/2024", "2024. 3. 5 오후 13:00:00", "12345", True]
)
def test_parse_timestamp_unparseable_is_a_problem(raw):
    value, problem = parse_timestamp(raw)
    assert value is None
    assert "is not a recognised date/time" in problem


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_parse_timestamp_blank_is_absent(raw):
    assert parse_timestamp(raw) == (None, None)


def test_parse_timestamp_rejects_an_unknown_time_zone():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        parse_timestamp("2024-03-05", "Mars/Olympus")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1012345678.0, "1012345678"),
        (17, "17"),
        (3.5, "3.5"),
        (True, "TRUE"),
        (date(2024, 3, 5), "2024-03-05"),
        (datetime(2024, 3, 5, 9, 0), "2024-03-05 09:00:00"),
        ("=1+1", "=1+1"),
        ('=HYPERLINK("http://x")', '=HYPERLINK("http://x")'),
        ("", None),
        (None, None),
    ],
)
def test_cell_text_shows_cells_as_a_person_sees_them_and_never_evaluates(value, expected):
    assert cell_text(value) == expected


TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-03-15", "1990-03-15"),
        ("1990.3.15", "1990-03-15"),
        ("1990. 3. 15.", "1990-03-15"),
        ("1990. 3. 15", "1990-03-15"),
        ("1990/03/15", "1990-03-15"),
        ("1990년 3월 15일", "1990-03-15"),
        ("1990년3월15일", "1990-03-15"),
        ("19900315", "1990-03-15"),
        (19900315, "1990-03-15"),
        (19900315.0, "1990-03-15"),
        ("900315", "1990-03-15"),
        ("050315", "2005-03-15"),
        ("  1990-03-15\t", "1990-03-15"),
        ("１９９０－０３－１５", "1990-03-15"),
        ("1990-03-15 00:00:00", "1990-03-15"),
        ("1990-03-15T00:00:00Z", "1990-03-15"),
        ("3/15/1990", "1990-03-15"),
        ("15.03.1990", "1990-03-15"),
        ("March 15, 1990", "1990-03-15"),
        ("15 March 1990", "1990-03-15"),
        ("2000-02-29", "2000-02-29"),
        (date(1990, 3, 15), "1990-03-15"),
        (datetime(1990, 3, 15), "1990-03-15"),
        ("03-15", "--03-15"),
        ("3/15", "--03-15"),
        ("15/03", "--03-15"),
        ("03.15", "--03-15"),
        ("03.15.", "--03-15"),
        ("3월 15일", "--03-15"),
        ("3월15일", "--03-15"),
        ("--03-15", "--03-15"),
        ("Mar 15", "--03-15"),
        ("Sept 3rd", "--09-03"),
        ("02-29", "--02-29"),
        ("04/05", "--04-05"),
    ],
)
def test_parse_birthday_reads_the_ways_people_write_a_birthday(raw, expected):
    assert parse_birthday(raw, today=TODAY) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("02-30", "'02-30' is not a real date"),
        ("13/13", "'13/13' is not a real date"),
        ("13월 1일", "'13월 1일' is not a real date"),
        ("1990-13-01", "'1990-13-01' is not a real date"),
        ("1990-02-29", "'1990-02-29' is not a real date"),
        ("19901301", "'19901301' is not a real date"),
        ("901301", "'901301' is not a real date"),
        ("1899-12-31", "'1899-12-31' is before 1900"),
        ("2026-06-02", "'2026-06-02' is in the future"),
        (date(2030, 1, 1), "'2030-01-01' is in the future"),
        ("1990", "'1990' is not a recognised date"),
        ("생일 모름", "'생일 모름' is not a recognised date"),
        ("Smarch 15", "'Smarch 15' is not a recognised date"),
        ("1990-03-15-01", "'1990-03-15-01' is not a recognised date"),
        (3.5, "3.5 is not a recognised date"),
        (True, "True is not a recognised date"),
    ],
)
def test_parse_birthday_impossible_old_future_or_unreadable_dates_are_problems(raw, problem):
    assert parse_birthday(raw, today=TODAY) == (None, problem)


def test_parse_birthday_two_digit_year_is_the_latest_century_not_in_the_future():
    assert parse_birthday("260531", today=TODAY) == ("2026-05-31", None)
    assert parse_birthday("260602", today=TODAY) == ("1926-06-02", None)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_parse_birthday_blank_is_absent(raw):
    assert parse_birthday(raw) == (None, None)
