"""`make run` on a temporary home with the shipped sample data, checked against its ground truth."""

import json
from collections import Counter
from datetime import datetime
from itertools import combinations

import duckdb
import pytest

from connectors.files.inbox import SYMLINK_REFUSED
from orchestration import cli
from orchestration.lib.paths import REPO_ROOT

MANIFEST = json.loads((REPO_ROOT / "sample_data" / "manifest.json").read_text())
ORDERS = MANIFEST["orders"]


def _locator(record: dict) -> tuple:
    return (record["file"], record.get("sheet"), record["row"])


@pytest.fixture(scope="module")
def run(tmp_path_factory, dbt_manifest):
    """Two complete runs of `dripline run` on one home: the second must change nothing."""
    import shutil

    home = tmp_path_factory.mktemp("e2e-home")
    shutil.copytree(REPO_ROOT / "sample_data" / "inbox", home / "inbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRIPLINE_HOME", str(home))
        # The sample's segments are planted as of its demo clock, not as of today.
        patch.setenv("DRIPLINE_AS_OF", MANIFEST["as_of"])
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        # as on the demo home: the shipped sample of SendGrid events and replies is replayed
        patch.setenv("DRIPLINE_SAMPLE_EVENTS", "true")
        first_code = cli.main(["run"])
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
            first_ids = connection.execute(
                "select source, source_record_id, customer_id from customer_source_records order by all"
            ).fetchall()
        second_code = cli.main(["run"])
    connection = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield {"home": home, "codes": (first_code, second_code), "first_ids": first_ids, "db": connection}
    connection.close()


@pytest.fixture(scope="module")
def customer_of(run) -> dict[tuple, str]:
    rows = (
        run["db"]
        .execute(
            """
        select regexp_replace(source_file, '^', source || '/'), source_sheet, source_row, customer_id
        from customer_source_records
        where source_record_id not like 'order-buyer:%'
        """
        )
        .fetchall()
    )
    return {(file, sheet, row): customer for file, sheet, row, customer in rows}


def test_both_runs_succeed_and_the_second_lands_and_renames_nothing(run):
    assert run["codes"] == (0, 0)
    ids = (
        run["db"]
        .execute("select source, source_record_id, customer_id from customer_source_records order by all")
        .fetchall()
    )
    assert ids == run["first_ids"]
    landing = run["home"] / "landing"
    # the batches of the inbox's files (identity and outreach land their own)
    batches = [
        b
        for b in landing.rglob("*.parquet")
        if not b.name.startswith("_") and b.relative_to(landing).parts[0] in ("forms", "spreadsheets")
    ]
    # the customer id map: the first run named every customer, the second changed no id
    assert len(list((landing / "identity" / "customer_ids").glob("[!_]*.parquet"))) == 1
    # every file once, and every spreadsheet once more as the orders it holds (none, for most)
    spreadsheets = [f for f in MANIFEST["files"] if f.startswith("spreadsheets/")]
    assert len(batches) == len(MANIFEST["files"]) + len(spreadsheets)
    assert len(list((landing / "spreadsheets" / "orders").glob("[!_]*.parquet"))) == len(spreadsheets)


def test_every_accepted_record_is_one_source_record_and_every_rejected_one_is_quarantined(run, customer_of):
    accepted = [r for r in MANIFEST["records"] if r["accepted"]]
    assert set(customer_of) == {_locator(r) for r in accepted}
    quarantined = (
        run["db"]
        .execute(
            "select source || '/' || source_file, source_sheet, source_row, reason from quarantined_rows"
        )
        .fetchall()
    )
    assert {(f, sheet, row) for f, sheet, row, _ in quarantined} == {
        _locator(r) for r in MANIFEST["rejected"] + ORDERS["rejected"] + ORDERS["unlinked"]
    }
    for file, _, row, reason in quarantined:
        assert file.split("/", 1)[1] in reason and str(row) in reason, reason


