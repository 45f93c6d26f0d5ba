"""The run-failure alert: every failed run is logged, and sent to DRIPLINE_ALERT_WEBHOOK_URL when set."""

import dagster as dg
import requests

from orchestration.lib.alerts import failure_message, post_alert
from orchestration.lib.settings import DriplineSettings


def _first_line(error) -> str:  # a step failure's SerializableErrorInfo
    """What the asset said: a dg.Failure's description (its causes are detail), else the innermost error.

    Dagster wraps what the asset raised in a step-execution error; walk down to the first Failure, or to
    the bottom of the chain.
    """
    chain = [error]
    while chain[-1].cause is not None:
        chain.append(chain[-1].cause)
    chosen = next((e for e in chain if e.cls_name == "Failure"), chain[-1])
    lines = [line.strip() for line in (chosen.message or "").splitlines() if line.strip()]
    return lines[0] if lines else chosen.cls_name or "unknown error"


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    description="Logs every failed run and posts it to the alert webhook, if one is configured.",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    failures = [
        (event.step_key or "run", _first_line(event.step_failure_data.error))
        for event in context.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
    ]
    message = failure_message(run.job_name, run.run_id, failures)
    context.log.error(message["text"])
    url = DriplineSettings().alert_webhook_url
    if url:
        try:
            post_alert(url, message)
        except requests.RequestException as error:
            # The log line above stands; a broken webhook must not hide the failure it reports.
            context.log.error(f"could not post the alert to the webhook: {type(error).__name__}")
