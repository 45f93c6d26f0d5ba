"""`make bench-identity`: how well identity resolution finds people, against a seeded ground truth.

For every size (default 100k and 1M records) it draws a truth set with scripts/identity_truth.py, lands
the records the way the pipeline would (each one normalised by the connectors' own code: spreadsheet and
form rows through ``TableRecords``, Pipedrive persons, HubSpot contacts and Typeform responses as
API-shaped payloads through the sync modules' contact functions), then scores each engine:

- dripline: the identity stage of the dbt project as it stands, in a child process: every model upstream
  of customer_source_records except staging (int_contacts__unioned, int_identity__*, and whatever else
  the project puts there), after seeds and staging views are built untimed;
- exact-keys: the baseline of issue 19, records sharing a normalised email or phone joined transitively,
  with the guards any matcher needs (EXACT_KEYS_SQL) and no name read, on the same int_contacts__unioned;
- splink / splink-neutralised: Splink 5 (DuckDB backend) on the same records, read from
  int_contacts__unioned so both engines see the same input; the second variant first nulls landlines and
  role mailboxes written next to more than one distinct name, as the reference figures in issue #4 did.

Each engine's wall time and peak RSS come from ``os.wait4`` on its child. The dripline stage runs once to
build a fresh warehouse and then ``--reruns`` more times (default 2), each replacing the tables as a
scheduled run does; "wall s" is the first build, "re-runs s" the range of the others, and peak memory the
highest of them all. Scores are pairwise precision, recall and F1 over the accepted records, false-merge
pairs, over-merged clusters, recall by what a true pair shares (an email, a mobile, neither) and the false
merges by the trap behind them. Results go to bench/out/identity_results.json; a markdown table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import _run_child  # bench/bench.py: every bench script's child runner

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

OUT = REPO_ROOT / "bench" / "out"
DBT_DIR = REPO_ROOT / "dbt_project"
ENGINES = ("dripline", "exact-keys", "splink", "splink-neutralised")
SPLINK_THRESHOLD = 0.9
# API records land in pages this big (a real sync lands 100-500 per page; the page size changes the
# number of parquet files dbt reads, not what identity resolution does).
API_PAGE = 5_000
SHEET_FILES = 20
LOADED_AT = datetime(2026, 1, 1, tzinfo=UTC)


# Landing ------------------------------------------------------------------------------------------------


def land_truth_set(home: Path, records_path: Path) -> dict[str, int]:
    """Land every generated record under ``home/landing`` as its source would; return rows per source."""
    import pyarrow.parquet as pq

    from orchestration.lib.landing import prepare_landing

    columns = pq.read_table(records_path).to_pydict()
    by_source: dict[str, list[int]] = {}
    for i, source in enumerate(columns["source"]):
        by_source.setdefault(source, []).append(i)
    landing = home / "landing"
    prepare_landing(landing)
    counts = {}
    for source, indices in sorted(by_source.items()):
        rows = [
            (
                columns["source_record_id"][i],
                columns["full_name"][i],
                columns["email"][i],
                columns["phone"][i],
                columns["company"][i],
                columns["record_at"][i],
            )
            for i in indices
        ]
        counts[source] = {
            "spreadsheets": _land_file_rows,
            "forms": _land_file_rows,
            "pipedrive": _land_pipedrive,
            "hubspot": _land_hubspot,
            "typeform": _land_typeform,
        }[source](landing, source, rows)
    return counts


def _land_file_rows(landing: Path, source: str, rows: list[tuple]) -> int:
    """Spreadsheet rows (in SHEET_FILES workbooks) or form captures (one export), through TableRecords."""
    from connectors.core.landing import LandingZone
    from connectors.core.records import RecordBuilder, TableRecords

    entity = "contacts" if source == "spreadsheets" else "submissions"
    zone = LandingZone(landing, source, entity)
    zone.prepare()
    files = SHEET_FILES if source == "spreadsheets" else 1
    for f in range(files):
        relative_file = f"contacts_{f:02d}.xlsx" if source == "spreadsheets" else "submissions.jsonl"
        builder = RecordBuilder(
            source=source,
            relative_file=relative_file,
            region="KR",
            local_tz="Asia/Seoul",
            id_key=lambda _sheet, value: value,
            row_key=lambda _sheet, number, name=relative_file: f"{name}:{number}",
        )
        table = TableRecords(
            builder,
            sheet="Sheet1" if source == "spreadsheets" else None,
            headers=["id", "name", "email", "phone", "company", "date"],
            mapping={0: "record_id", 1: "name", 2: "email", 3: "phone", 4: "company", 5: "record_at"},
            header_row=1,
            where=f"{relative_file} row ",
            column_name=lambda index: f"column {index + 1}",
        )
        for number, row in enumerate(rows[f::files], start=2):
            table.add(number, list(row))
        zone.write_batch(f"bench-{source}-{f:02d}", builder.table(), loaded_at=LOADED_AT)
    return len(rows)


def _api_pages(landing: Path, rows: list[tuple], source: str, entity: str, payload, contacts, cursor) -> int:
    """Land API-shaped payloads page by page: the API columns plus the contact columns the sync module's
    own function derives from the payloads."""
    import pyarrow as pa

    from connectors.core.landing import API_CONTACT_RECORD_SCHEMA, API_RECORD_SCHEMA, LandingZone
    from connectors.core.normalize import parse_timestamp

    zone = LandingZone(landing, source, entity, API_CONTACT_RECORD_SCHEMA)
    zone.prepare()
    contact_columns = [f.name for f in API_CONTACT_RECORD_SCHEMA if f.name not in API_RECORD_SCHEMA.names]
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    for page, start in enumerate(range(0, len(rows), API_PAGE)):
        chunk = rows[start : start + API_PAGE]
        payloads = [payload(row) for row in chunk]
        n = len(chunk)
        derived = contacts(payloads)
        table = pa.table(
            {
                "_source": pa.array([source] * n, pa.string()),
                "_entity": pa.array([entity] * n, pa.string()),
                "_sync_id": pa.array(["bench"] * n, pa.string()),
                "_page": pa.array([page] * n, pa.int64()),
                "_cursor": pa.array([cursor(page)] * n, pa.string()),
                "record_id": pa.array([row[0] for row in chunk], pa.string()),
                "updated_at": pa.array(
                    [parse_timestamp(row[5], "UTC")[0] for row in chunk], pa.timestamp("us", tz="UTC")
                ),
                "is_deleted": pa.array([False] * n, pa.bool_()),
                "record": pa.array([encoder.encode(p) for p in payloads], pa.string()),
                **{name: derived.column(name).combine_chunks() for name in contact_columns},
            }
        )
        zone.write_batch(f"bench-{source}-p{page:05d}", table, loaded_at=LOADED_AT)
    return len(rows)


def _land_pipedrive(landing: Path, source: str, rows: list[tuple]) -> int:
    from connectors.apis.pipedrive import person_contacts

    def payload(row):
        record_id, name, email, phone, company, at = row
        return {
            "id": int(record_id),
            "name": name,
            "emails": [{"value": email, "primary": True, "label": "work"}] if email else [],
            "phones": [{"value": phone, "primary": True, "label": "mobile"}] if phone else [],
            "org_id": None,
            "org_name": company,
            "update_time": at,
        }

    return _api_pages(
        landing, rows, source, "persons", payload, lambda p: person_contacts(p, {}), lambda _: None
    )


def _land_hubspot(landing: Path, source: str, rows: list[tuple]) -> int:
    from connectors.apis.hubspot import contact_columns

    def payload(row):
        record_id, name, email, phone, company, at = row
        # HubSpot keeps first and last name apart; the sync joins them back in the order of their script.
        if name and all("\uac00" <= c <= "\ud7a3" or c == " " for c in name):
            # a Hangul name is family name first: 김민수 is lastname 김, firstname 민수
            last, _, first = name.partition(" ") if " " in name else (name[0], "", name[1:])
        else:
            first, _, last = (name or "").rpartition(" ")
            first, last = (first, last) if first else (last, "")
        return {
            "id": record_id,
            "properties": {
                "firstname": first or None,
                "lastname": last or None,
                "email": email,
                "phone": phone,
                "company": company,
                "lastmodifieddate": at,
            },
            "updatedAt": at,
            "archived": False,
        }

    return _api_pages(
        landing,
        rows,
        source,
        "contacts",
        payload,
        contact_columns,
        lambda page: "list" if page == 0 else f"list after {page}",
    )


def _land_typeform(landing: Path, source: str, rows: list[tuple]) -> int:
    from connectors.apis.typeform import response_contacts

    questions = [("name", "이름"), ("email", "이메일"), ("phone", "연락처"), ("company", "회사명")]
    answer_types = {"name": "text", "email": "email", "phone": "phone_number", "company": "text"}

    def payload(row):
        record_id, *values, at = row
        answers = [
            {"field": {"ref": ref, "type": kind}, "type": kind, kind: value}
            for (ref, _), kind, value in zip(questions, answer_types.values(), values[:4], strict=True)
            if value
        ]
        return {"response_id": record_id, "submitted_at": at, "answers": answers}

    return _api_pages(
        landing,
        rows,
        source,
        "responses",
        payload,
        lambda items: response_contacts(items, questions),
        lambda _: None,
    )


# Engines ------------------------------------------------------------------------------------------------


def _dbt(home: Path, *args: str) -> list[str]:
    dbt_dir = Path(os.environ.get("BENCH_DBT_PROJECT_DIR", DBT_DIR))
    return [
        str(Path(sys.executable).with_name("dbt")),
        "--no-use-colors",
        *args,
        "--project-dir",
        str(dbt_dir),
        "--profiles-dir",
        str(dbt_dir),
        "--target-path",
        str(home / "dbt-target"),
        "--log-path",
        str(home / "dbt-logs"),
    ]


def run_dripline(home: Path, env: dict[str, str], reruns: int) -> dict:
    """Seeds and staging views untimed, then the identity models timed in a dbt child process.

    The first timed run builds the identity tables in a fresh warehouse; each re-run replaces them, as a
    scheduled run does. Re-runs give the same tables (the id map only grows when the pipeline lands it).
    """
    _run_child(_dbt(home, "seed"), env)
    _run_child(_dbt(home, "run", "--select", "path:models/staging"), env)
    stage = _dbt(home, "run", "--select", "+customer_source_records", "--exclude", "path:models/staging")
    runs = []
    for _ in range(1 + reruns):
        wall, peak, _ = _run_child(stage, env)
        results = json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]
        models = {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in results}
        runs.append(
            {"wall_s": wall, "peak_mib": peak, "models_s": models, "model_sum_s": sum(models.values())}
        )
    return {**runs[0], "reruns": runs[1:]}


SPLINK_INPUT_SQL = """
with