def test_no_two_people_share_a_customer(customer_of):
    may_merge = {frozenset(_locator(r) for r in group) for group in MANIFEST["may_merge"]}
    person = {_locator(r): r["person_id"] for r in MANIFEST["records"] if r["accepted"]}
    false_merges = [
        (a, b)
        for a, b in combinations(sorted(person, key=str), 2)
        if customer_of[a] == customer_of[b] and person[a] != person[b] and frozenset((a, b)) not in may_merge
    ]
    assert false_merges == []


@pytest.mark.parametrize("index", range(len(MANIFEST["expected_merged"])))
def test_each_planted_duplicate_group_is_one_customer(customer_of, index):
    group = MANIFEST["expected_merged"][index]
    assert len({customer_of[_locator(r)] for r in group}) == 1, group


@pytest.mark.parametrize("index", range(len(MANIFEST["expected_separate"])))
def test_each_planted_trap_stays_apart(customer_of, index):
    group = MANIFEST["expected_separate"][index]
    assert len({customer_of[_locator(r)] for r in group}) == len(group), group


def test_the_customer_count_is_the_number_of_people(run):
    [(customers,)] = run["db"].execute("select count(*) from customers").fetchall()
    expected = MANIFEST["expected_customers"]
    assert expected["min"] <= customers <= expected["max"]


def test_consent_is_the_latest_explicit_answer(run, customer_of):
    consent = dict(run["db"].execute("select customer_id, consent_email from customers").fetchall())
    person_customer = {r["person_id"]: customer_of[_locator(r)] for r in MANIFEST["records"] if r["accepted"]}
    wrong = {
        person: (expected, consent[person_customer[person]])
        for person, expected in MANIFEST["expected_consent"].items()
        if person in person_customer and consent[person_customer[person]] is not bool(expected)
    }
    assert wrong == {}


def test_the_customers_asset_reports_its_counts_in_the_homes_dagster_instance(run):
    import dagster as dg

    with dg.DagsterInstance.from_config(str(run["home"] / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["customers"]))
        ingest = instance.get_latest_materialization_event(dg.AssetKey(["spreadsheets", "contacts"]))
    metadata = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    [(customers, records, consented)] = (
        run["db"]
        .execute("select count(*), sum(record_count), count(*) filter (where consent_email) from customers")
        .fetchall()
    )
    assert metadata["customers"] == customers
    assert metadata["merged records"] == records - customers > 0
    assert metadata["email consent %"] == pytest.approx(100 * consented / customers, abs=0.01)
    assert metadata["quarantined rows"] == len(MANIFEST["rejected"] + ORDERS["rejected"] + ORDERS["unlinked"])
    # The second run landed nothing new; its metadata says so.
    spreadsheets = [f for f in MANIFEST["files"] if f.startswith("spreadsheets/")]
    assert ingest.asset_materialization.metadata["files_already_landed"].value == len(spreadsheets)


def test_the_blocking_stats_asset_shows_the_fuzzy_tiers_blocks_as_counts(run):
    import dagster as dg

    with dg.DagsterInstance.from_config(str(run["home"] / "dagster")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["int_identity__blocking_stats"]))
    metadata = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    rows = (
        run["db"]
        .execute("select block_kind, pair_count, largest_block_size from int_identity__blocking_stats")
        .fetchall()
    )
    assert metadata["dagster/row_count"] == len(rows) == 9
    assert metadata["pairs_offered"] == sum(pairs for _, pairs, _ in rows) > 0
    assert metadata["largest_block_size"] == max(largest for _, _, largest in rows)
    assert metadata["skipped_block_count"] == 0
    assert [row.data["block_kind"] for row in metadata["blocking_stats"].records] == sorted(
        kind for kind, _, _ in rows
    )


@pytest.fixture(scope="module")
def customer_of_person(customer_of) -> dict[str, str]:
    return {r["person_id"]: customer_of[_locator(r)] for r in MANIFEST["records"] if r["accepted"]}


