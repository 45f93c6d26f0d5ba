"""Segment definitions (segments.yml): validation, the dbt var, and what Dagster shows of segment_summary."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml

from orchestration import cli
from orchestration.lib.paths import DBT_PROJECT_DIR, REPO_ROOT
from orchestration.lib.segments import (
    SegmentDefinitionError,
    dbt_segments_var,
    load_segments,
    resolve_as_of,
)
from tests.dbt.test_dbt_build import FORMS, SHEETS, at, form, land, prepare_landing, sheet

SHIPPED = REPO_ROOT / "segments.yml"


def segment(name: str, priority: int, rule: str = "purchase_count > 0", **fields: object) -> dict:
    return {
        "name": name,
        "priority": priority,
        "description": f"{name} description",
        "rule": rule,
        "channel": "email",
        "offer": "a discount",
        **fields,
    }


def valid_segments() -> list[dict]:
    return [
        segment("vips", 1, "is_vip"),
        segment("regulars", 2, "lifecycle_stage = 'regular'"),
        segment("buyers", 3, "purchase_count > 0"),
        segment("warm", 4, "has_form_submission and days_since_last_activity <= 30"),
        segment("everyone_else", 99, "true"),
    ]


def write(tmp_path: Path, segments: list[dict]) -> Path:
    path = tmp_path / "segments.yml"
    path.write_text(yaml.safe_dump({"segments": segments}, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_segments_are_valid_and_ordered_by_priority():
    segments = load_segments(SHIPPED)
    assert [s.priority for s in segments] == list(range(1, len(segments) + 1))
    assert 5 <= len(segments) <= 10
    assert segments[-1].rule == "true"
    assert {"vip_accounts", "large_accounts", "warm_prospects", "churned", "cold_prospects"} <= {
        s.name for s in segments
    }


def test_the_dbt_default_var_is_the_shipped_file():
    """A plain `dbt build` uses the var in dbt_project.yml: it must say what segments.yml says."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"]["segments"] == dbt_segments_var(load_segments(SHIPPED))


def test_a_valid_file_loads_with_unquoted_true_as_the_catch_all(tmp_path):
    segments = valid_segments()
    segments[-1]["rule"] = True  # `rule: true` unquoted is a YAML boolean
    loaded = load_segments(write(tmp_path, segments))
    assert [s.name for s in loaded] == ["vips", "regulars", "buyers", "warm", "everyone_else"]
    assert loaded[-1].rule == "true"


def _invalid(change) -> list[dict]:
    segments = valid_segments()
    change(segments)
    return segments


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        pytest.param(
            _invalid(lambda s: s[1].update(rule="lifecycle = 'regular'")),
            r"segment #2 \('regulars'\): the rule refers to an unknown column 'lifecycle'; rules can use "
            r"lifecycle_stage",
            id="unknown-column",
        ),
        pytest.param(
            _invalid(lambda s: s[2].update(rule="purchase_count >")),
            r"segment #3 \('buyers'\): the rule does not parse: .*syntax error",
            id="does-not-parse",
        ),
        pytest.param(
            _invalid(lambda s: s[2].update(rule="purchase_count")),
            r"'buyers'\): the rule must be true or false, but it gives a BIGINT",
            id="not-a-condition",
        ),
        pytest.param(
            _invalid(lambda s: s[2].update(rule="true; drop table customers")),
            r"'buyers'\): the rule must be one condition; it contains ';'",
            id="two-statements",
        ),
        pytest.param(
            _invalid(lambda s: s[2].update(rule=5)),
            r"'buyers'\): the rule must be text \(a SQL condition\)",
            id="rule-not-text",
        ),
        pytest.param(
            _invalid(lambda s: s[2].update(name="vips")),
            r"segments 'vips' and 'vips' have the same name",
            id="duplicate-name",
        ),
        pytest.param(
            _invalid(lambda s: s[2].update(priority=2)),
            r"segments 'regulars' and 'buyers' have the same priority",
            id="duplicate-priority",
        ),
        pytest.param(
            _invalid(lambda s: s[4].update(rule="purchase_count = 0")),
            r"the last segment by priority \('everyone_else'\) must have the rule true",
            id="no-catch-all",
        ),
        pytest.param(
            _invalid(lambda s: s[0].update(rule="TRUE")),
            r"segment 'vips': the rule true matches everyone, so the segments after it would stay empty",
            id="catch-all-too-early",
        ),
        pytest.param(
            _invalid(lambda s: s.pop(1)),
            r"4 segments defined; define between 5 and 10",
            id="too-few",
        ),
        pytest.param(
            _invalid(lambda s: s.extend(segment(f"extra_{i}", 10 + i) for i in range(6))),
            r"11 segments defined; define between 5 and 10",
            id="too-many",
        ),
        pytest.param(
            _invalid(lambda s: s[0].pop("offer")),
            r"segment #1 \('vips'\): missing offer",
            id="missing-field",
        ),
        pytest.param(
            _invalid(lambda s: s[0].update(audience="all")),
            r"segment #1 \('vips'\): unknown field\(s\) audience",
            id="unknown-field",
        ),
        pytest.param(
            _invalid(lambda s: s[0].update(name="VIP Accounts")),
            r"segment #1 \('VIP Accounts'\): the name must be lower-case letters",
            id="bad-name",
        ),
    ],
)
def test_a_bad_definition_names_the_file_the_segment_and_the_problem(tmp_path, segments, message):
    path = write(tmp_path, segments)
    with pytest.raises(SegmentDefinitionError, match=message) as raised:
        load_segments(path)
    assert str(raised.value).startswith(f"{path}: invalid segment definitions:")


