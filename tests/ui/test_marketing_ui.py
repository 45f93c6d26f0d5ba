"""The marketer's view, through the real Dagster webserver: `dripline run` on a temporary home with the sample
data (and the shipped sample of SendGrid events), then `dagster-webserver` on that home. Its GraphQL API must
return the numbers the warehouse holds, and Chromium must show them as a marketer reads them ("12.3 %")."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests

from orchestration import cli
from orchestration.lib.paths import REPO_ROOT, SAMPLE_INBOX_DIR, SAMPLE_MANIFEST

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `make test` installs it when missing
VIEWPORT = {"width": 1600, "height": 1000}

LATEST_METADATA = """
query LatestMetadata($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 1) {
        metadataEntries {
          __typename
          label
          ... on FloatMetadataEntry { floatValue }
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
          ... on TableMetadataEntry { table { records schema { columns { name } } } }
        }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory, dbt_manifest) -> Iterator[Path]:
    """A home the whole pipeline ran on once, as of the sample data's date, the sample events replayed."""
    home = tmp_path_factory.mktemp("ui-home")
    shutil.copytree(SAMPLE_INBOX_DIR, home / "inbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRIPLINE_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        patch.setenv("DRIPLINE_AS_OF", json.loads(SAMPLE_MANIFEST.read_text())["as_of"])
        patch.setenv("DRIPLINE_SAMPLE_EVENTS", "true")
        assert cli.main(["run"]) == 0
    yield home


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(base_url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = requests.post(
        f"{base_url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    answer.raise_for_status()
    body = answer.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
def webserver(home, tmp_path_factory) -> Iterator[str]:
    """`dagster-webserver` (read-only) on the home, on a free loopback port, loading the code location as
    `make ui` does (pyproject.toml's [tool.dagster], from the repository); its base URL."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("webserver") / "webserver.log"
    environment = {
        **os.environ,
        "DRIPLINE_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    command = [
        str(Path(sys.executable).parent / "dagster-webserver"),
        *("-h", "127.0.0.1", "-p", str(port), "--read-only"),
    ]
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, f"the webserver exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, (
                f"the webserver did not load the code:\n{log_path.read_text()}"
            )
            try:
                data = _graphql(
                    base_url,
                    "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError "
                    "{ __typename } } } } }",
                )
            except requests.ConnectionError:
                time.sleep(1)
                continue
            entries = data["workspaceOrError"]["locationEntries"]
            states = [
                entry["locationOrLoadError"] and entry["locationOrLoadError"]["__typename"]
                for entry in entries
            ]
            assert "PythonError" not in states, f"the code location failed to load:\n{log_path.read_text()}"
            if states and all(state == "RepositoryLocation" for state in states):
                break
            time.sleep(1)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def latest_metadata(base_url: str, key: str) -> dict[str, dict[str, Any]]:
    data = _graphql(base_url, LATEST_METADATA, {"assetKey": {"path": [key]}})
    [materialization] = data["assetOrError"]["assetMaterializations"]
    return {entry["label"]: entry for entry in materialization["metadataEntries"]}


def table_rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(record) for record in entry["table"]["records"]]


@pytest.fixture(scope="module")
def warehouse(home) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def reachable_segment(warehouse) -> tuple[int, str, float]:
    """A segment whose contactable share is neither 0 nor 1, from the customers themselves (not the summary):
    its priority, name and share."""
    rows = warehouse.execute(
        """
        select
            s.segment_priority,
            c.segment,
            count(*) filter (
                where (c.consent_email and c.primary_email is not null) or c.primary_phone is not null
            ) / count(*)
        from customers as c
        inner join segment_summary as s on s.segment = c.segment
        group by all
        order by 1
        """
    ).fetchall()
    return next((priority, name, share) for priority, name, share in rows if 0 < share < 1)


@pytest.fixture(scope="module")
def opened_campaign(warehouse) -> tuple[str, float]:
    """A campaign whose mail was opened, and its open rate, from each send's outcome (not campaign_metrics):
    people's opens over delivered sends."""
    rows = warehouse.execute(
        """
        select campaign, count(*) filter (where is_opened) / count(*) filter (where is_delivered)
        from int_campaigns__send_outcomes
        where is_sent
        group by campaign
        having count(*) filter (where is_opened) > 0
        order by campaign
        """
    ).fetchall()
    assert rows, "the sample events opened no campaign's mail"
    return rows[0]


def on_screen(text: str) -> str:
    """A cell as a reader sees it: a no-break space is a space, a soft hyphen does not show."""
    return text.replace("\N{NO-BREAK SPACE}", " ").replace("\N{SOFT HYPHEN}", "")


def test_the_segment_summary_metadata_reads_back_through_graphql(webserver, reachable_segment):
    priority, segment, share = reachable_segment
    metadata = latest_metadata(webserver, "segment_summary")
    plotted = metadata[f"{priority} {segment.replace('_', ' ')} · contactable %"]
    assert plotted["__typename"] == "FloatMetadataEntry"
    assert plotted["floatValue"] == pytest.approx(share * 100, abs=0.005)
    rows = {on_screen(row["segment"]): row for row in table_rows(metadata["segments"])}
    assert on_screen(rows[segment.replace("_", " ")]["contactable"]) == f"{share * 100:.1f} %"


def test_the_campaign_metrics_reads_back_through_graphql(webserver, opened_campaign):
    campaign, open_rate = opened_campaign
    metadata = latest_metadata(webserver, "campaign_metrics")
    name = campaign.replace("_", " ")
    plotted = metadata[f"{name} · open %"]
    assert plotted["__typename"] == "FloatMetadataEntry"
    assert plotted["floatValue"] == pytest.approx(open_rate * 100, abs=0.005)
    for rate in ("click %", "reply %", "conversion %", "unsubscribe %"):
        assert metadata[f"{name} · {rate}"]["__typename"] == "FloatMetadataEntry", rate
    # the sample's sends are dry runs: their steps are in the rehearsals' table
    steps = [on_screen(row["step"]) for row in table_rows(metadata["campaigns · dry run"])]
    assert any(step.startswith(f"{name} › ") for step in steps), steps
    assert table_rows(metadata["campaigns"]) == []
    lifts = {on_screen(row["campaign"]) for row in table_rows(metadata["lift vs holdout"])}
    assert name in lifts


@pytest.fixture(scope="module")
def first_step_open_rate(warehouse, opened_campaign) -> str:
    """The open rate of the campaign's first step as the table writes it, from each send's outcome."""
    campaign, _ = opened_campaign
    [(rate,)] = warehouse.execute(
        """
        select count(*) filter (where is_opened) / count(*) filter (where is_delivered)
        from int_campaigns__send_outcomes
        where is_sent and campaign = ?
        group by step_index
        order by step_index
        limit 1
        """,
        [campaign],
    ).fetchall()
    return f"{rate * 100:.1f} %"


@pytest.mark.parametrize("asset", ["campaign_metrics", "segment_summary"])
def test_a_marketer_reads_the_rate_on_the_asset_page(webserver, asset, request, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    if asset == "campaign_metrics":
        expected = request.getfixturevalue("first_step_open_rate")
    else:
        _, _, share = request.getfixturevalue("reachable_segment")
        expected = f"{share * 100:.1f} %"
    screenshots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport=VIEWPORT)
            # the browser of a marketer who once closed the community dialog a first visit opens
            page.add_init_script("window.localStorage.setItem('communityNux', JSON.stringify('1'))")
            page.goto(f"{webserver}/assets/{asset}", wait_until="networkidle")
            screenshots.append(tmp_path / f"{asset}-overview.png")
            page.screenshot(path=screenshots[-1])
            table = page.locator("table table").filter(has_text=expected).first
            expect(table).to_be_visible(timeout=60_000)
            table.evaluate("t => t.scrollIntoView({block: 'start'})")
            screenshots.append(tmp_path / f"{asset}-table.png")
            page.screenshot(path=screenshots[-1])
            # read without scrolling sideways: the metadata fits its column at 1600 px
            overflow = page.locator("table:has(table)").first.evaluate(
                "t => t.parentElement.scrollWidth - t.parentElement.clientWidth"
            )
            assert overflow <= 0, f"the metadata table scrolls sideways by {overflow} px"
            page.get_by_role("button", name="Plots").first.click()
            expect(
                page.get_by_text(" · customers" if asset == "segment_summary" else " · open %").first
            ).to_be_visible()
            screenshots.append(tmp_path / f"{asset}-plots.png")
            page.screenshot(path=screenshots[-1])
        finally:
            browser.close()
    for path in screenshots:
        print(f"screenshot: {path}")
    assert all(path.stat().st_size > 0 for path in screenshots)
