"""Generate the sample inbox shipped in ``sample_data/inbox``: what a demo user sees with ``make run``.

    python scripts/generate_sample_data.py [--out sample_data/inbox] [--seed 7] [--manifest PATH]

About 330 people: some 390 contact records across seven files and about 1,000 order lines across four
order books, written the way people and tools really produce them: a CP949 export from Korean Excel, a
UTF-8 CSV with a BOM, a workbook with a title row above its header, Google Forms exports in the Korean and
English locales, webhook JSONL, a JSON dump, a CP949 POS export and the order team's workbooks. The output
is byte-identical for a given seed (the workbooks' document properties and zip timestamps are pinned).

The demo clock. Segments depend on when they are computed, and these bytes do not move with the calendar:
the sample is drawn for ``DEMO_AS_OF`` (2026-11-16 10:00 in Seoul, a Monday), recorded as
``manifest["as_of"]``; run it with ``DRIPLINE_AS_OF`` set to that. Nothing in the sample happens after it.

Most rows are filler drawn from ``random.Random(seed)``: Korean and English names, Korean companies,
phones and emails in the formats each source tends to use, and about a quarter of the people repeated in
a second source under a different format (always sharing a phone or an email with their first record).
Each filler person is drawn for one lifecycle (``PROFILE_COUNTS``) and gets the records and the orders
that put them in its segment as of the demo clock (segments.yml, the vars of dbt_project.yml):
- vip: companies ordering 4-12 million KRW of catering every 40-70 days, 75-110 million KRW in all; there
  are a few more of them than the top decile of buyers (vip_top_share) holds, so that the decile is theirs.
- large: one catering event of 50-64 million KRW (account tier large) in the last year, a small order or
  two before it; below every VIP's total, so they stay large accounts.
- at_risk: 3-7 purchases 20-45 days apart, then silent for more than 2.2 times that (and under a year).
- loyal: 3-9 purchases 20-60 days apart, the last within 0.7 of the interval.
- repeat: two purchases, the last within 300 days. new: one purchase within 330 days, ten of them in the
  two weeks before the demo clock (a welcome campaign has entrants).
- churned: 1-4 purchases and every record before October 2025, more than 365 days before the clock; never
  on the undated 거래처 sheet (an undated row counts as seen when it lands).
- warm: never bought, a form submission since 25 August 2026 (within 90 days), nine in the last week.
- cold: never bought; form submissions (if any) before August 2026, and never a form together with an
  undated 거래처 row.
About one buyer in seven is known only from the order books (walk-in and phone orders). Consent is about
two thirds yes: fourteen people's only answer is a yes given in November or December 2024 (due for
re-confirmation), eight gave a yes and withdrew it later, and some never answered or were never asked.
Birthdays are written in about half of the people's rows: 생년월일 in the customer list (``1990-03-15``,
``1990.3.15``, ``19900315``), 생일 in the Korean form (``03-15``, ``3월 15일``), Date of birth in the English
form (``15/03`` when the day is over 12, else ``1990-03-15``) and birthday in the webhook (ISO); eight fall
on the six days after the demo clock.

The cases below are planted by hand so that the expected outcome of each is known. ``generate_inbox``
returns a manifest with that ground truth (the person behind every record, the groups that must merge,
the groups that must stay apart, the records to reject, the expected consent of every person and when it
was given, every person's birthday, their segment as of the demo clock in ``expected_segments`` and the
lifecycle each filler person was drawn for in ``profiles``); the CLI writes it next to the inbox as
``manifest.json``, outside the folders that are ingested. The expected segments are computed from the
generated rows by the rules of docs/segments.md (``_expected_segments``), one person being one customer;
the people of a may-merge case are left out.

Matching (expected: one customer each)
- ``phone_format_variants`` [minsu_kim_masitneun]: 010-4821-7730 in the customer list,
  +82 10-4821-7730 in the event leads, 01048217730 in the Korean form, and 1048217730 stored as a
  number in the sales workbook (Excel dropped the leading zero).
- ``gmail_dots_and_plus_tags`` [minsu_kim_masitneun]: Kim.Minsu@Gmail.com and kimminsu+event@gmail.com;
  Gmail ignores dots and ``+tags`` in the local part.
- ``email_case_and_whitespace`` [minsu_kim_masitneun]: ``KIM.MINSU@GMAIL.COM `` (upper case, trailing
  space) in the Korean form.
- ``hangul_name_with_space`` [minsu_kim_masitneun]: 김민수 in one source, 김 민수 in another.
- ``transitive_join`` [seoyeon_lee_bluefork]: the customer list and the webhook share an email, the
  webhook and the English form share a (new) phone; the list and the form share nothing directly.
- ``duplicate_row`` [haeun_ryu_dalkom]: the same row pasted twice into the customer list.

Shared-key traps (expected: kept apart)
- ``shared_switchboard``: 박지훈 and 최유진 (sales workbook) and Haneul Jung (event leads) all give the
  (주)그린테이블 switchboard 02-555-1234 (once with an extension, 내선 203) -> three customers.
- ``shared_role_mailbox``: info@greentable.co.kr (박지훈, 최유진), sales@hanbitfood.co.kr (윤지아,
  Kang Dohyun) and contact@brightside.io (Emily Clark, Daniel Park) each belong to several people.
- ``same_name_different_people``: two 김민수 at different companies with no key in common.
- ``dots_matter_outside_gmail``: jh.lee@bluefork.co.kr (이지혜) and jhlee@bluefork.co.kr (이재훈).
- ``same_person_on_switchboard`` (may merge): 박지훈 in the workbook and in the Korean form, both times
  with only the switchboard and info@; same name and company, so merging them is acceptable.

Consent (latest explicit answer wins; a blank answer is not an answer)
- ``consent_withdrawn`` [yerin_song_sodam]: Y in the January customer list, 동의하지 않습니다 in the
  June form -> not consented.
- ``consent_given_later`` [hajun_oh_gmail]: No in the March newsletter form, Yes at the October event.
- ``blank_answer_keeps_consent`` [jiwoo_seo_kakao]: Y in the customer list, blank in a later form.
- ``never_answered`` [chaewon_lim_saebyeok]: only in the workbook (no consent column) and a nested
  landing-page signup (no consent field) -> unknown.

Bad input
- ``no_valid_contact`` (rejected): 홍길동 with ``kim@`` and ``000-0000-0000``; a ``test`` /
  ``test@test`` / ``-`` row in the event leads.
- ``too_many_cells`` (rejected): a customer-list row whose company ``한빛푸드, 주식회사`` was typed with
  an unquoted comma, giving one cell more than the header.
- ``broken_json_line`` (rejected): a webhook line cut off mid-string.
- ``one_bad_field`` (accepted): a bad phone ``010-123-45`` with a good email, and a bad email
  ``lee.jiwon@naver`` with a good phone; the good key carries the record.
- ``blank_lines``: an empty line and a line of bare commas inside the customer list, and Excel's
  trailing rows of commas at the end of the event leads; none of them is a record.
- ``notes_sheet``: the workbook's 설명 sheet is free text (it mentions 02-555-1234) and is not data.
- ``formula_text``: a 비고 cell holding the text ``=HYPERLINK(...)``, stored as a string, not a formula.

The emails and mobile numbers are invented but use real providers (gmail.com, naver.com) and the real
010 range, because matching rules depend on them; never point a live email provider at this data.
Foreign numbers use ranges reserved for fiction (+1 555-01xx, +44 20 7946 0xxx).

Orders (ground truth in ``manifest["orders"]``: each row's outcome, each buyer's purchases, total and last
purchase). ``spreadsheets/POS_주문내역_2024.csv`` is the POS export to October 2024 (CP949, 주문일시 with the
time of the sale); ``spreadsheets/주문내역.xlsx`` (sheet 주문, under a title row) the order team's book for
November and December 2024; ``주문내역_2025.xlsx`` and ``주문내역_2026.xlsx`` (sheets 2025, 2026) one book
a year, with the buyer's 업체명 for business orders. Order ids are unique across the books; a few orders
have a second line or a partial refund a few days later. The planted cases are all in 주문내역.xlsx:
- ``buyer_by_phone`` [minsu_kim_masitneun]: two orders with only his mobile -> his customer, 2 purchases.
- ``order_lines_and_refund`` [seoyeon_lee_bluefork]: one order of two lines by email, and a refund line of
  it a few days later -> 1 purchase, its lines net of the refund.
- ``amount_in_man_won`` [yerin_song_sodam]: 결제금액 written ``240만원``, phone written without dashes.
- ``buyer_only_in_orders`` [eunseo_pyo_orders]: two orders of someone no contact list knows -> a new customer.
- ``name_only_unique`` [chaewon_lim_saebyeok]: only 고객명 임채원, a name one customer carries -> linked.
- ``name_only_ambiguous``: only 고객명 김민수, a name two customers carry -> linked to no one, quarantined.
- ``unreadable_order_date`` (rejected): 주문일자 ``11월 말``.

Row locators in the manifest: ``row`` is the 1-based line number for CSV and JSONL files, the worksheet
row for a workbook (with ``sheet``) and the 1-based position in the array for the JSON file.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import random
import re
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

KST = timezone(timedelta(hours=9))
# The demo clock: the sample is segmented as of this instant (DRIPLINE_AS_OF), a Monday morning in Seoul, so
# that bytes written once keep meaning the same segments whatever day the demo runs.
DEMO_AS_OF = "2026-11-16T10:00:00+09:00"
AS_OF = datetime.fromisoformat(DEMO_AS_OF)
WORKBOOK_SAVED_AT = datetime(2024, 11, 4, 9, 30, 0)
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_data" / "inbox"

CUSTOMER_LIST = "customer_list"
EVENT_LEADS = "event_leads"
ACCOUNTS = "accounts"
NEW_ACCOUNTS = "new_accounts"
KR_FORM = "kr_form"
EN_FORM = "en_form"
WEBHOOK = "webhook"
LANDING = "landing"

WORKBOOK_FILE = "spreadsheets/영업팀_거래처.xlsx"
SOURCE_FILES = {
    CUSTOMER_LIST: "spreadsheets/고객명단_2024.csv",
    EVENT_LEADS: "spreadsheets/event_leads_2024-10.csv",
    ACCOUNTS: WORKBOOK_FILE,
    NEW_ACCOUNTS: WORKBOOK_FILE,
    KR_FORM: "forms/구글폼_상담신청.csv",
    EN_FORM: "forms/google_form_newsletter.csv",
    WEBHOOK: "forms/webhook_submissions.jsonl",
    LANDING: "forms/landing_page_signups.json",
}
SOURCE_SHEETS = {ACCOUNTS: "거래처", NEW_ACCOUNTS: "신규 거래처"}
FORM_SOURCES = (KR_FORM, EN_FORM, WEBHOOK, LANDING)
NOTES_SHEET = "설명"

# The order book: a POS export until October 2024, then the order team's workbooks (one per year from 2025).
POS_ORDERS_FILE = "spreadsheets/POS_주문내역_2024.csv"
ORDERS_FILE = "spreadsheets/주문내역.xlsx"
ORDERS_2025_FILE = "spreadsheets/주문내역_2025.xlsx"
ORDERS_2026_FILE = "spreadsheets/주문내역_2026.xlsx"
ORDER_FILES = (POS_ORDERS_FILE, ORDERS_FILE, ORDERS_2025_FILE, ORDERS_2026_FILE)
ORDERS_SHEET = "주문"
ORDER_SHEETS = {ORDERS_FILE: ORDERS_SHEET, ORDERS_2025_FILE: "2025", ORDERS_2026_FILE: "2026"}

# How often each source is picked for a filler person's records (planted rows come on top).
SOURCE_WEIGHTS = {
    CUSTOMER_LIST: 80,
    EVENT_LEADS: 45,
    ACCOUNTS: 30,
    NEW_ACCOUNTS: 16,
    KR_FORM: 65,
    EN_FORM: 45,
    WEBHOOK: 45,
    LANDING: 30,
}
ENGLISH_FRIENDLY = (EVENT_LEADS, EN_FORM, WEBHOOK, LANDING)
ROMANISED_SOURCES = (EVENT_LEADS, EN_FORM)

# When each source was filled in; the order matters for "latest consent answer wins". The forms are live and
# exported the weekend before the demo clock; the spreadsheets are lists compiled once.
SOURCE_PERIODS = {
    CUSTOMER_LIST: (date(2024, 1, 2), date(2024, 2, 29)),
    KR_FORM: (date(2024, 3, 4), date(2026, 11, 15)),
    EN_FORM: (date(2024, 3, 4), date(2026, 11, 15)),
    WEBHOOK: (date(2024, 5, 1), date(2026, 11, 15)),
    LANDING: (date(2024, 6, 1), date(2026, 11, 15)),
    NEW_ACCOUNTS: (date(2024, 9, 2), date(2024, 9, 30)),
    EVENT_LEADS: (date(2024, 10, 15), date(2024, 10, 18)),
}
DATE_ONLY_SOURCES = (CUSTOMER_LIST, NEW_ACCOUNTS, EVENT_LEADS)
FIRST_ORDER_DAY = date(2024, 1, 2)
LAST_ORDER_DAY = date(2026, 11, 15)

# Filler people per intended lifecycle as of DEMO_AS_OF (docs/segments.md; the planted people come on top).
# "vip" are large repeat B2B buyers, more of them than the top decile of buyers holds, so that the decile is
# theirs and the one-off catering orders over 50M KRW of "large" stay large accounts.
PROFILE_COUNTS = {
    "vip": 25,
    "large": 6,
    "at_risk": 28,
    "loyal": 32,
    "repeat": 36,
    "new": 46,
    "warm": 36,
    "churned": 44,
    "cold": 62,
}
BUYER_PROFILES = ("vip", "large", "at_risk", "loyal", "repeat", "new", "churned")
# Buyers known only from the order book (walk-in and phone orders), by profile.
ORDER_ONLY_SHARE = {"loyal": 0.1, "at_risk": 0.1, "repeat": 0.15, "new": 0.2, "churned": 0.15}
FRESH_NEW_BUYERS = 10  # first purchase in the two weeks before DEMO_AS_OF
FRESH_WARM_PROSPECTS = 9  # form submission in the seven days before DEMO_AS_OF
VIP_MIN_TOTAL = 75_000_000
CHURNED_BEFORE = date(2025, 9, 30)  # more than 365 days before DEMO_AS_OF, with a margin
COLD_FORMS_BEFORE = date(2026, 7, 31)  # more than 90 days before DEMO_AS_OF
WARM_FORMS_FROM = date(2026, 8, 25)
FRESH_FORMS_FROM = date(2026, 11, 9)

# Consent planted across the filler: yes answers given in 2024-11/12 and still the latest (due for
# re-confirmation two years on), and yes answers withdrawn by a later no.
CONSENT_RECONFIRM_PEOPLE = 14
CONSENT_RECONFIRM_PERIOD = (date(2024, 11, 1), date(2024, 12, 31))
CONSENT_WITHDRAWN_PEOPLE = 8

# Birthdays (생년월일 in the customer list, 생일 in the Korean form, Date of birth in the English one,
# birthday in the webhook): how often each is filled in and how it is written; a few fall just after
# DEMO_AS_OF.
BIRTHDAY_FILL = {CUSTOMER_LIST: 0.8, KR_FORM: 0.65, EN_FORM: 0.65, WEBHOOK: 0.75}
BIRTHDAY_STYLES = {
    CUSTOMER_LIST: [("iso", 6), ("dots", 3), ("digits", 2)],
    KR_FORM: [("month_day", 1), ("korean", 1)],
    EN_FORM: [("day_month", 1), ("iso", 1)],
    WEBHOOK: [("iso", 1)],
}
BIRTHDAYS_SOON = 8  # birthdays on the six days after DEMO_AS_OF

SURNAMES = [
    ("김", "Kim", 21),
    ("이", "Lee", 15),
    ("박", "Park", 8),
    ("최", "Choi", 5),
    ("정", "Jung", 5),
    ("강", "Kang", 2),
    ("조", "Cho", 2),
    ("윤", "Yoon", 2),
    ("장", "Jang", 2),
    ("임", "Lim", 2),
    ("한", "Han", 1),
    ("오", "Oh", 1),
    ("서", "Seo", 1),
    ("신", "Shin", 1),
    ("권", "Kwon", 1),
    ("황", "Hwang", 1),
    ("안", "Ahn", 1),
    ("송", "Song", 1),
    ("류", "Ryu", 1),
    ("홍", "Hong", 1),
    ("전", "Jeon", 1),
    ("고", "Ko", 1),
    ("문", "Moon", 1),
    ("배", "Bae", 1),
    ("백", "Baek", 1),
]
GIVEN_NAMES = [
    ("민준", "Minjun"),
    ("서준", "Seojun"),
    ("도윤", "Doyun"),
    ("예준", "Yejun"),
    ("시우", "Siwoo"),
    ("주원", "Juwon"),
    ("지호", "Jiho"),
    ("건우", "Gunwoo"),
    ("우진", "Woojin"),
    ("선우", "Sunwoo"),
    ("연우", "Yeonwoo"),
    ("유준", "Yujun"),
    ("정우", "Jungwoo"),
    ("승우", "Seungwoo"),
    ("동현", "Donghyun"),
    ("성민", "Sungmin"),
    ("영호", "Youngho"),
    ("상훈", "Sanghoon"),
    ("재원", "Jaewon"),
    ("태윤", "Taeyoon"),
    ("서현", "Seohyun"),
    ("민서", "Minseo"),
    ("하윤", "Hayoon"),
    ("윤서", "Yoonseo"),
    ("지민", "Jimin"),
    ("수아", "Sua"),
    ("지윤", "Jiyoon"),
    ("은서", "Eunseo"),
    ("다은", "Daeun"),
    ("예은", "Yeeun"),
    ("수빈", "Subin"),
    ("소연", "Soyeon"),
    ("혜진", "Hyejin"),
    ("미경", "Mikyung"),
    ("은정", "Eunjung"),
    ("지영", "Jiyoung"),
    ("수진", "Sujin"),
    ("현정", "Hyunjung"),
    ("영미", "Youngmi"),
    ("경희", "Kyunghee"),
]
ENGLISH_FIRST = ["James", "Sarah", "Michael", "Olivia", "David", "Sophie", "Thomas", "Hannah", "Lucas"]
ENGLISH_FIRST += ["Grace", "Ethan", "Chloe", "Ryan", "Mia", "Noah", "Ava", "Liam", "Zoe", "Emma", "Oliver"]
ENGLISH_LAST = ["Smith", "Miller", "Brown", "Wilson", "Taylor", "Anderson", "Thompson", "Martin", "Walker"]
ENGLISH_LAST += ["Young", "Hall", "Wright", "Lopez", "Nguyen", "Tanaka", "Müller", "O'Brien", "Fischer"]

KOREAN_FREE_MAIL = [("naver.com", 35), ("gmail.com", 30), ("kakao.com", 10), ("daum.net", 8)]
KOREAN_FREE_MAIL += [("hanmail.net", 7), ("nate.com", 5)]
ENGLISH_FREE_MAIL = [("gmail.com", 50), ("outlook.com", 25), ("icloud.com", 15), ("yahoo.com", 10)]

ACCOUNT_NOTES = ["", "", "", "점심 도시락 정기 주문", "연말 행사 담당", "2024.05 미팅", "견적 요청"]
ACCOUNT_NOTES += ["퇴사 예정", "세금계산서 담당", "휴대폰 번호 확인 필요"]


@dataclass(frozen=True)
class Company:
    name: str
    name_en: str
    domain: str
    industry: str
    industry_en: str


COMPANIES = [
    Company("(주)맛있는케이터링", "Masitneun Catering Co., Ltd.", "masitneun.co.kr", "케이터링", "Catering"),
    Company("한빛푸드 주식회사", "Hanbit Foods", "hanbitfood.co.kr", "식자재 유통", "Food distribution"),
    Company("주식회사 그린테이블", "Green Table", "greentable.co.kr", "케이터링", "Catering"),
    Company("(주)블루포크", "Bluefork", "bluefork.co.kr", "외식", "Restaurants"),
    Company("㈜푸른도시락", "Pureun Dosirak", "pureundosirak.com", "도시락", "Lunch boxes"),
    Company("바른급식 주식회사", "Bareun Meals", "bareunmeal.co.kr", "단체급식", "Contract catering"),
    Company("(주)달콤베이커리", "Dalkom Bakery", "dalkombakery.kr", "베이커리", "Bakery"),
    Company("소담케이터링", "Sodam Catering", "sodamcatering.com", "케이터링", "Catering"),
    Company("(주)새벽팜", "Saebyeok Farm", "saebyeokfarm.co.kr", "농산물 유통", "Produce"),
    Company("한결에프앤비(주)", "Hangyeol F&B", "hangyeolfnb.com", "식음료", "Food & beverage"),
    Company("주식회사 오늘의커피", "Oneul Coffee", "oneulcoffee.kr", "카페", "Cafe"),
    Company("(주)다온소프트", "Daon Soft", "daonsoft.co.kr", "IT 서비스", "IT services"),
    Company("넥스트웨이브 주식회사", "NextWave", "nextwave.kr", "소프트웨어", "Software"),
    Company("(주)코리아이벤트", "Korea Event", "koreaevent.co.kr", "행사 기획", "Events"),
    Company("마루컨벤션(주)", "Maru Convention", "maruconvention.com", "컨벤션", "Conventions"),
    Company("(주)소나무호텔", "Sonamu Hotel", "sonamuhotel.co.kr", "숙박", "Hospitality"),
    Company("하나로의원", "Hanaro Clinic", "hanaroclinic.kr", "의료", "Healthcare"),
    Company("대한정밀(주)", "Daehan Precision", "daehanprecision.co.kr", "제조", "Manufacturing"),
    Company("(주)미래에듀", "Mirae Edu", "miraeedu.co.kr", "교육", "Education"),
    Company("Brightside Events Ltd.", "Brightside Events Ltd.", "brightside.io", "행사 기획", "Events"),
    Company("Northwind Trading", "Northwind Trading", "northwind-trading.com", "무역", "Trading"),
    Company("Lumen Labs Korea", "Lumen Labs Korea", "lumenlabs.io", "소프트웨어", "Software"),
    Company("Harbor & Pine Catering", "Harbor & Pine Catering", "harborandpine.com", "케이터링", "Catering"),
]
KOREAN_COMPANIES = [c for c in COMPANIES if not c.name.isascii()]
LEGAL_FORM = re.compile(r"\(주\)|㈜|주식회사")


@dataclass
class Person:
    person_id: str
    name: str
    roman: str
    mobile: str
    email: str
    alt_email: str
    company: Company
    is_korean: bool
    birthday: date | None = None


@dataclass(eq=False)
class Record:
    """One row as it will be written. ``accepted`` is the expected outcome of ingesting it."""

    source: str
    person_id: str
    name: str = ""
    email: str = ""
    phone: str | int = ""
    company: str = ""
    industry: str = ""
    consent: bool | None = None
    at: datetime | None = None
    note: str = ""
    accepted: bool = True
    defect: str = ""
    nested: bool = False
    row: int = 0
    birthday: date | None = None
    birthday_style: str = ""

    @property
    def birthday_text(self) -> str:
        return _birthday_text(self.birthday, self.birthday_style) if self.birthday else ""

    def ref(self) -> dict:
        ref = {"file": SOURCE_FILES[self.source], "row": self.row}
        if self.source in SOURCE_SHEETS:
            ref["sheet"] = SOURCE_SHEETS[self.source]
        ref.update(person_id=self.person_id, name=self.name, email=self.email, phone=str(self.phone))
        if self.birthday:
            ref["birthday"] = self.birthday_text
        return ref


@dataclass
class Case:
    case: str
    expect: str
    description: str
    records: list[Record] = field(default_factory=list)


def _kst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=KST)


def _birthday_text(birthday: date, style: str) -> str:
    """A birthday as people type it; day-first ``15/03`` only where the day cannot be read as a month."""
    y, m, d = birthday.year, birthday.month, birthday.day
    if style == "day_month" and d <= 12:
        style = "iso"
    return {
        "iso": f"{y}-{m:02d}-{d:02d}",
        "dots": f"{y}.{m}.{d}",
        "digits": f"{y}{m:02d}{d:02d}",
        "month_day": f"{m:02d}-{d:02d}",
        "korean": f"{m}월 {d}일",
        "day_month": f"{d:02d}/{m:02d}",
    }[style]


def _planted() -> tuple[list[Record], list[Case]]:
    # Hand-aligned so that each planted row reads like the row it becomes.
    # fmt: off
    minsu = [
        Record(CUSTOMER_LIST, "minsu_kim_masitneun", "김민수", "Kim.Minsu@Gmail.com", "010-4821-7730",
               "(주)맛있는케이터링", "케이터링", True, _kst(2024, 1, 15)),
        Record(EVENT_LEADS, "minsu_kim_masitneun", "Minsu Kim", "kimminsu+event@gmail.com",
               "+82 10-4821-7730", "Masitneun Catering Co., Ltd.", "Catering", True, _kst(2024, 10, 16)),
        Record(KR_FORM, "minsu_kim_masitneun", "김 민수", "KIM.MINSU@GMAIL.COM ", "01048217730",
               "맛있는케이터링", at=_kst(2024, 4, 2, 14, 31, 7)),
        Record(ACCOUNTS, "minsu_kim_masitneun", "김민수", "", 1048217730, "맛있는케이터링",
               note="대표님 직통"),
    ]
    minsu_hanbit = [
        Record(NEW_ACCOUNTS, "minsu_kim_hanbit", "김민수", "minsu.kim@hanbitfood.co.kr", "010-8842-3107",
               "한빛푸드", "식자재 유통", at=_kst(2024, 9, 10)),
        Record(WEBHOOK, "minsu_kim_hanbit", "김민수", "minsu.kim@hanbitfood.co.kr", "010-8842-3107",
               "한빛푸드 주식회사", consent=False, at=_kst(2024, 5, 14, 11, 2, 45)),
    ]
    seoyeon = [
        Record(CUSTOMER_LIST, "seoyeon_lee_bluefork", "이서연", "seoyeon.lee@naver.com", "010-2345-6789",
               "(주)블루포크", "외식", False, _kst(2024, 2, 5)),
        Record(WEBHOOK, "seoyeon_lee_bluefork", "이서연", "seoyeon.lee@naver.com", "010-9876-5432",
               "블루포크", consent=True, at=_kst(2024, 5, 20, 9, 15, 33)),
        Record(EN_FORM, "seoyeon_lee_bluefork", "Seoyeon Lee", "sy.lee@bluefork.co.kr", "010 9876 5432",
               "Bluefork", at=_kst(2024, 7, 11, 16, 48, 2)),
    ]
    haeun = [
        Record(CUSTOMER_LIST, "haeun_ryu_dalkom", "류하은", "haeun.ryu@naver.com", "010-9182-7364",
               "(주)달콤베이커리", "베이커리", True, _kst(2024, 1, 30))
        for _ in range(2)
    ]
    jihoon = [
        Record(ACCOUNTS, "jihoon_park_greentable", "박지훈", "info@greentable.co.kr", "02-555-1234",
               "그린테이블", note='=HYPERLINK("http://greentable.co.kr","홈페이지")'),
        Record(KR_FORM, "jihoon_park_greentable", "박지훈", "info@greentable.co.kr", "025551234",
               "주식회사 그린테이블", consent=True, at=_kst(2024, 3, 21, 10, 4, 51)),
    ]
    yujin = Record(ACCOUNTS, "yujin_choi_greentable", "최유진", "info@greentable.co.kr",
                   "02-555-1234 내선 203", "(주)그린테이블", note="케이터링 발주 담당")
    haneul = Record(EVENT_LEADS, "haneul_jung_greentable", "Haneul Jung", "sales@greentable.co.kr",
                    "02-555-1234", "Green Table", "Catering", True, _kst(2024, 10, 17))
    jia = Record(CUSTOMER_LIST, "jia_yoon_hanbit", "윤지아", "sales@hanbitfood.co.kr", "010-3030-7172",
                 "한빛푸드 주식회사", "식자재 유통", True, _kst(2024, 1, 29))
    dohyun = Record(EN_FORM, "dohyun_kang_hanbit", "Kang Dohyun", "sales@hanbitfood.co.kr", "010-6204-1187",
                    "Hanbit Foods", consent=False, at=_kst(2024, 4, 18, 13, 22, 9))
    emily = Record(EVENT_LEADS, "emily_clark_brightside", "Emily Clark", "contact@brightside.io",
                   "+82 10-7781-2045", "Brightside Events Ltd.", "Events", True, _kst(2024, 10, 15))
    daniel = Record(LANDING, "daniel_park_brightside", "Daniel Park", "Contact@Brightside.io",
                    "010-5150-3398", "Brightside Events", consent=True, at=_kst(2024, 6, 27, 20, 5, 12))
    jihye = Record(CUSTOMER_LIST, "jihye_lee_bluefork", "이지혜", "jh.lee@bluefork.co.kr", "010-6671-0923",
                   "(주)블루포크", "외식", None, _kst(2024, 2, 19))
    jaehoon = Record(NEW_ACCOUNTS, "jaehoon_lee_bluefork", "이재훈", "jhlee@bluefork.co.kr", "010-2210-7364",
                     "블루포크", "외식", at=_kst(2024, 9, 24))
    yerin = [
        Record(CUSTOMER_LIST, "yerin_song_sodam", "송예린", "yerin.song@daum.net", "010-4455-6677",
               "소담케이터링", "케이터링", True, _kst(2024, 1, 22)),
        Record(KR_FORM, "yerin_song_sodam", "송예린", "yerin.song@daum.net", "010-4455-6677",
               "소담케이터링", consent=False, at=_kst(2024, 6, 12, 15, 5, 44)),
    ]
    hajun = [
        Record(EN_FORM, "hajun_oh_gmail", "Hajun Oh", "hajun.oh@gmail.com", "+82 10-5567-2390",
               "Daon Soft", consent=False, at=_kst(2024, 3, 8, 9, 41, 27)),
        Record(EVENT_LEADS, "hajun_oh_gmail", "Hajun Oh", "hajun.oh@gmail.com ", "010-5567-2390",
               "(주)다온소프트", "IT services", True, _kst(2024, 10, 16)),
    ]
    jiwoo = [
        Record(CUSTOMER_LIST, "jiwoo_seo_kakao", "서지우", "jiwoo.seo@kakao.com", "010-2828-4141",
               "(주)코리아이벤트", "행사 기획", True, _kst(2024, 2, 13)),
        Record(KR_FORM, "jiwoo_seo_kakao", "서지우", "jiwoo.seo@kakao.com", "010-2828-4141",
               "코리아이벤트", at=_kst(2024, 5, 9, 11, 18, 40)),
    ]
    chaewon = [
        Record(ACCOUNTS, "chaewon_lim_saebyeok", "임채원", "", "010-3690-2580", "(주)새벽팜",
               note="농산물 납품"),
        Record(LANDING, "chaewon_lim_saebyeok", "임채원", "chaewon.lim@saebyeokfarm.co.kr", "010-3690-2580",
               nested=True, at=_kst(2024, 7, 3, 14, 31, 7)),
    ]
    gildong = Record(CUSTOMER_LIST, "gildong_hong_invalid", "홍길동", "kim@", "000-0000-0000", "테스트",
                     at=_kst(2024, 1, 3), accepted=False)
    junk = Record(EVENT_LEADS, "junk_test_row", "test", "test@test", "-",
                  at=_kst(2024, 10, 15), accepted=False)
    hyunwoo = Record(CUSTOMER_LIST, "hyunwoo_jo_hanbit", "조현우", "hyunwoo.jo@kakao.com", "010-5521-8890",
                     "한빛푸드, 주식회사", "식자재 유통", True, _kst(2024, 2, 14),
                     accepted=False, defect="extra_cell")
    suji = Record(WEBHOOK, "suji_bae_broken", "배수지", "suji.bae@gmail.com", "010-7070-1212",
                  "(주)달콤베이커리", consent=True, at=_kst(2024, 5, 17, 9, 12, 44),
                  accepted=False, defect="broken_json")
    seoyun = Record(CUSTOMER_LIST, "seoyun_jang_naver", "장서윤", "seoyun.jang@naver.com", "010-123-45",
                    "(주)미래에듀", "교육", False, _kst(2024, 2, 2))
    jiwon = Record(EVENT_LEADS, "jiwon_lee_naver", "Jiwon Lee", "lee.jiwon@naver", "010-7412-8520",
                   "Mirae Edu", "Education", True, _kst(2024, 10, 18))

    cases = [
        Case("phone_format_variants", "merge",
             "010-4821-7730, +82 10-4821-7730, 01048217730 and the number 1048217730 are one phone", minsu),
        Case("gmail_dots_and_plus_tags", "merge",
             "Kim.Minsu@Gmail.com and kimminsu+event@gmail.com are one Gmail mailbox", minsu[:2]),
        Case("email_case_and_whitespace", "merge",
             "'KIM.MINSU@GMAIL.COM ' is Kim.Minsu@Gmail.com", [minsu[0], minsu[2]]),
        Case("hangul_name_with_space", "merge", "김 민수 is 김민수", [minsu[0], minsu[2]]),
        Case("transitive_join", "merge",
             "list and webhook share an email, webhook and form share a phone", seoyeon),
        Case("duplicate_row", "merge", "the same row pasted twice", haeun),
        Case("shared_switchboard", "separate",
             "three people give the switchboard 02-555-1234; they stay three customers",
             [jihoon[0], yujin, haneul]),
        Case("shared_role_mailbox", "separate",
             "info@greentable.co.kr is used by two people", [jihoon[0], yujin]),
        Case("shared_role_mailbox", "separate",
             "sales@hanbitfood.co.kr is used by two people", [jia, dohyun]),
        Case("shared_role_mailbox", "separate",
             "contact@brightside.io (any case) is used by two people", [emily, daniel]),
        Case("same_name_different_people", "separate",
             "two 김민수 at different companies with no key in common", [minsu[0], minsu_hanbit[0]]),
        Case("dots_matter_outside_gmail", "separate",
             "jh.lee@ and jhlee@bluefork.co.kr are different mailboxes", [jihye, jaehoon]),
        Case("same_person_on_switchboard", "may_merge",
             "박지훈 twice with only the switchboard and info@; merging them is acceptable", jihoon),
        Case("consent_withdrawn", "not_consented", "Y in January, 동의하지 않습니다 in June", yerin),
        Case("consent_given_later", "consented", "No in March, Yes in October", hajun),
        Case("blank_answer_keeps_consent", "consented", "Y in February, blank in May", jiwoo),
        Case("never_answered", "consent_unknown", "no source asks for consent", chaewon),
        Case("no_valid_contact", "rejected", "neither a valid email nor a valid phone", [gildong, junk]),
        Case("too_many_cells", "rejected", "an unquoted comma adds a cell", [hyunwoo]),
        Case("broken_json_line", "rejected", "a webhook line cut off mid-string", [suji]),
        Case("one_bad_field", "accepted", "the good key carries the record", [seoyun, jiwon]),
    ]
    # fmt: on
    records = [*minsu, *minsu_hanbit, *seoyeon, *haeun, *jihoon, yujin, haneul, jia, dohyun, emily, daniel]
    records += [jihye, jaehoon, *yerin, *hajun, *jiwoo, *chaewon, gildong, junk, hyunwoo, suji, seoyun, jiwon]
    return records, cases


def _email_key(email: str) -> str:
    """The mailbox an address delivers to, as far as we can tell; used here only to keep filler unique."""
    local, _, domain = email.strip().lower().partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def _phone_key(phone: str | int) -> str:
    digits = re.sub(r"\D", "", str(phone))
    if digits.startswith("82"):
        digits = "0" + digits[2:]
    return digits


def _format_phone(mobile: str, style: str) -> str:
    if not mobile.startswith("010"):
        return mobile
    a, b, c = mobile[:3], mobile[3:7], mobile[7:]
    return {
        "dash": f"{a}-{b}-{c}",
        "plain": mobile,
        "space": f"{a} {b} {c}",
        "dot": f"{a}.{b}.{c}",
        "intl_dash": f"+82 10-{b}-{c}",
        "intl_plain": f"+8210{b}{c}",
    }[style]


PHONE_STYLES = {
    CUSTOMER_LIST: [("dash", 8), ("plain", 2)],
    EVENT_LEADS: [("dash", 5), ("intl_dash", 3), ("plain", 1), ("space", 1)],
    ACCOUNTS: [("dash", 7), ("plain", 2), ("dot", 1)],
    NEW_ACCOUNTS: [("dash", 9), ("plain", 1)],
    KR_FORM: [("plain", 5), ("dash", 4), ("space", 1)],
    EN_FORM: [("dash", 4), ("plain", 2), ("intl_dash", 2), ("intl_plain", 1), ("space", 1)],
    WEBHOOK: [("dash", 5), ("intl_plain", 5)],
    LANDING: [("plain", 5), ("dash", 5)],
}
CONSENT_ANSWERS = {
    CUSTOMER_LIST: [(True, 66), (False, 16), (None, 18)],
    EVENT_LEADS: [(True, 62), (False, 20), (None, 18)],
    KR_FORM: [(True, 66), (False, 22), (None, 12)],
    EN_FORM: [(True, 70), (False, 20), (None, 10)],
    WEBHOOK: [(True, 70), (False, 24), (None, 6)],
    LANDING: [(True, 75), (False, 25)],
}


def _pick(rng: random.Random, weighted: list[tuple]) -> object:
    return rng.choices([v for v, *_ in weighted], weights=[w for *_, w in weighted])[0]


class _FillerFactory:
    """Invents filler people with unique phones and mailboxes, and renders their records per source."""

    def __init__(self, rng: random.Random, planted: list[Record]):
        self.rng = rng
        self.used_phones = {_phone_key(r.phone) for r in planted}
        self.used_emails = {_email_key(r.email) for r in planted if r.email}
        self.used_names = {r.name for r in planted}
        self.count = 0

    def _mobile(self) -> str:
        while True:
            mobile = f"010{self.rng.randint(2000, 9999)}{self.rng.randint(0, 9999):04d}"
            # libphonenumber has no 010-597x to 010-599x: such a number would be an unplanned bad phone.
            if mobile not in self.used_phones and not "5970" <= mobile[3:7] <= "5999":
                self.used_phones.add(mobile)
                return mobile

    def _email(self, local_parts: list[str], domain: str) -> str:
        local = self.rng.choice(local_parts)
        candidate = f"{local}@{domain}"
        while _email_key(candidate) in self.used_emails:
            candidate = f"{local}{self.rng.randint(1, 99)}@{domain}"
        self.used_emails.add(_email_key(candidate))
        return candidate

    def person(self, english: bool) -> Person:
        rng = self.rng
        self.count += 1
        person_id = f"f{self.count:03d}"
        if english:
            while True:
                first, last = rng.choice(ENGLISH_FIRST), rng.choice(ENGLISH_LAST)
                if f"{first} {last}" not in self.used_names:
                    break
            name = roman = f"{first} {last}"
            f, s = first.lower(), last.replace("'", "").replace("ü", "u").lower()
            personal_locals = [
                f"{f}.{s}",
                f"{f}{s}",
                f"{f}{rng.randint(70, 99)}",
                f"{f}.{s}{rng.randint(1, 9)}",
            ]
            work_locals = [f"{f}.{s}", f"{f[0]}{s}", f]
            company = rng.choice(COMPANIES)
            personal_domain = _pick(rng, ENGLISH_FREE_MAIL)
            mobile = self._mobile() if rng.random() < 0.8 else self._foreign_phone()
        else:
            while True:
                sur, sur_roman, _ = rng.choices(SURNAMES, weights=[w for *_, w in SURNAMES])[0]
                given, given_roman = rng.choice(GIVEN_NAMES)
                if sur + given not in self.used_names:
                    break
            name, roman = sur + given, f"{given_roman} {sur_roman}"
            g, s = given_roman.lower(), sur_roman.lower()
            personal_locals = [f"{g}.{s}", f"{s}{g}", f"{g}_{s}", f"{s}{g}{rng.randint(70, 99)}", f"{s}.{g}"]
            work_locals = [f"{g}.{s}", f"{s}.{g}", f"{s}{g}"]
            company = rng.choice(KOREAN_COMPANIES)
            personal_domain = _pick(rng, KOREAN_FREE_MAIL)
            mobile = self._mobile()
        self.used_names.add(name)  # a namesake is a planted case, not filler
        personal = self._email(personal_locals, personal_domain)
        work = self._email(work_locals, company.domain)
        email, alt_email = (personal, work) if rng.random() < 0.65 else (work, personal)
        birthday = date(rng.randint(1962, 2001), 1, 1) + timedelta(days=rng.randint(0, 364))
        return Person(person_id, name, roman, mobile, email, alt_email, company, not english, birthday)

    def _foreign_phone(self) -> str:
        while True:
            if self.rng.random() < 0.5:
                phone = f"+1 415-555-01{self.rng.randint(0, 99):02d}"
            else:
                phone = f"+44 20 7946 0{self.rng.randint(0, 999):03d}"
            if _phone_key(phone) not in self.used_phones:
                self.used_phones.add(_phone_key(phone))
                return phone

    def record(
        self, person: Person, source: str, keys: str, window: tuple[date | None, date | None] = (None, None)
    ) -> Record:
        """``keys`` says which contact keys the row carries: "both", "phone" or "email"; ``window`` bounds
        the day it was filled in (first and last day, either open), within the source's period."""
        rng = self.rng
        email_required = source in (KR_FORM, EN_FORM, WEBHOOK)
        email = ""
        if keys in ("both", "email"):
            email = self._email_variant(person.email, source)
        elif email_required:
            email = person.alt_email
        phone = _format_phone(person.mobile, _pick(rng, PHONE_STYLES[source])) if keys != "email" else ""

        name = person.roman if source in ROMANISED_SOURCES and rng.random() < 0.8 else person.name
        if not person.is_korean and source in (EN_FORM, LANDING) and rng.random() < 0.15:
            name = name.lower()
        if person.is_korean and name == person.name and source in (KR_FORM, EN_FORM) and rng.random() < 0.1:
            name = f"{name[0]} {name[1:]}"

        english_context = source in ROMANISED_SOURCES or not person.is_korean
        company = self._company_variant(person.company, english_context)
        industry = person.company.industry_en if source == EVENT_LEADS else person.company.industry
        consent = _pick(rng, CONSENT_ANSWERS[source]) if source in CONSENT_ANSWERS else None
        note = rng.choice(ACCOUNT_NOTES) if source == ACCOUNTS else ""
        nested = source == LANDING and person.is_korean and rng.random() < 0.4
        if nested:
            consent = None
        birthday, birthday_style = None, ""
        if source in BIRTHDAY_FILL and rng.random() < BIRTHDAY_FILL[source]:
            birthday, birthday_style = person.birthday, _pick(rng, BIRTHDAY_STYLES[source])
        return Record(
            source=source,
            person_id=person.person_id,
            name=name,
            email=email,
            phone=phone,
            company=company,
            industry=industry,
            consent=consent,
            at=self.moment(source, *window),
            note=note,
            nested=nested,
            birthday=birthday,
            birthday_style=birthday_style,
        )

    def _email_variant(self, email: str, source: str) -> str:
        rng = self.rng
        local, domain = email.split("@")
        if domain == "gmail.com" and rng.random() < 0.2:
            if "." in local:
                local = local.replace(".", "")
            else:
                local = f"{local}+{rng.choice(['event', 'news', 'work', 'biz'])}"
        roll = rng.random()
        if roll < 0.08:
            return f"{local.title()}@{domain.capitalize() if rng.random() < 0.5 else domain}"
        if roll < 0.10:
            return f"{local}@{domain}".upper()
        if roll < 0.16 and source in (KR_FORM, EN_FORM, EVENT_LEADS):
            return f"{local}@{domain} "
        return f"{local}@{domain}"

    def _company_variant(self, company: Company, english_context: bool) -> str:
        roll = self.rng.random()
        if roll < 0.05:
            return ""
        if english_context and roll < 0.7:
            return company.name_en
        if roll < 0.8:
            return company.name
        return LEGAL_FORM.sub("", company.name).strip()

    def moment(self, source: str, first: date | None = None, last: date | None = None) -> datetime | None:
        if source not in SOURCE_PERIODS:
            return None
        start, end = SOURCE_PERIODS[source]
        start, end = max(start, first or start), min(end, last or end)
        if start > end:
            raise ValueError(f"{source} has no day between {first} and {last}")
        day = start + timedelta(days=self.rng.randint(0, (end - start).days))
        at = datetime(day.year, day.month, day.day, tzinfo=KST)
        if source in DATE_ONLY_SOURCES:
            return at
        return at + timedelta(seconds=self.rng.randint(8 * 3600, 22 * 3600))