@pytest.fixture(scope="module")
def customer_of_order_row(run) -> dict[tuple, str]:
    """The customer of each order row that is a buyer's contact record (one row per distinct buyer)."""
    rows = (
        run["db"]
        .execute(
            "select source || '/' || source_file, source_sheet, source_row, customer_id"
            " from customer_source_records where source_record_id like 'order-buyer:%'"
        )
        .fetchall()
    )
    return {(file, sheet, row): customer for file, sheet, row, customer in rows}


@pytest.fixture(scope="module")
def customer_of_buyer(customer_of_person, customer_of_order_row) -> dict[str, str]:
    """Every person's customer, the people known only from the order books included."""
    customers = dict(customer_of_person)
    for ref in ORDERS["rows"]:
        if ref["person_id"] not in customers and _locator(ref) in customer_of_order_row:
            customers[ref["person_id"]] = customer_of_order_row[_locator(ref)]
    return customers


def test_every_order_row_lands_and_the_orders_asset_reports_it(run):
    import dagster as dg

    with dg.DagsterInstance.from_config(str(run["home"] / "dagster")) as instance:
        first, second = instance.fetch_materializations(
            dg.AssetKey(["spreadsheets", "orders"]), limit=2, ascending=True
        ).records
    first_run = {k: v.value for k, v in first.asset_materialization.metadata.items()}
    second_run = {k: v.value for k, v in second.asset_materialization.metadata.items()}
    assert (first_run["rows_read"], first_run["rows_quarantined"]) == (
        len(ORDERS["rows"]),
        len(ORDERS["rejected"]),
    )
    assert first_run["files_unreadable"] == []
    assert first_run["dagster/row_count"] == second_run["dagster/row_count"] == len(ORDERS["rows"])
    assert (second_run["rows_read"], second_run["files_landed"]) == (0, 0)
    [(rows,)] = run["db"].execute("select count(*) from stg_spreadsheets__orders").fetchall()
    assert rows == len(ORDERS["rows"])


@pytest.mark.parametrize("person_id", sorted(ORDERS["expected_purchases"]))
def test_each_buyer_has_the_purchases_of_the_order_sheets(run, customer_of_buyer, person_id):
    expected = ORDERS["expected_purchases"][person_id]
    [(count, total, currency, first, last)] = (
        run["db"]
        .execute(
            "select purchase_count, total_value, currency, first_purchase_at, last_purchase_at"
            " from customers where customer_id = ?",
            [customer_of_buyer[person_id]],
        )
        .fetchall()
    )
    assert (count, total, currency) == (
        expected["purchase_count"],
        expected["total_value"],
        expected["currency"],
    )
    assert first <= last == datetime.fromisoformat(expected["last_purchase_at"])


def test_order_buyers_join_their_people_and_nobody_else(run, customer_of_person, customer_of_order_row):
    person_of_row = {_locator(r): r["person_id"] for r in ORDERS["rows"]}
    order_only = {}
    for row, customer_id in customer_of_order_row.items():
        person = person_of_row[row]
        if person in customer_of_person:
            assert customer_id == customer_of_person[person], person
        else:
            assert person in ORDERS["order_only_people"]
            assert customer_id not in customer_of_person.values(), person
            order_only.setdefault(person, set()).add(customer_id)
    # each person known only from the order books is one customer of their own
    assert sorted(order_only) == ORDERS["order_only_people"]
    assert all(len(customers) == 1 for customers in order_only.values())
    assert len({c for customers in order_only.values() for c in customers}) == len(order_only)
    # customers whose purchases the manifest does not expect have none
    buying = {customer_of_person.get(p) for p in ORDERS["expected_purchases"]}
    others = [
        customer_id
        for customer_id, count in run["db"]
        .execute("select customer_id, purchase_count from customers")
        .fetchall()
        if count and customer_id not in buying
    ]
    assert len(others) == len(ORDERS["order_only_people"])


