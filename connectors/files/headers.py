"""Finding the header row of a person-made table and mapping its columns to contact fields.

Headers are compared after normalisation (NFKC, lower case, bracketed remarks such as ``(필수)`` removed,
spaces and punctuation removed), first exactly against the synonyms, then by containment rules for long
Google Forms questions ("마케팅 정보 수신에 동의하십니까?"). Each field takes at most one column: an exact
match beats a containment match, and the leftmost column wins a tie; the other columns are extras.

A table is read either as a contact list or as an order sheet, each with its own synonym table
(``SynonymTable.build(..., orders=True)``): an order sheet names an order date, an amount and a way to
tell the buyer (name, email or phone), and is recognised first, so its 연락처 column does not make it a
contact list. In an order sheet, 담당자 is the sales rep and 수령인 the recipient, never the buyer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

# The reader result types live in connectors.core.records; they are re-exported here, next to
# UnreadableFileError, so callers import the whole reader contract from one place.
from connectors.core.records import FileRead, SheetReport

__all__ = [
    "BUYER_FIELDS",
    "CONTACT_FIELDS",
    "CONTACT_SHEET_FIELDS",
    "DEFAULT_SYNONYMS",
    "FIELDS",
    "HEADER_SEARCH_ROWS",
    "ORDER_FIELDS",
    "ORDER_SYNONYMS",
    "FileRead",
    "SheetReport",
    "SynonymTable",
    "UnreadableFileError",
    "combine_header_rows",
    "find_header_row",
    "find_order_header_row",
    "map_headers",
    "normalize_header",
]


class UnreadableFileError(Exception):
    """A whole file cannot be read (bad encoding, corrupt workbook, no header); the message says why.

    Raised for file-level failures only: a bad row becomes a rejected record, never an exception.
    """


CONTACT_SHEET_FIELDS: tuple[str, ...] = (
    "record_id",
    "record_at",
    "name",
    "email",
    "phone",
    "company",
    "consent_email",
    "birthday",
    # A name kept in two columns (성 + 이름, First name + Last name): TableRecords joins them.
    "given_name",
    "family_name",
)
ORDER_FIELDS: tuple[str, ...] = ("order_id", "order_at", "amount", "currency", "product", "quantity")
# The columns of an order sheet that say who bought.
BUYER_FIELDS: tuple[str, ...] = ("name", "email", "phone", "company")
# Every field a header can name, in a contact list or an order sheet (DRIPLINE_HEADER_SYNONYMS extends these).
FIELDS: tuple[str, ...] = CONTACT_SHEET_FIELDS + ORDER_FIELDS
# A header row must name one of these: a table with no way to reach anyone is not a contact list (a
# notes sheet whose sentence mentions a 담당자 is not a list of names either).
CONTACT_FIELDS = frozenset({"email", "phone"})
HEADER_SEARCH_ROWS = 20

DEFAULT_SYNONYMS: dict[str, list[str]] = {
    "record_id": [
        "id",
        "고객번호",
        "고객 id",
        "고객아이디",
        "회원번호",
        "customer id",
        "customer no",
        "customer number",
        "record id",
        "contact id",
        "submission id",
        "response id",
        "응답 id",
        "entry id",
        "token",
        "번호",
        "no",
        "순번",
    ],
    "record_at": [
        "타임스탬프",
        "timestamp",
        "등록일",
        "등록일시",
        "등록일자",
        "수정일",
        "수정일시",
        "작성일",
        "작성일시",
        "일자",
        "날짜",
        "date",
        "updated at",
        "created at",
        "submitted at",
        "submission date",
        "제출일시",
    ],
    "name": [
        "이름",
        "성명",
        "성함",
        "고객명",
        "고객 이름",
        "담당자",
        "담당자명",
        "name",
        "full name",
        "customer name",
        "contact name",
        "your name",
    ],
    "given_name": ["first name", "firstname", "given name", "forename"],
    "family_name": ["성", "성씨", "last name", "lastname", "surname", "family name"],
    "email": [
        "이메일",
        "메일",
        "이메일 주소",
        "메일주소",
        "전자우편",
        "e-mail",
        "email",
        "email address",
        "e-mail address",
        "mail",
    ],
    "phone": [
        "휴대폰",
        "핸드폰",
        "연락처",
        "전화번호",
        "전화",
        "휴대전화",
        "휴대폰번호",
        "핸드폰번호",
        "휴대전화번호",
        "mobile",
        "mobile number",
        "phone",
        "phone number",
        "cell",
        "cell phone",
        "tel",
        "telephone",
    ],
    "company": [
        "회사",
        "회사명",
        "업체명",
        "상호",
        "상호명",
        "기업명",
        "소속",
        "company",
        "company name",
        "organization",
        "organisation",
    ],
    "consent_email": [
        "마케팅 정보 수신 동의",
        "마케팅 수신 동의",
        "광고성 정보 수신 동의",
        "수신동의",
        "이메일 수신 동의",
        "marketing consent",
        "email opt-in",
        "email consent",
        "newsletter",
    ],
    "birthday": [
        "생일",
        "생년월일",
        "출생일",
        "출생일자",
        "birthday",
        "birth date",
        "birthdate",
        "date of birth",
        "dob",
        "born",
    ],
}

# Order-sheet columns, plus the buyer names an order sheet uses on top of the contact synonyms. A plain
# "date"/"날짜" is not an order date: a contact list has dates too, so an order date says what happened.
ORDER_SYNONYMS: dict[str, list[str]] = {
    "order_id": [
        "주문번호",
        "주문 번호",
        "주문id",
        "주문코드",
        "주문 코드",
        "order id",
        "order no",
        "order number",
        "order #",
        "order code",
        "거래번호",
        "invoice no",
        "invoice number",
    ],
    "order_at": [
        "주문일",
        "주문일자",
        "주문 일자",
        "주문일시",
        "주문 일시",
        "주문날짜",
        "주문 날짜",
        "결제일",
        "결제일자",
        "결제일시",
        "결제 일시",
        "구매일",
        "구매일자",
        "구매일시",
        "판매일",
        "판매일자",
        "거래일",
        "거래일자",
        "order date",
        "date ordered",
        "ordered at",
        "order time",
        "purchase date",
        "purchased at",
        "payment date",
        "paid at",
        "sale date",
    ],
    "amount": [
        "금액",
        "결제금액",
        "결제 금액",
        "결제액",
        "주문금액",
        "주문 금액",
        "구매금액",
        "판매금액",
        "합계",
        "합계금액",
        "총액",
        "총금액",
        "총 금액",
        "총 결제금액",
        "매출",
        "매출액",
        "amount",
        "total",
        "order total",
        "total amount",
        "grand total",
        "amount paid",
        "payment amount",
        "paid amount",
        "sales",
    ],
    "currency": ["통화", "화폐", "통화코드", "currency", "currency code"],
    "product": [
        "상품명",
        "상품",
        "제품명",
        "제품",
        "품목",
        "품명",
        "주문상품",
        "product",
        "product name",
        "item",
        "item name",
        "description",
    ],
    "quantity": ["수량", "주문수량", "구매수량", "개수", "qty", "quantity"],
    "name": [
        "주문자",
        "주문자명",
        "주문자 이름",
        "구매자",
        "구매자명",
        "구매자 이름",
        "buyer",
        "buyer name",
        "customer",
    ],
}
# Contact synonyms that name someone other than the buyer in an order sheet.
_NOT_BUYER = frozenset({"담당자", "담당자명"})

# Short headers that are an id only when the column holds id-like values: "번호" is also how people
# abbreviate 전화번호, and "no" is often a running count that a re-export renumbers.
_AMBIGUOUS_ID_HEADERS = frozenset({"번호", "no", "순번"})

# Containment rules for headers with no exact match, tried in this order: consent before email
# ("이메일 수신 동의"), phone and email before company and name ("담당자 연락처", "회사 이메일").
_CONSENT_TOPIC = ("마케팅", "광고", "수신", "marketing", "newsletter", "뉴스레터", "promotion", "프로모션")
_CONSENT_ANSWER = ("동의", "consent", "optin", "agree", "여부", "허용", "희망", "subscribe", "receive")
_CONTAINS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("record_at", ("타임스탬프", "timestamp", "submittedat", "createdat", "updatedat"), ()),
    # "생년월일을 입력해 주세요", "Your birthday"; not a birth year, place or age.
    (
        "birthday",
        ("생일", "생년월일", "출생일", "birthday", "birthdate", "dateofbirth"),
        ("장소", "지역", "place", "연도", "년도", "year", "나이", "age"),
    ),
    ("email", ("이메일", "email", "메일주소", "전자우편"), ()),
    ("phone", ("연락처", "전화", "휴대", "핸드폰", "phone", "mobile", "모바일"), ("시간", "time")),
    (
        "company",
        ("회사", "업체", "기업", "상호", "소속", "company", "organization", "organisation"),
        ("주소", "address", "규모", "size", "업종", "industry", "홈페이지", "website", "url"),
    ),
    (
        "name",
        ("이름", "성함", "성명", "고객명", "담당자", "name"),
        ("nick", "닉네임", "user", "file", "파일"),
    ),
)

# Order-sheet containment rules, tried before the buyer's (contact rules without the recipient's columns).
_RECIPIENT = ("수령", "받는", "배송", "recipient", "shipping", "delivery", "shipto")
_ORDER_CONTAINS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("order_id", ("주문번호", "orderno", "ordernumber", "orderid", "주문코드"), ()),
    (
        "amount",
        ("금액", "총액", "합계", "결제액", "매출", "amount", "total"),
        (
            "단가",
            "unit",
            "수량",
            "qty",
            "할인",
            "discount",
            "배송",
            "shipping",
            "세액",
            "부가세",
            "tax",
            "vat",
            "공급가",
            "적립",
            "포인트",
            "point",
            "쿠폰",
            "coupon",
            "환불",
            "refund",
        ),
    ),
    ("currency", ("통화", "화폐", "currency"), ()),
    ("quantity", ("수량", "quantity", "qty"), ()),
    (
        "product",
        ("상품", "제품", "품목", "품명", "product", "item"),
        ("번호", "코드", "code", "id", "옵션", "option"),
    ),
)
_ORDER_DATE_TOPIC = ("주문", "결제", "구매", "판매", "거래", "order", "purchase", "payment", "paid", "sale")
_ORDER_DATE_MARKER = ("일자", "일시", "날짜", "date", "time", "일")
_ORDER_DATE_EXCLUDED = (
    "번호",
    "메일",
    "mail",
    "금액",
    "amount",
    "상태",
    "status",
    "수단",
    "방법",
    "method",
    "요일",
)

_BRACKETED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|<[^<>]*>|【[^【】]*】")
_NOT_WORD = re.compile(r"[\W_]+")
_ID_VALUE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:/-]{0,39}")
_PHONE_LIKE = re.compile(r"\+?[0-9][0-9 ().-]{7,}[0-9]")


@lru_cache(maxsize=4096)
def normalize_header(text: str) -> str:
    """The matching key of a header, e.g. ``"이메일 주소 (필수)"`` → ``"이메일주소"``.

    NFKC, lower case, bracketed remarks removed, then everything but letters and digits removed.
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    key = _NOT_WORD.sub("", _BRACKETED.sub("", folded))
    return key or _NOT_WORD.sub("", folded)