@dataclass
class Purchase:
    """A planned order of a filler person: its lines (product, quantity, KRW amount), maybe a refund."""

    at: datetime
    lines: list[tuple[str, int, int]]
    refund: tuple[datetime, int] | None = None


@dataclass
class Plan:
    """A filler person, the lifecycle they are drawn for, their contact records and their purchases."""

    person: Person
    profile: str
    fresh: bool = False
    records: list[Record] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)


# (product, unit price in KRW, quantity range): what private and small business customers order.
SMALL_PRODUCTS = [
    ("수제 케이크", 45_000, 1, 2),
    ("과일 도시락", 9_500, 10, 30),
    ("샌드위치 세트", 8_000, 15, 40),
    ("프리미엄 도시락", 15_000, 10, 50),
    ("디저트 플래터", 90_000, 1, 3),
    ("커피 케이터링 (50인)", 350_000, 1, 1),
    ("브런치 케이터링 (20인)", 320_000, 1, 2),
    ("답례 쿠키", 3_500, 30, 100),
    ("홈파티 케이터링 (15인)", 600_000, 1, 1),
    ("돌잔치 케이터링 (40인)", 1_800_000, 1, 1),
    ("임직원 점심 도시락", 13_000, 30, 150),
]
# What a company ordering every month or two orders: 4 to 12 million KRW at a time.
B2B_PRODUCTS = [
    ("임직원 점심 도시락", 13_000, 320, 600),
    ("워크숍 케이터링", 45_000, 90, 200),
    ("세미나 다과", 15_000, 280, 500),
    ("행사 뷔페", 48_000, 100, 240),
    ("월간 도시락 정기 배송", 9_800_000, 1, 1),
]
# One-off events over the large-account threshold (50,000,000 KRW), below what a VIP spends in all.
LARGE_EVENTS = [
    ("창립기념 행사 케이터링 (1,000인)", 58_000_000),
    ("연말 송년회 뷔페 (900인)", 54_000_000),
    ("컨퍼런스 케이터링 (3일)", 63_500_000),
    ("체육대회 도시락·음료 (2,500인)", 52_500_000),
    ("신제품 발표회 케이터링 (800인)", 50_400_000),
]
ADD_ONS = [("음료 추가", 3_000, 10, 60), ("디저트 추가", 4_000, 10, 40)]


