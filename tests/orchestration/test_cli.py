import os

import pytest

from orchestration import cli
from orchestration.lib.settings import DriplineSettings


def test_a_home_of_ones_own_is_never_seeded_with_sample_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path / "mine"))
    notes = cli.prepare_home(DriplineSettings())
    assert sorted(p.name for p in (tmp_path / "mine" / "inbox").iterdir()) == ["forms", "spreadsheets"]
    assert not any(p.is_file() for p in (tmp_path / "mine").rglob("*"))
    assert any("is empty" in note for note in notes)


def test_a_home_with_its_own_inbox_keeps_exactly_its_files(tmp_path, monkeypatch):
    inbox = tmp_path / "mine" / "inbox" / "spreadsheets"
    inbox.mkdir(parents=True)
    (inbox / "ours.csv").write_text("이름,이메일\n김민수,minsu@hanbit.kr\n", encoding="utf-8")
    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path / "mine"))
    assert cli.prepare_home(DriplineSettings()) == []
    files = [
        p.relative_to(tmp_path / "mine").as_posix() for p in (tmp_path / "mine").rglob("*") if p.is_file()
    ]
    assert files == ["inbox/spreadsheets/ours.csv"]


@pytest.mark.parametrize(
    ("name", "masked"),
    [("김민수", "김*수"), ("Minsu Kim", "M******m"), ("이준", "이*"), (None, "(no name)"), ("", "(no name)")],
)
def test_names_in_the_terminal_summary_are_masked(name, masked):
    assert cli._mask(name) == masked


def test_the_summary_names_counts_merges_and_quarantine_reasons():
    text = cli.format_summary(
        {
            "spreadsheets/contacts": {"files_landed": 2, "rows_read": 10, "rows_quarantined": 1},
            "pipedrive/persons": {
                "skipped": True,
                "skipped_reason": "DRIPLINE_PIPEDRIVE_API_TOKEN is not set",
            },
            "hubspot/deals": {"skipped": False, "records_fetched": 40, "pages": 1},
        },
        {
            "customers": 7,
            "consented": 3,
            "merged_customers": 2,
            "records": 9,
            "quarantined": 1,
            "quarantine_reasons": [
                "a.csv row 3: no valid email or phone (email: 'kim@' is not a valid address)"
            ],
            "top_merges": [("cus_1", "김민수", 3, "forms,spreadsheets", "email, phone")],
        },
    )
    assert "2 new file(s)" in text and "10 rows read, 1 quarantined" in text
    assert "pipedrive/persons      skipped: DRIPLINE_PIPEDRIVE_API_TOKEN is not set" in text
    assert "hubspot/deals          40 records fetched in 1 page(s)" in text
    assert "7 (2 records merged into 2 multi-record customers); 43% with a consented email" in text
    assert "cus_1  김*수" in text and "김민수" not in text
    assert "a.csv row 3: no valid email or phone (email: '…' is not a valid address)" in text
    assert "kim@" not in text


def test_the_homes_dagster_instance_runs_one_run_at_a_time(tmp_path, monkeypatch):
    import dagster as dg

    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path / "mine"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("PATH", os.environ["PATH"])  # use_home changes these three; monkeypatch restores them
    cli.use_home(DriplineSettings())
    with dg.DagsterInstance.from_config(str(tmp_path / "mine" / "dagster")) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert not instance.telemetry_enabled


def test_the_summary_has_one_line_per_campaign():
    text = cli.format_summary(
        {
            "spreadsheets/contacts": {"files_landed": 1, "rows_read": 3, "rows_quarantined": 0},
            "campaigns/welcome_first_buyers": {"summary": "dry run: 12 due, 10 dry-run, 1 holdout"},
            "campaigns/birthday_greetings": {"summary": "dry run: 0 due"},
        },
        {
            "customers": 3,
            "consented": 1,
            "merged_customers": 0,
            "records": 3,
            "quarantined": 0,
            "quarantine_reasons": [],
            "top_merges": [],
        },
    )
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("campaigns ("))
    assert lines[start + 1 : start + 3] == [
        "  birthday_greetings         dry run: 0 due",
        "  welcome_first_buyers       dry run: 12 due, 10 dry-run, 1 holdout",
    ]
    assert not any(line.startswith("campaigns/") for line in lines)


