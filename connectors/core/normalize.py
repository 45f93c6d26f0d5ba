"""Value normalisation for contact records: the one place where a raw cell becomes a clean value.

Every function takes the raw value (text as read, or a native cell value where noted) and returns the
normalised value next to a human-readable problem, so a reader can keep the raw value, store the clean
one and explain what it could not use. Empty input is never a problem; it is simply absent.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

__all__ = [
    "PLACEHOLDER_CONTACTS_CSV",
    "cell_text",
    "join_name_parts",
    "normalize_company",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "parse_amount",
    "parse_birthday",
    "parse_consent",
    "parse_currency",
    "parse_quantity",
    "parse_timestamp",
    "time_zone",
]


def cell_text(value: object) -> str | None:
    """The text a person sees in a cell: integral numbers without ``.0``, dates in ISO form, "" as None.

    Strings are returned unchanged, so a cell starting with ``=`` stays text; nothing is ever evaluated.
    """
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return value or None
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is float:
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if kind is int:
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value) or None


_EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)
_ANGLE_ADDRESS = re.compile(r"<([^<>]+)>")
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PLACEHOLDER_PROBLEM = "placeholder value"
# The one list of values that identify nobody, shared with dbt (which drops them from identity matching).
PLACEHOLDER_CONTACTS_CSV = (
    Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "placeholder_contacts.csv"
)


@cache
def placeholder_contacts() -> dict[str, frozenset[str]]:
    """``{kind: values}`` from ``dbt_project/seeds/placeholder_contacts.csv``, read once, on first use.

    Kinds: ``email`` (a normalised address), ``email_domain`` and ``phone`` (E.164).
    """
    kinds: dict[str, set[str]] = {"email": set(), "email_domain": set(), "phone": set()}
    with PLACEHOLDER_CONTACTS_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            kind = (row.get("kind") or "").strip()
            value = (row.get("value") or "").strip()
            if kind in kinds and value:
                kinds[kind].add(value if kind == "phone" else value.lower())
    return {kind: frozenset(values) for kind, values in kinds.items()}


def normalize_email(raw: str | None) -> tuple[str | None, str | None]:
    """Return ``(address, problem)``: the address lower-cased and canonical, or None and why not.

    Accepts ``mailto:`` links, ``Name <addr>`` forms and full-width characters (``＠``, ``．``).
    Sub-addressing is removed so the same person is one address: ``+tag`` is dropped for every domain
    (the convention of Gmail, Outlook, Fastmail, iCloud and most hosted mail; a domain where ``+`` is a
    literal part of a mailbox name is rare enough that merging its addresses is the smaller risk, and the
    raw address is kept next to the normalised one). Dots are dropped only for Gmail, the one large
    provider that ignores them; elsewhere ``a.b@`` and ``ab@`` can be different people.
    """
    if raw is None:
        return None, None
    text = raw.strip()
    if not text:
        return None, None
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).replace("\u200b", "").strip()
    text = text.lower()
    if text.startswith("mailto:"):
        text = text[7:].split("?", 1)[0].strip()
    if "<" in text:
        bracketed = _ANGLE_ADDRESS.search(text)
        if bracketed:
            text = bracketed[1].strip()
    if not _EMAIL_RE.fullmatch(text):
        return None, f"{raw!r} is not a valid address"
    local, domain = text.rsplit("@", 1)
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    if not local:
        return None, f"{raw!r} is not a valid address"
    address = f"{local}@{domain}"
    placeholders = placeholder_contacts()
    if address in placeholders["email"] or domain in placeholders["email_domain"]:
        return None, PLACEHOLDER_PROBLEM
    return address, None


_PHONE_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.VOIP: "voip",
}
# The common cases handled without phonenumbers (~20x faster): a KR mobile number 010-NXXX-XXXX with N in
# 2-9 (except 010-597x to 010-599x, which phonenumbers' metadata does not allocate), and a KR landline
# 0AA-NXX(X)-XXXX with a real area code and N in 1-9, written with one consistent separator, in national
# form or with the country code; a mobile number may also be an Excel number that lost its leading zero.
# phonenumbers accepts every such number, as MOBILE and FIXED_LINE respectively;
# tests/connectors/core/test_normalize.py checks this against the library on random inputs, so a metadata
# change in a phonenumbers upgrade fails a test instead of silently diverging.
_KR_MOBILE = re.compile(r"(?:\+82[ -]?|0|82[ -]?)?10([-. ]?)((?!59[7-9])[2-9][0-9]{3})\1([0-9]{4})")
_KR_LANDLINE = re.compile(
    r"(?:\+82[ -]?|0)(2|3[1-3]|4[1-4]|5[1-5]|6[1-4])([-. ]?)([1-9][0-9]{2,3})\2([0-9]{4})"
)
_LABEL_IN_BRACKETS = re.compile(r"\([^()0-9]*\)|\[[^\[\]0-9]*\]")
_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#|내선)\s*[0-9]{1,6}\s*$", re.IGNORECASE)
_NUMBER_SEPARATORS = re.compile(r"\s*[/,;\n]\s*")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_EXCEL_KR_NUMBER = re.compile(r"1[0-9]{8,9}")


def normalize_phone(raw: str | None, region: str = "KR") -> tuple[str | None, str | None, str | None]:
    """Return ``(e164, phone_type, problem)`` for a phone number written the way people write them.

    ``region`` is the ISO country whose national format applies to numbers without a country code.
    A cell holding several numbers (``010-... / 02-...``) yields the first valid one; a trailing label
    in brackets (``(집)``) or an extension is ignored. ``phone_type`` is ``mobile``, ``fixed_line``,
    ``voip`` or ``other``. A placeholder number (``010-1234-5678``, see ``placeholder_contacts``) is
    no number: its problem is ``PLACEHOLDER_PROBLEM``.
    """
    if raw is None:
        return None, None, None
    text = raw.strip()
    if not text:
        return None, None, None
    region = region.upper()
    # Outside KR only "+82..." can match: every other form the patterns accept is national.
    if region == "KR" or text.startswith("+82"):
        mobile = _KR_MOBILE.fullmatch(text)
        if mobile is not None:
            e164 = f"+8210{mobile[2]}{mobile[3]}"
            if e164 in placeholder_contacts()["phone"]:
                return None, None, PLACEHOLDER_PROBLEM
            return e164, "mobile", None
        landline = _KR_LANDLINE.fullmatch(text)
        if landline is not None:
            e164 = f"+82{landline[1]}{landline[3]}{landline[4]}"
            if e164 in placeholder_contacts()["phone"]:
                return None, None, PLACEHOLDER_PROBLEM
            return e164, "fixed_line", None
    return _normalize_phone_slow(text, region)


@lru_cache(maxsize=1 << 16)
def _normalize_phone_slow(text: str, region: str) -> tuple[str | None, str | None, str | None]:
    cleaned = unicodedata.normalize("NFKC", text)
    cleaned = _LABEL_IN_BRACKETS.sub(" ", cleaned)
    problem = f"{text!r} is not a valid phone number for region {region}"
    placeholders = placeholder_contacts()["phone"]
    for candidate in _NUMBER_SEPARATORS.split(cleaned):
        candidate = _EXTENSION.sub("", candidate).strip()
        if not candidate or _LATIN_LETTER.search(candidate):
            continue
        if region == "KR" and _EXCEL_KR_NUMBER.fullmatch(candidate):
            candidate = "0" + candidate
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            if e164 in placeholders:  # a real number may follow: "010-0000-0000 / 02-123-4567"
                problem = PLACEHOLDER_PROBLEM
                continue
            return e164, _PHONE_TYPES.get(phonenumbers.number_type(number), "other"), None
    return None, None, problem


_HANGUL_NAME = re.compile(r"[\uac00-\ud7a3]+(?:\s+[\uac00-\ud7a3]+)*")
_LATIN_WORD = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=1 << 16)
def normalize_name(raw: str | None) -> str | None:
    """Collapse whitespace; join Hangul names (``김 민수`` → ``김민수``); title-case Latin names written
    all in capitals or all in lower case (mixed case is how the person spells it, e.g. ``McDonald``)."""
    if raw is None:
        return None
    text = " ".join(raw.split())
    if not text:
        return None
    if _HANGUL_NAME.fullmatch(text):
        return text.replace(" ", "")
    if text.isascii() and (text.isupper() or text.islower()):
        return _LATIN_WORD.sub(lambda word: word[0].capitalize(), text)
    return text


def join_name_parts(given: str | None, family: str | None) -> str | None:
    """A full name from a given name and a family name kept apart (a CRM's first name and last name, a
    sheet's 성 and 이름), in the order of its script: a Hangul name family name first and with no space
    (민수 + 김 → ``김민수``), any other given name first (``Minsu Kim``). None when both are empty."""
    parts = [" ".join(part.split()) for part in (given, family) if part and part.strip()]
    if len(parts) == 2 and all(_HANGUL_NAME.fullmatch(part) for part in parts):
        return parts[1] + parts[0]
    return " ".join(parts) or None


@lru_cache(maxsize=1 << 16)
def normalize_company(raw: str | None) -> str | None:
    """Collapse whitespace only: legal forms such as ``(주)`` or ``주식회사`` are part of the name."""
    if raw is None:
        return None
    return " ".join(raw.split()) or None


_ANSWER_NOISE = re.compile(r"[\s.,!?~'\"()\[\]:;·-]+")
_CONSENT_NO = frozenset(
    {
        "동의하지않습니다",
        "동의하지않음",
        "동의하지않아요",
        "동의안함",
        "비동의",
        "미동의",
        "거부",
        "거절",
        "아니오",
        "아니요",
        "아니",
        "수신거부",
        "수신안함",
        "미수신",
        "no",
        "n",
        "false",
        "0",
        "x",
        "✗",
        "✘",
        "disagree",
        "idisagree",
        "idonotagree",
        "unchecked",
        "optout",
        "unsubscribe",
        "unsubscribed",
    }
)
_CONSENT_YES = frozenset(
    {
        "동의",
        "동의함",
        "동의합니다",
        "동의해요",
        "예",
        "네",
        "수신",
        "수신동의",
        "수신함",
        "허용",
        "yes",
        "y",
        "true",
        "1",
        "o",
        "v",
        "✓",
        "✔",
        "☑",
        "checked",
        "agree",
        "iagree",
        "optin",
        "optedin",
        "subscribe",
        "subscribed",
    }
)
# Checked after the exact answers, negatives first: "동의하지 않습니다" contains "동의".
_CONSENT_NO_MARKERS = (
    "않",
    "안함",
    "거부",
    "거절",
    "비동의",
    "미동의",
    "미수신",
    "아니",
    "disagree",
    "not",
    "dont",
)
_CONSENT_YES_MARKERS = ("동의", "수신", "agree", "yes", "optin", "subscribe")


@lru_cache(maxsize=4096)
def parse_consent(raw: str | None) -> tuple[bool | None, str | None]:
    """Return ``(consent, problem)`` for a yes/no answer in Korean or English; blank is ``None``."""
    if raw is None:
        return None, None
    text = _ANSWER_NOISE.sub("", unicodedata.normalize("NFKC", raw).lower())
    if not text:
        return None, None
    if text in _CONSENT_NO:
        return False, None
    if text in _CONSENT_YES:
        return True, None
    if any(marker in text for marker in _CONSENT_NO_MARKERS):
        return False, None
    if any(marker in text for marker in _CONSENT_YES_MARKERS):
        return True, None
    return None, f"{raw!r} is not a recognised yes/no answer"


_DAY_PERIOD = {"오전": "am", "오후": "pm", "am": "am", "pm": "pm"}
# Optional time after a date: 12- or 24-hour clock, the day period before (Korean) or after (English) the
# time, and an optional offset such as "+09:00" or the "GMT+9" that Google Forms downloads carry.
_TIME = (
    r"(?:(?:\s+|T)(?:(오전|오후|[ap]m)\s*)?(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?"
    r"(?:\s*(오전|오후|[ap]m))?(?:\s*(?:gmt|utc)?\s*([+-]\d{1,2})(?::?(\d{2}))?|\s*(gmt|utc|z))?)?"
)
_YMD = re.compile(r"(\d{4})\s*[-./년]\s*(\d{1,2})\s*[-./월]\s*(\d{1,2})\s*[.일]?" + _TIME, re.IGNORECASE)
_MDY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}),?" + _TIME, re.IGNORECASE)
_EPOCH = re.compile(r"\d{10}(?:\d{3})?")


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``"Asia/Seoul"``); ``ValueError`` when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


def parse_timestamp(raw: object, local_tz: str = "Asia/Seoul") -> tuple[datetime | None, str | None]:
    """Return ``(utc_datetime, problem)`` for when a record was captured.

    Accepts native ``datetime``/``date`` cells, epoch seconds or milliseconds, ISO 8601 with or without an
    offset, ``2024-03-05``/``2024.03.05``/``2024/03/05``, Korean Google Forms ``2024. 3. 5 오후 2:31:07`` and
    English Google Forms ``3/5/2024 14:31:07`` (month first, unless the first number cannot be a month).
    Values without an offset are local time in ``local_tz``.
    """
    if raw is None:
        return None, None
    if isinstance(raw, datetime):
        if raw.tzinfo is None:
            raw = raw.replace(tzinfo=time_zone(local_tz))
        return raw.astimezone(UTC), None
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=time_zone(local_tz)).astimezone(UTC), None
    if isinstance(raw, bool):
        return None, f"{raw!r} is not a recognised date/time"
    if isinstance(raw, int | float):
        return _from_epoch(raw, repr(raw))
    text = str(raw).strip()
    if not text:
        return None, None
    return _parse_timestamp_text(text, local_tz)


def _from_epoch(value: float, shown: str) -> tuple[datetime | None, str | None]:
    if 1e12 <= abs(value) < 1e14:
        value = value / 1000
    if 1e9 <= abs(value) < 1e11:
        return datetime.fromtimestamp(value, UTC), None
    return None, f"{shown} is not a recognised date/time"


@lru_cache(maxsize=1 << 16)
def _parse_timestamp_text(text: str, local_tz: str) -> tuple[datetime | None, str | None]:
    problem = f"{text!r} is not a recognised date/time"
    if _EPOCH.fullmatch(text):
        return _from_epoch(int(text), repr(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if match := _YMD.fullmatch(text):
            year, month, day, *clock = match.groups()
        elif match := _MDY.fullmatch(text):
            month, day, year, *clock = match.groups()
            if int(month) > 12 >= int(day):
                month, day = day, month
        else:
            return None, problem
        try:
            parsed = _assemble(int(year), int(month), int(day), *clock)
        except ValueError:
            return None, problem
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=time_zone(local_tz))
    return parsed.astimezone(UTC), None


def _assemble(
    year: int,
    month: int,
    day: int,
    period_before: str | None,
    hour: str | None,
    minute: str | None,
    second: str | None,
    fraction: str | None,
    period_after: str | None,
    offset_hours: str | None,
    offset_minutes: str | None,
    utc_marker: str | None,
) -> datetime:
    hours = int(hour or 0)
    period = period_before or period_after
    if period:
        if not 1 <= hours <= 12:
            raise ValueError("hour out of range for a 12-hour clock")
        hours = hours % 12 + (12 if _DAY_PERIOD[period.lower()] == "pm" else 0)
    micro = int((fraction or "0").ljust(6, "0"))
    zone = None
    if offset_hours:
        sign = -1 if offset_hours[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset_hours[1:]), minutes=int(offset_minutes or 0)))
    elif utc_marker:
        zone = UTC
    return datetime(year, month, day, hours, int(minute or 0), int(second or 0), micro, tzinfo=zone)


# Birthdays. Separators between year, month and day: - . / and the Korean 년 월 (일 or a dot may close);
# a time after the date (an Excel date cell read as text, a Typeform date at midnight) is ignored.
_BIRTHDAY_YMD = re.compile(
    r"(\d{4})\s*[-./년]\s*(\d{1,2})\s*[-./월]\s*(\d{1,2})\s*[.일]?"
    r"(?:(?:\s+|t)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:z|[+-]\d{2}:?\d{2})?)?"
)
# 3/15/1990 (English Google Forms, US) or 15.03.1990: month first unless the first number cannot be a month.
_BIRTHDAY_XY_YEAR = re.compile(r"(\d{1,2})\s*[-./]\s*(\d{1,2})\s*[-./]\s*(\d{4})")
_BIRTHDAY_DIGITS = re.compile(r"\d{6}|\d{8}")
# Without a year: 03-15, 3/15, 15/03, 03.15, --03-15 (the ISO 8601 form itself), 3월 15일.
_BIRTHDAY_XY = re.compile(r"(?:--)?(\d{1,2})\s*[-./]\s*(\d{1,2})\s*\.?")
_BIRTHDAY_KOREAN_MONTH_DAY = re.compile(r"(\d{1,2})\s*월\s*(\d{1,2})\s*일?")
# March 15, 1990 / Mar 15 / 15 March 1990 (an English date answer or a hand-written one).
_BIRTHDAY_NAMED_MONTH_FIRST = re.compile(r"([a-z]{3,9})\.?\s*(\d{1,2})(?:st|nd|rd|th)?(?:\s*,?\s*(\d{4}))?")
_BIRTHDAY_NAMED_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s*([a-z]{3,9})\.?(?:\s*,?\s*(\d{4}))?")
_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_EARLIEST_BIRTH_YEAR = 1900
# A date without a year is checked against a leap year, so 02-29 is a birthday and 02-30 is not.
_LEAP_YEAR = 2000


def parse_birthday(raw: object, *, today: date | None = None) -> tuple[str | None, str | None]:
    """Return ``(birthday, problem)``: ISO 8601 ``YYYY-MM-DD``, or ``--MM-DD`` when the year is not given.

    Accepts native ``date``/``datetime`` cells (Excel), ``1990-03-15``, ``1990.3.15``, ``1990. 3. 15.``,
    ``1990/03/15``, ``1990년 3월 15일``, ``19900315``, ``900315`` (YYMMDD, in the latest century that does
    not put it in the future), ``3/15/1990`` and ``15.03.1990``, and without a year ``03-15``, ``3/15``,
    ``15/03``, ``03.15``, ``3월 15일``, ``March 15``. Day and month in either order are read month first
    (the Korean and US convention) unless the first number cannot be a month. An impossible date
    (``02-30``, month 13), a year before 1900 or a date after ``today`` is a problem, never a guess.
    """
    if raw is None:
        return None, None
    today = today or date.today()
    if isinstance(raw, datetime):
        return _birth_date(raw.year, raw.month, raw.day, repr(raw.date().isoformat()), today)
    if isinstance(raw, date):
        return _birth_date(raw.year, raw.month, raw.day, repr(raw.isoformat()), today)
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None, f"{raw!r} is not a recognised date"
    if isinstance(raw, float):
        if not raw.is_integer():
            return None, f"{raw!r} is not a recognised date"
        raw = int(raw)
    shown = repr(raw if isinstance(raw, str) else str(raw))
    text = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if not text:
        return None, None
    return _parse_birthday_text(text, shown, today)


def _parse_birthday_text(text: str, shown: str, today: date) -> tuple[str | None, str | None]:
    if _BIRTHDAY_DIGITS.fullmatch(text):
        if len(text) == 8:
            return _birth_date(int(text[:4]), int(text[4:6]), int(text[6:]), shown, today)
        return _two_digit_year_birth_date(int(text[:2]), int(text[2:4]), int(text[4:]), shown, today)
    if match := _BIRTHDAY_YMD.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
        return _birth_date(year, month, day, shown, today)
    if match := _BIRTHDAY_XY_YEAR.fullmatch(text):
        month, day = _month_first(int(match[1]), int(match[2]))
        return _birth_date(int(match[3]), month, day, shown, today)
    if match := _BIRTHDAY_XY.fullmatch(text):
        month, day = _month_first(int(match[1]), int(match[2]))
        return _birth_date(None, month, day, shown, today)
    if match := _BIRTHDAY_KOREAN_MONTH_DAY.fullmatch(text):  # 월 and 일 say which is which
        return _birth_date(None, int(match[1]), int(match[2]), shown, today)
    if match := _BIRTHDAY_NAMED_MONTH_FIRST.fullmatch(text):
        name, day, year = match[1], match[2], match[3]
    elif match := _BIRTHDAY_NAMED_DAY_FIRST.fullmatch(text):
        day, name, year = match[1], match[2], match[3]
    else:
        return None, f"{shown} is not a recognised date"
    month = next((n for n, full in enumerate(_MONTH_NAMES, start=1) if full.startswith(name)), None)
    if month is None:
        return None, f"{shown} is not a recognised date"
    return _birth_date(int(year) if year else None, month, int(day), shown, today)


def _month_first(first: int, second: int) -> tuple[int, int]:
    """``(month, day)`` of two numbers: month first, unless the first cannot be a month and the second can."""
    if first > 12 >= second:
        return second, first
    return first, second


def _two_digit_year_birth_date(
    year: int, month: int, day: int, shown: str, today: date
) -> tuple[str | None, str | None]:
    """YYMMDD, as a Korean resident registration number starts: 900315 is 1990, 050315 is 2005."""
    for century in (2000, 1900):
        try:
            born = date(century + year, month, day)
        except ValueError:
            continue
        if born <= today:
            return born.isoformat(), None
    return _birth_date(1900 + year, month, day, shown, today)


def _birth_date(
    year: int | None, month: int, day: int, shown: str, today: date
) -> tuple[str | None, str | None]:
    try:
        born = date(year if year is not None else _LEAP_YEAR, month, day)
    except ValueError:
        return None, f"{shown} is not a real date"
    if year is None:
        return f"--{month:02d}-{day:02d}", None
    if year < _EARLIEST_BIRTH_YEAR:
        return None, f"{shown} is before {_EARLIEST_BIRTH_YEAR}"
    if born > today:
        return None, f"{shown} is in the future"
    return born.isoformat(), None


# Currency words and symbols people write next to amounts, to ISO 4217. "¥" is read as yen: in a Korean
# business's sheet it far more often means JPY than CNY (위안/元 name the yuan).
_CURRENCY_WORDS = {
    "₩": "KRW",
    "원": "KRW",
    "원화": "KRW",
    "won": "KRW",
    "$": "USD",
    "us$": "USD",
    "달러": "USD",
    "불": "USD",
    "€": "EUR",
    "유로": "EUR",
    "¥": "JPY",
    "円": "JPY",
    "엔": "JPY",
    "엔화": "JPY",
    "元": "CNY",
    "위안": "CNY",
    "rmb": "CNY",
    "£": "GBP",
    "파운드": "GBP",
}
_ISO_CURRENCY = re.compile(r"[A-Za-z]{3}")
_MAX_AMOUNT = Decimal(10) ** 15
_AMOUNT_PLACES = Decimal("0.0001")
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_GROUPED_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_EUROPEAN_NUMBER = re.compile(r"\d{1,3}(?:\.\d{3})+,\d{1,2}")
# "120만원", "1억 2,000만", "3천 원": Korean myriad units, largest first.
_KOREAN_UNITS = {
    "억": Decimal(10) ** 8,
    "천만": Decimal(10) ** 7,
    "백만": Decimal(10) ** 6,
    "만": Decimal(10) ** 4,
    "천": Decimal(1000),
}
_KOREAN_AMOUNT = re.compile(r"(?:[\d.,]+\s*(?:억|천만|백만|만|천)\s*)+(?:[\d.,]+)?")
_KOREAN_PART = re.compile(r"([\d.,]+)\s*(억|천만|백만|만|천)?")
_CURRENCY_AFFIX = re.compile(
    r"^(?P<pre>₩|\$|us\$|€|¥|£|[a-z]{3}(?=[\s\d.]))?\s*(?P<number>.*?)\s*(?P<post>원|won|달러|불|유로|엔|円|元|위안|₩|\$|€|¥|£|[a-z]{3})?$"
)


def parse_currency(raw: str | None) -> tuple[str | None, str | None]:
    """Return ``(ISO 4217 code, problem)`` for a currency cell: ``KRW``, ``krw``, ``원``, ``₩``, ``$``…"""
    if raw is None:
        return None, None
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    if not text:
        return None, None
    if text in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[text], None
    if _ISO_CURRENCY.fullmatch(text):
        return text.upper(), None
    return None, f"{raw!r} is not a currency"


def parse_amount(raw: object) -> tuple[Decimal | None, str | None, str | None]:
    """Return ``(amount, currency written with it, problem)`` for a money cell.

    Accepts native numbers, ``1,200,000``, ``₩1,200,000``, ``1,200,000원``, ``120만원``, ``1억 2천만``,
    ``$1,234.50``, ``USD 1,234.50``, ``1.234,50 €``, and negatives written ``-5,000``, ``(5,000)`` or
    ``△5,000`` (Korean accounting). The amount keeps four decimal places at most.
    """
    if raw is None:
        return None, None, None
    if isinstance(raw, bool):
        return None, None, f"{raw!r} is not an amount"
    if isinstance(raw, int | float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            return None, None, f"{raw!r} is not an amount"
        return _bounded(Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw), None, repr(raw))
    text = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if not text:
        return None, None, None
    problem = f"{raw!r} is not an amount"
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    if text[:1] in ("-", "−", "△", "▲"):
        negative, text = True, text[1:].strip()
    affixed = _CURRENCY_AFFIX.match(text)
    if affixed is None:
        return None, None, problem
    pre, number, post = affixed["pre"], affixed["number"], affixed["post"]
    if number[:1] in ("-", "−") and not negative:
        negative, number = True, number[1:].strip()
    currencies = {_affix_currency(affix) for affix in (pre, post) if affix}
    if None in currencies or len(currencies) > 1:
        return None, None, problem
    currency = currencies.pop() if currencies else None
    value = _number(number)
    if value is None:
        return None, None, problem
    return _bounded(-value if negative else value, currency, repr(raw))


def _affix_currency(affix: str) -> str | None:
    if affix in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[affix]
    return affix.upper() if _ISO_CURRENCY.fullmatch(affix) else None


def _number(text: str) -> Decimal | None:
    compact = text.replace(" ", "")
    try:
        if _PLAIN_NUMBER.fullmatch(compact):
            return Decimal(compact)
        if _GROUPED_NUMBER.fullmatch(compact):
            return Decimal(compact.replace(",", ""))
        if _EUROPEAN_NUMBER.fullmatch(compact):
            return Decimal(compact.replace(".", "").replace(",", "."))
        if _KOREAN_AMOUNT.fullmatch(compact):
            total = Decimal(0)
            for digits, unit in _KOREAN_PART.findall(compact):
                part = _number(digits)
                if part is None:
                    return None
                total += part * _KOREAN_UNITS[unit] if unit else part
            return total
    except InvalidOperation:
        return None
    return None


def _bounded(
    value: Decimal, currency: str | None, shown: str
) -> tuple[Decimal | None, str | None, str | None]:
    if not value.is_finite() or abs(value) >= _MAX_AMOUNT:
        return None, None, f"{shown} is not an amount"
    return value.quantize(_AMOUNT_PLACES), currency, None


def parse_quantity(raw: object) -> tuple[float | None, str | None]:
    """Return ``(quantity, problem)``: ``3``, ``3개``, ``1,200``, ``2.5``; blank is ``None``."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return None, f"{raw!r} is not a quantity"
    if isinstance(raw, int | float):
        return float(raw), None
    text = unicodedata.normalize("NFKC", str(raw)).strip().lower()
    if not text:
        return None, None
    text = re.sub(r"\s*(?:개|ea|pcs|건|박스|box|세트|set|병|장|권|대|명)$", "", text)
    value = _number(text.lstrip("-")) if text else None
    if value is None:
        return None, f"{raw!r} is not a quantity"
    return float(-value if text.startswith("-") else value), None