contacts as (

    select
        record_key,
        lower(nfc_normalize(full_name)) as name,
        email,
        phone,
        phone_type,
        is_role_email,
        company
    from int_contacts__unioned

),

named as (

    select
        *,
        regexp_matches(name, '[\\p{Hangul}]') as is_hangul,
        string_split_regex(trim(regexp_replace(name, '[^\\p{L}\\s-]', ' ', 'g')), '[\\s]+') as tokens
    from contacts

)

select
    record_key as unique_id,
    case when is_hangul then left(replace(name, ' ', ''), 1) else tokens[-1] end as surname,
    case when is_hangul then substr(replace(name, ' ', ''), 2) else nullif(tokens[1], tokens[-1]) end
        as first_name,
    nullif(trim(name), '') as full_name,
    email,
    phone,
    phone_type,
    is_role_email,
    nullif(
        regexp_replace(
            lower(regexp_replace(company, '\\(주\\)|㈜|주식회사|co\\.,? ?ltd\\.?|,? inc\\.?', '', 'gi')),
            '[^\\p{L}\\p{N}]', '', 'g'
        ),
        ''
    ) as company
from named
"""

# The shared-value guard of the reference run: a landline or a role mailbox written next to more
# than one distinct name is a team value (a switchboard, info@) and says nothing about the person.
NEUTRALISE_SQL = """
create or replace table splink_input as
with
shared_phones as (
    select phone from splink_input
    where phone is not null and coalesce(phone_type, '') <> 'mobile'
    group by phone having count(distinct full_name) > 1
),
shared_emails as (
    select email from splink_input
    where email is not null and is_role_email
    group by email having count(distinct full_name) > 1
)
select
    * replace (
        case when phone in (select phone from shared_phones) then null else phone end as phone,
        case when email in (select email from shared_emails) then null else email end as email
    )
