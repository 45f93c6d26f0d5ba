import json

import dagster as dg
import pytest

from orchestration.defs.alerts import run_failure_alert_sensor


@dg.asset
def breaks_on_purpose() -> None:
    raise ValueError("inbox/spreadsheets/broken.xlsx: not a workbook")


@pytest.fixture
def failed_run(home):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([breaks_on_purpose], instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = [event for event in result.all_events if event.event_type == dg.DagsterEventType.RUN_FAILURE]
    return instance, result, failure


def _evaluate(instance, result, failure):
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    run_failure_alert_sensor(context)


def test_a_failed_run_is_posted_to_the_webhook_with_its_failed_step(failed_run, httpserver, monkeypatch):
    httpserver.expect_oneshot_request("/hooks/dripline", method="POST").respond_with_data("ok")
    monkeypatch.setenv("DRIPLINE_ALERT_WEBHOOK_URL", httpserver.url_for("/hooks/dripline"))
    _evaluate(*failed_run)
    [(request, _)] = httpserver.log
    body = json.loads(request.data)
    assert body["run_id"] == failed_run[1].run_id
    assert body["failed_steps"] == ["breaks_on_purpose"]
    assert "broken.xlsx: not a workbook" in body["text"]
    assert "runbook" in body["text"]


def test_without_a_webhook_the_failure_is_only_logged(failed_run, httpserver, monkeypatch):
    monkeypatch.delenv("DRIPLINE_ALERT_WEBHOOK_URL", raising=False)
    _evaluate(*failed_run)
    assert httpserver.log == []


def test_a_broken_webhook_does_not_raise_from_the_sensor(failed_run, httpserver, monkeypatch):
    httpserver.expect_oneshot_request("/hooks/dripline", method="POST").respond_with_data("down", status=503)
    monkeypatch.setenv("DRIPLINE_ALERT_WEBHOOK_URL", httpserver.url_for("/hooks/dripline"))
    _evaluate(*failed_run)
    assert len(httpserver.log) == 1


@dg.asset
def sync_gives_up() -> None:
    try:
        raise ConnectionError("HTTPConnectionPool(host='127.0.0.1'): Max retries exceeded")
    except ConnectionError as error:
        raise dg.Failure(description="Pipedrive persons sync failed after 6 attempt(s)") from error


def test_the_alert_quotes_what_the_asset_said_not_the_transport_detail_below_it(
    home, httpserver, monkeypatch
):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([sync_gives_up], instance=instance, raise_on_error=False)
    [failure] = [event for event in result.all_events if event.event_type == dg.DagsterEventType.RUN_FAILURE]
    httpserver.expect_oneshot_request("/hooks/dripline", method="POST").respond_with_data("ok")
    monkeypatch.setenv("DRIPLINE_ALERT_WEBHOOK_URL", httpserver.url_for("/hooks/dripline"))
    _evaluate(instance, result, failure)
    text = json.loads(httpserver.log[0][0].data)["text"]
    assert "Pipedrive persons sync failed after 6 attempt(s)" in text
    assert "HTTPConnectionPool" not in text