def test_suppress_lands_an_operator_suppression_every_send_decision_reads(tmp_path, monkeypatch, capsys):
    import pyarrow.parquet as pq

    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path / "home"))
    assert cli.main(["suppress", "Kim.Minsu+x@Gmail.com", "--kind", "erasure", "--reason", "ticket 42"]) == 0
    assert "1 address(es) suppressed (erasure)" in capsys.readouterr().out
    [batch] = [
        p
        for p in (tmp_path / "home" / "landing" / "sendgrid" / "suppressions").glob("*.parquet")
        if not p.name.startswith("_")
    ]
    [row] = pq.read_table(batch).to_pylist()
    assert (row["email"], row["email_key"], row["kind"], row["reason"], row["origin"]) == (
        "Kim.Minsu+x@Gmail.com",
        "kimminsu@gmail.com",
        "erasure",
        "ticket 42",
        "operator",
    )


def test_the_summary_names_quarantined_and_skipped_inbox_files_once():
    bad = "export.xls: not a spreadsheet: the file is an HTML page saved with an .xls name — export it again"
    ingest = {
        "spreadsheets/contacts": {
            "files_landed": 1,
            "files_quarantined": [bad],
            "files_skipped": ["~$고객.xlsx: an Office lock file (the document is open in Excel or Word)"],
        },
        "spreadsheets/orders": {"files_landed": 1, "files_quarantined": [bad], "files_skipped": []},
        "forms/submissions": {"files_landed": 0, "files_quarantined": ["hook.jsonl: the file is empty"]},
    }
    quarantined, skipped = cli.inbox_problems(ingest)
    assert quarantined == ["forms/hook.jsonl: the file is empty", f"spreadsheets/{bad}"]
    assert skipped == [
        "spreadsheets/~$고객.xlsx: an Office lock file (the document is open in Excel or Word)"
    ]
    summary = {
        "customers": 1,
        "consented": 0,
        "merged_customers": 0,
        "records": 1,
        "quarantined": 0,
        "quarantine_reasons": [],
        "top_merges": [],
    }
    lines = cli.format_summary(ingest, summary).splitlines()
    start = lines.index("files not read, quarantined (fix or remove them; see the quarantined_files table):")
    assert lines[start + 1 : start + 3] == [f"  {item}" for item in quarantined]
    assert lines[start + 3 : start + 5] == ["files skipped (not data):", f"  {skipped[0]}"]


def test_retire_batch_records_who_when_and_why_beside_landing_and_deletes_nothing(
    tmp_path, monkeypatch, capsys
):
    home = tmp_path / "home"
    monkeypatch.setenv("DRIPLINE_HOME", str(home))
    batch = home / "landing" / "spreadsheets" / "contacts" / "abc123.parquet"
    batch.parent.mkdir(parents=True)
    batch.write_bytes(b"PAR1")
    assert cli.main(["retire-batch", "abc123"]) == cli.EXIT_FAILED
    assert "say why (--reason)" in capsys.readouterr().err
    assert (
        cli.main(["retire-batch", "abc123", "--reason", "ticket 7: breaks the build", "--by", "on-call"]) == 0
    )
    assert "Retired spreadsheets/contacts batch abc123" in capsys.readouterr().out
    assert batch.exists()
    lines = (home / "retired_batches.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "load_id,source,entity,retired_at,retired_by,reason"
    load_id, source, entity, retired_at, by, reason = lines[1].split(",")
    assert (load_id, source, entity, by, reason) == (
        "abc123",
        "spreadsheets",
        "contacts",
        "on-call",
        "ticket 7: breaks the build",
    )
    assert retired_at.startswith("20")
    assert cli.main(["retire-batch", "abc123", "--reason", "again"]) == cli.EXIT_FAILED
    assert "already retired" in capsys.readouterr().err
    assert cli.main(["retire-batch", "--list"]) == 0
    assert "abc123  spreadsheets/contacts" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("load_id", "message"),
    [
        ("nope", "no landed batch 'nope'"),
        ("map1", "only input batches can be retired"),
        ("../x", "not a batch id"),
    ],
)
def test_retire_batch_refuses_what_it_cannot_retire(tmp_path, monkeypatch, capsys, load_id, message):
    home = tmp_path / "home"
    monkeypatch.setenv("DRIPLINE_HOME", str(home))
    (home / "landing" / "identity" / "customer_ids").mkdir(parents=True)
    (home / "landing" / "identity" / "customer_ids" / "map1.parquet").write_bytes(b"PAR1")
    assert cli.main(["retire-batch", load_id, "--reason", "test"]) == cli.EXIT_FAILED
    assert message in capsys.readouterr().err
    assert not (home / "retired_batches.csv").exists()