from splink_input
"""


# The baseline of issue 19: plain exact keys with the guards any matcher needs (placeholders and role
# mailboxes never join; a number that is not a mobile written next to two different names is a switchboard;
# a value written next to four or more different names, such as a made-up address missing from the
# placeholder seed, is nobody's) and nothing else: whatever shares one of the other keys joins,
# transitively, and no name is compared.
EXACT_KEYS_SQL = """
with
contacts as (
    select
        record_key,
        lower(nfc_normalize(trim(full_name))) as name,
        case when not is_placeholder_email and not is_role_email then email end as email,
        case when not is_placeholder_phone then phone end as phone,
        coalesce(phone_type, '') in ('mobile', 'other') as is_mobile
    from int_contacts__unioned
),
keys as (
    select record_key, name, 'email:' || email as match_key, false as is_landline
    from contacts
    where email is not null
    union all
    select record_key, name, 'phone:' || phone as match_key, not is_mobile as is_landline
    from contacts
    where phone is not null
),
shared_values as (
    select match_key
    from keys
    group by match_key
    having count(distinct name) > case when bool_or(is_landline) then 1 else 3 end
)
select record_key, match_key
from keys
where match_key not in (select match_key from shared_values)
"""


def exact_keys_stage(home: Path, out: Path) -> dict:
    """Child-process body: connected components of records sharing an exact key; (record_key, cluster_id)."""
    import duckdb
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    con = duckdb.connect()
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as warehouse (read_only)")
    con.execute("use warehouse")
    con.execute(
        "create temp table records as "
        "select record_key, (row_number() over () - 1)::bigint as record_index from int_contacts__unioned"
    )
    con.execute(f"create temp table keys as {EXACT_KEYS_SQL}")
    edges = con.execute(
        "select records.record_index, dense_rank() over (order by keys.match_key) - 1 "
        "from keys join records using (record_key)"
    ).fetchnumpy()
    n_records = con.execute("select count(*) from records").fetchall()[0][0]
    record_index, key_index = (np.asarray(v, dtype=np.int64) for v in edges.values())
    n_keys = int(key_index.max()) + 1 if len(key_index) else 0
    # nodes: records, then keys; an edge per (record, key)
    graph = coo_matrix(
        (np.ones(len(record_index)), (record_index, n_records + key_index)),
        shape=(n_records + n_keys, n_records + n_keys),
    )
    _, labels = connected_components(graph, directed=False)
    con.register("labels", {"record_index": np.arange(n_records), "cluster_id": labels[:n_records]})
    con.execute(
        f"copy (select record_key, cluster_id from records join labels using (record_index)) to '{out}'"
        " (format parquet)"
    )
    return {"edges": len(record_index)}


def splink_stage(home: Path, variant: str, out: Path) -> dict:
    """Child-process body: Splink 5 on int_contacts__unioned; writes (record_key, cluster_id) to ``out``."""
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect()
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as warehouse (read_only)")
    con.execute("use warehouse")
    table = con.execute(SPLINK_INPUT_SQL).to_arrow_table()
    con.execute("use memory")
    con.execute("detach warehouse")
    con.register("splink_arrow", table)
    con.execute("create table splink_input as select * from splink_arrow")
    con.unregister("splink_arrow")
    del table
    if variant == "splink-neutralised":
        con.execute(NEUTRALISE_SQL)
    con.execute("alter table splink_input drop column phone_type")
    con.execute("alter table splink_input drop column is_role_email")

    db_api = DuckDBAPI(connection=con)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.ForenameSurnameComparison(
                "first_name", "surname", forename_surname_concat_col_name="full_name"
            ),
            cl.EmailComparison("email"),
            cl.LevenshteinAtThresholds("phone", 1).configure(term_frequency_adjustments=True),
            # Exact only: a Jaro-Winkler level on the cleaned company name is almost never hit by a
            # match, so EM gives it a weight near -70, which vetoes any pair that reaches it.
            cl.ExactMatch("company"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("first_name", "surname"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(db_api.register("splink_input"), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone", "surname")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    # m by EM on the two key blocks: each estimates the other comparisons. EM on a name block (the other
    # common choice) is poisoned by namesakes here: it learns that matches rarely share an email or a
    # phone, and then merges every 김민수 with every other (precision 0.72 at 100k).
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    predictions = linker.inference.predict(threshold_match_probability=SPLINK_THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=SPLINK_THRESHOLD
    )
    edges = con.execute(f"select count(*) from {predictions.physical_name}").fetchone()[0]
    con.execute(
        f"copy (select unique_id as record_key, cluster_id from {clusters.physical_name}) "
        f"to '{out}' (format parquet)"
    )
    return {"edges": edges}


# Scoring ------------------------------------------------------------------------------------------------

PAIR_TYPES_SQL = """
create or replace temp table true_pairs as
with
records as (
    select
        t.person_id,
        c.record_key,
        c.email,
        case when c.phone_type = 'mobile' then c.phone end as mobile,
        case
            when c.full_name is null then 'none'
            when regexp_matches(c.full_name, '\\p{Hangul}') then 'hangul'
            else 'latin'
        end as script
    from contacts as c
    inner join truth as t
        on c.record_key = t.record_key
)
select
    a.record_key as key_a,
    b.record_key as key_b,
    case
        when a.email = b.email then 'shares email'
        when a.mobile = b.mobile then 'shares mobile (not email)'
        else 'shares neither'
    end as pair_type,
    case
        when a.script = 'none' or b.script = 'none' then 'a name missing'
        when a.script <> b.script then 'hangul vs latin'
        else 'same script'
    end as name_scripts