def test_every_problem_is_reported_at_once(tmp_path):
    segments = valid_segments()
    segments[0]["rule"] = "nope = 1"
    segments[1]["priority"] = 1
    with pytest.raises(SegmentDefinitionError) as raised:
        load_segments(write(tmp_path, segments))
    assert len(raised.value.problems) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("segments: [", "not valid YAML", id="not-yaml"),
        pytest.param("- name: a\n", "the file must hold a list under the key 'segments'", id="not-a-mapping"),
    ],
)
def test_a_file_that_is_not_a_segment_list_says_so(tmp_path, text, message):
    path = tmp_path / "segments.yml"
    path.write_text(text)
    with pytest.raises(SegmentDefinitionError, match=message):
        load_segments(path)


def test_a_missing_file_says_which(tmp_path):
    with pytest.raises(SegmentDefinitionError, match=r"(?s)nowhere\.yml: .*cannot read the file"):
        load_segments(tmp_path / "nowhere.yml")


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        pytest.param(
            datetime(2024, 7, 1),
            datetime(2024, 7, 1, tzinfo=ZoneInfo("Asia/Seoul")),
            id="date-is-local-midnight",
        ),
        pytest.param(
            datetime(2024, 7, 1, 12, tzinfo=UTC), datetime(2024, 7, 1, 12, tzinfo=UTC), id="offset-kept"
        ),
    ],
)
def test_as_of_without_an_offset_is_local_time(as_of, expected):
    assert resolve_as_of(as_of, "Asia/Seoul") == expected


def test_as_of_defaults_to_now():
    before = datetime.now(UTC).replace(microsecond=0)
    assert before <= resolve_as_of(None, "Asia/Seoul") <= datetime.now(UTC)


def test_dripline_run_stops_on_a_bad_definition_before_anything_runs(home, monkeypatch, capsys):
    segments = valid_segments()
    segments[1]["rule"] = "lifecycle = 'regular'"
    monkeypatch.setenv("DRIPLINE_SEGMENTS_FILE", str(write(home, segments)))
    assert cli.main(["run"]) == 2
    error = capsys.readouterr().err
    assert "segments.yml" in error and "'regulars'" in error and "unknown column 'lifecycle'" in error
    assert not (home / "landing").exists()
    assert not (home / "warehouse.duckdb").exists()


def test_loading_the_definitions_fails_on_a_bad_definition(dbt_manifest, home, monkeypatch):
    from orchestration.definitions import defs

    segments = valid_segments()
    segments[2]["rule"] = "purchase_count >"
    monkeypatch.setenv("DRIPLINE_SEGMENTS_FILE", str(write(home, segments)))
    with pytest.raises(Exception, match=r"dbt\.py") as raised:
        defs()
    causes = []
    error: BaseException | None = raised.value
    while error is not None:
        causes.append(error)
        error = error.__cause__
    [cause] = [c for c in causes if isinstance(c, SegmentDefinitionError)]
    assert "segment #3 ('buyers'): the rule does not parse" in str(cause)


def land_contacts(home: Path) -> None:
    """Four prospects: two sent a form (one with consent), two came from a spreadsheet (one with a phone)."""
    prepare_landing(home)
    land(
        home,
        SHEETS,
        "sheet",
        at("2024-05-01"),
        sheet("s1", "Kim Minsu", "minsu@haneul.kr", "+821011112222"),
        sheet("s2", "Lee Younghee", "younghee@byeol.kr"),
    )
    land(
        home,
        FORMS,
        "forms",
        at("2024-06-20"),
        form("f1", "Park Jihoon", "jihoon@park.kr", consent_email=True, record_at=at("2024-06-20")),
        form("f2", "Choi Seoyeon", "seoyeon@choi.kr", record_at=at("2024-06-20")),
    )


