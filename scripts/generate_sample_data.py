"""Generate the sample inbox shipped in ``sample_data/inbox``: what a demo user sees with ``make run``.

    python scripts/generate_sample_data.py [--out sample_data/inbox] [--seed 7] [--manifest PATH]

About 220 contact records across seven files, written the way people and tools really produce them:
a CP949 export from Korean Excel, a UTF-8 CSV with a BOM, a workbook with a title row above its header,
Google Forms exports in the Korean and English locales, webhook JSONL and a JSON dump. The output is
byte-identical for a given seed (the workbook's document properties and zip timestamps are pinned).

Most rows are filler drawn from ``random.Random(seed)``: Korean and English names, Korean companies,
phones and emails in the formats each source tends to use, and about a fifth of the people repeated in
a second source under a different format (always sharing a phone or an email with their first record).
The cases below are planted by hand so that the expected outcome of each is known. ``generate_inbox``
returns a manifest with that ground truth (the person behind every record, the groups that must merge,
the groups that must stay apart, the records to reject, the expected consent of every person); the CLI
writes it next to the inbox as ``manifest.json``, outside the folders that are ingested.

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

Orders (``spreadsheets/주문내역.xlsx``, sheet 주문, under a title row; ground truth in ``manifest["orders"]``)
- ``buyer_by_phone`` [minsu_kim_masitneun]: two orders with only his mobile -> his customer, 2 purchases.
- ``order_lines_and_refund`` [seoyeon_lee_bluefork]: one order of two lines by email, and a refund line of
  it a few days later -> 1 purchase, its lines net of the refund.
- ``amount_in_man_won`` [yerin_song_sodam]: 결제금액 written ``240만원``, phone written without dashes.
- ``buyer_only_in_orders`` [eunseo_pyo_orders]: two orders of someone no contact list knows -> a new customer.
- ``name_only_unique`` [chaewon_lim_saebyeok]: only 고객명 임채원, a name one customer carries -> linked.
- ``name_only_ambiguous``: only 고객명 김민수, a name two customers carry -> linked to no one, quarantined.
- ``unreadable_order_date`` (rejected): 주문일자 ``11월 말``.

Row locators in the manifest: ``row`` is the 1-based line number for CSV and JSONL files, the worksheet
row for the workbook (with ``sheet``) and the 1-based position in the array for the JSON file.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

KST = timezone(timedelta(hours=9))
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
ORDERS_FILE = "spreadsheets/주문내역.xlsx"
ORDERS_SHEET = "주문"
NOTES_SHEET = "설명"

# Rows per source, planted cases included; about 220 records in all.
TARGET_ROWS = {
    CUSTOMER_LIST: 60,
    EVENT_LEADS: 40,
    ACCOUNTS: 22,
    NEW_ACCOUNTS: 12,
    KR_FORM: 25,
    EN_FORM: 24,
    WEBHOOK: 20,
    LANDING: 16,
}
ENGLISH_FRIENDLY = (EVENT_LEADS, EN_FORM, WEBHOOK, LANDING)
ROMANISED_SOURCES = (EVENT_LEADS, EN_FORM)

# When each source was filled in; the order matters for "latest consent answer wins".
SOURCE_PERIODS = {
    CUSTOMER_LIST: (date(2024, 1, 2), date(2024, 2, 29)),
    KR_FORM: (date(2024, 3, 4), date(2024, 6, 28)),
    EN_FORM: (date(2024, 3, 4), date(2024, 7, 31)),
    WEBHOOK: (date(2024, 5, 1), date(2024, 5, 31)),
    LANDING: (date(2024, 6, 1), date(2024, 8, 30)),
    NEW_ACCOUNTS: (date(2024, 9, 2), date(2024, 9, 30)),
    EVENT_LEADS: (date(2024, 10, 15), date(2024, 10, 18)),
}
DATE_ONLY_SOURCES = (CUSTOMER_LIST, NEW_ACCOUNTS, EVENT_LEADS)

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

    def ref(self) -> dict:
        ref = {"file": SOURCE_FILES[self.source], "row": self.row}
        if self.source in SOURCE_SHEETS:
            ref["sheet"] = SOURCE_SHEETS[self.source]
        ref.update(person_id=self.person_id, name=self.name, email=self.email, phone=str(self.phone))
        return ref


@dataclass
class Case:
    case: str
    expect: str
    description: str
    records: list[Record] = field(default_factory=list)


def _kst(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=KST)


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
    CUSTOMER_LIST: [(True, 55), (False, 20), (None, 25)],
    EVENT_LEADS: [(True, 50), (False, 25), (None, 25)],
    KR_FORM: [(True, 50), (False, 30), (None, 20)],
    EN_FORM: [(True, 55), (False, 30), (None, 15)],
    WEBHOOK: [(True, 60), (False, 30), (None, 10)],
    LANDING: [(True, 65), (False, 35)],
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
            if mobile not in self.used_phones:
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
        personal = self._email(personal_locals, personal_domain)
        work = self._email(work_locals, company.domain)
        email, alt_email = (personal, work) if rng.random() < 0.65 else (work, personal)
        return Person(person_id, name, roman, mobile, email, alt_email, company, not english)

    def _foreign_phone(self) -> str:
        while True:
            if self.rng.random() < 0.5:
                phone = f"+1 415-555-01{self.rng.randint(0, 99):02d}"
            else:
                phone = f"+44 20 7946 0{self.rng.randint(0, 999):03d}"
            if _phone_key(phone) not in self.used_phones:
                self.used_phones.add(_phone_key(phone))
                return phone

    def record(self, person: Person, source: str, keys: str) -> Record:
        """``keys`` says which contact keys the row carries: "both", "phone" or "email"."""
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
        return Record(
            source=source,
            person_id=person.person_id,
            name=name,
            email=email,
            phone=phone,
            company=company,
            industry=industry,
            consent=consent,
            at=self.moment(source),
            note=note,
            nested=nested,
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

    def moment(self, source: str) -> datetime | None:
        if source not in SOURCE_PERIODS:
            return None
        start, end = SOURCE_PERIODS[source]
        day = start + timedelta(days=self.rng.randint(0, (end - start).days))
        at = datetime(day.year, day.month, day.day, tzinfo=KST)
        if source in DATE_ONLY_SOURCES:
            return at
        return at + timedelta(seconds=self.rng.randint(8 * 3600, 22 * 3600))


def _filler(rng: random.Random, planted: list[Record]) -> list[Record]:
    factory = _FillerFactory(rng, planted)
    remaining = dict(TARGET_ROWS)
    for record in planted:
        remaining[record.source] -= 1
    records: list[Record] = []
    while any(remaining.values()):
        open_sources = [s for s in TARGET_ROWS if remaining[s] > 0]
        primary = rng.choices(open_sources, weights=[remaining[s] for s in open_sources])[0]
        english = primary in ENGLISH_FRIENDLY and rng.random() < 0.4
        sources = [primary]
        others = [s for s in open_sources if s != primary and (not english or s in ENGLISH_FRIENDLY)]
        if others and rng.random() < 0.22:
            sources.append(rng.choice(others))
        person = factory.person(english)
        if len(sources) == 1:
            first_keys = rng.choices(["both", "phone", "email"], weights=[85, 5, 10])[0]
            records.append(factory.record(person, primary, first_keys))
        else:
            first = factory.record(person, sources[0], "both")
            second = factory.record(person, sources[1], rng.choices(["both", "phone", "email"], [6, 2, 2])[0])
            # Two consent answers on nearly the same day would make "latest answer wins" a coin toss.
            while first.at and second.at and abs(first.at - second.at) < timedelta(days=2):
                second.at = factory.moment(second.source)
            records += [first, second]
        for source in sources:
            remaining[source] -= 1
    return records


def _csv_line(values: list, quote_all: bool = False) -> str:
    buffer = io.StringIO()
    csv.writer(
        buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    ).writerow(values)
    return buffer.getvalue()


def _by_time(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: r.at)


def _write_customer_list(path: Path, records: list[Record]) -> None:
    header = ["번호", "고객명", "휴대폰", "이메일", "회사명", "마케팅 수신 동의", "등록일", "업종"]
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
        "I agree to receive marketing emails",
    ]
    lines = [_csv_line(header, quote_all=True)]
    for record in _by_time(records):
        at = record.at
        timestamp = f"{at.month}/{at.day}/{at.year} {at.hour}:{at.minute:02d}:{at.second:02d}"
        consent = {True: "Yes", False: "No", None: ""}[record.consent]
        lines.append(
            _csv_line(
                [timestamp, record.email, record.name, record.phone, record.company, consent], quote_all=True
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
        line = json.dumps(_submission(record, f"sub_{rng.getrandbits(40):010x}"), ensure_ascii=False)
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

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if isinstance(zinfo_or_arcname, str):
            zinfo_or_arcname = ZipInfo(zinfo_or_arcname, date_time=WORKBOOK_SAVED_AT.timetuple()[:6])
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

    workbook.properties.creator = "영업지원팀"
    workbook.properties.lastModifiedBy = "영업지원팀"
    workbook.properties.created = WORKBOOK_SAVED_AT
    workbook.properties.modified = WORKBOOK_SAVED_AT
    # Not workbook.save(): it stamps "modified" with the current time.
    with _PinnedTimeZipFile(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).write_data()


@dataclass
class Order:
    """One row of the order sheet. ``expect`` is what becomes of it: purchase, unlinked or rejected."""

    person_id: str
    order_id: str
    day: date | str
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
              "음료 추가", 30, "90,000원", value=90000),
        Order("eunseo_pyo_orders", "20241113-02", date(2024, 11, 13), "표은서", "010-2468-1357",
              "eunseo.pyo@gmail.com", "브런치 케이터링", 1, 320000, value=320000),
        Order("yerin_song_sodam", "20241115-01", date(2024, 11, 15), "송예린", "01044556677",
              "yerin.song@daum.net", "웨딩 케이터링 (80인)", 1, "240만원", value=2400000),
        Order("eunseo_pyo_orders", "20241120-04", date(2024, 11, 20), "표은서", "010-2468-1357",
              "eunseo.pyo@gmail.com", "쿠키 답례품", 50, "₩175,000", value=175000),
        Order("unknown_buyer", "20241122-01", "11월 말", "최지아", "010-7788-9900", "",
              "케이크", 1, 60000, note="날짜 미정", expect="rejected"),
    ]
    # fmt: on


def _write_orders(path: Path, orders: list[Order]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = ORDERS_SHEET
    sheet["A1"] = "2024년 11월 케이터링 주문내역"
    sheet.merge_cells("A1:I1")
    header = ["주문번호", "주문일자", "고객명", "연락처", "이메일", "상품명", "수량", "결제금액", "비고"]
    for column, title in enumerate(header, start=1):
        sheet.cell(row=3, column=column, value=title)
    for row, order in enumerate(orders, start=4):
        values = [order.order_id, order.day, order.name, order.phone, order.email, order.product,
                  order.quantity, order.amount, order.note]  # fmt: skip
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=value if value != "" else None)
            if isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            elif column == 8 and isinstance(value, int):
                cell.number_format = "#,##0"
        order.row = row
    for column, width in zip("ABCDEFGHI", [14, 12, 8, 15, 26, 22, 6, 12, 14], strict=True):
        sheet.column_dimensions[column].width = width
    notes = workbook.create_sheet("안내")
    notes["A1"] = "주문내역 작성 안내"
    notes["A3"] = "- 환불은 같은 주문번호로 음수 금액을 적어 주세요."
    notes["A4"] = "- 문의: 010-2345-0000 (주문 담당)"
    workbook.properties.creator = "주문관리팀"
    workbook.properties.lastModifiedBy = "주문관리팀"
    workbook.properties.created = WORKBOOK_SAVED_AT
    workbook.properties.modified = WORKBOOK_SAVED_AT
    with _PinnedTimeZipFile(path, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).write_data()


def _orders_manifest(orders: list[Order], known_people: set[str]) -> dict:
    def ref(order: Order) -> dict:
        return {"file": ORDERS_FILE, "sheet": ORDERS_SHEET, "row": order.row, "person_id": order.person_id,
                "name": order.name, "order_id": order.order_id}  # fmt: skip

    purchases: dict[str, dict] = {}
    for order in orders:
        if order.expect != "purchase":
            continue
        person = purchases.setdefault(order.person_id, {"orders": set(), "total_value": 0, "currency": "KRW"})
        person["orders"].add(order.order_id)
        person["total_value"] += order.value
    return {
        "file": ORDERS_FILE,
        "sheet": ORDERS_SHEET,
        "rows": [ref(o) | {"expect": o.expect} for o in orders],
        "expected_purchases": {
            pid: {
                "purchase_count": len(p["orders"]),
                "total_value": p["total_value"],
                "currency": p["currency"],
            }
            for pid, p in sorted(purchases.items())
        },
        "unlinked": [ref(o) for o in orders if o.expect == "unlinked"],
        "rejected": [ref(o) for o in orders if o.expect == "rejected"],
        "order_only_people": sorted({o.person_id for o in orders if o.expect == "purchase"} - known_people),
    }


def _expected_consent(records: list[Record]) -> bool | None:
    answers = [r for r in records if r.accepted and r.consent is not None and r.at is not None]
    return max(answers, key=lambda r: r.at).consent if answers else None


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
        "records": [r.ref() | {"accepted": r.accepted} for r in records],
    }


def generate_inbox(out: Path, seed: int = 7) -> dict:
    """Write the sample inbox under ``out`` and return the manifest of what was planted in it."""
    rng = random.Random(seed)
    planted, cases = _planted()
    records = planted + _filler(rng, planted)
    by_source: dict[str, list[Record]] = {source: [] for source in TARGET_ROWS}
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
    orders = _orders()
    _write_orders(out / ORDERS_FILE, orders)

    records.sort(key=lambda r: (SOURCE_FILES[r.source], SOURCE_SHEETS.get(r.source, ""), r.row))
    manifest = _manifest(seed, records, cases)
    manifest["orders"] = _orders_manifest(orders, {r.person_id for r in records if r.accepted})
    manifest["files"][ORDERS_FILE] = 0  # no contact list in it: its buyers are in manifest["orders"]
    manifest["files"] = dict(sorted(manifest["files"].items()))
    new_people = len(manifest["orders"]["order_only_people"])
    manifest["expected_customers"] = {k: v + new_people for k, v in manifest["expected_customers"].items()}
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