from records as a
inner join records as b
    on a.person_id = b.person_id and a.record_key < b.record_key
"""

RECALL_BY_TYPE_SQL = """
select
    p.pair_type,
    p.name_scripts,
    count(*) as true_pairs,
    count(*) filter (where pa.cluster_id = pb.cluster_id) as found
from true_pairs as p
inner join {predicted} as pa on p.key_a = pa.record_key
inner join {predicted} as pb on p.key_b = pb.record_key
group by all
order by all
"""

# True pairs that share an email or a mobile and were still not joined, by how their names were written.
MISSED_BY_NAME_FORMS_SQL = """
select
    least(ta.name_form, tb.name_form) || ' + ' || greatest(ta.name_form, tb.name_form) as name_forms,
    count(*) as missed
from true_pairs as p
inner join {predicted} as pa on p.key_a = pa.record_key
inner join {predicted} as pb on p.key_b = pb.record_key
inner join truth as ta on p.key_a = ta.record_key
inner join truth as tb on p.key_b = tb.record_key
where p.pair_type <> 'shares neither' and pa.cluster_id <> pb.cluster_id
group by all
order by missed desc
limit 10
"""

# Each over-merged cluster is put down to the most telling value it shares between different people.
FALSE_MERGES_SQL = """
with
joined as (
    select p.cluster_id, t.person_id, c.record_key, c.full_name, c.email, c.phone, c.company,
        t.email_kind, t.phone_kind, t.name_form
    from {predicted} as p
    inner join truth as t on p.record_key = t.record_key
    inner join contacts as c on p.record_key = c.record_key
),
cells as (
    select cluster_id, person_id, count(*) as n from joined group by all
),
over_merged as (
    select cluster_id, sum(n) * (sum(n) - 1) // 2 - sum(n * (n - 1) // 2) as false_pairs
    from cells
    group by cluster_id
    having count(*) > 1
),
shared_values as (
    select j.cluster_id,
        case
            when bool_or(j.email_kind = 'role') then 1
            when bool_or(j.email_kind = 'placeholder') then 2
            when bool_or(j.email_kind like '%typo') then 4
            else 6
        end as reason
    from joined as j
    inner join over_merged using (cluster_id)
    where j.email is not null
    group by j.cluster_id, j.email
    having count(distinct j.person_id) > 1
    union all
    select j.cluster_id,
        case
            when bool_or(j.phone_kind = 'switchboard') then 0
            when bool_or(j.phone_kind = 'placeholder') then 2
            when bool_or(j.phone_kind like 'family%') then 3
            when bool_or(j.phone_kind like '%typo') then 4
            else 5
        end as reason
    from joined as j
    inner join over_merged using (cluster_id)
    where j.phone is not null
    group by j.cluster_id, j.phone
    having count(distinct j.person_id) > 1
),
reasons as (
    select o.cluster_id, o.false_pairs, coalesce(min(s.reason), 7) as reason
    from over_merged as o
    left join shared_values as s using (cluster_id)
    group by all
)
select
    ['shared switchboard', 'role mailbox', 'placeholder value', 'family mobile', 'typo collides',
     'other shared phone', 'other shared email', 'no shared key (name/company similarity)'][reason + 1]
        as kind,
    count(*) as clusters,
    sum(false_pairs) as false_pairs,
    list(cluster_id order by false_pairs desc)[1:2] as example_clusters
