"""What the API-sync asset tests share: running sync assets, reading what they reported and landed, what a
missing or rejected token does, where the assets sit in the code location, and killing a sync half-way in a
child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from connectors.core.landing import LandingZone
from orchestration.lib.paths import REPO_ROOT
from tests.dbt.test_dbt_build import dbt_build, prepare_landing, query


def configured_fake(
    fake_class: type, settings: Mapping[str, str], prepare: Callable[[Any], None], **options: Any
):
    """A ``fake`` fixture for asset tests: ``fake_class(**options)`` running on loopback for one test on the
    temporary home, the settings in ``settings`` set (``"{url}"`` standing for the fake's URL), after
    ``prepare(fake)``."""

    @pytest.fixture(name="fake")
    def running_fake(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
        with fake_class.running(**options) as running:
            for setting, value in settings.items():
                monkeypatch.setenv(setting, value.format(url=running.url))
            prepare(running)
            yield running

    return running_fake


def run_syncs(
    resources: Mapping[str, Any],
    *assets: dg.AssetsDefinition,
    full_refresh: bool = False,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialise sync assets with their ``full_refresh`` config."""
    config = {"ops": {a.op.name: {"config": {"full_refresh": full_refresh}} for a in assets}}
    return dg.materialize(list(assets), resources=resources, run_config=config, tags=tags)


def node_metadata(result: dg.ExecuteInProcessResult, entity: str | None = None, *, source: str) -> dict:
    """The metadata one sync asset (``<source>__<entity>``) reported, as plain values."""
    [materialization] = result.asset_materializations_for_node(f"{source}__{entity}")
    return {key: value.value for key, value in materialization.metadata.items()}


def landed_record_ids(home: Path, entity: str | None = None, *, source: str) -> list[str]:
    """Every record_id landed in ``landing/<source>/<entity>/``, batch by batch."""
    directory = home / "landing" / source / str(entity)
    return [
        row for p in sorted(directory.glob("*.parquet")) for row in pq.read_table(p)["record_id"].to_pylist()
    ]


def kill_after_pages(script: str, args: Sequence[str], zone: LandingZone, pages: int = 3) -> None:
    """Run ``script`` (a sync) in a child process, SIGKILL it once it has landed ``pages`` batches in
    ``zone``, and check that it died by the kill, not by itself."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while len(zone.batch_ids()) < pages and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert len(zone.batch_ids()) == pages, f"the child did not land its first {pages} pages"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL


def assert_first_sync(
    result: dg.ExecuteInProcessResult,
    home: Path,
    token: str,
    *,
    source: str,
    entity: str,
    records: int,
    pages: int,
    cursor_after: datetime,
) -> None:
    """A first run of a source's assets succeeded, with its token in no asset's metadata, and ``entity``
    landed its records 1 to ``records`` and reported them all new, in ``pages`` pages of one API call each,
    as many rows, no cursor before and the latest update time after, and no retries or waits."""
    assert result.success
    reports = {key.path[-1]: value for key, value in _all_metadata(result).items() if key.path[0] == source}
    assert token not in str(reports)
    report = reports[entity]
    landed = landed_record_ids(home, entity, source=source)
    assert sorted(landed, key=int) == [str(i) for i in range(1, records + 1)]
    assert (report["records_new"], report["pages"], report["api_calls"]) == (records, pages, pages)
    assert report["dagster/row_count"] == records
    assert report["cursor_before"] is None
    assert report["cursor_after"] == cursor_after.isoformat()
    assert (report["retries"], report["rate_limit_wait_seconds"]) == (0, 0.0)


def _all_metadata(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
    """The metadata every asset of a run reported, as plain values."""
    materializations = (event.materialization for event in result.get_asset_materialization_events())
    return {m.asset_key: {key: value.value for key, value in m.metadata.items()} for m in materializations}


def assert_one_new_since(report: dict, *, cursor_before: datetime, cursor_after: datetime) -> None:
    """What a second sync reports after one record was added: it walked from ``cursor_before`` (the
    first sync's cursor), found the new record, and the two walked again inside the overlap unchanged."""
    assert report["cursor_before"] == cursor_before.isoformat()
    assert (report["records_new"], report["records_updated"], report["records_unchanged"]) == (1, 0, 2)
    assert report["cursor_after"] == cursor_after.isoformat()


def assert_skipped_without(
    setting: str,
    run: Callable[[], dg.ExecuteInProcessResult],
    home: Path,
    *,
    source: str,
    entities: Sequence[str],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``run`` without ``setting`` succeeds: every entity's asset reports itself skipped naming the
    setting, with no rows and its zone's schema file written (dbt's source glob needs it), and the run's
    log names the setting too."""
    monkeypatch.delenv(setting, raising=False)
    result = run()
    logged = capfd.readouterr().err
    assert result.success
    for entity in entities:
        report = node_metadata(result, entity, source=source)
        assert report["skipped"] is True, entity
        assert setting in report["skipped_reason"]
        assert report["dagster/row_count"] == 0
        assert (home / "landing" / source / entity / "_schema.parquet").exists()
    assert setting in logged


def rejected_token_failure(
    monkeypatch: pytest.MonkeyPatch, fake: Any, setting: str, run: Callable[[], object]
) -> dg.Failure:
    """The failure of ``run`` once ``setting`` holds a token the fake rejects: after one request, not
    retried, naming the setting and never the token."""
    monkeypatch.setenv(setting, "not-the-token")
    with pytest.raises(dg.Failure, match=setting) as raised:
        run()
    assert "not-the-token" not in str(raised.value)
    assert len(fake.requests) == 1
    assert raised.value.allow_retries is False
    return raised.value


def assert_in_the_code_location(
    source: str, entities: Sequence[str], *, staged_in: str | None = None, unstaged: Sequence[str] = ()
) -> None:
    """Each ``[source, entity]`` asset is in the code location's ``ingest`` group with an owner and a
    description, feeds ``stg_<source>__<entity>`` (or the one model ``staged_in``; none for those
    ``unstaged``) and is part of the pipeline job."""
    from orchestration.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    selected = definitions.resolve_job_def("pipeline_job").asset_layer.selected_asset_keys
    for entity in entities:
        key = dg.AssetKey([source, entity])
        node = graph.get(key)
        assert node.is_materializable and node.group_name == "ingest", entity
        assert node.owners == ["team:data-engineering"] and node.description, entity
        if entity not in unstaged:
            staging = staged_in or f"stg_{source}__{entity}"
            assert key in graph.get(dg.AssetKey([staging])).parent_keys, entity
        assert key in selected, entity


# A sync of one entity through a connector module's client class, landing_zone and sync_entity.
SYNC_IN_A_CHILD = textwrap.dedent(
    """
    import importlib
    import sys
    from datetime import timedelta
    from pathlib import Path
    from pydantic import SecretStr

    module, client_class, entity, url, token, landing = sys.argv[1:7]
    connector = importlib.import_module(module)
    client = getattr(connector, client_class)(url, SecretStr(token), page_size=2, timeout=(5.0, 120.0))
    with client:
        zone = connector.landing_zone(Path(landing), entity)
        connector.sync_entity(client, zone, overlap=timedelta(minutes=5))
    """
)


def kill_and_resume(
    home: Path,
    fake: Any,
    token: str,
    client_class: type,
    entity: str,
    resume: Callable[[], dg.ExecuteInProcessResult],
) -> dict:
    """Sync ``entity`` with ``client_class`` and its connector module (11 records with ids 1 to 11, oldest
    first, pages of 2) in a child process and kill it once it has landed three pages: the six oldest
    landed. Then ``resume()`` (a run of the entity's asset) must land the other five once each, and dbt
    must carry every record once downstream. The resumed asset's metadata."""
    fake.inject("slow", skip=3, delay=60.0)  # the fourth page hangs until the child is killed
    prepare_landing(home)
    landing = home / "landing"
    connector = sys.modules[client_class.__module__]
    zone = connector.landing_zone(landing, entity)
    args = [connector.__name__, client_class.__name__, entity, fake.url, token, str(landing)]
    kill_after_pages(SYNC_IN_A_CHILD, args, zone)
    source = connector.SOURCE
    assert sorted(landed_record_ids(home, entity, source=source), key=int) == [str(i) for i in range(1, 7)]

    report = node_metadata(resume(), entity, source=source)
    dbt_build(home)

    assert report["records_new"] == 5
    assert report["records_unchanged"] > 0  # the overlap fetched some records again…
    assert len(landed_record_ids(home, entity, source=source)) == 11  # …without landing them twice…
    rows = query(
        home,
        "select source_record_id, count(*) from customer_source_records where source = ? group by 1",
        source,
    )
    # …once downstream.
    assert sorted(rows, key=lambda row: int(row[0])) == [(str(i), 1) for i in range(1, 12)]
    staged = f"select count(*), count(distinct source_record_id) from stg_{source}__{entity}"
    assert query(home, staged) == [(11, 11)]
    return report
