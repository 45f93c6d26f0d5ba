"""The identity yardstick: the seeded truth set (scripts/identity_truth.py) and the pairwise scoring."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from scripts.identity_truth import SURNAMES, generate, pairwise_metrics, summarise

RECORD_COLUMNS = ["source", "source_record_id", "full_name", "email", "phone", "company", "record_at"]


@pytest.fixture(scope="module")
def truth_set() -> tuple[pa.Table, pa.Table]:
    return generate(20_000, seed=3)


@pytest.fixture(scope="module")
def joined(truth_set) -> duckdb.DuckDBPyConnection:
    records, truth = truth_set
    con = duckdb.connect()
    con.register("records", records)
    con.register("truth", truth)
    con.execute("create table joined as select * from records join truth using (source, source_record_id)")
    return con


def test_a_seed_gives_the_same_records_and_another_seed_different_ones():
    first_records, first_truth = generate(2_000, seed=11)
    again_records, again_truth = generate(2_000, seed=11)
    other_records, _ = generate(2_000, seed=12)
    assert first_records.equals(again_records)
    assert first_truth.equals(again_truth)
    assert not first_records.equals(other_records)


def test_records_hold_what_sources_hold_and_nothing_of_the_truth(truth_set):
    records, truth = truth_set
    assert records.column_names == RECORD_COLUMNS
    assert records.num_rows == truth.num_rows == 20_000
    keys = set(zip(records["source"].to_pylist(), records["source_record_id"].to_pylist(), strict=True))
    assert len(keys) == records.num_rows
    assert set(records["source"].to_pylist()) == {"spreadsheets", "forms", "typeform", "pipedrive", "hubspot"}


def test_proportions_are_the_stated_ones(truth_set):
    summary = summarise(truth_set[1])
    assert 0.24 <= summary["share_people_repeated"] <= 0.32
    assert 0.20 <= summary["share_pairs_sharing_neither"] <= 0.32
    assert summary["pairs_across_sources"] / summary["true_pairs"] > 0.9


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("name_form", "hangul"),
        ("name_form", "roman_given_first"),
        ("name_form", "roman_family_first"),
        ("name_form", "english_nickname"),
        ("name_form", "english_typo"),
        ("name_form", "hangul_typo"),
        ("name_form", "korean_english_name"),
        ("email_kind", "role"),
        ("email_kind", "placeholder"),
        ("email_kind", "changed"),
        ("email_kind", "personal_typo"),
        ("phone_kind", "switchboard"),
        ("phone_kind", "desk_line"),
        ("phone_kind", "family_mobile"),
        ("phone_kind", "placeholder"),
        ("phone_kind", "mobile_typo"),
        ("phone_kind", "changed_mobile"),
        ("phone_kind", "foreign"),
    ],
)
def test_every_kind_of_trap_is_drawn(joined, column, kind):
    assert joined.execute(f"select count(*) from joined where {column} = ?", [kind]).fetchone()[0] > 0


def test_shared_keys_are_shared_by_different_people(joined):
    switchboard_people = joined.execute(
        "select max(n) from (select count(distinct person_id) as n from joined "
        "where phone_kind = 'switchboard' group by regexp_replace(phone, '[^0-9]', '', 'g'))"
    ).fetchone()[0]
    assert switchboard_people >= 5
    # The family member's records are marked; the number is also the other person's own mobile.
    family_people = joined.execute(
        "select max(n) from (select count(distinct person_id) as n from joined where true_mobile in "
        "(select true_mobile from joined where phone_kind = 'family_mobile') group by true_mobile)"
    ).fetchone()[0]
    assert family_people >= 2
    role_people = joined.execute(
        "select max(n) from (select count(distinct person_id) as n from joined "
        "where email_kind = 'role' group by lower(trim(email)))"
    ).fetchone()[0]
    assert role_people >= 2


def test_namesakes_and_company_variants_exist(joined):
    namesakes = joined.execute(
        "select max(n) from (select count(distinct person_id) as n from joined "
        "where name_form = 'hangul' group by replace(full_name, ' ', ''))"
    ).fetchone()[0]
    assert namesakes >= 5
    spellings = joined.execute(
        "select max(n) from (select count(distinct company) as n from joined "
        "where company is not null group by company_id)"
    ).fetchone()[0]
    assert spellings >= 3


def _score(predicted: dict[str, int], truth: dict[str, int]) -> dict:
    con = duckdb.connect()
    con.register(
        "predicted", pa.table({"record_key": list(predicted), "cluster_id": list(predicted.values())})
    )
    con.register("truth", pa.table({"record_key": list(truth), "person_id": list(truth.values())}))
    return pairwise_metrics(con, "predicted", "truth")


TRUTH = {"a1": 1, "a2": 1, "a3": 1, "b1": 2, "b2": 2, "c1": 3}


@pytest.mark.parametrize(
    ("predicted", "expected"),
    [
        pytest.param(
            {"a1": 10, "a2": 10, "a3": 10, "b1": 20, "b2": 20, "c1": 30},
            {"precision": 1.0, "recall": 1.0, "false_merge_pairs": 0, "over_merged_clusters": 0},
            id="perfect",
        ),
        pytest.param(
            # c1 joins b: two wrong pairs (b1-c1, b2-c1) among 3 + 3 predicted.
            {"a1": 10, "a2": 10, "a3": 10, "b1": 20, "b2": 20, "c1": 20},
            {"precision": 4 / 6, "recall": 1.0, "false_merge_pairs": 2, "over_merged_clusters": 1},
            id="one false merge",
        ),
        pytest.param(
            # a3 split from a: pairs a1-a3 and a2-a3 missed, 2 of the 4 true pairs found.
            {"a1": 10, "a2": 10, "a3": 11, "b1": 20, "b2": 20, "c1": 30},
            {"precision": 1.0, "recall": 2 / 4, "false_merge_pairs": 0, "split_people": 1},
            id="one split",
        ),
        pytest.param(
            {"a1": 1, "a2": 2, "a3": 3, "b1": 4, "b2": 5, "c1": 6},
            {"precision": 1.0, "recall": 0.0, "f1": 0.0, "predicted_pairs": 0},
            id="all singletons",
        ),
    ],
)
def test_pairwise_metrics_on_hand_made_clusterings(predicted, expected):
    result = _score(predicted, TRUTH)
    assert result["true_pairs"] == 4
    for name, value in expected.items():
        assert result[name] == pytest.approx(value), name


def test_pairwise_metrics_count_only_records_in_both():
    result = _score({"a1": 1, "a2": 1, "x9": 1}, {"a1": 1, "a2": 1, "a3": 1})
    assert result["records"] == 2
    assert (result["precision"], result["recall"], result["true_pairs"]) == (1.0, 1.0, 1)


def test_noise_draws_every_kind_of_hand_typed_name(truth_set):
    _, truth = truth_set
    noisy_records, noisy_truth = generate(20_000, seed=3, noisy=True)
    forms = noisy_truth.column("name_form").to_pylist()
    for kind in ("swapped_fields", "shifted_space", "stray_letter", "transposed", "given_only"):
        assert any(form.endswith(kind) for form in forms), kind
    # siblings on a family's mobile come on top of the families the seed draws
    family = pc.sum(pc.equal(noisy_truth.column("phone_kind"), "family_mobile")).as_py()
    assert family > pc.sum(pc.equal(truth.column("phone_kind"), "family_mobile")).as_py()
    # a swapped HubSpot name ends with the surname: 민수김
    names = noisy_records.column("full_name").to_pylist()
    surnames = {surname for surname, _, _ in SURNAMES}
    swapped = [names[i] for i, form in enumerate(forms) if form.endswith("swapped_fields")]
    assert swapped and all(len(name) == 3 and name[-1] in surnames for name in swapped)