from reasons
group by reason
order by false_pairs desc
"""


def score(home: Path, truth_path: Path, predicted_sql: str) -> dict:
    """Pairwise metrics, recall by pair type and false merges by kind of one engine's clustering."""
    import duckdb

    from scripts.identity_truth import pairwise_metrics

    con = duckdb.connect()
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as warehouse (read_only)")
    con.execute(
        "create temp table contacts as select record_key, full_name, email, phone, phone_type, company "
        "from warehouse.int_contacts__unioned"
    )
    con.execute(
        f"create temp table truth as select source || ':' || source_record_id as record_key, * "
        f"from read_parquet('{truth_path}')"
    )
    con.execute(f"create temp table predicted as {predicted_sql}")
    con.execute(PAIR_TYPES_SQL)
    metrics = pairwise_metrics(con, "predicted", "truth")
    by_type = con.execute(RECALL_BY_TYPE_SQL.format(predicted="predicted")).fetchall()
    metrics["recall_by_pair_type"] = [
        {"pair_type": t, "name_scripts": s, "true_pairs": n, "found": f, "recall": f / n if n else None}
        for t, s, n, f in by_type
    ]
    metrics["missed_key_pairs_by_name_forms"] = [
        {"name_forms": forms, "missed": n}
        for forms, n in con.execute(MISSED_BY_NAME_FORMS_SQL.format(predicted="predicted")).fetchall()
    ]
    false_merges = con.execute(FALSE_MERGES_SQL.format(predicted="predicted")).fetchall()
    kinds = []
    for kind, clusters, pairs, examples in false_merges:
        shown = [
            con.execute(
                "select list(distinct coalesce(c.full_name, '?') || ' / ' || coalesce(c.email, '-') || ' / '"
                " || coalesce(c.phone, '-') || ' [p' || t.person_id || ']') "
                "from predicted as p join contacts as c using (record_key) "
                "join truth as t using (record_key) "
                "where p.cluster_id = ?",
                [cluster],
            ).fetchone()[0][:6]
            for cluster in examples
        ]
        kinds.append({"kind": kind, "clusters": clusters, "false_pairs": int(pairs), "examples": shown})
    metrics["false_merges_by_kind"] = kinds
    con.close()
    return metrics


