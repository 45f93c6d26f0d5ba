"""The run-failure alert: every failed run is logged, and sent to DRIPLINE_ALERT_WEBHOOK_URL when set."""

import dagster as dg
import requests

from orchestration.lib.alerts import failure_message, post_alert
from orchestration.lib.settings import DriplineSettings


def _root_cause(error) -> str:  # a step failure's SerializableErrorInfo
    """The message of the innermost exception: Dagster wraps what the asset raised."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[0]


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    description="Logs every failed run and posts it to the alert webhook, if one is configured.",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    failures = [
        (event.step_key or "run", _root_cause(event.step_failure_data.error))
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
