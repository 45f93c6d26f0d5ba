from pathlib import Path

import pytest

from tests.outreach.harness import Home


@pytest.fixture
def outreach_home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")