# Driver -------------------------------------------------------------------------------------------------


def bench_size(
    n_records: int, engines: list[str], seed: int, keep: bool, reruns: int, noisy: bool = False
) -> list[dict]:
    # Named by run, so no other process (someone inspecting a kept home) holds this warehouse's lock.
    home = OUT / f"identity-home-{n_records}-{os.getpid()}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "DRIPLINE_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    me = [sys.executable, __file__]
    wall, _, output = _run_child(
        [
            *me,
            "--prepare",
            str(n_records),
            "--seed",
            str(seed),
            *(["--noisy"] if noisy else []),
            "--home",
            str(home),
        ],
        env,
    )
    prepared = json.loads(output.strip().splitlines()[-1])
    print(f"[{n_records:>9,}] generated and landed in {wall:.1f} s: {prepared['landed']}", flush=True)
    truth_path = home / "truth" / "truth.parquet"

    # int_contacts__unioned, read by scoring and by Splink, comes from the dripline run.
    dripline = run_dripline(home, env, reruns)
    rows = []
    for engine in engines:
        if engine == "dripline":
            timing = dripline
            note = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(dripline["models_s"].items()))
            predicted = (
                "select source || ':' || source_record_id as record_key, customer_id as cluster_id "
                "from warehouse.customer_source_records"
            )
        else:
            clusters = home / f"{engine}-clusters.parquet"
            wall, peak, output = _run_child(
                [*me, "--engine-stage", engine, "--home", str(home), "--clusters", str(clusters)], env
            )
            timing = {"wall_s": wall, "peak_mib": peak}
            edges = json.loads(output.strip().splitlines()[-1])["edges"]
            note = (
                f"{edges:,} (record, key) edges"
                if engine == "exact-keys"
                else f"{edges:,} scored pairs >= {SPLINK_THRESHOLD}"
            )
            predicted = f"select record_key, cluster_id from read_parquet('{clusters}')"
        metrics = score(home, truth_path, predicted)
        row = {
            "engine": engine,
            "size": n_records,
            **timing,
            **metrics,
            "note": note,
            "truth": prepared["truth"],
        }
        rows.append(row)
        print(
            f"[{n_records:>9,}] {engine}: P={metrics['precision']:.4f} R={metrics['recall']:.4f} "
            f"F1={metrics['f1']:.4f} false merges={metrics['false_merge_pairs']:,} "
            f"t={timing['wall_s']:.1f}s mem={timing['peak_mib']:,.0f}MiB",
            flush=True,
        )
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return rows


