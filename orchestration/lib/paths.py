"""Paths inside the repository, from one root constant."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
SAMPLE_INBOX_DIR = REPO_ROOT / "sample_data" / "inbox"
SAMPLE_MANIFEST = REPO_ROOT / "sample_data" / "manifest.json"
# A seeded SAMPLE of what SendGrid would post for the demo's dry-run sends
# (scripts/generate_sample_events.py).
SAMPLE_SENDGRID_DIR = REPO_ROOT / "sample_data" / "sendgrid"
DEFAULT_HOME = REPO_ROOT / ".dripline"