@dataclass(frozen=True)
class SynonymTable:
    """Normalised exact synonyms, default and configured, ready for matching, for contact lists or
    (``orders``) for order sheets."""

    exact: Mapping[str, str]
    orders: bool = False

    @classmethod
    def build(
        cls, extra_synonyms: Mapping[str, Sequence[str]] | None = None, *, orders: bool = False
    ) -> SynonymTable:
        fields = ORDER_FIELDS + BUYER_FIELDS if orders else CONTACT_SHEET_FIELDS
        exact: dict[str, str] = {}
        if orders:
            for field, synonyms in ORDER_SYNONYMS.items():
                for synonym in synonyms:
                    exact.setdefault(normalize_header(synonym), field)
        for field, synonyms in DEFAULT_SYNONYMS.items():
            if field in fields:
                for synonym in synonyms:
                    if not (orders and synonym in _NOT_BUYER):
                        exact.setdefault(normalize_header(synonym), field)
        for field, synonyms in (extra_synonyms or {}).items():
            if field not in FIELDS:
                raise ValueError(
                    f"unknown field {field!r} in extra synonyms; expected one of {', '.join(FIELDS)}"
                )
            if field not in fields:
                continue
            if isinstance(synonyms, str):
                synonyms = [synonyms]
            for synonym in synonyms:
                # A configured synonym overrides a default one: the person who wrote it knows their sheet.
                exact[normalize_header(synonym)] = field
        return cls(exact, orders)

    def match(self, header: str | None) -> tuple[str, int] | None:
        """The field a header names and the match strength (2 exact, 1 containment), or None."""
        if not header:
            return None
        key = normalize_header(header)
        if not key:
            return None
        field = self.exact.get(key)
        if field is not None:
            return field, 2
        if self.orders:
            return _match_order_column(key)
        if any(topic in key for topic in _CONSENT_TOPIC) and any(answer in key for answer in _CONSENT_ANSWER):
            return "consent_email", 1
        for field, markers, exclusions in _CONTAINS:
            if any(marker in key for marker in markers) and not any(word in key for word in exclusions):
                return field, 1
        return None