def markdown(results: list[dict]) -> str:
    lines = [
        "| engine | records | precision | recall | F1 | false-merge pairs | over-merged clusters "
        "| wall s | re-runs s | peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        reruns = [run["wall_s"] for run in r.get("reruns", [])]
        rerun_cell = "-" if not reruns else f"{min(reruns):.1f}-{max(reruns):.1f}"
        peak = max([r["peak_mib"], *(run["peak_mib"] for run in r.get("reruns", []))])
        lines.append(
            f"| {r['engine']} | {r['records']:,} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} "
            f"| {r['false_merge_pairs']:,} | {r['over_merged_clusters']:,} | {r['wall_s']:.1f} "
            f"| {rerun_cell} | {peak:,.0f} |"
        )
    lines += ["", "Recall by what a true pair shares (found / true pairs):", ""]
    types = sorted({(t["pair_type"], t["name_scripts"]) for r in results for t in r["recall_by_pair_type"]})
    header = [f"{r['engine']} {r['size'] // 1000}k" for r in results]
    lines += ["| pair shares | names | true pairs (last size) | " + " | ".join(header) + " |"]
    lines += ["|---|---|---:|" + "---:|" * len(results)]
    for pair_type, scripts in types:
        cells, n = [], 0
        for r in results:
            hit = next(
                (
                    t
                    for t in r["recall_by_pair_type"]
                    if (t["pair_type"], t["name_scripts"]) == (pair_type, scripts)
                ),
                None,
            )
            n = hit["true_pairs"] if hit else n
            cells.append(f"{hit['recall']:.3f}" if hit else "-")
        lines.append(f"| {pair_type} | {scripts} | {n:,} | " + " | ".join(cells) + " |")
    lines += ["", "Pairs sharing an email or a mobile yet not joined, by how the two names were written:", ""]
    for r in results:
        missed = ", ".join(
            f"{m['name_forms']} {m['missed']:,}" for m in r["missed_key_pairs_by_name_forms"][:6]
        )
        lines.append(f"- {r['engine']} {r['size']:,}: {missed or 'none'}")
    lines += ["", "False-merge pairs by the value behind them:", ""]
    for r in results:
        kinds = ", ".join(
            f"{k['kind']} {k['false_pairs']:,} ({k['clusters']:,} clusters)"
            for k in r["false_merges_by_kind"]
        )
        lines.append(f"- {r['engine']} {r['size']:,}: {kinds or 'none'}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated record counts")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: " + ", ".join(ENGINES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--noisy",
        action="store_true",
        help="hand-typed name noise in the truth set (scripts/identity_truth.py NOISE_SHARES)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated homes under bench/out/")
    parser.add_argument(
        "--reruns",
        type=int,
        default=2,
        help="times the dripline stage runs again after the first build, as a scheduled run (default 2)",
    )
    parser.add_argument(
        "--dbt-project",
        type=Path,
        default=DBT_DIR,
        help="the dbt project whose identity models are measured (default: %(default)s)",
    )
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine-stage", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--clusters", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.prepare:
        from scripts.identity_truth import write_truth_set

        truth = write_truth_set(args.home / "truth", args.prepare, args.seed, args.noisy)
        landed = land_truth_set(args.home, args.home / "truth" / "records.parquet")
        print(json.dumps({"truth": truth, "landed": landed}, default=str))
        return 0
    if args.engine_stage:
        if args.engine_stage == "exact-keys":
            print(json.dumps(exact_keys_stage(args.home, args.clusters)))
        else:
            print(json.dumps(splink_stage(args.home, args.engine_stage, args.clusters)))
        return 0

    engines = [e for e in args.engines.split(",") if e]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}")
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_DBT_PROJECT_DIR"] = str(args.dbt_project.resolve())
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        results += bench_size(
            size, engines, args.seed, args.keep, args.reruns if "dripline" in engines else 0, args.noisy
        )
    (OUT / "identity_results.json").write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False))
    print("\n" + markdown(results))
    written = OUT / "identity_results.json"
    print(f"\n{os.cpu_count()} cores, python {sys.version.split()[0]}; written to {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
