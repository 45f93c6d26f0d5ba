import fcntl
import os
import shutil
import sys
from pathlib import Path

import pytest

from orchestration.lib.paths import SAMPLE_INBOX_DIR


@pytest.fixture(scope="session", autouse=True)
def dbt_on_path():
    """dagster-dbt runs the `dbt` on PATH: make it this virtualenv's, activated or not."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
        yield


@pytest.fixture(scope="session")
def dbt_manifest(tmp_path_factory) -> Path:
    """`dbt parse` once per session, as CI must before definitions load (they read the manifest)."""
    from orchestration.lib.dbt_project import dbt_project

    # Test workers (pytest-xdist) share the project's target/ directory: one parse at a time.
    lock_path = dbt_project.project_dir / "target" / ".parse.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with lock_path.open("w") as lock, pytest.MonkeyPatch.context() as patch:
        fcntl.flock(lock, fcntl.LOCK_EX)
        patch.setenv("DRIPLINE_HOME", str(tmp_path_factory.mktemp("parse-home")))
        dbt_project.preparer.prepare(dbt_project)
    return dbt_project.manifest_path


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty Dripline home with its own Dagster instance directory."""
    home = tmp_path / "home"
    (home / "inbox" / "spreadsheets").mkdir(parents=True)
    (home / "inbox" / "forms").mkdir(parents=True)
    monkeypatch.setenv("DRIPLINE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    (home / "dagster").mkdir()
    return home


@pytest.fixture
def sample_home(home) -> Path:
    """A home whose inbox is a copy of the shipped sample data."""
    shutil.rmtree(home / "inbox")
    shutil.copytree(SAMPLE_INBOX_DIR, home / "inbox")
    return home