def test_an_unlinked_order_says_why_and_no_one_gets_it(run):
    [unlinked] = ORDERS["unlinked"]
    [(reason,)] = (
        run["db"]
        .execute(
            "select reason from quarantined_rows where source_file = ? and source_row = ?",
            [unlinked["file"].split("/", 1)[1], unlinked["row"]],
        )
        .fetchall()
    )
    assert f"row {unlinked['row']}: the buyer '{unlinked['name']}' gives no valid email or phone" in reason
    assert "customers, so the order is linked to no one" in reason
    assert run["db"].execute(
        "select count(*) from int_customers__purchases where purchase_key = ?",
        [f"spreadsheets:order={unlinked['order_id']}"],
    ).fetchall() == [(0,)]


def test_every_person_is_in_the_segment_planted_for_them_as_of_the_demo_clock(run, customer_of_buyer):
    segment_of = dict(run["db"].execute("select customer_id, segment from customers").fetchall())
    wrong = {
        person: (expected, segment_of[customer_of_buyer[person]])
        for person, expected in MANIFEST["expected_segments"].items()
        if segment_of[customer_of_buyer[person]] != expected
    }
    assert wrong == {}


def test_every_segment_has_customers_and_none_holds_more_than_35_percent(run):
    shares = dict(run["db"].execute("select segment, customer_share from segment_summary").fetchall())
    counts = Counter(segment for (segment,) in run["db"].execute("select segment from customers").fetchall())
    assert set(counts) == set(shares) == set(MANIFEST["expected_segments"].values())
    assert max(shares.values()) <= 0.35, shares
    assert min(counts.values()) >= 5, counts


def _outbox(home) -> list[dict]:
    import gzip

    return [json.load(gzip.open(p)) for p in sorted((home / "outreach" / "outbox").rglob("*.json.gz"))]


def test_every_shipped_campaign_mails_someone_and_the_second_run_mails_nobody_again(run):
    statuses = dict(
        run["db"]
        .execute(
            "select campaign, count(*) filter (where status = 'dry_run') "
            "from campaign_sends group by campaign"
        )
        .fetchall()
    )
    assert set(statuses) == {
        "at_risk_win_back",
        "birthday_greetings",
        "consent_reconfirmation",
        "warm_prospect_follow_up",
        "welcome_first_buyers",
    }
    assert all(count > 0 for count in statuses.values()), statuses
    # both runs decided as of the demo clock: each send was recorded in the outbox exactly once
    recipients = Counter(
        p["custom_args"]["send_id"] for message in _outbox(run["home"]) for p in message["personalizations"]
    )
    assert max(recipients.values()) == 1
    assert sum(recipients.values()) == sum(statuses.values())
    [(keys, rows)] = (
        run["db"]
        .execute("select count(distinct (campaign, step, customer_id, cycle)), count(*) from campaign_sends")
        .fetchall()
    )
    assert keys == rows


def test_campaigns_mail_only_consented_customers_at_the_address_they_wrote(run):
    mailed = (
        run["db"]
        .execute(
            """
        select s.campaign, s.purpose, s.email, c.email_address, c.consent_email, e."group"
        from campaign_sends as s
        inner join customers as c on s.customer_id = c.customer_id
        inner join campaign_enrollments as e
            on s.campaign = e.campaign and s.customer_id = e.customer_id and s.cycle = e.cycle
        where s.status = 'dry_run'
        """
        )
        .fetchall()
    )
    assert mailed
    for campaign, purpose, email, address, consent, group in mailed:
        assert email == address and email is not None, campaign
        assert group == "treatment", campaign
        if purpose == "marketing":
            assert consent, campaign
    reasons = dict(
        run["db"]
        .execute("select reason, count(*) from campaign_sends where status = 'skipped' group by reason")
        .fetchall()
    )
    assert reasons.get("no_consent", 0) > 0  # the sample has customers who never agreed: they are recorded
    [(holdouts,)] = (
        run["db"].execute("select count(*) from campaign_sends where status = 'holdout'").fetchall()
    )
    assert holdouts > 0


