import dagster as dg
import pytest


@pytest.fixture(scope="module")
def definitions(dbt_manifest):
    from orchestration.definitions import defs

    return defs()


def test_definitions_load_with_every_stage_asset(definitions):
    keys = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "spreadsheets/contacts",
        "forms/submissions",
        "customers",
        "customer_source_records",
        "quarantined_rows",
    } <= keys


def test_assets_are_grouped_by_stage_with_owners_kinds_and_descriptions(definitions):
    graph = definitions.resolve_asset_graph()
    groups = {
        "spreadsheets/contacts": "ingest",
        "forms/submissions": "ingest",
        "customers": "marketing",
        "quarantined_rows": "contacts",
    }
    for key, group in groups.items():
        node = graph.get(dg.AssetKey.from_user_string(key))
        assert node.group_name == group, key
        assert node.owners == ["team:data-engineering"], key
        assert node.description, key
    assert "xlsx" in graph.get(dg.AssetKey(["spreadsheets", "contacts"])).kinds
    assert "dbt" in graph.get(dg.AssetKey(["customers"])).kinds


def test_dbt_sources_join_the_ingestion_assets_in_lineage(definitions):
    graph = definitions.resolve_asset_graph()
    upstream = set()
    for key in graph.get_all_asset_keys():
        if key.path[0].startswith("stg_"):
            upstream |= {parent.to_user_string() for parent in graph.get(key).parent_keys}
    assert {"spreadsheets/contacts", "forms/submissions"} <= upstream


def test_dbt_tests_surface_as_asset_checks(definitions):
    checks = definitions.resolve_asset_graph().asset_check_keys
    customer_checks = {check.name for check in checks if check.asset_key == dg.AssetKey(["customers"])}
    assert any(name.startswith("unique_customers_customer_id") for name in customer_checks), customer_checks


def test_the_pipeline_job_selects_every_asset(definitions):
    job = definitions.resolve_job_def("pipeline_job")
    assert job.asset_layer.selected_asset_keys >= {
        dg.AssetKey(["spreadsheets", "contacts"]),
        dg.AssetKey(["customers"]),
    }
