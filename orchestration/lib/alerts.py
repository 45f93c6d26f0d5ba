"""Run-failure alerts: a log line always, and a JSON POST to a webhook when one is configured."""

import requests

ALERT_TIMEOUT_SECONDS = 10


def failure_message(job_name: str, run_id: str, failures: list[tuple[str, str]]) -> dict[str, object]:
    """What an on-call engineer needs to start: which run, which steps, what they said, what to do."""
    steps = "; ".join(f"{step}: {error}" for step, error in failures) or "no step failure recorded"
    return {
        "text": f"Dripline run {run_id} of {job_name} failed. {steps}. "
        "Fix the cause, then re-execute the run from the Dagster UI (it is safe: see docs/runbook.md).",
        "job_name": job_name,
        "run_id": run_id,
        "failed_steps": [step for step, _ in failures],
    }


def post_alert(url: str, message: dict[str, object]) -> None:
    response = requests.post(url, json=message, timeout=ALERT_TIMEOUT_SECONDS)
    response.raise_for_status()