def test_marketing_subjects_carry_the_korean_advertising_marker_and_every_footer_the_sender(run):
    messages = _outbox(run["home"])
    marketing = [m for m in messages if m["custom_args"]["campaign"] != "consent_reconfirmation"]
    service = [m for m in messages if m["custom_args"]["campaign"] == "consent_reconfirmation"]
    assert marketing and service
    phones = dict(run["db"].execute("select customer_id, primary_phone from customers").fetchall())
    for message in marketing:
        for person in message["personalizations"]:
            phone = phones[person["custom_args"]["customer_id"]]
            if phone is None or phone.startswith("+82"):
                assert person["subject"].startswith("(광고) "), person["subject"]
    assert not any(p["subject"].startswith("(광고)") for m in service for p in m["personalizations"])
    for message in messages:
        footer = message["content"][-1]["value"]
        assert "서울특별시 성동구 성수이로 113" in footer and "<%asm_group_unsubscribe_raw_url%>" in footer
        assert message["asm"] == {"group_id": 21001}


def test_the_shipped_sample_of_events_is_credited_once_to_the_demos_sends(run):
    """Every sample event finds its send (the demo's send ids are deterministic), is counted once however
    many times it was posted and replayed (two runs), and the metrics are the sample's own counts."""
    sample = REPO_ROOT / "sample_data" / "sendgrid"
    events = {
        e["sg_event_id"]: e
        for path in sorted((sample / "events").glob("*.json"))
        for e in json.loads(path.read_text(encoding="utf-8"))
    }
    replies = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((sample / "inbound").glob("*.json"))]
    db = run["db"]
    landed = dict(
        db.execute(
            "select event_key, send_id from campaign_events where event not in ('reply', 'auto_reply')"
        ).fetchall()
    )
    assert set(landed) == set(events)
    assert all(landed[key] == e["send_id"] for key, e in events.items())
    [(matched_replies,)] = db.execute(
        "select count(*) from campaign_events where event in ('reply', 'auto_reply') and send_id is not null"
    ).fetchall()
    assert matched_replies == len(replies)

    def sends_with(predicate) -> dict[str, set]:
        found: dict[str, set] = {}
        for e in events.values():
            if predicate(e):
                found.setdefault(e["campaign"], set()).add(e["send_id"])
        return found

    bounced = sends_with(lambda e: e["event"] == "bounce")
    delivered = sends_with(lambda e: e["event"] == "delivered")
    human = sends_with(
        lambda e: (e["event"] == "open" and not e.get("sg_machine_open")) or e["event"] == "click"
    )
    metrics = {
        campaign: (delivered_, opens, bounced_)
        for campaign, delivered_, opens, bounced_ in db.execute(
            "select campaign, sum(delivered), sum(unique_opens), sum(bounced) "
            "from campaign_metrics group by campaign"
        ).fetchall()
    }
    for campaign, (delivered_, opens, bounced_) in metrics.items():
        assert delivered_ == len(delivered.get(campaign, set()) - bounced.get(campaign, set())), campaign
        assert opens == len(human.get(campaign, set())), campaign
        assert bounced_ == len(bounced.get(campaign, set())), campaign
    assert sum(opens for _, opens, _ in metrics.values()) > 0


GOOD_CONTACTS = (
    "이름,이메일,휴대폰\n김민수,minsu@hanbit.kr,010-2345-6781\n이영희,young@hanbit.kr,010-2345-6782\n"
    "박지훈,jihoon@hanbit.kr,\n"
)


