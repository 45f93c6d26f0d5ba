"""Seeded multi-source contacts with the true person behind every record: the identity yardstick.

    python scripts/identity_truth.py --records 100000 [--out DIR] [--seed 7]

Writes ``records.parquet`` (what the sources hold: source, source_record_id, full_name, email, phone,
company, record_at, exactly as typed) and ``truth.parquet`` (source, source_record_id, person_id and how
each value was produced) to ``out``. The truth never reaches a matcher; it only scores one.

The world it draws, so that a matcher is measured against the mess real contact lists hold rather than
against the rules it happens to have:

- People: about four in five Korean, the rest with English names. Korean surnames follow their real
  frequencies (김 21%, 이 15%, 박 8%, ...) and given names are built from common name syllables with a
  skewed popularity, so namesakes are frequent (many distinct 김민준s at a million records). Some Korean
  people use an English given name in sales tools ("David Kim").
- Sources: spreadsheets, forms, typeform, pipedrive and hubspot, as the pipeline knows them. About 28% of
  people appear in two or three records, mostly in different sources.
- Names: Hangul in spreadsheets and forms (sometimes spaced, "김 민수"), romanised in the CRMs with the
  surname spellings people actually use (Lee, Park, Choi, Jung/Jeong/Chung, Yoon/Yun, ...) and given-name
  variants (Minsu, Min-su, Min Su, Minsoo) in either order, sometimes in capitals; English names with
  nicknames (Robert/Bob) and typos (transposition, deletion, substitution, doubling).
- Emails: personal (free mail) and work addresses, case and format variants (spaces, ``+tags``, Gmail
  dots, ``Name <addr>``), typos in the local part or the domain, and people who changed address.
- Phones: mobiles in every common format (010-1234-5678, 01012345678, +82 10 ..., a number Excel stripped
  of its leading zero), one-digit typos, changed numbers, foreign numbers, direct office lines.
- Traps: office switchboards shared by everyone at a company who gives the office number, role mailboxes
  (info@, sales@, ...) of a company, placeholders (000-0000-0000, test@test.com and friends, not all of
  them on any list), a family's shared mobile, namesakes, and companies written several ways
  ((주)한빛소프트 / 한빛소프트 / Hanbit Soft Co., Ltd.), several companies sharing a name.

Everything is drawn from one ``random.Random(seed)``: a seed gives the same records byte for byte.

``--noisy`` adds the noise of names typed by hand (issue #19), from a second stream of the same seed:
HubSpot first and last name swapped (민수김), a shifted space (Barbar aFord), a stray letter (kRobert
Nguyen), two Hangul syllables transposed (수박빈), the given name alone (지훈, Jihoon); namesakes at one
company (two people, often in two scripts); and siblings on a family's mobile (김민수 / 김민지: two people).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "bench" / "out" / "identity-truth"
SOURCES = ("spreadsheets", "forms", "typeform", "pipedrive", "hubspot")
SOURCE_WEIGHTS = (0.34, 0.24, 0.10, 0.16, 0.16)
# Records per person: ~28% of people appear more than once.
RECORDS_PER_PERSON = ((1, 0.72), (2, 0.19), (3, 0.09))
KOREAN_SHARE = 0.8

# (Hangul, spellings in use, share of people, %). The first spelling is the conventional one.
SURNAMES = [
    ("김", ["Kim", "Gim"], 21.5),
    ("이", ["Lee", "Yi", "Rhee", "I"], 14.7),
    ("박", ["Park", "Pak", "Bak"], 8.4),
    ("최", ["Choi", "Choe"], 4.7),
    ("정", ["Jung", "Jeong", "Chung"], 4.3),
    ("강", ["Kang", "Gang"], 2.4),
    ("조", ["Cho", "Jo"], 2.1),
    ("윤", ["Yoon", "Yun"], 2.1),
    ("장", ["Jang", "Chang"], 2.0),
    ("임", ["Lim", "Im", "Yim"], 1.7),
    ("한", ["Han"], 1.5),
    ("오", ["Oh", "O"], 1.5),
    ("서", ["Seo", "Suh"], 1.4),
    ("신", ["Shin", "Sin"], 1.4),
    ("권", ["Kwon", "Gwon"], 1.4),
    ("황", ["Hwang"], 1.3),
    ("안", ["Ahn", "An"], 1.3),
    ("송", ["Song"], 1.3),
    ("전", ["Jeon", "Jun", "Chun"], 1.1),
    ("홍", ["Hong"], 1.1),
    ("유", ["Yoo", "Yu"], 1.0),
    ("고", ["Ko", "Go"], 0.9),
    ("문", ["Moon", "Mun"], 0.9),
    ("양", ["Yang"], 0.8),
    ("손", ["Son", "Sohn"], 0.9),
    ("배", ["Bae"], 0.8),
    ("백", ["Baek", "Paik"], 0.7),
    ("허", ["Heo", "Huh"], 0.6),
    ("남", ["Nam"], 0.5),
    ("노", ["Noh", "Roh"], 0.5),
    ("심", ["Shim", "Sim"], 0.5),
    ("하", ["Ha"], 0.4),
    ("곽", ["Kwak"], 0.4),
    ("성", ["Sung", "Seong"], 0.4),
    ("차", ["Cha"], 0.4),
    ("주", ["Joo", "Ju"], 0.4),
    ("우", ["Woo"], 0.4),
    ("구", ["Koo", "Ku", "Gu"], 0.4),
    ("류", ["Ryu", "Yoo"], 0.3),
    ("민", ["Min"], 0.3),
]
# Given-name syllables with their spellings, most popular first within each position.
FIRST_SYLLABLES = [
    ("민", ["min"]),
    ("서", ["seo", "suh"]),
    ("지", ["ji"]),
    ("현", ["hyun", "hyeon"]),
    ("영", ["young", "yeong"]),
    ("수", ["su", "soo"]),
    ("준", ["jun", "joon"]),
    ("예", ["ye"]),
    ("하", ["ha"]),
    ("도", ["do"]),
    ("시", ["si", "shi"]),
    ("은", ["eun"]),
    ("성", ["sung", "seong"]),
    ("재", ["jae"]),
    ("정", ["jung", "jeong"]),
    ("상", ["sang"]),
    ("동", ["dong"]),
    ("승", ["seung"]),
    ("유", ["yu", "yoo"]),
    ("혜", ["hye"]),
    ("경", ["kyung", "gyeong"]),
    ("태", ["tae"]),
    ("채", ["chae"]),
    ("소", ["so"]),
    ("윤", ["yoon", "yun"]),
    ("주", ["ju", "joo"]),
    ("다", ["da"]),
    ("나", ["na"]),
    ("건", ["geon", "gun"]),
    ("규", ["kyu", "gyu"]),
    ("미", ["mi"]),
    ("선", ["sun", "seon"]),
    ("용", ["yong"]),
    ("기", ["ki", "gi"]),
    ("형", ["hyung", "hyeong"]),
    ("광", ["kwang", "gwang"]),
    ("병", ["byung", "byeong"]),
    ("종", ["jong"]),
    ("창", ["chang"]),
    ("보", ["bo"]),
    ("명", ["myung"]),
    ("가", ["ga", "ka"]),
    ("해", ["hae"]),
    ("인", ["in"]),
    ("철", ["chul", "cheol"]),
    ("우", ["woo", "u"]),
]
SECOND_SYLLABLES = [
    ("수", ["su", "soo"]),
    ("준", ["jun", "joon"]),
    ("호", ["ho"]),
    ("연", ["yeon", "yun"]),
    ("우", ["woo", "u"]),
    ("민", ["min"]),
    ("진", ["jin"]),
    ("현", ["hyun", "hyeon"]),
    ("은", ["eun"]),
    ("희", ["hee", "hui"]),
    ("영", ["young", "yeong"]),
    ("윤", ["yoon", "yun"]),
    ("서", ["seo"]),
    ("원", ["won"]),
    ("훈", ["hoon", "hun"]),
    ("아", ["a", "ah"]),
    ("빈", ["bin"]),
    ("석", ["seok", "suk"]),
    ("혁", ["hyuk", "hyeok"]),
    ("경", ["kyung", "gyeong"]),
    ("주", ["ju", "joo"]),
    ("율", ["yul"]),
    ("린", ["rin", "lin"]),
    ("성", ["sung", "seong"]),
    ("철", ["chul", "cheol"]),
    ("숙", ["sook", "suk"]),
    ("자", ["ja"]),
    ("순", ["soon", "sun"]),
    ("정", ["jung", "jeong"]),
    ("환", ["hwan"]),
    ("범", ["beom"]),
    ("규", ["kyu", "gyu"]),
    ("람", ["ram"]),
    ("나", ["na"]),
    ("하", ["ha"]),
    ("지", ["ji"]),
    ("용", ["yong"]),
    ("택", ["taek"]),
    ("솔", ["sol"]),
    ("별", ["byul", "byeol"]),
    ("미", ["mi"]),
]
ENGLISH_FIRST = [
    ("James", ["Jim", "Jamie"]),
    ("Michael", ["Mike"]),
    ("John", ["Johnny"]),
    ("David", ["Dave"]),
    ("Robert", ["Bob", "Rob"]),
    ("William", ["Will", "Bill"]),
    ("Mary", []),
    ("Jennifer", ["Jen"]),
    ("Sarah", []),
    ("Daniel", ["Dan"]),
    ("Christopher", ["Chris"]),
    ("Elizabeth", ["Liz", "Beth"]),
    ("Jessica", ["Jess"]),
    ("Thomas", ["Tom"]),
    ("Emily", []),
    ("Matthew", ["Matt"]),
    ("Andrew", ["Andy"]),
    ("Joseph", ["Joe"]),
    ("Anthony", ["Tony"]),
    ("Laura", []),
    ("Kevin", []),
    ("Brian", []),
    ("Emma", []),
    ("Olivia", []),
    ("Sophia", []),
    ("Peter", ["Pete"]),
    ("Richard", ["Rick", "Dick"]),
    ("Steven", ["Steve"]),
    ("Katherine", ["Kate", "Kathy"]),
    ("Rebecca", ["Becky"]),
    ("Benjamin", ["Ben"]),
    ("Samuel", ["Sam"]),
    ("Alexander", ["Alex"]),
    ("Nicholas", ["Nick"]),
    ("Patricia", ["Pat"]),
    ("Linda", []),
    ("Susan", ["Sue"]),
    ("Charles", ["Charlie"]),
    ("Paul", []),
    ("Mark", []),
    ("Rachel", []),
    ("Hannah", []),
    ("Grace", []),
    ("Ryan", []),
    ("Jason", []),
    ("Eric", []),
    ("Amanda", ["Mandy"]),
    ("Megan", []),
    ("Lucas", []),
    ("Victoria", ["Vicky"]),
    ("Jonathan", ["Jon"]),
    ("Timothy", ["Tim"]),
    ("Stephanie", ["Steph"]),
    ("Nathan", ["Nate"]),
    ("Zachary", ["Zach"]),
    ("Gregory", ["Greg"]),
    ("Jeffrey", ["Jeff"]),
    ("Margaret", ["Maggie", "Peggy"]),
    ("Deborah", ["Debbie"]),
    ("Christine", ["Chris"]),
    ("Edward", ["Ed", "Ted"]),
    ("Frederick", ["Fred"]),
    ("Kimberly", ["Kim"]),
    ("Abigail", ["Abby"]),
    ("Madison", []),
    ("Chloe", []),
    ("Ethan", []),
    ("Noah", []),
    ("Liam", []),
    ("Isabella", ["Bella"]),
    ("Ava", []),
    ("Mia", []),
    ("Charlotte", []),
    ("Amelia", []),
    ("Oliver", ["Ollie"]),
    ("Henry", ["Hank"]),
    ("Julia", []),
    ("Claire", []),
    ("Adam", []),
    ("Aaron", []),
    ("Sean", []),
    ("Kyle", []),
    ("Tyler", []),
    ("Brandon", []),
    ("Justin", []),
    ("Lauren", []),
    ("Natalie", []),
    ("Heather", []),
    ("Michelle", []),
]
ENGLISH_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Cooper",
    "Peterson",
    "Reed",
    "Bailey",
    "Kelly",
    "Howard",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Wood",
    "Bennett",
    "Gray",
    "Hughes",
    "Price",
    "Sanders",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Fischer",
    "Schmidt",
    "Garcia",
    "Martinez",
    "Lopez",
    "Nguyen",
    "Tran",
    "Chen",
    "Wang",
    "Singh",
    "Patel",
    "O'Brien",
    "Hughes",
    "Bryant",
    "Russell",
    "Griffin",
    "Hayes",
    "Myers",
    "Ford",
    "Hamilton",
    "Graham",
    "Sullivan",
    "Wallace",
    "Woods",
    "Cole",
    "West",
    "Jordan",
    "Owens",
    "Reynolds",
    "Ellis",
    "Harrison",
    "Gibson",
    "McDonald",
    "Cruz",
    "Marshall",
    "Ortiz",
    "Gomez",
    "Murray",
    "Freeman",
    "Wells",
    "Webb",
    "Simpson",
    "Stevens",
    "Tucker",
    "Porter",
    "Hunter",
    "Hicks",
    "Crawford",
    "Henry",
    "Boyd",
    "Mason",
    "Morales",
    "Kennedy",
    "Warren",
    "Dixon",
    "Ramos",
    "Reyes",
    "Burns",
    "Gordon",
    "Shaw",
    "Holmes",
    "Rice",
    "Robertson",
    "Hunt",
    "Black",
    "Daniels",
    "Palmer",
    "Mills",
    "Nichols",
    "Grant",
    "Knight",
    "Ferguson",
    "Rose",
    "Stone",
    "Hawkins",
    "Dunn",
    "Perkins",
    "Hudson",
    "Spencer",
    "Gardner",
    "Stephens",
    "Payne",
    "Pierce",
    "Berry",
    "Matthews",
    "Arnold",
    "Wagner",
    "Willis",
    "Ray",
    "Watkins",
    "Olson",
    "Carroll",
    "Duncan",
    "Snyder",
    "Hart",
    "Cunningham",
    "Bradley",
    "Lane",
    "Andrews",
    "Ruiz",
    "Harper",
    "Fox",
    "Riley",
    "Armstrong",
    "Carpenter",
    "Weaver",
    "Greene",
    "Lawrence",
    "Elliott",
    "Chavez",
    "Sims",
    "Austin",
    "Peters",
    "Kelley",
]
COMPANY_CORES = [
    ("한빛", "Hanbit"),
    ("새벽", "Saebyeok"),
    ("푸른", "Pureun"),
    ("다온", "Daon"),
    ("누리", "Nuri"),
    ("미래", "Mirae"),
    ("세종", "Sejong"),
    ("한결", "Hangyeol"),
    ("가온", "Gaon"),
    ("대한", "Daehan"),
    ("동방", "Dongbang"),
    ("우리", "Woori"),
    ("하나", "Hana"),
    ("태양", "Taeyang"),
    ("청담", "Cheongdam"),
    ("바른", "Bareun"),
    ("그린", "Green"),
    ("블루", "Blue"),
    ("넥스트", "Next"),
    ("스마트", "Smart"),
    ("아이", "I"),
    ("케이", "K"),
    ("제이", "J"),
    ("씨앤", "C&"),
    ("코리아", "Korea"),
    ("글로벌", "Global"),
    ("한울", "Hanul"),
    ("시월", "Siwol"),
    ("온새", "Onsae"),
    ("마루", "Maru"),
    ("빛고을", "Bitgoeul"),
    ("솔빛", "Solbit"),
    ("해밀", "Haemil"),
    ("라온", "Raon"),
    ("이음", "Ieum"),
    ("별빛", "Byeolbit"),
]
COMPANY_KINDS = [
    ("소프트", "Soft"),
    ("테크", "Tech"),
    ("푸드", "Food"),
    ("물산", "Trading"),
    ("건설", "Construction"),
    ("디자인", "Design"),
    ("컨설팅", "Consulting"),
    ("랩스", "Labs"),
    ("네트웍스", "Networks"),
    ("바이오", "Bio"),
    ("에너지", "Energy"),
    ("로지스", "Logis"),
    ("케이터링", "Catering"),
    ("메디칼", "Medical"),
    ("에듀", "Edu"),
    ("미디어", "Media"),
    ("시스템즈", "Systems"),
    ("커머스", "Commerce"),
]
ENGLISH_COMPANY_WORDS = [
    "Northwind",
    "Bluebird",
    "Summit",
    "Harbor",
    "Ironwood",
    "Lighthouse",
    "Redwood",
    "Silverline",
    "Brightpath",
    "Cedar",
    "Keystone",
    "Pioneer",
    "Riverside",
    "Sterling",
    "Vantage",
    "Horizon",
]
ENGLISH_COMPANY_KINDS = ["Analytics", "Partners", "Logistics", "Health", "Software", "Foods", "Capital"]
FREE_MAIL = [("naver.com", 40), ("gmail.com", 30), ("daum.net", 8), ("hanmail.net", 7), ("kakao.com", 6)]
FREE_MAIL += [("nate.com", 4), ("hotmail.com", 3), ("outlook.com", 2)]
DOMAIN_TYPOS = {
    "naver.com": ["naver.con", "navr.com", "naver.co", "nave.com"],
    "gmail.com": ["gmial.com", "gmail.co", "gamil.com", "gmail.con"],
    "daum.net": ["duam.net", "daum.ner"],
    "hanmail.net": ["hanmial.net", "hanmail.ne"],
}
ROLE_MAILBOXES = ["info", "sales", "contact", "hello", "support", "admin", "office"]
# What people type when a form insists on a value: some are on every placeholder list, some on none.
PLACEHOLDER_EMAILS = ["test@test.com", "none@none.com", "no@email.com", "a@a.com", "asdf@asdf.com"]
PLACEHOLDER_EMAILS += ["x@x.com", "1234@naver.com", "abc@abc.com"]
PLACEHOLDER_PHONES = ["000-0000-0000", "010-0000-0000", "010-1234-5678", "010-1111-1111", "01000000000"]
AREA_CODES = ["02", "02", "02", "031", "032", "051", "053", "042", "062"]
US_AREA_CODES = ["212", "646", "415", "310", "206", "617", "312", "512"]
HANGUL_CONFUSABLE = {"수": "주", "민": "면", "은": "운", "영": "형", "진": "잔", "현": "헌", "준": "춘"}

# Records with a trap, per record (the rest of the shares are per person).
ROLE_MAILBOX_SHARE = 0.03
PLACEHOLDER_EMAIL_SHARE = 0.008
PLACEHOLDER_PHONE_SHARE = 0.012
OFFICE_LINE_SHARE = 0.10  # of employed people's records: the office number instead of the mobile
SWITCHBOARD_SHARE = 0.6  # of office numbers: the company's main line, not the person's desk
FAMILY_MOBILE_SHARE = 0.015  # of people: the mobile is also a family member's


# The noise of hand-typed names (--noisy): per record unless noted, drawn from a stream of its own.
NOISE_SHARES = {
    "swapped_fields": 0.3,  # of HubSpot records with a Hangul name: family name typed as the last name
    "shifted_space": 0.02,  # of Latin names: a space one letter off (Barbar aFord)
    "stray_letter": 0.015,  # of Latin names: one letter too many (kRobert Nguyen)
    "transposed": 0.015,  # of Hangul names: the surname and the next syllable swapped (수박빈)
    "given_only": 0.02,  # the given name alone (지훈, Jihoon)
    "colleague_namesake": 0.003,  # of employed Korean people: the name of a colleague (two people)
    "sibling": 0.01,  # of Korean people: a sibling of the last person, on the family's mobile
}


def _name_noise(
    noise: random.Random, name: str, form: str, source: str, own_syllables: tuple[str, str] | None
) -> tuple[str, str]:
    """One record's name as a person may type it: the noise of NOISE_SHARES, at most one kind."""
    hangul = all("\uac00" <= c <= "\ud7a3" or c == " " for c in name)
    compact = name.replace(" ", "")
    if (
        hangul
        and source == "hubspot"
        and len(compact) == 3
        and noise.random() < NOISE_SHARES["swapped_fields"]
    ):
        return compact[1:] + compact[0], form + "_swapped_fields"
    roll = noise.random()
    if hangul and len(compact) == 3 and roll < NOISE_SHARES["transposed"]:
        return compact[1] + compact[0] + compact[2], form + "_transposed"
    roll -= NOISE_SHARES["transposed"]
    if roll < NOISE_SHARES["given_only"]:
        if hangul and len(compact) == 3:
            return compact[1:], form + "_given_only"
        if own_syllables and not hangul:
            return _romanise_given(own_syllables, "", False), form + "_given_only"
        if not own_syllables and not hangul:
            return name.split(" ")[0], form + "_given_only"
    roll -= NOISE_SHARES["given_only"]
    if not hangul and " " in name:
        if roll < NOISE_SHARES["shifted_space"]:
            i = name.index(" ")
            if 1 < i < len(name) - 2:
                return name[: i - 1] + " " + name[i - 1] + name[i + 1 :], form + "_shifted_space"
        roll -= NOISE_SHARES["shifted_space"]
        if roll < NOISE_SHARES["stray_letter"]:
            i = noise.randrange(len(name) + 1)
            return name[:i] + noise.choice("abcdefghijklmnoprstuvwyk") + name[i:], form + "_stray_letter"
    return name, form


