"""Identity beyond shared keys, built by real `dbt build`s: the fuzzy tier, the reviewed overrides
(must_link / cannot_link in seed identity_overrides) and the cluster-size warning.

The overrides live in a seed that is reviewed like code, so these tests write their own decisions into a
copy of the dbt project rather than touching the repository's.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from orchestration.lib.paths import DBT_PROJECT_DIR
from orchestration.lib.warehouse import blocking_stats
from tests.dbt.test_dbt_build import (
    FORMS,
    SHEETS,
    at,
    customer_of,
    dbt_build,
    form,
    land,
    prepare_landing,
    query,
    sheet,
)


def build_with_overrides(home: Path, overrides: list[dict[str, str]], *extra: str) -> list[dict]:
    """`dbt build` of a copy of the project whose identity_overrides seed holds ``overrides``."""
    project = home / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml")
    )
    with (project / "seeds" / "identity_overrides.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle, ["decision", "record_key_a", "record_key_b", "reason", "decided_by", "decided_on"]
        )
        writer.writeheader()
        writer.writerows(overrides)
    dbt_build(home, *extra, project_dir=project)
    return json.loads((home / "dbt-target" / "run_results.json").read_text())["results"]


def override(decision: str, a: str, b: str, reason: str) -> dict[str, str]:
    return {
        "decision": decision,
        "record_key_a": a,
        "record_key_b": b,
        "reason": reason,
        "decided_by": "ops@example.com",
        "decided_on": "2026-11-20",
    }


@pytest.fixture(scope="module")
def overridden_home(tmp_path_factory) -> tuple[Path, list[dict]]:
    home = tmp_path_factory.mktemp("identity-overrides")
    prepare_landing(home)
    land(
        home,
        SHEETS,
        "sheet-1",
        at("2024-01-10"),
        # one personal mailbox, two people (a couple sharing an address): cannot_link keeps them apart
        sheet("s-couple-a", "김민수", "home@kimfamily.kr", "+821011110001"),
        # joined to s-couple-a by a mobile and to f-couple-b by the mailbox: the chain must break too
        sheet("s-chain", "김민수", "minsu.kim@work.kr", "+821011110001"),
        # a reviewer knows these two are one person though nothing is shared
        sheet("s-jihoon", "박지훈", "jihoon@old-employer.kr"),
        # the fuzzy tier: Hangul and romanised name at one company, nothing else shared
        sheet("s-younghee", "김영희", None, None, company="(주)한빛소프트"),
        # three records of one person: above a cluster-size limit of 2
        sheet("s-sora-1", "Lee Sora", "sora@lee.kr"),
        sheet("s-sora-2", "Lee Sora", "sora@lee.kr"),
    )
    land(
        home,
        FORMS,
        "forms-1",
        at("2024-01-15"),
        form("f-couple-b", "김민수", "minsu.kim@work.kr"),
        form("f-jihoon", "Jihoon Park", "jihoon.park@new-employer.kr"),
        form("f-younghee", "Younghee Kim", None, None, company="한빛소프트"),
        form("f-sora-3", "Sora Lee", "sora@lee.kr"),
    )
    results = build_with_overrides(
        home,
        [
            override(
                "cannot_link", "spreadsheets:s-couple-a", "forms:f-couple-b", "a couple sharing a mailbox"
            ),
            override(
                "must_link", "spreadsheets:s-jihoon", "forms:f-jihoon", "changed employer, confirmed by phone"
            ),
        ],
        "--vars",
        json.dumps({"identity_max_cluster_size": 2}),
    )
    return home, results


def test_cannot_link_splits_records_that_shared_keys_would_join(overridden_home):
    home, _ = overridden_home
    a = customer_of(home, "spreadsheets", "s-couple-a")
    b = customer_of(home, "forms", "f-couple-b")
    assert a != b
    # the record in between goes with the side of its stronger link: an email outranks a phone
    assert customer_of(home, "spreadsheets", "s-chain") == b


def test_must_link_joins_records_that_share_nothing_and_says_why(overridden_home):
    home, _ = overridden_home
    assert customer_of(home, "spreadsheets", "s-jihoon") == customer_of(home, "forms", "f-jihoon")
    [(rule, evidence)] = query(
        home,
        "select match_rule, match_evidence from customer_source_records where source_record_id = 's-jihoon'",
    )
    assert rule == "must_link"
    assert evidence == "changed employer, confirmed by phone (ops@example.com, 2026-11-20)"


def test_fuzzy_tier_joins_a_romanised_name_at_the_same_company(overridden_home):
    home, _ = overridden_home
    customer = customer_of(home, "spreadsheets", "s-younghee")
    assert customer == customer_of(home, "forms", "f-younghee")
    rows = query(
        home,
        "select rule, evidence, linked_source_record_id, score from customer_match_evidence"
        " where customer_id = ? order by source_record_id",
        customer,
    )
    assert rows == [
        ("fuzzy", "name 김:yunghi, same workplace", "s-younghee", 9.0),
        ("fuzzy", "name 김:yunghi, same workplace", "f-younghee", 9.0),
    ]


def test_a_cluster_above_the_size_limit_warns(overridden_home):
    _, results = overridden_home
    [check] = [r for r in results if r["unique_id"].startswith("test.dripline.cluster_size_at_most")]
    assert check["status"] == "warn"
    assert check["failures"] == 1


@pytest.fixture(scope="module")
def capped_home(tmp_path_factory) -> Path:
    """A fuzzy-tier block cap of 2 records: one workplace block of two, one of three."""
    home = tmp_path_factory.mktemp("identity-block-cap")
    prepare_landing(home)
    land(
        home,
        SHEETS,
        "sheet-1",
        at("2024-01-10"),
        # two records of one person at a small company: a block of two, under the cap
        sheet("s-jisu", "이지수", None, None, company="(주)다온"),
        # three namesakes at another company: a block of three, over the cap
        sheet("s-minsu-1", "김민수", None, None, company="해밀"),
        sheet("s-minsu-2", "김민수", None, None, company="해밀"),
    )
    land(
        home,
        FORMS,
        "forms-1",
        at("2024-01-15"),
        form("f-jisu", "Jisu Lee", None, None, company="다온"),
        form("f-minsu-3", "Minsu Kim", None, None, company="해밀 주식회사"),
    )
    dbt_build(home, "--vars", json.dumps({"identity_max_block_size": 2}))
    return home


def test_a_block_over_the_cap_is_skipped_and_counted(capped_home):
    assert customer_of(capped_home, "spreadsheets", "s-jisu") == customer_of(capped_home, "forms", "f-jisu")
    minsu = {
        customer_of(capped_home, *record)
        for record in [("spreadsheets", "s-minsu-1"), ("spreadsheets", "s-minsu-2"), ("forms", "f-minsu-3")]
    }
    assert len(minsu) == 3
    stats = {row["block_kind"]: row for row in blocking_stats(capped_home / "warehouse.duckdb")}
    assert stats["company"] == {
        "block_kind": "company",
        "block_count": 1,
        "record_count": 2,
        "largest_block_size": 2,
        "pair_count": 1,
        "skipped_block_count": 1,
        "skipped_record_count": 3,
        "largest_skipped_block_size": 3,
    }
    assert all(row["skipped_block_count"] == 0 for kind, row in stats.items() if kind != "company")