def _line(rng: random.Random, catalogue: list[tuple]) -> tuple[str, int, int]:
    product, unit, low, high = rng.choice(catalogue)
    quantity = rng.randint(low, high)
    return product, quantity, unit * quantity


def _order_time(rng: random.Random, day: date) -> datetime:
    """Midnight for the order workbooks (a date cell); the POS export also has the time of the sale."""
    if day < date(2024, 11, 1):
        return datetime(day.year, day.month, day.day, rng.randint(10, 20), rng.randint(0, 59), tzinfo=KST)
    return datetime(day.year, day.month, day.day, tzinfo=KST)


def _schedule(rng: random.Random, last: date, count: int, interval: int) -> list[date]:
    """``count`` purchase days ending on ``last``, about ``interval`` days apart (fewer if the book
    starts before)."""
    days = [last]
    while len(days) < count:
        previous = days[-1] - timedelta(days=max(1, interval + rng.randint(-3, 3)))
        if previous < FIRST_ORDER_DAY:
            break
        days.append(previous)
    return sorted(days)


def _purchase_days(rng: random.Random, profile: str, fresh: bool) -> list[date]:
    today = AS_OF.date()

    def back(low: int, high: int) -> date:
        return today - timedelta(days=rng.randint(low, high))

    if profile == "vip":
        return _schedule(rng, back(3, 35), 40, rng.randint(40, 70))
    if profile == "loyal":
        interval = rng.randint(20, 60)
        return _schedule(rng, back(1, int(interval * 0.7)), rng.randint(3, 9), interval)
    if profile == "at_risk":
        interval = rng.randint(20, 45)
        return _schedule(rng, back(max(60, int(interval * 2.2)), 320), rng.randint(3, 7), interval)
    if profile == "repeat":
        last = back(3, 300)
        return [max(FIRST_ORDER_DAY, last - timedelta(days=rng.randint(14, 240))), last]
    if profile == "new":
        return [back(1, 14) if fresh else back(15, 330)]
    if profile == "churned":
        span = (CHURNED_BEFORE - date(2024, 2, 1)).days
        last = date(2024, 2, 1) + timedelta(days=rng.randint(0, span))
        return _schedule(rng, last, _pick(rng, [(1, 50), (2, 30), (3, 15), (4, 5)]), rng.randint(20, 90))
    if profile == "large":
        return [back(6, 336)]
    return []