def _materialize() -> dg.ExecuteInProcessResult:
    from orchestration.defs.dbt import contactable_share_above_floor, dripline_dbt_models
    from orchestration.defs.resources import resources

    return dg.materialize(
        [dripline_dbt_models, contactable_share_above_floor],
        resources=resources().resources,
        raise_on_error=False,
    )


def materialization(result: dg.ExecuteInProcessResult, key: str) -> dg.AssetMaterialization:
    [event] = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey([key])
    ]
    return event


@pytest.fixture(scope="module")
def segmented_home(dbt_manifest, tmp_path_factory) -> tuple[Path, dg.ExecuteInProcessResult]:
    """One materialisation of the dbt assets and the reach check, with a floor of 90%."""
    home = tmp_path_factory.mktemp("segments-home")
    land_contacts(home)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRIPLINE_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        patch.setenv("DRIPLINE_AS_OF", "2024-07-01T00:00:00+00:00")
        patch.setenv("DRIPLINE_CONTACTABLE_SHARE_FLOOR", "0.9")
        result = _materialize()
    return home, result


@pytest.fixture
def segmented(segmented_home) -> dg.ExecuteInProcessResult:
    return segmented_home[1]


def test_the_segment_summary_asset_shows_the_table_and_a_size_and_reach_per_segment(segmented):
    assert segmented.success
    metadata = materialization(segmented, "segment_summary").metadata
    table = metadata["segments"]
    assert isinstance(table, dg.TableMetadataValue)
    rows = {record.data["segment"]: record.data for record in table.records}
    names = [s.name.replace("_", " ") for s in load_segments(SHIPPED)]
    assert list(rows) == names
    assert rows["warm prospects"]["customers"] == "2"
    assert rows["cold prospects"]["customers"] == "2"
    assert rows["warm prospects"]["contactable"] == "50.0\N{NO-BREAK SPACE}%"
    assert rows["cold prospects"]["contactable"] == "50.0\N{NO-BREAK SPACE}%"
    # plotted per segment, in priority order: "7 warm prospects · customers", "7 … · contactable %"
    for segment in load_segments(SHIPPED):
        key = f"{segment.priority} {segment.name.replace('_', ' ')} · customers"
        assert isinstance(metadata[key], dg.IntMetadataValue), key
    assert metadata["7 warm prospects · customers"].value == 2
    assert metadata["7 warm prospects · contactable %"].value == 50.0
    assert math.isnan(metadata["1 vip accounts · contactable %"].value)  # empty: a gap, the plots keep rows
    assert metadata["dagster/row_count"].value == len(rows)


def test_the_customers_asset_keeps_its_counts(segmented):
    assert materialization(segmented, "customers").metadata["customers"].value == 4


def test_a_segment_below_the_contactable_floor_raises_a_warning(segmented):
    [evaluation] = [
        e for e in segmented.get_asset_check_evaluations() if e.check_name == "contactable_share_above_floor"
    ]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "warm_prospects 50%" in evaluation.description and "cold_prospects 50%" in evaluation.description
    assert evaluation.metadata["segments_below_floor"].value == ["cold_prospects", "warm_prospects"]


def test_the_check_passes_when_every_segment_reaches_the_floor(segmented_home, monkeypatch):
    from orchestration.defs.dbt import contactable_share_above_floor

    monkeypatch.setenv("DRIPLINE_HOME", str(segmented_home[0]))
    monkeypatch.setenv("DRIPLINE_CONTACTABLE_SHARE_FLOOR", "0.5")
    result = contactable_share_above_floor()
    assert result.passed
    assert result.metadata["segments_below_floor"].value == []


def test_a_bad_definition_fails_the_dbt_asset_before_dbt_runs(dbt_manifest, home, monkeypatch):
    land_contacts(home)
    segments = valid_segments()
    segments[0]["name"] = "regulars"
    monkeypatch.setenv("DRIPLINE_SEGMENTS_FILE", str(write(home, segments)))
    result = _materialize()
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "segments 'regulars' and 'regulars' have the same name" in failure.step_failure_data.error.message
    assert not (home / "warehouse.duckdb").exists()


def test_dbt_gets_the_segments_and_a_pinned_as_of_but_no_as_of_by_default(dbt_manifest, home, monkeypatch):
    """A fresh time in the vars on every run would make dbt parse the whole project again each time."""
    from orchestration.defs.dbt import dbt_vars
    from orchestration.lib.settings import DriplineSettings

    monkeypatch.delenv("DRIPLINE_AS_OF", raising=False)
    segments = load_segments(SHIPPED)
    default = dbt_vars(DriplineSettings(), segments)
    assert "as_of" not in default
    assert default["segments"] == dbt_segments_var(segments)
    monkeypatch.setenv("DRIPLINE_AS_OF", "2024-07-01")
    assert dbt_vars(DriplineSettings(), segments)["as_of"] == "2024-07-01T00:00:00+09:00"