def _weighted(rng: random.Random, weights: list[float]):
    total = sum(weights)
    cumulative, acc = [], 0.0
    for w in weights:
        acc += w / total
        cumulative.append(acc)
    return cumulative


def _zipf(n: int, exponent: float) -> list[float]:
    return [1 / (rank + 1) ** exponent for rank in range(n)]


class _Typos:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def latin(self, text: str) -> str:
        """One keyboard slip: transposition, deletion, substitution or doubling inside a word."""
        rng = self.rng
        letters = [i for i, ch in enumerate(text) if ch.isalpha()]
        if len(letters) < 4:
            return text
        i = rng.choice(letters[1:-1])
        kind = rng.randrange(4)
        if kind == 0 and text[i + 1].isalpha():
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        if kind == 1:
            return text[:i] + text[i + 1 :]
        if kind == 2:
            return text[:i] + rng.choice("aeioustrnlm") + text[i + 1 :]
        return text[:i] + text[i] + text[i:]

    def digits(self, text: str) -> str:
        """One digit of the subscriber part replaced by another."""
        positions = [i for i, ch in enumerate(text) if ch.isdigit()][-8:]
        i = self.rng.choice(positions)
        return text[:i] + self.rng.choice([d for d in "0123456789" if d != text[i]]) + text[i + 1 :]