def _hostile_inbox(home, outside):
    """One good contact list beside every hostile file of issue #21, all written here."""
    import openpyxl

    sheets, forms = home / "inbox" / "spreadsheets", home / "inbox" / "forms"
    sheets.mkdir(parents=True)
    forms.mkdir(parents=True)
    (sheets / "고객.csv").write_text(GOOD_CONTACTS, encoding="utf-8")
    (sheets / "..한글 (1).csv").write_text("이름,이메일\n최수진,sujin@hanbit.kr\n", encoding="utf-8")
    long_note = "메" * 131_073
    (sheets / "long.csv").write_text(
        f"이름,이메일,메모\n정하늘,haneul@hanbit.kr,{long_note}\n", encoding="utf-8"
    )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["이름", "아이디", "이메일", "휴대폰"])
    sheet.append(["강도윤", "doyun", '=B2&"@hanbit.kr"', "010-2345-6785"])
    book.save(sheets / "formulas.xlsx")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["이름", "연락처", None])
    sheet.append([None, "이메일", "전화"])
    sheet.merge_cells("B1:C1")
    sheet.merge_cells("A1:A2")
    sheet.append(["윤서연", "seoyeon@hanbit.kr", "010-2345-6786"])
    book.save(sheets / "merged.xlsx")
    (sheets / "export.xls").write_text(
        "<html><body><table><tr><td>이름</td><td>이메일</td></tr></table></body></html>", encoding="utf-8"
    )
    (sheets / "empty.csv").write_bytes(b"")
    whole = (sheets / "merged.xlsx").read_bytes()
    (sheets / "cut.xlsx").write_bytes(whole[: len(whole) // 2])
    (sheets / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (sheets / "~$고객.xlsx").write_bytes(b"lock")
    (outside / "leads.csv").write_text("이름,이메일\n외부인,outsider@elsewhere.kr\n", encoding="utf-8")
    (sheets / "outside.csv").symlink_to(outside / "leads.csv")
    (sheets / "passwd.csv").symlink_to("/etc/passwd")
    deep = '{"a": ' * 10_000 + "1" + "}" * 10_000
    (forms / "hook.jsonl").write_text(
        '{"email": "hana@hanbit.kr", "name": "한하나"}\n' + deep + "\n", encoding="utf-8"
    )


def _run_capturing(home) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["run"])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, dbt_manifest):
    """`dripline run` on a hostile inbox; then again after retiring one landed batch."""
    home = tmp_path_factory.mktemp("hostile-home")
    outside = tmp_path_factory.mktemp("outside-the-inbox")
    _hostile_inbox(home, outside)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRIPLINE_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        patch.delenv("DRIPLINE_AS_OF", raising=False)
        first = _run_capturing(home)
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
            emails = {e for (e,) in connection.execute("select primary_email from customers").fetchall()}
            files = connection.execute(
                "select inbox, source_file, status, reason, sha256, size_bytes "
                "from quarantined_files order by all"
            ).fetchall()
            issues = dict(
                connection.execute(
                    "select source_file, field_issues from stg_spreadsheets__contacts "
                    "where field_issues is not null"
                ).fetchall()
            )
            rows = connection.execute(
                "select source_file, source_row, reason from quarantined_rows"
            ).fetchall()
        import pyarrow.parquet as pq

        contacts = pq.read_table(home / "landing" / "spreadsheets" / "contacts").to_pylist()
        [retired] = {r["_load_id"] for r in contacts if r["_source_file"] == "..한글 (1).csv"}
        retire_code = cli.main(["retire-batch", retired, "--reason", "e2e: retire one file's batch"])
        (home / "inbox" / "spreadsheets" / "empty.csv").write_text(
            "이름,이메일\n문가람,garam@hanbit.kr\n", encoding="utf-8"
        )
        second = _run_capturing(home)
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
            emails_after = {
                e for (e,) in connection.execute("select primary_email from customers").fetchall()
            }
            resolved = dict(
                connection.execute("select source_file, is_resolved from quarantined_files").fetchall()
            )
    return {
        "home": home,
        "first": first,
        "emails": emails,
        "files": files,
        "issues": issues,
        "rows": rows,
        "retire_code": retire_code,
        "second": second,
        "emails_after": emails_after,
        "resolved": resolved,
    }


def test_a_hostile_inbox_builds_the_warehouse_and_exits_with_the_quarantine_code(hostile_run):
    code, out, err = hostile_run["first"]
    assert code == cli.EXIT_FILES_QUARANTINED == 3, err
    assert "5 inbox file(s) could not be read and were quarantined; everything else is built" in err
    assert hostile_run["emails"] == {
        "minsu@hanbit.kr",
        "young@hanbit.kr",
        "jihoon@hanbit.kr",
        "sujin@hanbit.kr",
        "haneul@hanbit.kr",
        None,  # 강도윤: the formula email has no value; reached by phone
        "seoyeon@hanbit.kr",
        "hana@hanbit.kr",
    }
    assert (
        "  spreadsheets/export.xls: not a spreadsheet: the file is an HTML page saved with an .xls name"
        in out
    )
    assert "  spreadsheets/~$고객.xlsx: an Office lock file (the document is open in Excel or Word)" in out
    assert "  spreadsheets/.DS_Store: a macOS folder settings file" in out


def test_every_bad_file_is_named_with_why_and_nothing_outside_the_inbox_is_read(hostile_run):
    files = {(inbox, file): (status, reason) for inbox, file, status, reason, _, _ in hostile_run["files"]}
    assert files == {
        ("spreadsheets", "cut.xlsx"): ("unreadable", "the workbook is damaged (unexpected end of zip)"),
        ("spreadsheets", "empty.csv"): ("unreadable", "the file is empty"),
        ("spreadsheets", "export.xls"): (
            "unreadable",
            "not a spreadsheet: the file is an HTML page saved with an .xls name — "
            "export it again as .xlsx or .csv",
        ),
        ("spreadsheets", "outside.csv"): ("refused", SYMLINK_REFUSED),
        ("spreadsheets", "passwd.csv"): ("refused", SYMLINK_REFUSED),
    }
    assert all(
        sha is None
        for _, file, _, _, sha, _ in hostile_run["files"]
        if file.endswith(("outside.csv", "passwd.csv"))
    )
    assert "outsider@elsewhere.kr" not in hostile_run["emails"]


def test_inside_a_file_nothing_is_lost(hostile_run):
    issues = hostile_run["issues"]
    assert "formula with no saved value" in issues["formulas.xlsx"]
    assert "long.csv" not in issues  # the long note is an attribute, kept whole; no mapped field was cut
    [(file, row, reason)] = [r for r in hostile_run["rows"] if r[0] == "hook.jsonl"]
    assert (file, row) == ("hook.jsonl", 2)
    assert reason == "hook.jsonl line 2: nested more than 64 levels deep: not a form submission"


def test_a_retired_batch_leaves_the_warehouse_and_stays_in_landing(hostile_run):
    assert hostile_run["retire_code"] == 0
    code, _, err = hostile_run["second"]
    assert code == cli.EXIT_FILES_QUARANTINED, err
    assert hostile_run["emails_after"] == hostile_run["emails"] - {"sujin@hanbit.kr"} | {"garam@hanbit.kr"}
    landing = hostile_run["home"] / "landing" / "spreadsheets" / "contacts"
    assert len([p for p in landing.glob("*.parquet") if not p.name.startswith("_")]) == 6


def test_a_fixed_file_dropped_again_lands_and_its_quarantine_is_resolved(hostile_run):
    _, _, err = hostile_run["second"]
    assert "4 inbox file(s) could not be read and were quarantined" in err
    assert hostile_run["resolved"] == {
        "cut.xlsx": False,
        "empty.csv": True,
        "export.xls": False,
        "outside.csv": False,
        "passwd.csv": False,
    }
