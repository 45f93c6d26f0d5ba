"""The tracking job and sensor: new events start a rebuild of the metrics, never a send."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from connectors.webhooks.spool import store_event_request, store_inbound_request


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIPLINE_HOME", str(tmp_path))
    return tmp_path


def test_the_tracking_job_rebuilds_the_metrics_and_never_runs_a_campaign(dbt_manifest):
    from orchestration.definitions import defs
    from orchestration.defs.tracking import tracking_job

    graph = defs().resolve_asset_graph()
    selected = {key.to_user_string() for key in tracking_job.selection.resolve(graph)}
    assert {"sendgrid/events", "sendgrid/replies", "campaign_events", "campaign_metrics"} <= selected
    assert not {key for key in selected if key.startswith("campaigns/") or key.startswith("outreach/")}


def test_the_sensor_asks_for_a_run_once_per_new_request(home, dbt_manifest):
    from orchestration.defs.tracking import webhook_requests_sensor

    landing = home / "landing"
    context = dg.build_sensor_context(cursor=None)
    assert isinstance(webhook_requests_sensor(context), dg.SkipReason)
    store_event_request(landing, json.dumps([{"event": "delivered"}]).encode())
    first = webhook_requests_sensor(context)
    assert isinstance(first, dg.RunRequest)
    assert isinstance(webhook_requests_sensor(context), dg.SkipReason)  # the cursor moved past it
    store_inbound_request(landing, {"from": "a@x.kr", "to": "replies+s1@reply.example"})
    second = webhook_requests_sensor(context)
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key
