"""What the API-sync asset tests share: running sync assets, reading what they reported and landed, and
killing a sync half-way in a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from connectors.core.landing import LandingZone
from orchestration.lib.paths import REPO_ROOT


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
