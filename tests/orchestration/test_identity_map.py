"""The customer_id_map asset: pipeline_job persists the ids dbt assigned, never those of a failed dbt run."""

import dagster as dg
import pytest

from orchestration.lib.identity import customer_id_map_zone


@pytest.fixture(scope="module")
def definitions(dbt_manifest):
    from orchestration.definitions import defs

    return defs()


def run_pipeline(definitions) -> dg.ExecuteInProcessResult:
    job = definitions.resolve_job_def("pipeline_job")
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def map_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [materialization] = result.asset_materializations_for_node("customer_id_map")
    return {key: value.value for key, value in materialization.metadata.items()}


def test_the_map_asset_follows_the_identity_model_in_the_identity_group(definitions):
    graph = definitions.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["customer_id_map"]))
    assert node.parent_keys == {dg.AssetKey(["int_identity__customer_ids"])}
    assert (node.group_name, node.owners) == ("identity", ["team:data-engineering"])
    assert {"python", "parquet"} <= node.kinds
    assert (
        dg.AssetKey(["customer_id_map"])
        in definitions.resolve_job_def("pipeline_job").asset_layer.selected_asset_keys
    )
    checks = {
        c.name for c in graph.asset_check_keys if c.asset_key == dg.AssetKey(["int_identity__customer_ids"])
    }
    assert any(name.startswith("merge_share_within_limit") for name in checks), checks


def write_csv(path, rows) -> None:
    path.write_text("이름,휴대폰,이메일\n" + "".join(f"{n},{p},{e}\n" for n, p, e in rows), encoding="utf-8")


def test_the_pipeline_persists_the_map_and_skips_it_when_dbt_fails(home, definitions):
    inbox = home / "inbox" / "spreadsheets"
    write_csv(
        inbox / "mailing.csv", [(f"Mailing Person{chr(65 + i)}", "", f"person{i}@mail.kr") for i in range(30)]
    )
    write_csv(
        inbox / "phones.csv", [(f"Phone Person{chr(65 + i)}", f"010-3{i:03d}-{i:04d}", "") for i in range(30)]
    )
    zone = customer_id_map_zone(home / "landing")

    first = run_pipeline(definitions)
    assert first.success
    meta = map_metadata(first)
    assert (meta["rows_landed"], meta["customers"], meta["new_customer_ids"]) == (60, 60, 60)
    assert (meta["retired_customer_ids"], meta["dagster/row_count"]) == (0, 60)
    [batch] = zone.batch_ids()
    assert meta["load_id"] == batch

    again = run_pipeline(definitions)
    assert again.success
    assert map_metadata(again)["rows_landed"] == 0
    assert zone.batch_ids() == [batch]

    # A list whose rows carry one customer's email and another's phone would merge 30 of the 60.
    write_csv(inbox / "bad.csv", [("", f"010-3{i:03d}-{i:04d}", f"person{i}@mail.kr") for i in range(30)])
    failed = run_pipeline(definitions)
    assert not failed.success
    [merge_check] = [
        evaluation
        for evaluation in failed.get_asset_check_evaluations()
        if evaluation.check_name.startswith("merge_share_within_limit")
    ]
    assert not merge_check.passed
    assert failed.asset_materializations_for_node("customer_id_map") == []
    assert not failed.is_node_success("customer_id_map")
    assert zone.batch_ids() == [batch]


def test_identity_settings_reach_dbt_as_vars(dbt_manifest, monkeypatch):
    from orchestration.defs.dbt import dbt_vars
    from orchestration.lib.segments import load_segments
    from orchestration.lib.settings import DriplineSettings

    monkeypatch.setenv("DRIPLINE_IDENTITY_FUZZY_THRESHOLD", "9.5")
    monkeypatch.setenv("DRIPLINE_IDENTITY_MAX_MERGE_SHARE", "0.1")
    monkeypatch.setenv("DRIPLINE_IDENTITY_MIN_MERGES_TO_CHECK", "3")
    settings = DriplineSettings()
    build_vars = dbt_vars(settings, load_segments(settings.segments_file))
    assert build_vars["identity_fuzzy_threshold"] == 9.5
    assert build_vars["identity_max_merge_share"] == 0.1
    assert build_vars["identity_min_merges_to_check"] == 3