def _match_order_column(key: str) -> tuple[str, int] | None:
    if (
        any(topic in key for topic in _ORDER_DATE_TOPIC)
        and any(marker in key for marker in _ORDER_DATE_MARKER)
        and not any(word in key for word in _ORDER_DATE_EXCLUDED)
    ):
        return "order_at", 1
    for field, markers, exclusions in _ORDER_CONTAINS:
        if any(marker in key for marker in markers) and not any(word in key for word in exclusions):
            return field, 1
    if any(word in key for word in _RECIPIENT):
        return None
    for field, markers, exclusions in _CONTAINS:
        if (
            field in BUYER_FIELDS
            and any(marker in key for marker in markers)
            and not any(word in key for word in exclusions + tuple(_NOT_BUYER))
        ):
            return field, 1
    return None


@lru_cache(maxsize=2)
def _default_table(orders: bool = False) -> SynonymTable:
    return SynonymTable.build(orders=orders)


def _table(synonyms: SynonymTable | Mapping[str, Sequence[str]] | None) -> SynonymTable:
    if isinstance(synonyms, SynonymTable):
        return synonyms
    if synonyms:
        return SynonymTable.build(synonyms)
    return _default_table()


def map_headers(
    headers: Sequence[str | None],
    extra_synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
    *,
    sample_rows: Sequence[Sequence[str | None]] | None = None,
) -> dict[int, str]:
    """Map header cells to fields: ``{column index: field}`` for the mapped columns only.

    ``extra_synonyms`` (``{field: [header, ...]}``) extends the defaults. ``sample_rows`` are data rows
    (cell text by column index) used to decide ambiguous headers: ``번호``/``no`` is the record id only if
    its values look like ids (short, unique, not phone numbers); a ``번호`` column of phone numbers is the
    phone when no other column is. Without samples, ambiguous headers stay unmapped.
    """
    table = _table(extra_synonyms)
    candidates: list[tuple[int, int, str]] = []
    for index, header in enumerate(headers):
        matched = table.match(header)
        if matched is None:
            continue
        field, strength = matched
        if strength == 2 and field == "record_id" and normalize_header(header or "") in _AMBIGUOUS_ID_HEADERS:
            values = _column_values(sample_rows, index)
            if _looks_like_ids(values):
                candidates.append((1, index, "record_id"))
            elif values and all(_PHONE_LIKE.fullmatch(value) for value in values):
                candidates.append((0, index, "phone"))
            continue
        candidates.append((strength, index, field))
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for _, index, field in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if field not in taken:
            taken.add(field)
            mapping[index] = field
    return dict(sorted(mapping.items()))