def _purchases(rng: random.Random, profile: str, fresh: bool) -> list[Purchase]:
    days = _purchase_days(rng, profile, fresh)
    if profile == "vip":
        usual = rng.choice(B2B_PRODUCTS)
        target = rng.randint(VIP_MIN_TOTAL, 110_000_000)
        purchases, total = [], 0
        for day in reversed(days):  # from the latest back, until they have spent the target
            line = _line(rng, [usual] if rng.random() < 0.8 else B2B_PRODUCTS)
            purchases.insert(0, Purchase(_order_time(rng, day), [line]))
            total += line[2]
            if total >= target:
                break
        while total < VIP_MIN_TOTAL:  # the book started before they spent it: bigger orders
            for purchase in purchases:
                product, quantity, amount = purchase.lines[0]
                purchase.lines[0] = (product, quantity * 5 // 4, amount * 5 // 4)
            total = sum(p.lines[0][2] for p in purchases)
    elif profile == "large":
        product, amount = rng.choice(LARGE_EVENTS)
        event = Purchase(_order_time(rng, days[0]), [(product, 1, amount)])
        earlier = sorted(
            days[0] - timedelta(days=rng.randint(20, 300))
            for _ in range(_pick(rng, [(0, 2), (1, 2), (2, 1)]))
        )
        purchases = [Purchase(_order_time(rng, day), [_line(rng, SMALL_PRODUCTS)]) for day in earlier]
        purchases.append(event)
    else:
        purchases = [Purchase(_order_time(rng, day), [_line(rng, SMALL_PRODUCTS)]) for day in days]
    for purchase in purchases:
        if profile != "large" and rng.random() < 0.12:
            purchase.lines.append(_line(rng, ADD_ONS))
    return purchases


def _plan_records(factory: _FillerFactory, plan: Plan, primary: str) -> None:
    """The contact records of one person: a primary source, sometimes a second, dated as the profile needs."""
    rng, person, profile = factory.rng, plan.person, plan.profile
    weights = dict(SOURCE_WEIGHTS)
    if profile in ("vip", "large"):
        weights[ACCOUNTS] *= 3
        weights[NEW_ACCOUNTS] *= 3
    if profile == "churned":
        del weights[ACCOUNTS]  # an undated row counts as seen when it lands: a churned buyer has none
    second_chance = 0.3 if profile in BUYER_PROFILES else 0.22
    others = [s for s in weights if s != primary and (person.is_korean or s in ENGLISH_FRIENDLY)]
    if profile == "cold":
        # A form and an undated workbook row together read as a recent form submission: a warm prospect.
        others = [s for s in others if not (ACCOUNTS in (primary, s) and {primary, s} & set(FORM_SOURCES))]
    sources = [primary]
    if others and rng.random() < second_chance:
        sources.append(rng.choices(others, weights=[weights[s] for s in others])[0])

    def window(source: str, first_record: bool) -> tuple[date | None, date | None]:
        if profile == "churned":
            return None, CHURNED_BEFORE
        if profile == "cold" and source in FORM_SOURCES:
            return None, COLD_FORMS_BEFORE
        if profile == "warm" and first_record:
            return (FRESH_FORMS_FROM if plan.fresh else WARM_FORMS_FROM), None
        return None, None

    if len(sources) == 1:
        keys = rng.choices(["both", "phone", "email"], weights=[85, 5, 10])[0]
        plan.records.append(factory.record(person, primary, keys, window(primary, True)))
        return
    first = factory.record(person, sources[0], "both", window(sources[0], True))
    keys = rng.choices(["both", "phone", "email"], [6, 2, 2])[0]
    second = factory.record(person, sources[1], keys, window(sources[1], False))
    # Two consent answers on nearly the same day would make "latest answer wins" a coin toss.
    while first.at and second.at and abs(first.at - second.at) < timedelta(days=2):
        second.at = factory.moment(second.source, *window(sources[1], False))
    plan.records += [first, second]


def _filler(rng: random.Random, planted: list[Record]) -> list[Plan]:
    factory = _FillerFactory(rng, planted)
    profiles = [profile for profile, count in PROFILE_COUNTS.items() for _ in range(count)]
    rng.shuffle(profiles)
    fresh_left = {"new": FRESH_NEW_BUYERS, "warm": FRESH_WARM_PROSPECTS}
    plans = []
    for profile in profiles:
        fresh = fresh_left.get(profile, 0) > 0
        if fresh:
            fresh_left[profile] -= 1
        if rng.random() < ORDER_ONLY_SHARE.get(profile, 0.0):
            plan = Plan(factory.person(english=rng.random() < 0.1), profile, fresh)
        else:
            sources = FORM_SOURCES if profile == "warm" else tuple(SOURCE_WEIGHTS)
            if profile == "churned":
                sources = tuple(s for s in sources if s != ACCOUNTS)
            primary = rng.choices(sources, weights=[SOURCE_WEIGHTS[s] for s in sources])[0]
            english = primary in ENGLISH_FRIENDLY and rng.random() < 0.3
            plan = Plan(factory.person(english), profile, fresh)
            _plan_records(factory, plan, primary)
        plan.purchases = _purchases(rng, profile, fresh)
        while (
            not _cp949(plan.person.name)
            and plan.purchases[:1]
            and plan.purchases[0].at.date() < date(2024, 11, 1)
        ):
            plan.purchases = _purchases(rng, profile, fresh)  # the CP949 POS export cannot hold Müller
        plans.append(plan)
    _plant_refunds(rng, plans)
    _plant_consent(rng, factory, plans)
    _plant_birthdays_soon(rng, plans)
    return plans


def _cp949(text: str) -> bool:
    try:
        text.encode("cp949")
    except UnicodeEncodeError:
        return False
    return True


def _plant_refunds(rng: random.Random, plans: list[Plan]) -> None:
    """A few partial refunds in the order workbooks, a few days after the order and in the same book."""
    candidates = [
        purchase
        for plan in plans
        if plan.profile in ("vip", "loyal")
        for purchase in plan.purchases
        if purchase.at.date() >= date(2025, 1, 1)
        and purchase.at.month < 12
        and purchase.at.date() < date(2026, 11, 1)
    ]
    for purchase in rng.sample(candidates, 5):
        amount = purchase.lines[0][2]
        refund = -max(10_000, amount * rng.randint(1, 3) // 10 // 10_000 * 10_000)
        purchase.refund = (purchase.at + timedelta(days=rng.randint(2, 5)), refund)


def _plant_consent(rng: random.Random, factory: _FillerFactory, plans: list[Plan]) -> None:
    single_forms = [
        plan
        for plan in plans
        if plan.profile != "warm"
        and len(plan.records) == 1
        and plan.records[0].source in FORM_SOURCES
        and not plan.records[0].nested
    ]
    for plan in rng.sample(single_forms, CONSENT_RECONFIRM_PEOPLE):
        record = plan.records[0]
        record.at = factory.moment(record.source, *CONSENT_RECONFIRM_PERIOD)
        record.consent = True
    pairs = [
        plan
        for plan in plans
        if len(plan.records) == 2 and all(r.source in CONSENT_ANSWERS and not r.nested for r in plan.records)
    ]
    for plan in rng.sample(pairs, CONSENT_WITHDRAWN_PEOPLE):
        earlier, later = sorted(plan.records, key=lambda r: r.at)
        earlier.consent, later.consent = True, False


def _plant_birthdays_soon(rng: random.Random, plans: list[Plan]) -> None:
    """Birthdays on the six days after DEMO_AS_OF, for a birthday campaign that looks a week ahead."""
    with_birthday = [plan for plan in plans if any(r.birthday for r in plan.records)]
    for offset, plan in enumerate(rng.sample(with_birthday, BIRTHDAYS_SOON)):
        day = AS_OF.date() + timedelta(days=1 + offset % 6)
        plan.person.birthday = plan.person.birthday.replace(month=day.month, day=day.day)
        for record in plan.records:
            if record.birthday:
                record.birthday = plan.person.birthday


def _csv_line(values: list, quote_all: bool = False) -> str:
    buffer = io.StringIO()
    csv.writer(
        buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    ).writerow(values)
    return buffer.getvalue()


def _by_time(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: r.at)


def _write_customer_list(path: Path, records: list[Record]) -> None:
    header = [
        "번호",
        "고객명",
        "휴대폰",
        "이메일",
        "회사명",
        "마케팅 수신 동의",
        "등록일",
        "생년월일",
        "업종",
    ]
    lines = [_csv_line(header)]
    for number, record in enumerate(_by_time(records), start=1):
        if number == 21:
            lines.append("\r\n")
        if number == 42:
            lines.append("," * (len(header) - 1) + "\r\n")
        consent = {True: "Y", False: "N", None: ""}[record.consent]
        values = [
            number,
            record.name,
            record.phone,
            record.email,
            record.company,
            consent,
            record.at.strftime("%Y-%m-%d"),
            record.birthday_text,
            record.industry,
        ]
        if record.defect == "extra_cell":
            lines.append(",".join(str(v) for v in values) + "\r\n")
        else:
            lines.append(_csv_line(values))
        record.row = len(lines)
    path.write_bytes("".join(lines).encode("cp949"))


def _write_event_leads(path: Path, records: list[Record]) -> None:
    header = ["Name", "Email", "Mobile", "Company", "Marketing consent", "Date", "Industry"]
    lines = [_csv_line(header)]
    for record in _by_time(records):
        consent = {True: "Yes", False: "No", None: ""}[record.consent]
        date_text = record.at.strftime("%Y-%m-%d")
        values = [
            record.name,
            record.email,
            record.phone,
            record.company,
            consent,
            date_text,
            record.industry,
        ]
        lines.append(_csv_line(values))
        record.row = len(lines)
    lines += ["," * (len(header) - 1) + "\r\n"] * 2
    path.write_bytes("".join(lines).encode("utf-8-sig"))


def _korean_form_time(at: datetime) -> str:
    meridiem = "오전" if at.hour < 12 else "오후"
    hour = at.hour % 12 or 12
    return f"{at.year}. {at.month}. {at.day} {meridiem} {hour}:{at.minute:02d}:{at.second:02d}"


def _write_kr_form(path: Path, records: list[Record]) -> None:
    header = [
        "타임스탬프",
        "이메일 주소",
        "성함",
        "연락처",
        "회사명",
        "생일 (선택)",
        "개인정보 수집 및 이용 동의 (필수)",
        "마케팅 정보 수신에 동의하십니까? (선택)",
    ]
    lines = [_csv_line(header, quote_all=True)]
    for record in _by_time(records):
        consent = {True: "동의합니다", False: "동의하지 않습니다", None: ""}[record.consent]
        values = [
            _korean_form_time(record.at),
            record.email,
            record.name,
            record.phone,
            record.company,
            record.birthday_text,
            "동의합니다",
            consent,
        ]
        lines.append(_csv_line(values, quote_all=True))
        record.row = len(lines)
    path.write_text("".join(lines), encoding="utf-8", newline="")


def _write_en_form(path: Path, records: list[Record]) -> None:
    header = [
        "Timestamp",
        "Email Address",
        "Your name",
        "Phone number",
        "Company",
        "Date of birth",
        "I agree to receive marketing emails",
    ]
    lines = [_csv_line(header, quote_all=True)]
    for record in _by_time(records):
        at = record.at
        timestamp = f"{at.month}/{at.day}/{at.year} {at.hour}:{at.minute:02d}:{at.second:02d}"
        consent = {True: "Yes", False: "No", None: ""}[record.consent]
        lines.append(
            _csv_line(
                [
                    timestamp,
                    record.email,
                    record.name,
                    record.phone,
                    record.company,
                    record.birthday_text,
                    consent,
                ],
                quote_all=True,
            )
        )
        record.row = len(lines)
    path.write_text("".join(lines), encoding="utf-8", newline="")


def _submission(record: Record, submission_id: str) -> dict:
    return {
        "submission_id": submission_id,
        "submitted_at": record.at.isoformat(),
        "name": record.name,
        "email": record.email,
        "phone": record.phone,
        "company": record.company,
        "marketing_consent": record.consent,
    }


def _write_webhook(path: Path, records: list[Record], rng: random.Random) -> None:
    lines = []
    for record in _by_time(records):
        submission = _submission(record, f"sub_{rng.getrandbits(40):010x}")
        submission["birthday"] = record.birthday_text or None
        line = json.dumps(submission, ensure_ascii=False)
        if record.defect == "broken_json":
            line = line[: line.index(record.email) + len(record.email) // 2]
        lines.append(line + "\n")
        record.row = len(lines)
    path.write_text("".join(lines), encoding="utf-8", newline="")


def _write_landing(path: Path, records: list[Record], rng: random.Random) -> None:
    items = []
    for record in _by_time(records):
        if record.nested:
            created_at = record.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            data = {"이름": record.name, "이메일": record.email, "휴대폰": record.phone}
            items.append({"id": f"lp_{rng.getrandbits(48):012x}", "created_at": created_at, "data": data})
        else:
            items.append(_submission(record, f"lp_{rng.getrandbits(48):012x}"))
        record.row = len(items)
    path.write_text(json.dumps(items, ensure_ascii=False, indent=2) + "\n", encoding="utf-8", newline="")


class _PinnedTimeZipFile(ZipFile):
    """A zip whose entries all carry one timestamp, so the same workbook always has the same bytes."""

    saved_at = WORKBOOK_SAVED_AT

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = ZipInfo(zinfo_or_arcname, date_time=self.saved_at.timetuple()[:6])
            zinfo_or_arcname.compress_type = ZIP_DEFLATED
            zinfo_or_arcname.external_attr = 0o600 << 16
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        # openpyxl streams each worksheet through a temporary file, whose mtime would end up in the zip.
        self.writestr(arcname or Path(filename).name, Path(filename).read_bytes())


def _write_workbook(path: Path, accounts: list[Record], new_accounts: list[Record]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SOURCE_SHEETS[ACCOUNTS]
    sheet["A1"] = "2024 거래처 담당자 명단"
    sheet.merge_cells("A1:E1")
    for column, title in enumerate(["성명", "연락처", "메일", "업체명", "비고"], start=1):
        sheet.cell(row=3, column=column, value=title)
    for row, record in enumerate(accounts, start=4):
        for column, value in enumerate([record.name, record.phone, record.email, record.company], start=1):
            sheet.cell(row=row, column=column, value=value or None)
        note = sheet.cell(row=row, column=5, value=record.note or None)
        if record.note.startswith("="):
            # Text someone typed, not a formula; openpyxl would otherwise write it as one.
            note.data_type = "s"
        record.row = row
    for column, width in zip("ABCDE", [10, 18, 30, 22, 36], strict=True):
        sheet.column_dimensions[column].width = width

    sheet = workbook.create_sheet(SOURCE_SHEETS[NEW_ACCOUNTS])
    sheet.append(["이름", "휴대전화", "이메일", "회사", "업종", "등록일"])
    for record in _by_time(new_accounts):
        sheet.append(
            [
                record.name,
                record.phone or None,
                record.email or None,
                record.company or None,
                record.industry,
                record.at.date(),
            ]
        )
        record.row = sheet.max_row

    notes = workbook.create_sheet(NOTES_SHEET)
    notes["A1"] = "영업팀 거래처 명단 작성 안내"
    notes["A3"] = "- 거래처: 2024년 상반기까지 등록된 담당자"
    notes["A4"] = "- 신규 거래처: 하반기에 새로 등록된 담당자"
    notes["A5"] = "- 대표번호(02-555-1234)만 아는 경우 비고에 개인 휴대폰 번호를 따로 적어 주세요."
    notes["A7"] = "문의: 영업지원팀 (내선 210)"

    _save_workbook(workbook, path, "영업지원팀", WORKBOOK_SAVED_AT)


def _save_workbook(workbook: Workbook, path: Path, author: str, saved_at: datetime) -> None:
    workbook.properties.creator = author
    workbook.properties.lastModifiedBy = author
    workbook.properties.created = saved_at
    workbook.properties.modified = saved_at
    # Not workbook.save(): it stamps "modified" with the current time.
    with _PinnedTimeZipFile(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        archive.saved_at = saved_at
        ExcelWriter(workbook, archive).write_data()


@dataclass
class Order:
    """One row of an order sheet. ``expect`` is what becomes of it: purchase, unlinked or rejected."""

    person_id: str
    order_id: str
    day: date | datetime | str
    name: str
    phone: str
    email: str
    product: str
    quantity: int
    amount: int | str
    note: str = ""
    expect: str = "purchase"
    value: int = 0
    row: int = 0
    at: datetime | None = None  # when it was ordered, for a ``day`` written as text too
    file: str = ORDERS_FILE
    company: str = ""
    payment: str = ""

    def __post_init__(self) -> None:
        if self.at is None and isinstance(self.day, date):
            self.at = self.day if isinstance(self.day, datetime) else _kst(*self.day.timetuple()[:3])

    def ref(self) -> dict:
        ref = {"file": self.file, "row": self.row}
        if self.file in ORDER_SHEETS:
            ref["sheet"] = ORDER_SHEETS[self.file]
        return ref | {"person_id": self.person_id, "name": self.name, "order_id": self.order_id}


def _orders() -> list[Order]:
    # fmt: off
    return [
        Order("minsu_kim_masitneun", "20241105-01", date(2024, 11, 5), "김민수", "010-4821-7730", "",
              "도시락 세트 (30인)", 1, 450000, value=450000),
        Order("seoyeon_lee_bluefork", "20241107-02", date(2024, 11, 7), "이서연", "", "seoyeon.lee@naver.com",
              "디저트 플래터", 2, 180000, value=180000),
        Order("seoyeon_lee_bluefork", "20241107-02", date(2024, 11, 7), "이서연", "", "seoyeon.lee@naver.com",
              "커피 케이터링", 1, "120,000원", value=120000),
        Order("chaewon_lim_saebyeok", "20241108-01", date(2024, 11, 8), "임채원", "", "",
              "과일 도시락", 10, 95000, note="전화 주문", value=95000),
        Order("seoyeon_lee_bluefork", "20241107-02", date(2024, 11, 9), "이서연", "", "seoyeon.lee@naver.com",
              "디저트 플래터", -1, -90000, note="부분 환불", value=-90000),
        Order("nobody_minsu_kim", "20241110-03", date(2024, 11, 10), "김민수", "", "",
              "샌드위치 세트", 20, 160000, note="현장 결제", expect="unlinked"),
        Order("minsu_kim_masitneun", "20241112-01", "2024. 11. 12.", "김민수", "010-4821-7730", "",
              "음료 추가", 30, "90,000원", value=90000, at=_kst(2024, 11, 12)),
        Order("eunseo_pyo_orders", "20241113-02", date(2024, 11, 13), "표은서", "010-2468-1357",
              "eunseo.pyo@gmail.com", "브런치 케이터링", 1, 320000, value=320000),
        Order("yerin_song_sodam", "20241115-01", date(2024, 11, 15), "송예린", "01044556677",
              "yerin.song@daum.net", "웨딩 케이터링 (80인)", 1, "240만원", value=2400000),
        Order("eunseo_pyo_orders", "20241120-04", date(2024, 11, 20), "표은서", "010-2468-1357",
              "eunseo.pyo@gmail.com", "쿠키 답례품", 50, "₩175,000", value=175000),
        Order("unknown_buyer", "20241122-01", "11월 말", "최지아", "010-7788-9900", "",
              "케이크", 1, 60000, note="날짜 미정", expect="rejected", at=_kst(2024, 11, 22)),
    ]
    # fmt: on


def _order_file(at: datetime) -> str:
    if at.date() < date(2024, 11, 1):
        return POS_ORDERS_FILE
    return {2024: ORDERS_FILE, 2025: ORDERS_2025_FILE, 2026: ORDERS_2026_FILE}[at.year]


def _filler_orders(rng: random.Random, plans: list[Plan], planted: list[Order]) -> list[Order]:
    """The order rows of the filler buyers, identified by a phone or an email their contact rows carry."""
    rows: list[tuple[datetime, Plan, Purchase, bool]] = []
    for plan in plans:
        for purchase in plan.purchases:
            rows.append((purchase.at, plan, purchase, False))
            if purchase.refund:
                rows.append((purchase.refund[0], plan, purchase, True))
    order_ids: dict[int, str] = {}
    used_ids = {order.order_id for order in planted}
    pos_number = 0
    orders = []
    for at, plan, purchase, is_refund in sorted(rows, key=lambda row: (row[0], row[1].person.person_id)):
        person = plan.person
        if id(purchase) not in order_ids:
            if _order_file(at) == POS_ORDERS_FILE:
                pos_number += 1
                order_id = f"P{at:%y%m%d}-{pos_number:04d}"
            else:
                order_id = next(
                    f"{at:%Y%m%d}-{n:02d}" for n in range(1, 100) if f"{at:%Y%m%d}-{n:02d}" not in used_ids
                )
            used_ids.add(order_id)
            order_ids[id(purchase)] = order_id
        phones = {r.phone for r in plan.records if r.phone}
        emails = [r.email.strip().lower() for r in plan.records if r.email]
        if not plan.records:  # known only from the order book
            phones, emails = {person.mobile}, [person.email] if rng.random() < 0.3 else []
        phone = _format_phone(person.mobile, _pick(rng, [("dash", 7), ("plain", 3)])) if phones else ""
        email = emails[0] if emails and (not phone or rng.random() < 0.3) else ""
        company = ""
        if plan.profile in ("vip", "large"):
            company = person.company.name if person.is_korean else person.company.name_en
        payment = _pick(rng, [("카드", 7), ("계좌이체", 2), ("현금", 1)])
        lines = [(purchase.lines[0][0], -1, purchase.refund[1])] if is_refund else purchase.lines
        for product, quantity, amount in lines:
            written: int | str = amount
            if _order_file(at) != POS_ORDERS_FILE and rng.random() < 0.05:
                written = f"{amount:,}원"
            orders.append(
                Order(person.person_id, order_ids[id(purchase)], at if at.hour else at.date(), person.name,
                      phone, email, product, quantity, written, note="부분 환불" if is_refund else "",
                      value=amount, at=at, file=_order_file(at), company=company, payment=payment)
            )  # fmt: skip
    return orders


def _write_pos_orders(path: Path, orders: list[Order]) -> None:
    """The POS system's export: CP949, one line per order line, the time of the sale, plain amounts."""
    header = ["주문번호", "주문일시", "주문자", "휴대폰", "이메일", "상품명", "수량", "결제금액", "결제수단"]
    lines = [_csv_line(header)]
    for order in orders:
        values = [order.order_id, f"{order.at:%Y-%m-%d %H:%M}", order.name, order.phone, order.email,
                  order.product, order.quantity, order.amount, order.payment]  # fmt: skip
        lines.append(_csv_line(values))
        order.row = len(lines)
    path.write_bytes("".join(lines).encode("cp949"))


def _order_cell(sheet, row: int, column: int, value: object, amount_column: int) -> None:
    cell = sheet.cell(row=row, column=column, value=value if value != "" else None)
    if isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    elif column == amount_column and isinstance(value, int):
        cell.number_format = "#,##0"


def _write_orders(path: Path, orders: list[Order]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = ORDERS_SHEET
    sheet["A1"] = "2024년 11~12월 케이터링 주문내역"
    sheet.merge_cells("A1:I1")
    header = ["주문번호", "주문일자", "고객명", "연락처", "이메일", "상품명", "수량", "결제금액", "비고"]
    for column, title in enumerate(header, start=1):
        sheet.cell(row=3, column=column, value=title)
    for row, order in enumerate(orders, start=4):
        values = [order.order_id, order.day, order.name, order.phone, order.email, order.product,
                  order.quantity, order.amount, order.note]  # fmt: skip
        for column, value in enumerate(values, start=1):
            _order_cell(sheet, row, column, value, amount_column=8)
        order.row = row
    for column, width in zip("ABCDEFGHI", [14, 12, 8, 15, 26, 22, 6, 12, 14], strict=True):
        sheet.column_dimensions[column].width = width
    notes = workbook.create_sheet("안내")
    notes["A1"] = "주문내역 작성 안내"
    notes["A3"] = "- 환불은 같은 주문번호로 음수 금액을 적어 주세요."
    notes["A4"] = "- 문의: 010-2345-0000 (주문 담당)"
    _save_workbook(workbook, path, "주문관리팀", datetime(2024, 12, 31, 18, 0, 0))


def _write_year_orders(path: Path, orders: list[Order], year: int, saved_at: datetime) -> None:
    """A year's order workbook: the order team's own columns, the buyer's company for business orders."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = ORDER_SHEETS[_order_file(_kst(year, 6, 1))]
    sheet["A1"] = f"{year}년 케이터링 주문내역"
    sheet.merge_cells("A1:J1")
    header = ["주문번호", "주문일", "주문자", "연락처", "이메일", "업체명", "상품명", "수량", "금액", "비고"]
    for column, title in enumerate(header, start=1):
        sheet.cell(row=3, column=column, value=title)
    for row, order in enumerate(orders, start=4):
        values = [order.order_id, order.day, order.name, order.phone, order.email, order.company,
                  order.product, order.quantity, order.amount, order.note]  # fmt: skip
        for column, value in enumerate(values, start=1):
            _order_cell(sheet, row, column, value, amount_column=9)
        order.row = row
    for column, width in zip("ABCDEFGHIJ", [14, 12, 8, 15, 28, 22, 26, 6, 14, 12], strict=True):
        sheet.column_dimensions[column].width = width
    _save_workbook(workbook, path, "주문관리팀", saved_at)


def _purchases_of(orders: list[Order]) -> dict[str, list[tuple[datetime, int]]]:
    """Each buyer's purchases as int_orders__purchases counts them: the lines of one order id, netted, dated
    by the first line that is not a refund; an order that nets to nothing is no purchase."""
    lines: dict[tuple[str, str], list[Order]] = {}
    for order in orders:
        if order.expect == "purchase":
            lines.setdefault((order.person_id, order.order_id), []).append(order)
    purchases: dict[str, list[tuple[datetime, int]]] = {}
    for (person_id, _), rows in sorted(lines.items()):
        value = sum(row.value for row in rows)
        if value > 0:
            at = min(row.at for row in rows if row.value >= 0)
            purchases.setdefault(person_id, []).append((at, value))
    return {person_id: sorted(p) for person_id, p in purchases.items()}


def _orders_manifest(orders: list[Order], known_people: set[str]) -> dict:
    files: dict[str, int] = dict.fromkeys(ORDER_FILES, 0)
    for order in orders:
        files[order.file] += 1
    return {
        "files": files,
        "rows": [o.ref() | {"expect": o.expect} for o in orders],
        "expected_purchases": {
            pid: {
                "purchase_count": len(p),
                "total_value": sum(value for _, value in p),
                "currency": "KRW",
                "last_purchase_at": max(at for at, _ in p).isoformat(),
            }
            for pid, p in sorted(_purchases_of(orders).items())
        },
        "unlinked": [o.ref() for o in orders if o.expect == "unlinked"],
        "rejected": [o.ref() for o in orders if o.expect == "rejected"],
        "order_only_people": sorted({o.person_id for o in orders if o.expect == "purchase"} - known_people),
    }


def _expected_consent(records: list[Record]) -> bool | None:
    answers = [r for r in records if r.accepted and r.consent is not None and r.at is not None]
    return max(answers, key=lambda r: r.at).consent if answers else None


def _expected_consent_at(records: list[Record]) -> str | None:
    answers = [r for r in records if r.accepted and r.consent is not None and r.at is not None]
    return max(r.at for r in answers).isoformat() if answers else None


def _days(start: datetime, end: datetime) -> int:
    """Whole days from start to end in elapsed time, as the dbt macro days_between counts them."""
    return math.floor((end - start).total_seconds() / 86400)


def _expected_segments(records: list[Record], orders: list[Order], skip: set[str]) -> dict[str, str]:
    """The segment of every person as of DEMO_AS_OF under segments.yml and the vars of dbt_project.yml
    (docs/segments.md), one person being one customer; the people in ``skip`` (may merge) are left out.

    A row without a date of its own (the workbook's 거래처 sheet) counts as seen when it lands, which is after
    DEMO_AS_OF: its person is active. An order row naming an email or a phone is a contact record dated by
    the buyer's latest order row."""
    seen: dict[str, list[datetime]] = {}
    has_form: dict[str, bool] = {}
    for record in records:
        if record.accepted:
            seen.setdefault(record.person_id, []).append(record.at or AS_OF)
            has_form[record.person_id] = (
                has_form.get(record.person_id, False) or record.source in FORM_SOURCES
            )
    for order in orders:
        if order.expect != "rejected" and (order.phone or order.email):
            seen.setdefault(order.person_id, []).append(order.at)
    purchases = {
        person_id: [(at, value) for at, value in p if at <= AS_OF]
        for person_id, p in _purchases_of(orders).items()
    }
    purchases = {person_id: p for person_id, p in purchases.items() if p}
    totals = sorted((sum(value for _, value in p) for p in purchases.values()), reverse=True)

    def is_vip(total: int) -> bool:  # percent_rank over total_value descending below vip_top_share
        rank = sum(1 for other in totals if other > total)
        return total > 0 and rank / (len(totals) - 1) < 0.1

    segments = {}
    for person_id in sorted(set(seen) - skip):
        bought = purchases.get(person_id, [])
        last_purchase = max((at for at, _ in bought), default=None)
        activity = max(seen[person_id] + ([last_purchase] if last_purchase else []))
        days_inactive = max(0, _days(activity, AS_OF))
        total = sum(value for _, value in bought)
        purchase_days = sorted({math.floor(at.timestamp() / 86400) for at, _ in bought})
        gaps = [b - a for a, b in itertools.pairwise(purchase_days)]
        at_risk = len(bought) >= 3 and _days(last_purchase, AS_OF) > statistics.median(gaps) * 1.5
        large = any(value >= 50_000_000 for _, value in bought)
        if not bought:
            stage = "prospect"
        elif days_inactive > 365:
            stage = "churned"
        elif at_risk:
            stage = "at_risk"
        elif is_vip(total):
            stage = "vip"
        else:
            stage = {1: "new", 2: "repeat"}.get(len(bought), "regular")
        if bought and is_vip(total) and stage != "churned":
            segment = "vip_accounts"
        elif large and stage != "churned":
            segment = "large_accounts"
        elif stage == "prospect":
            warm = has_form.get(person_id, False) and days_inactive <= 90
            segment = "warm_prospects" if warm else "cold_prospects"
        else:
            segment = {
                "at_risk": "at_risk_regulars",
                "regular": "loyal_regulars",
                "repeat": "repeat_buyers",
                "new": "first_time_buyers",
                "churned": "churned",
            }[stage]
        segments[person_id] = segment
    return segments


def _manifest(seed: int, records: list[Record], cases: list[Case]) -> dict:
    people: dict[str, list[Record]] = {}
    for record in records:
        people.setdefault(record.person_id, []).append(record)
    may_merge = {r.person_id for c in cases if c.expect == "may_merge" for r in c.records}
    accepted_people = {pid: [r for r in recs if r.accepted] for pid, recs in people.items()}
    accepted_people = {pid: recs for pid, recs in accepted_people.items() if recs}
    files: dict[str, int] = {}
    for record in records:
        files[SOURCE_FILES[record.source]] = files.get(SOURCE_FILES[record.source], 0) + 1
    return {
        "seed": seed,
        "as_of": DEMO_AS_OF,
        "files": files,
        "record_count": len(records),
        "expected_customers": {
            "min": len(accepted_people),
            "max": len(accepted_people) + sum(len(accepted_people[p]) - 1 for p in may_merge),
        },
        "cases": [
            {
                "case": c.case,
                "expect": c.expect,
                "description": c.description,
                "records": [r.ref() for r in c.records],
            }
            for c in cases
        ],
        "expected_merged": [
            [r.ref() for r in recs]
            for pid, recs in accepted_people.items()
            if len(recs) > 1 and pid not in may_merge
        ],
        "expected_separate": [[r.ref() for r in c.records] for c in cases if c.expect == "separate"],
        "may_merge": [[r.ref() for r in c.records] for c in cases if c.expect == "may_merge"],
        "rejected": [r.ref() for r in records if not r.accepted],
        "expected_consent": {pid: _expected_consent(recs) for pid, recs in accepted_people.items()},
        "expected_consent_at": {
            pid: at for pid, recs in accepted_people.items() if (at := _expected_consent_at(recs))
        },
        "birthdays": {
            pid: min(r.birthday for r in recs if r.birthday).isoformat()
            for pid, recs in sorted(accepted_people.items())
            if any(r.birthday for r in recs)
        },
        "records": [
            r.ref() | {"accepted": r.accepted, "at": r.at.isoformat() if r.at else None, "consent": r.consent}
            for r in records
        ],
    }


def generate_inbox(out: Path, seed: int = 7) -> dict:
    """Write the sample inbox under ``out`` and return the manifest of what was planted in it."""
    rng = random.Random(seed)
    planted, cases = _planted()
    plans = _filler(rng, planted)
    records = planted + [record for plan in plans for record in plan.records]
    by_source: dict[str, list[Record]] = {source: [] for source in SOURCE_FILES}
    for record in records:
        by_source[record.source].append(record)
    rng.shuffle(by_source[ACCOUNTS])

    out = Path(out)
    (out / "spreadsheets").mkdir(parents=True, exist_ok=True)
    (out / "forms").mkdir(parents=True, exist_ok=True)
    _write_customer_list(out / SOURCE_FILES[CUSTOMER_LIST], by_source[CUSTOMER_LIST])
    _write_event_leads(out / SOURCE_FILES[EVENT_LEADS], by_source[EVENT_LEADS])
    _write_workbook(out / WORKBOOK_FILE, by_source[ACCOUNTS], by_source[NEW_ACCOUNTS])
    _write_kr_form(out / SOURCE_FILES[KR_FORM], by_source[KR_FORM])
    _write_en_form(out / SOURCE_FILES[EN_FORM], by_source[EN_FORM])
    _write_webhook(out / SOURCE_FILES[WEBHOOK], by_source[WEBHOOK], rng)
    _write_landing(out / SOURCE_FILES[LANDING], by_source[LANDING], rng)

    planted_orders = _orders()
    orders = planted_orders + _filler_orders(rng, plans, planted_orders)
    # Each book lists its rows by date; rows of one day keep their order (the planted ones first).
    by_file = {
        file: sorted((o for o in orders if o.file == file), key=lambda o: o.at) for file in ORDER_FILES
    }
    _write_pos_orders(out / POS_ORDERS_FILE, by_file[POS_ORDERS_FILE])
    _write_orders(out / ORDERS_FILE, by_file[ORDERS_FILE])
    _write_year_orders(
        out / ORDERS_2025_FILE, by_file[ORDERS_2025_FILE], 2025, datetime(2025, 12, 31, 18, 0, 0)
    )
    _write_year_orders(
        out / ORDERS_2026_FILE, by_file[ORDERS_2026_FILE], 2026, datetime(2026, 11, 15, 18, 0, 0)
    )
    orders = [order for file in ORDER_FILES for order in by_file[file]]

    records.sort(key=lambda r: (SOURCE_FILES[r.source], SOURCE_SHEETS.get(r.source, ""), r.row))
    manifest = _manifest(seed, records, cases)
    manifest["orders"] = _orders_manifest(orders, {r.person_id for r in records if r.accepted})
    for file in ORDER_FILES:
        manifest["files"][file] = 0  # no contact list in them: their buyers are in manifest["orders"]
    manifest["files"] = dict(sorted(manifest["files"].items()))
    new_people = len(manifest["orders"]["order_only_people"])
    manifest["expected_customers"] = {k: v + new_people for k, v in manifest["expected_customers"].items()}
    may_merge = {r["person_id"] for group in manifest["may_merge"] for r in group}
    manifest["expected_segments"] = _expected_segments(records, orders, may_merge)
    manifest["profiles"] = {plan.person.person_id: plan.profile for plan in plans}
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="inbox folder to write (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--manifest", type=Path, help="where to write the manifest (default: next to the inbox)"
    )
    args = parser.parse_args(argv)
    manifest = generate_inbox(args.out, args.seed)
    manifest_path = args.manifest or args.out.parent / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {manifest['record_count']} records to {args.out} and the manifest to {manifest_path}")


if __name__ == "__main__":
    main()
