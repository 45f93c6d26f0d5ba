"""Generate a large synthetic inbox for benchmarks, with the true person behind every row.

    python scripts/synthetic_contacts.py --records 1000000 [--out DIR] [--seed 11] [--files 10]

Writes ``files`` CSV files to ``out/spreadsheets/`` (alternating Korean and English headers, encoded as
CP949, UTF-8 with a BOM or plain UTF-8) and about a tenth of the rows as JSONL to ``out/forms/``. About a
quarter of the people appear in two or three rows, in different files where possible, with their phone
and email written differently each time and always sharing at least one of them. A few percent of rows
are bad (no valid contact, or a bad phone next to a good email) and about one percent belong to different
people who give a company switchboard and role mailbox instead of their own. The ground truth goes to
``out/_truth.csv`` (file, row, person_id, kind), outside the ingested folders; ``row`` is the 1-based line
number in the file.

Random choices are drawn up front with numpy; the row loop only indexes Python lists and formats
f-strings, which keeps a million rows to a few seconds.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "bench" / "out" / "synthetic"
FORMS_FILE = "forms/submissions.jsonl"

SURNAMES = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권"]
SURNAMES_ROMAN = ["Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Oh"]
SURNAMES_ROMAN += ["Seo", "Shin", "Kwon"]
SURNAME_WEIGHTS = np.array([21, 15, 8, 5, 5, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1], dtype=float)
GIVEN = ["민준", "서준", "도윤", "예준", "시우", "하준", "지호", "지훈", "현우", "서연", "서윤", "지우"]
GIVEN += ["민서", "하은", "지민", "채원", "수아", "지아", "은서", "수빈", "혜진", "수진", "영호", "상훈"]
GIVEN_ROMAN = ["Minjun", "Seojun", "Doyun", "Yejun", "Siwoo", "Hajun", "Jiho", "Jihoon", "Hyunwoo"]
GIVEN_ROMAN += ["Seoyeon", "Seoyun", "Jiwoo", "Minseo", "Haeun", "Jimin", "Chaewon", "Sua", "Jia", "Eunseo"]
GIVEN_ROMAN += ["Subin", "Hyejin", "Sujin", "Youngho", "Sanghoon"]
FREE_MAIL = ["naver.com", "gmail.com", "daum.net", "kakao.com", "hanmail.net", "nate.com"]
FREE_MAIL_WEIGHTS = np.array([35, 30, 8, 10, 7, 5], dtype=float)
COMPANIES = ["(주)맛있는케이터링", "한빛푸드 주식회사", "주식회사 그린테이블", "(주)블루포크", "㈜푸른도시락"]
COMPANIES += ["바른급식 주식회사", "(주)달콤베이커리", "소담케이터링", "(주)새벽팜", "한결에프앤비(주)"]
COMPANIES += [
    "주식회사 오늘의커피",
    "(주)다온소프트",
    "넥스트웨이브 주식회사",
    "(주)코리아이벤트",
    "마루컨벤션(주)",
]
COMPANY_DOMAINS = ["masitneun.co.kr", "hanbitfood.co.kr", "greentable.co.kr", "bluefork.co.kr"]
COMPANY_DOMAINS += ["pureundosirak.com", "bareunmeal.co.kr", "dalkombakery.kr", "sodamcatering.com"]
COMPANY_DOMAINS += ["saebyeokfarm.co.kr", "hangyeolfnb.com", "oneulcoffee.kr", "daonsoft.co.kr"]
COMPANY_DOMAINS += ["nextwave.kr", "koreaevent.co.kr", "maruconvention.com"]
ROLE_MAILBOXES = ["info", "sales", "contact", "order"]

KOREAN_HEADER = "이름,휴대폰,이메일,회사명,마케팅 수신 동의,등록일\r\n"
ENGLISH_HEADER = "Name,Mobile,Email,Company,Marketing consent,Date\r\n"
ENCODINGS = ["cp949", "utf-8-sig", "utf-8"]
KOREAN_CONSENT = ["Y", "N", ""]
ENGLISH_CONSENT = ["Yes", "No", ""]
JSON_CONSENT = ["true", "false", "null"]

# Fractions of rows; kinds in the truth file.
REPEAT_COUNT_P = [0.75, 0.17, 0.08]
FORM_SHARE = 0.10
INVALID_SHARE = 0.02
BAD_PHONE_SHARE = 0.01
SWITCHBOARD_SHARE = 0.015


def _phone_variants(middle: str, last: str) -> list[str]:
    return [
        f"010-{middle}-{last}",
        f"010{middle}{last}",
        f"+82 10-{middle}-{last}",
        f"010 {middle} {last}",
        f"+8210{middle}{last}",
    ]


def generate_synthetic(out: Path, n_records: int, seed: int = 11, files: int = 10) -> dict:
    """Write ``n_records`` contact rows under ``out`` and return counts describing what was written."""
    rng = np.random.default_rng(seed)
    out = Path(out)
    (out / "spreadsheets").mkdir(parents=True, exist_ok=True)
    (out / "forms").mkdir(parents=True, exist_ok=True)

    counts = rng.choice([1, 2, 3], size=n_records, p=REPEAT_COUNT_P)
    n_people = int(np.searchsorted(np.cumsum(counts), n_records)) + 1
    counts = counts[:n_people]
    counts[-1] -= int(counts.sum()) - n_records
    person_of_row = np.repeat(np.arange(n_people), counts)
    first_row = np.cumsum(counts) - counts
    occurrence = np.arange(n_records) - first_row[person_of_row]
    single = counts[person_of_row] == 1

    # Per person.
    surname = rng.choice(len(SURNAMES), size=n_people, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    given = rng.integers(0, len(GIVEN), size=n_people)
    employer = rng.integers(0, len(COMPANIES), size=n_people)
    free_mail = rng.choice(len(FREE_MAIL), size=n_people, p=FREE_MAIL_WEIGHTS / FREE_MAIL_WEIGHTS.sum())
    uses_work_mail = rng.random(n_people) < 0.35
    local_pattern = rng.integers(0, 3, size=n_people)
    base_file = rng.integers(0, files, size=n_people)
    # A multiplier coprime to the range makes the mapping a bijection: unique, random-looking mobiles.
    mobile = 20_000_000 + (np.arange(n_people, dtype=np.int64) * 48_271 + 7_919) % 80_000_000

    # Per row.
    is_form = rng.random(n_records) < FORM_SHARE
    csv_file = (base_file[person_of_row] + occurrence) % files
    phone_style = rng.choice(5, size=n_records, p=[0.5, 0.2, 0.1, 0.1, 0.1])
    email_style = rng.choice(4, size=n_records, p=[0.8, 0.08, 0.07, 0.05])
    keys = np.where(occurrence == 0, 0, rng.choice(3, size=n_records, p=[0.6, 0.2, 0.2]))
    keys = np.where(single, rng.choice(3, size=n_records, p=[0.9, 0.04, 0.06]), keys)
    roll = rng.random(n_records)
    kind = np.zeros(n_records, dtype=np.int8)
    kind[single & (roll < INVALID_SHARE)] = 1
    kind[single & (roll >= INVALID_SHARE) & (roll < INVALID_SHARE + SWITCHBOARD_SHARE)] = 2
    kind[single & (keys == 0) & (roll >= 0.5) & (roll < 0.5 + BAD_PHONE_SHARE)] = 3
    kind_names = ["ok", "invalid", "switchboard", "bad_phone"]
    n_switchboards = max(5, n_records // 5000)
    switchboard = rng.integers(0, n_switchboards, size=n_records)
    consent = rng.choice(3, size=n_records, p=[0.55, 0.25, 0.2])
    day = rng.integers(0, 366, size=n_records)
    second = rng.integers(8 * 3600, 22 * 3600, size=n_records)
    order = rng.permutation(n_records)

    switchboard_phones = [f"02-5{i // 10000 % 100:02d}-{i % 10000:04d}" for i in range(n_switchboards)]
    switchboard_mail = [
        f"{ROLE_MAILBOXES[i % len(ROLE_MAILBOXES)]}@{COMPANY_DOMAINS[i % len(COMPANY_DOMAINS)]}"
        for i in range(n_switchboards)
    ]
    days = [(date(2024, 1, 1) + timedelta(days=d)).isoformat() for d in range(366)]
    clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(24 * 3600)]
    given_roman_lower = [g.lower() for g in GIVEN_ROMAN]
    surname_roman_lower = [s.lower() for s in SURNAMES_ROMAN]

    names, romans, emails, phones, companies = [], [], [], [], []
    for pid, (s, g, c, fm, work, pattern, m) in enumerate(
        zip(
            surname.tolist(),
            given.tolist(),
            employer.tolist(),
            free_mail.tolist(),
            uses_work_mail.tolist(),
            local_pattern.tolist(),
            mobile.tolist(),
            strict=True,
        )
    ):
        names.append(SURNAMES[s] + GIVEN[g])
        romans.append(f"{GIVEN_ROMAN[g]} {SURNAMES_ROMAN[s]}")
        gl, sl = given_roman_lower[g], surname_roman_lower[s]
        local = (f"{gl}.{sl}{pid}", f"{sl}{gl}{pid}", f"{gl}_{sl}{pid}")[pattern]
        emails.append(f"{local}@{COMPANY_DOMAINS[c] if work else FREE_MAIL[fm]}")
        phones.append(_phone_variants(f"{m // 10000:04d}", f"{m % 10000:04d}"))
        companies.append(COMPANIES[c])

    csv_names = [f"spreadsheets/contacts_{i:02d}.csv" for i in range(files)]
    buffers: list[list[str]] = [[KOREAN_HEADER if i % 2 == 0 else ENGLISH_HEADER] for i in range(files)]
    form_lines: list[str] = []
    truth = ["file,row,person_id,kind\n"]
    columns = [
        person_of_row.tolist(),
        is_form.tolist(),
        csv_file.tolist(),
        phone_style.tolist(),
        email_style.tolist(),
        keys.tolist(),
        kind.tolist(),
        switchboard.tolist(),
        consent.tolist(),
        day.tolist(),
        second.tolist(),
    ]
    for r in order.tolist():
        pid, form, f, ps, es, k, kd, sb, cs, d, sec = (column[r] for column in columns)
        email = emails[pid]
        if es == 1:
            email = email.upper()
        elif es == 2:
            email += " "
        elif es == 3 and email.endswith("@gmail.com"):
            email = email.replace("@", "+news@")
        phone = phones[pid][ps]
        if k == 1:
            email = ""
        elif k == 2:
            phone = ""
        if kd == 1:
            email, phone = "kim@", "000-0000-0000"
        elif kd == 2:
            phone, email = switchboard_phones[sb], switchboard_mail[sb] if sb % 2 else ""
        elif kd == 3:
            phone = "010-123-45"
        company = companies[pid]
        if form:
            line = (
                f'{{"submission_id": "s{r}", "submitted_at": "{days[d]}T{clock[sec]}+09:00", '
                f'"name": "{names[pid]}", "email": "{email}", "phone": "{phone}", "company": "{company}", '
                f'"marketing_consent": {JSON_CONSENT[cs]}}}\n'
            )
            form_lines.append(line)
            truth.append(f"{FORMS_FILE},{len(form_lines)},{pid},{kind_names[kd]}\n")
        else:
            lines = buffers[f]
            if f % 2 == 0:
                lines.append(f"{names[pid]},{phone},{email},{company},{KOREAN_CONSENT[cs]},{days[d]}\r\n")
            else:
                name = romans[pid] if pid % 10 < 7 else names[pid]
                lines.append(f"{name},{phone},{email},{company},{ENGLISH_CONSENT[cs]},{days[d]}\r\n")
            truth.append(f"{csv_names[f]},{len(lines)},{pid},{kind_names[kd]}\n")

    rows_per_file = {}
    for i, lines in enumerate(buffers):
        (out / csv_names[i]).write_bytes("".join(lines).encode(ENCODINGS[i % len(ENCODINGS)]))
        rows_per_file[csv_names[i]] = len(lines) - 1
    (out / FORMS_FILE).write_text("".join(form_lines), encoding="utf-8", newline="")
    rows_per_file[FORMS_FILE] = len(form_lines)
    (out / "_truth.csv").write_text("".join(truth), encoding="utf-8", newline="")

    return {
        "seed": seed,
        "records": n_records,
        "people": n_people,
        "repeated_people": int((counts > 1).sum()),
        "files": rows_per_file,
        "kinds": {name: int((kind == i).sum()) for i, name in enumerate(kind_names)},
        "switchboards": n_switchboards,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = generate_synthetic(args.out, args.records, args.seed, args.files)
    elapsed = time.perf_counter() - started
    print(f"wrote {summary['records']:,} rows for {summary['people']:,} people in {elapsed:.1f}s: {summary}")


if __name__ == "__main__":
    main()