def _column_values(rows: Sequence[Sequence[str | None]] | None, index: int) -> list[str]:
    values = []
    for row in rows or ():
        if index < len(row) and row[index] is not None and row[index].strip():
            values.append(row[index].strip())
    return values


def _looks_like_ids(values: list[str]) -> bool:
    return (
        bool(values)
        and len(set(values)) == len(values)
        and all(_ID_VALUE.fullmatch(value) and not _PHONE_LIKE.fullmatch(value) for value in values)
    )


def header_score(
    cells: Sequence[str | None], synonyms: SynonymTable | None = None, *, exact_only: bool = False
) -> int:
    """How many distinct fields a row names; 0 unless it names an email or phone column."""
    table = synonyms or _table(None)
    fields = set()
    for cell in cells:
        matched = table.match(cell)
        if (
            matched is not None
            and not (exact_only and matched[1] < 2)
            and not (matched[0] == "record_id" and normalize_header(cell or "") in _AMBIGUOUS_ID_HEADERS)
        ):
            fields.add(matched[0])
    return len(fields) if fields & CONTACT_FIELDS else 0


def find_header_row(
    rows: Sequence[Sequence[str | None]],
    synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
) -> int | None:
    """Index of the header row among the first rows (title rows and blank lines may precede it), or None.

    The header is the row naming the most fields; it must name an email or phone column and at
    least two fields, or, when the table has a single column, one field named exactly: a lone cell
    that merely contains a word like 휴대폰 is a sentence in a notes sheet, not a header.
    """
    table = _table(synonyms)
    width = max((sum(1 for cell in row if cell is not None and cell.strip()) for row in rows), default=0)
    single_column = width <= 1
    needed = 1 if single_column else 2
    best_index, best_score = None, 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = header_score(row, table, exact_only=single_column)
        if score >= needed and score > best_score:
            best_index, best_score = index, score
    return best_index