def _mobile_text(rng: random.Random, mobile: str, source: str) -> str:
    """A Korean mobile (``10`` + 8 digits) written the way people write it."""
    m, last = mobile[2:6], mobile[6:]
    roll = rng.random()
    if roll < 0.50:
        return f"010-{m}-{last}"
    if roll < 0.70:
        return f"010{m}{last}"
    if roll < 0.80:
        return f"+82 10-{m}-{last}"
    if roll < 0.88:
        return f"010 {m} {last}"
    if roll < 0.93:
        return f"+8210{m}{last}"
    if roll < 0.97 and source == "spreadsheets":
        return f"10{m}{last}"  # Excel dropped the leading zero
    return f"010.{m}.{last}"


def _romanise_given(syllables: tuple[str, str], joiner: str, caps: bool) -> str:
    a, b = syllables
    if joiner == "-":
        return f"{a.capitalize()}-{b.capitalize() if caps else b}"
    if joiner == " ":
        return f"{a.capitalize()} {b.capitalize()}"
    return (a + b).capitalize()


def generate(n_records: int, seed: int = 7, noisy: bool = False) -> tuple[pa.Table, pa.Table]:
    """``(records, truth)`` for ``n_records`` source records; see the module docstring. ``noisy`` adds
    the hand-typed noise of NOISE_SHARES, drawn from a second random stream; without it the output is the
    one this function always gave for the seed (the benchmark's history stays comparable). With it the
    world is another one: a changed name changes the draws that follow it."""
    rng = random.Random(seed)
    typos = _Typos(rng)
    noise = random.Random(seed * 1_000_003 + 19) if noisy else None
    colleagues: dict[int, tuple] = {}  # company -> the name of a Korean person working there
    previous_name: tuple | None = None  # the last person's Korean name

    def pick(cumulative: list[float]) -> int:
        x = rng.random()
        lo, hi = 0, len(cumulative) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cumulative[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return lo

    surname_cdf = _weighted(rng, [s[2] for s in SURNAMES])
    # Name popularity is skewed but not steep: the commonest Korean full name (김민수) comes out at about
    # 0.17% of Korean people and the commonest English one (James Smith) at about 0.2%.
    first_cdf = _weighted(rng, _zipf(len(FIRST_SYLLABLES), 0.5))
    second_cdf = _weighted(rng, _zipf(len(SECOND_SYLLABLES), 0.5))
    english_first_cdf = _weighted(rng, _zipf(len(ENGLISH_FIRST), 0.5))
    english_last_cdf = _weighted(rng, _zipf(len(ENGLISH_LAST), 0.5))
    free_mail_cdf = _weighted(rng, [w for _, w in FREE_MAIL])
    source_cdf = _weighted(rng, list(SOURCE_WEIGHTS))
    count_cdf = _weighted(rng, [p for _, p in RECORDS_PER_PERSON])

    # Companies: many small ones and a few large, so a switchboard is shared by a handful or by hundreds.
    n_people_estimate = int(n_records / 1.37) + 1
    n_companies = max(20, n_people_estimate // 12)
    company_cdf = _weighted(rng, _zipf(n_companies, 0.9))
    companies = []
    used_domains: set[str] = set()
    for _ in range(n_companies):
        if rng.random() < 0.8:
            core, core_roman = rng.choice(COMPANY_CORES)
            kind, kind_roman = rng.choice(COMPANY_KINDS)
            hangul, roman = core + kind, f"{core_roman} {kind_roman}"
            legal = rng.choice(["(주){}", "주식회사 {}", "{} 주식회사", "{}(주)", "㈜{}"])
            written = [legal.format(hangul), hangul, f"{roman} Co., Ltd.", roman, roman.replace(" ", "")]
            written_weights = [0.35, 0.3, 0.15, 0.15, 0.05]
            tld = rng.choice([".co.kr", ".com", ".kr"])
        else:
            roman = f"{rng.choice(ENGLISH_COMPANY_WORDS)} {rng.choice(ENGLISH_COMPANY_KINDS)}"
            written = [roman, f"{roman} Inc.", f"{roman}, Inc", roman.upper()]
            written_weights = [0.6, 0.2, 0.1, 0.1]
            tld = rng.choice([".com", ".io", ".co"])
        base = roman.lower().replace(" ", "").replace("&", "n").replace(",", "").replace(".", "")
        domain, k = base + tld, 1
        while domain in used_domains:
            k += 1
            domain = f"{base}{k}{tld}"
        used_domains.add(domain)
        area = rng.choice(AREA_CODES)
        middle = f"{rng.randrange(200, 9999)}" if area == "02" else f"{rng.randrange(200, 999)}"
        switchboard = f"{area}-{middle}-{rng.randrange(10000):04d}"
        companies.append((written, _weighted(rng, written_weights), domain, switchboard, area))

    used_emails: set[str] = set()

    def unique_email(local: str, domain: str) -> str:
        canonical_local = local.replace(".", "") if domain == "gmail.com" else local
        candidate, k = canonical_local, 1
        while f"{candidate}@{domain}" in used_emails:
            k += 1
            candidate = f"{canonical_local}{k}" if k < 5 else f"{canonical_local}{rng.randrange(10, 9999)}"
        used_emails.add(f"{candidate}@{domain}")
        return (candidate if candidate != canonical_local else local) + "@" + domain

    used_mobiles: set[str] = set()

    def new_mobile() -> str:
        while True:
            number = f"10{rng.randrange(2000, 9999)}{rng.randrange(10000):04d}"
            if number not in used_mobiles:
                used_mobiles.add(number)
                return number

    def new_foreign() -> str:
        return f"+1 {rng.choice(US_AREA_CODES)}-{rng.randrange(201, 999)}-{rng.randrange(10000):04d}"

    record_cols: dict[str, list] = {
        k: [] for k in ("source", "source_record_id", "full_name", "email", "phone", "company", "record_at")
    }
    truth_cols: dict[str, list] = {
        k: []
        for k in (
            "source",
            "source_record_id",
            "person_id",
            "company_id",
            "name_form",
            "email_kind",
            "phone_kind",
            "true_email",
            "true_mobile",
        )
    }
    source_counters = dict.fromkeys(SOURCES, 0)
    epoch = datetime(2023, 1, 1, tzinfo=UTC)
    previous_mobile: tuple[str, bool, int] | None = None  # (number, is_korean, surname) of the last person

    person = 0
    while len(record_cols["source"]) < n_records:
        n = RECORDS_PER_PERSON[pick(count_cdf)][0]
        n = min(n, n_records - len(record_cols["source"]))
        korean = rng.random() < KOREAN_SHARE
        employed = rng.random() < 0.8
        company = pick(company_cdf) if employed else None

        # Who the person is.
        if korean:
            surname = pick(surname_cdf)
            hangul_surname, surname_spellings, _ = SURNAMES[surname]
            s1, s1_spellings = FIRST_SYLLABLES[pick(first_cdf)]
            s2, s2_spellings = SECOND_SYLLABLES[pick(second_cdf)]
            hangul_name = hangul_surname + s1 + s2
            # Each person has a spelling of their own; a sales rep typing it may pick another.
            own_surname = surname_spellings[0] if rng.random() < 0.8 else rng.choice(surname_spellings)
            own_syllables = (rng.choice(s1_spellings), rng.choice(s2_spellings))
            own_joiner = rng.choices(["", "-", " "], [0.6, 0.3, 0.1])[0]
            english_given = ENGLISH_FIRST[pick(english_first_cdf)][0] if rng.random() < 0.04 else None
            latin_first, latin_last = _romanise_given(own_syllables, "", False).lower(), own_surname.lower()
            if (
                noise
                and employed
                and company in colleagues
                and noise.random() < NOISE_SHARES["colleague_namesake"]
            ):
                # a namesake at the same company, maybe written in the other script: two people
                (surname, hangul_surname, surname_spellings, s1, s1_spellings, s2, s2_spellings) = colleagues[
                    company
                ]
                hangul_name = hangul_surname + s1 + s2
                own_surname = surname_spellings[0]
                own_syllables = (s1_spellings[0], s2_spellings[0])
        else:
            surname = -1
            first, nicknames = ENGLISH_FIRST[pick(english_first_cdf)]
            last = ENGLISH_LAST[pick(english_last_cdf)]
            latin_first, latin_last = first.lower(), last.lower().replace("'", "")

        # How they can be reached.
        handle_style = rng.randrange(6)
        birth = rng.randrange(60, 100)
        handle = [
            f"{latin_first}.{latin_last}",
            f"{latin_last}{latin_first}",
            f"{latin_first[0]}{latin_last}{birth}",
            f"{latin_last}{latin_first[0]}{rng.randrange(100, 9999)}",
            f"{latin_first}{birth}",
            f"{rng.choice(['sky', 'blue', 'happy', 'sun', 'star', 'moon', 'lucky'])}{rng.randrange(1, 9999)}",
        ][handle_style]
        personal_email = None
        if rng.random() < 0.85 or not employed:
            personal_email = unique_email(handle, FREE_MAIL[pick(free_mail_cdf)][0])
        work_email = None
        if employed and rng.random() < 0.6:
            domain = companies[company][2]
            work_email = unique_email(
                rng.choice([f"{latin_first}.{latin_last}", latin_last + latin_first[0]]), domain
            )
        # Korean mobiles for Koreans and for most others living in Korea; the rest have a foreign number.
        has_mobile = (korean or rng.random() < 0.6) and rng.random() < 0.95
        mobile = new_mobile() if has_mobile else None
        foreign = None if mobile or korean else new_foreign()
        family_shared = False
        if previous_mobile and rng.random() < FAMILY_MOBILE_SHARE and previous_mobile[1] == korean:
            mobile, family_shared = previous_mobile[0], True
        # (only a person with a mobile of their own)
        if (
            noise
            and korean
            and mobile
            and previous_name
            and previous_mobile
            and noise.random() < NOISE_SHARES["sibling"]
        ):
            # a sibling on the family's mobile: one surname, often one syllable of the given name too
            mobile, family_shared = previous_mobile[0], True
            surname, hangul_surname, surname_spellings, s1, s1_spellings, _, _ = previous_name
            s2, s2_spellings = noise.choice([x for x in SECOND_SYLLABLES if x[0] != previous_name[5]])
            hangul_name = hangul_surname + s1 + s2
            own_surname = surname_spellings[0]
            own_syllables = (s1_spellings[0], s2_spellings[0])
        if korean:
            previous_name = (surname, hangul_surname, surname_spellings, s1, s1_spellings, s2, s2_spellings)
            if employed:
                colleagues[company] = previous_name
        desk_line = None
        if employed:
            area = companies[company][4]
            middle = f"{rng.randrange(200, 9999)}" if area == "02" else f"{rng.randrange(200, 999)}"
            desk_line = f"{area}-{middle}-{rng.randrange(10000):04d}"
        changes_email = n > 1 and rng.random() < 0.12
        changes_mobile = n > 1 and mobile is not None and rng.random() < 0.06
        new_email = new_mobile_number = None
        changed_company = n > 1 and employed and rng.random() < 0.05

        sources = []
        for _ in range(n):
            source = SOURCES[pick(source_cdf)]
            tries = 0
            while source in sources and tries < 8 and rng.random() < 0.9:
                source, tries = SOURCES[pick(source_cdf)], tries + 1
            sources.append(source)

        for i, source in enumerate(sources):
            crm = source in ("pipedrive", "hubspot")
            later = i > 0
            # Name.
            if rng.random() < 0.02:
                name, name_form = None, "missing"
            elif korean:
                hangul_share = {"spreadsheets": 0.85, "forms": 0.9, "typeform": 0.6}.get(source, 0.3)
                if crm and english_given and rng.random() < 0.6:
                    name = f"{english_given} {own_surname}"
                    name_form = "korean_english_name"
                elif rng.random() < hangul_share:
                    name = hangul_name if rng.random() < 0.9 else f"{hangul_surname} {s1}{s2}"
                    name_form = "hangul"
                    if rng.random() < 0.02:
                        syllable = rng.choice([s1, s2])
                        if syllable in HANGUL_CONFUSABLE:
                            name = name.replace(syllable, HANGUL_CONFUSABLE[syllable], 1)
                            name_form = "hangul_typo"
                else:
                    if rng.random() < 0.8:
                        spelled, joiner = own_syllables, own_joiner
                        family = own_surname
                    else:
                        spelled = (s1_spellings[0], s2_spellings[0])
                        joiner = rng.choice(["", "-", " "])
                        family = surname_spellings[0]
                    given = _romanise_given(spelled, joiner, rng.random() < 0.5)
                    family_first = rng.random() < 0.35
                    name = f"{family} {given}" if family_first else f"{given} {family}"
                    name_form = "roman_family_first" if family_first else "roman_given_first"
                    if rng.random() < 0.1:
                        name = name.upper()
                    if rng.random() < 0.04:
                        name, name_form = typos.latin(name), name_form + "_typo"
            else:
                given = first
                name_form = "english"
                if nicknames and rng.random() < 0.15:
                    given, name_form = rng.choice(nicknames), "english_nickname"
                name = f"{given} {last}"
                if rng.random() < 0.08:
                    name, name_form = typos.latin(name), name_form + "_typo"
                if rng.random() < 0.05:
                    name = name.lower()

            if noise and name:
                name, name_form = _name_noise(
                    noise, name, name_form, source, own_syllables if korean else None
                )

            # Email.
            email_kind = "none"
            address = None
            choices = [e for e in (personal_email, work_email) if e]
            if changes_email and later:
                if new_email is None:  # the address they moved to, kept for their later records
                    domain = (
                        companies[company][2]
                        if work_email and rng.random() < 0.5
                        else FREE_MAIL[pick(free_mail_cdf)][0]
                    )
                    new_email = unique_email(f"{latin_first}{latin_last[0]}{rng.randrange(1, 999)}", domain)
                choices = [new_email]
            if choices and rng.random() < (0.88 if source != "spreadsheets" else 0.8):
                if len(choices) == 2:
                    address = (
                        choices[1] if (crm and rng.random() < 0.7) or rng.random() < 0.25 else choices[0]
                    )
                else:
                    address = choices[0]
                email_kind = (
                    "changed" if address == new_email else "work" if address == work_email else "personal"
                )
            true_email = address
            email = address
            if email is not None:
                roll = rng.random()
                local, domain = email.split("@")
                if roll < 0.03:
                    if domain in DOMAIN_TYPOS and rng.random() < 0.5:
                        email = f"{local}@{rng.choice(DOMAIN_TYPOS[domain])}"
                    else:
                        email = f"{typos.latin(local)}@{domain}"
                    if email != address:
                        true_email, email_kind = None, email_kind + "_typo"
                elif roll < 0.13:
                    email = email.upper() if rng.random() < 0.5 else email.capitalize()
                elif roll < 0.17:
                    email = f" {email} "
                elif roll < 0.20 and domain == "gmail.com" and len(local) > 4:
                    email = f"{local[:3]}.{local[3:]}@{domain}"
                elif roll < 0.23:
                    email = f"{local}+{rng.choice(['news', 'crm', 'event'])}@{domain}"
                elif roll < 0.25 and name:
                    email = f"{name} <{email}>"
            if employed and rng.random() < ROLE_MAILBOX_SHARE:
                email = f"{rng.choice(ROLE_MAILBOXES[:4])}@{companies[company][2]}"
                true_email, email_kind = None, "role"
            elif rng.random() < PLACEHOLDER_EMAIL_SHARE:
                email, true_email, email_kind = rng.choice(PLACEHOLDER_EMAILS), None, "placeholder"

            # Phone.
            phone_kind, phone, true_mobile = "none", None, None
            number = mobile
            if changes_mobile and later:
                new_mobile_number = new_mobile_number or new_mobile()
                number = new_mobile_number
            if rng.random() < 0.9:
                if employed and rng.random() < OFFICE_LINE_SHARE:
                    if rng.random() < SWITCHBOARD_SHARE:
                        phone, phone_kind = companies[company][3], "switchboard"
                    else:
                        phone, phone_kind = desk_line, "desk_line"
                elif number:
                    phone = _mobile_text(rng, number, source)
                    true_mobile = number
                    phone_kind = (
                        "family_mobile"
                        if family_shared
                        else ("changed_mobile" if number == new_mobile_number else "mobile")
                    )
                    if rng.random() < 0.02:
                        phone, true_mobile, phone_kind = typos.digits(phone), None, phone_kind + "_typo"
                elif foreign:
                    phone, phone_kind = foreign, "foreign"
            if rng.random() < PLACEHOLDER_PHONE_SHARE:
                phone, true_mobile, phone_kind = rng.choice(PLACEHOLDER_PHONES), None, "placeholder"

            # Company.
            company_id = company
            if changed_company and later:
                company_id = pick(company_cdf)
            company_text = None
            if company_id is not None and rng.random() < (0.9 if crm else 0.7):
                written, written_cdf, *_ = companies[company_id]
                company_text = written[pick(written_cdf)]
                if crm and rng.random() < 0.5 and not company_text.isascii():
                    company_text = written[2 + rng.randrange(2)]

            source_counters[source] += 1
            k = source_counters[source]
            record_id = {
                "spreadsheets": f"contacts_{k % 20:02d}.xlsx#Sheet1!{k // 20 + 2}",
                "forms": f"s{k:08d}",
                "typeform": f"tf{k:010x}",
                "pipedrive": str(1000 + k),
                "hubspot": str(50_000_000 + k * 7),
            }[source]
            when = epoch + timedelta(seconds=rng.randrange(3 * 365 * 86400))
            record_cols["source"].append(source)
            record_cols["source_record_id"].append(record_id)
            record_cols["full_name"].append(name)
            record_cols["email"].append(email)
            record_cols["phone"].append(phone)
            record_cols["company"].append(company_text)
            record_cols["record_at"].append(when.strftime("%Y-%m-%dT%H:%M:%SZ"))
            truth_cols["source"].append(source)
            truth_cols["source_record_id"].append(record_id)
            truth_cols["person_id"].append(person)
            truth_cols["company_id"].append(company_id)
            truth_cols["name_form"].append(name_form)
            truth_cols["email_kind"].append(email_kind)
            truth_cols["phone_kind"].append(phone_kind)
            truth_cols["true_email"].append(true_email)
            truth_cols["true_mobile"].append(true_mobile)
        previous_mobile = (mobile, korean, surname) if mobile else previous_mobile
        person += 1

    # Sources receive records in time order, not person by person.
    order = list(range(len(record_cols["source"])))
    rng.shuffle(order)
    records = pa.table({k: pa.array([v[i] for i in order], pa.string()) for k, v in record_cols.items()})
    truth = pa.table(
        {
            k: pa.array(
                [v[i] for i in order], pa.int64() if k in ("person_id", "company_id") else pa.string()
            )
            for k, v in truth_cols.items()
        }
    )
    return records, truth


def write_truth_set(out: Path, n_records: int, seed: int = 7, noisy: bool = False) -> dict:
    """Write ``records.parquet`` and ``truth.parquet`` under ``out``; return a summary of what was drawn."""
    records, truth = generate(n_records, seed, noisy)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(records, out / "records.parquet")
    pq.write_table(truth, out / "truth.parquet")
    return summarise(truth)


def summarise(truth: pa.Table) -> dict:
    """Counts and shares that describe a truth set (the numbers the docs and the tests quote)."""
    import duckdb

    con = duckdb.connect()
    con.register("truth", truth)
    people, records, repeated = con.execute(
        """
        select count(*), sum(n), count(*) filter (where n > 1)
        from (select person_id, count(*) as n from truth group by person_id)
        """
    ).fetchone()
    pairs = con.execute(
        """
        select
            count(*),
            count(*) filter (where a.true_email = b.true_email),
            count(*) filter (where a.true_mobile = b.true_mobile),
            count(*) filter (
                where coalesce(a.true_email = b.true_email, false) = false
                and coalesce(a.true_mobile = b.true_mobile, false) = false
            ),
            count(*) filter (where a.source <> b.source)
        from truth as a
        inner join truth as b
            on a.person_id = b.person_id and (a.source, a.source_record_id) < (b.source, b.source_record_id)
        """
    ).fetchone()
    kinds = {
        column: dict(
            con.execute(f"select {column}, count(*) from truth group by 1 order by 2 desc").fetchall()
        )
        for column in ("name_form", "email_kind", "phone_kind", "source")
    }
    return {
        "records": records,
        "people": people,
        "people_in_2_plus_records": repeated,
        "share_people_repeated": repeated / people,
        "true_pairs": pairs[0],
        "pairs_sharing_email": pairs[1],
        "pairs_sharing_mobile": pairs[2],
        "pairs_sharing_neither": pairs[3],
        "share_pairs_sharing_neither": pairs[3] / pairs[0] if pairs[0] else 0.0,
        "pairs_across_sources": pairs[4],
        **kinds,
    }


PAIRWISE_METRICS_SQL = """
with

joined as (

    select predicted.record_key, predicted.cluster_id, truth.person_id
    from {predicted} as predicted
    inner join {truth} as truth
        on predicted.record_key = truth.record_key

),

cells as (

    select cluster_id, person_id, count(*) as n
    from joined
    group by cluster_id, person_id

),

clusters as (

    select cluster_id, sum(n) as n, count(*) as people
    from cells
    group by cluster_id

),

people as (

    select person_id, sum(n) as n, count(*) as clusters
    from cells
    group by person_id

)

select
    (select count(*) from joined) as records,
    (select coalesce(sum(n * (n - 1) // 2), 0) from cells) as true_positive_pairs,
    (select coalesce(sum(n * (n - 1) // 2), 0) from clusters) as predicted_pairs,
    (select coalesce(sum(n * (n - 1) // 2), 0) from people) as true_pairs,
    (select count(*) from clusters where people > 1) as over_merged_clusters,
    (select count(*) from people where clusters > 1) as split_people,
    (select count(*) from clusters) as clusters,
    (select count(*) from people) as people
"""


def pairwise_metrics(con, predicted: str, truth: str) -> dict:
    """Pairwise precision, recall and F1 of a clustering against the truth, in DuckDB.

    ``predicted`` and ``truth`` name relations on ``con`` with (record_key, cluster_id) and
    (record_key, person_id); only records in both count. A pair is two records in one cluster; the pairs
    two clusterings agree on are those inside one cell of their intersection, so every count is a sum of
    n(n-1)/2 over groups and no pair is ever materialised. False merges are predicted pairs of two
    different people; an over-merged cluster holds more than one person, a split person more than one
    cluster.
    """
    row = con.execute(PAIRWISE_METRICS_SQL.format(predicted=predicted, truth=truth)).fetchone()
    names = [d[0] for d in con.description]
    result = {name: int(value) for name, value in zip(names, row, strict=True)}
    tp, predicted_pairs, true_pairs = (
        result["true_positive_pairs"],
        result["predicted_pairs"],
        result["true_pairs"],
    )
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    result.update(
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        false_merge_pairs=predicted_pairs - tp,
        missed_pairs=true_pairs - tp,
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--noisy", action="store_true", help="add hand-typed name noise (NOISE_SHARES)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = write_truth_set(args.out, args.records, args.seed, args.noisy)
    elapsed = time.perf_counter() - started
    print(f"wrote {summary['records']:,} records for {summary['people']:,} people in {elapsed:.1f}s")
    for key, value in summary.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