def find_order_header_row(
    rows: Sequence[Sequence[str | None]],
    synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
) -> int | None:
    """Index of an order sheet's header row among the first rows, or None when the table is no order sheet.

    The header names an order date, an amount and the buyer (a name, email or phone column); among such
    rows the one naming the most fields wins, the earlier one on a tie.
    """
    if isinstance(synonyms, SynonymTable) and synonyms.orders:
        table = synonyms
    elif isinstance(synonyms, SynonymTable) or not synonyms:
        table = _default_table(orders=True)
    else:
        table = SynonymTable.build(synonyms, orders=True)
    best_index, best_score = None, 0
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields = {matched[0] for cell in row if (matched := table.match(cell)) is not None}
        if (
            {"order_at", "amount"} <= fields
            and fields & {"name", "email", "phone"}
            and len(fields) > best_score
        ):
            best_index, best_score = index, len(fields)
    return best_index


_DATA_LIKE = re.compile(r"@|^\+?[0-9][0-9 ().-]{6,}$")


def combine_header_rows(
    rows: Sequence[Sequence[str | None]],
    index: int,
    synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[str | None], int, int]:
    """The header of a table whose header row is ``rows[index]``, read over two rows when it spans two:
    ``(header cells, index of its first row, index of the first data row)``.

    A merged group header ("연락처" over the two columns 이메일 and 전화, "고객정보" over 이름 and 회사)
    puts the sub-headers in the row below the group labels; a column without a sub-header (이름, merged
    down over both rows) has its label in the upper row. The two rows are read as one, each column by its
    sub-header when it has one, when the row taken as sub-headers holds header names and no data (no
    email, no phone number) and the combined header names more fields than the one row alone.
    """
    table = synonyms if isinstance(synonyms, SynonymTable) else _table(synonyms)
    found = list(rows[index])
    best: tuple[list[str | None], int, int] = (found, index, index + 1)
    best_score = _fields_named(found, table)
    for top, sub, first in ((index, index + 1, index), (index - 1, index, index - 1)):
        if top < 0 or sub >= len(rows):
            continue
        combined = _overlay(rows[top], rows[sub], table)
        if combined is not None and (score := _fields_named(combined, table)) > best_score:
            best, best_score = (combined, first, sub + 1), score
    return best


def _fields_named(cells: Sequence[str | None], table: SynonymTable) -> int:
    return len(set(map_headers(cells, table).values()))


def _overlay(
    top: Sequence[str | None], sub: Sequence[str | None], table: SynonymTable
) -> list[str | None] | None:
    filled = [cell.strip() for cell in sub if cell is not None and cell.strip()]
    if not filled or any(_DATA_LIKE.search(cell) for cell in filled):
        return None
    named = sum(1 for cell in filled if table.match(cell) is not None)
    if named < min(2, len(filled)):
        return None
    width = max(len(top), len(sub))
    cells: list[str | None] = []
    for i in range(width):
        lower = sub[i] if i < len(sub) and sub[i] is not None and sub[i].strip() else None
        upper = top[i] if i < len(top) else None
        cells.append(lower if lower is not None else upper)
    return cells
