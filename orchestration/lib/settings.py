"""Dripline settings: environment variables with the ``DRIPLINE_`` prefix, or a ``.env`` file.

Read at run time, never at import time, so tests and the CLI can point ``DRIPLINE_HOME`` anywhere.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from connectors.files.headers import FIELDS
from orchestration.lib.paths import DEFAULT_HOME, REPO_ROOT

# The share of the machine's memory DuckDB may use by default while dbt builds: DuckDB's own default is 80%,
# which leaves too little for Dagster and the ingest workers running beside it; a fixed 1 GB failed a
# million-row workbook's build ("failed to pin block") on a machine with memory to spare (issue #21).
DUCKDB_MEMORY_SHARE = 0.5
DUCKDB_MEMORY_FLOOR_MIB = 1024


def machine_memory_mib() -> int | None:
    """Physical memory, or the container's memory limit when that is lower (cgroup v2, then v1), in MiB."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    limits = [physical]
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    return min(limits) // (1 << 20)


def default_duckdb_memory_limit() -> str:
    total = machine_memory_mib()
    if total is None:
        return f"{DUCKDB_MEMORY_FLOOR_MIB}MiB"
    return f"{max(DUCKDB_MEMORY_FLOOR_MIB, int(total * DUCKDB_MEMORY_SHARE))}MiB"


class DriplineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DRIPLINE_", env_file=".env", extra="ignore")

    home: Path = Field(
        default=DEFAULT_HOME,
        description="Working directory: inbox/, landing/ and warehouse.duckdb live here.",
    )
    default_region: str = Field(
        default="KR",
        description="Region used to read phone numbers written without a country code (ISO 3166 alpha-2).",
    )
    local_timezone: str = Field(
        default="Asia/Seoul",
        description="Time zone of timestamps written without an offset (Google Forms exports).",
    )
    spreadsheet_sheet: str | None = Field(
        default=None,
        description="Read only this sheet of each XLSX workbook; by default every non-empty sheet.",
    )
    header_synonyms: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Extra header names per field, as JSON: {"phone": ["HP", "핸드폰번호"]}.',
    )
    ingest_workers: int = Field(default=2, ge=1, description="Files read in parallel during ingestion.")
    duckdb_memory_limit: str | None = Field(
        default=None,
        description="Memory DuckDB may use while dbt builds the warehouse before it spills to disk, "
        f"e.g. 4GB; by default {DUCKDB_MEMORY_SHARE:.0%} of the machine's memory (or of a container's "
        "limit).",
    )
    default_currency: str = Field(
        default="KRW",
        description="ISO 4217 currency of order-sheet amounts written with no currency cell or symbol.",
    )

    pipedrive_api_token: SecretStr | None = Field(
        default=None, description="Pipedrive API token; without it the Pipedrive sync is skipped."
    )
    pipedrive_base_url: str = Field(
        default="https://api.pipedrive.com", description="Scheme and host of the Pipedrive API."
    )
    hubspot_access_token: SecretStr | None = Field(
        default=None, description="HubSpot private-app access token; without it the HubSpot sync is skipped."
    )
    hubspot_base_url: str = Field(
        default="https://api.hubapi.com", description="Scheme and host of the HubSpot API."
    )
    typeform_token: SecretStr | None = Field(
        default=None, description="Typeform personal access token; without it the Typeform sync is skipped."
    )
    typeform_form_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Typeform forms to sync, comma-separated: abc123,def456."
    )
    typeform_base_url: str = Field(
        default="https://api.typeform.com", description="Scheme and host of the Typeform API."
    )
    shopify_access_token: SecretStr | None = Field(
        default=None,
        description="Shopify Admin API access token (a custom app's, with read_customers and read_orders); "
        "without it the Shopify sync is skipped.",
    )
    shopify_base_url: str | None = Field(
        default=None,
        description="Scheme and host of the store's admin: https://<store>.myshopify.com; without it the "
        "Shopify sync is skipped.",
    )
    shopify_api_version: str = Field(
        default="2025-07", description="Shopify Admin API version, in the URL of every request."
    )
    sync_overlap_minutes: int = Field(
        default=5,
        ge=0,
        description="How far an incremental sync reaches back before its cursor (clock skew).",
    )
    alert_webhook_url: str | None = Field(
        default=None, description="POSTed a JSON message when a run fails; failures are always logged."
    )
    identity_fuzzy_threshold: float = Field(
        default=8,
        gt=0,
        description="Score at which the fuzzy tier joins two records with the same name key (dbt var "
        "identity_fuzzy_threshold; weights in dbt_project.yml): the name is 4, one more fact 4 or 5.",
    )
    identity_max_merge_share: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="The run fails when it merges away more than this share of the previous run's customers "
        "(dbt var identity_max_merge_share); raise it for one run to let a confirmed bulk merge through.",
    )
    identity_min_merges_to_check: int = Field(
        default=25,
        ge=0,
        description="Fewer merges than this never fail the merge-jump check (dbt var of the same name).",
    )
    as_of: datetime | None = Field(
        default=None,
        description="Segmentation time: an ISO date or time (no offset: local_timezone); default now.",
    )
    sample_events: bool | None = Field(
        default=None,
        description="`dripline run` replays the shipped SAMPLE of SendGrid events and replies "
        "(sample_data/sendgrid) through the receiver's spool; default: on the demo home only. Never when "
        "sending for real (an API key and DRIPLINE_SEND_MODE sandbox or live).",
    )
    segments_file: Path = Field(
        default=REPO_ROOT / "segments.yml", description="The segment definitions (docs/segments.md)."
    )
    contactable_share_floor: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A segment whose share of contactable customers is below this raises a warning check.",
    )
    max_bounce_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A campaign whose bounces over its sent emails exceed this raises a warning check.",
    )
    max_spam_report_rate: float = Field(
        default=0.001,
        ge=0,
        le=1,
        description="A campaign whose spam reports over its delivered emails exceed this raises a warning "
        "check.",
    )

    campaigns_dir: Path = Field(
        default=REPO_ROOT / "campaigns",
        description="The campaign definitions, one YAML file each (docs/campaigns.md).",
    )
    send_mode: Literal["dry_run", "sandbox", "live"] = Field(
        default="dry_run",
        description="dry_run records exactly what would be sent and sends nothing (always, without an API "
        "key); sandbox sends through SendGrid's sandbox mode (accepted, never delivered); live sends.",
    )
    sendgrid_api_key: SecretStr | None = Field(
        default=None,
        description="SendGrid API key with the mail.send scope (and suppression read access, for the "
        "suppression lists' reconciliation); without it sending is a dry run and the lists are not synced.",
    )
    sendgrid_base_url: str = Field(
        default="https://api.sendgrid.com",
        description="Scheme and host of the SendGrid API; the clients append /v3/mail/send and the "
        "suppression lists' paths.",
    )
    sendgrid_timeout_seconds: float = Field(default=30, gt=0, description="Timeout of one mail/send request.")
    send_batch_size: int = Field(
        default=1000, ge=1, le=1000, description="Recipients (personalizations) in one mail/send request."
    )
    sendgrid_unsubscribe_group_id: int | None = Field(
        default=None, description="SendGrid unsubscribe group (ASM) of campaigns that name none."
    )
    from_email: str | None = Field(default=None, description="Sender address of campaigns that name none.")
    from_name: str | None = Field(default=None, description="Sender name of campaigns that name none.")
    sender_address: str | None = Field(
        default=None,
        description="The sender's postal address, printed in every marketing email's footer (the law asks "
        "for it); campaigns may set their own.",
    )
    ad_subject_markers: dict[str, str] = Field(
        default_factory=lambda: {"KR": "(광고)"},
        description="What a marketing subject starts with, by the recipient's region, as JSON: "
        '{"KR": "(광고)"}.',
    )

    sendgrid_webhook_public_key: str | None = Field(
        default=None,
        description="Verification key of SendGrid's signed Event Webhook (base64, as SendGrid shows it); "
        "without it the receiver accepts no event (docs/receiver.md).",
    )
    inbound_secret: SecretStr | None = Field(
        default=None,
        description="Password of the HTTP basic auth on the receiver's Inbound Parse endpoint (SendGrid "
        "posts to https://parse:SECRET@host/webhooks/sendgrid/inbound); without it no inbound mail is "
        "accepted.",
    )
    inbound_parse_public_key: str | None = Field(
        default=None,
        description="Public key of the Inbound Parse security policy that signs the posts (base64); when "
        "set, every inbound post must carry a valid signature as well.",
    )
    receiver_host: str = Field(default="127.0.0.1", description="Address the receiver listens on.")
    receiver_port: int = Field(default=8787, ge=1, le=65535, description="Port the receiver listens on.")
    receiver_timestamp_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        description="A signed post whose timestamp is further than this from now (either way) is refused.",
    )
    receiver_max_event_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Largest Event Webhook body accepted (SendGrid batches up to 768 KB); larger gets 413.",
    )
    receiver_max_inbound_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest Inbound Parse body accepted (messages up to 30 MB); larger gets 413.",
    )

    @field_validator("typeform_form_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r}; use an ISO 3166 alpha-2 code such as KR or US")
        return region

    @field_validator("default_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not (len(value.strip()) == 3 and value.strip().isalpha()):
            raise ValueError(f"currency {value!r} is not an ISO 4217 code such as KRW or USD")
        return value.strip().upper()

    @field_validator("header_synonyms")
    @classmethod
    def _known_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; header synonyms can extend {list(FIELDS)}")
        return value

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def effective_duckdb_memory_limit(self) -> str:
        """DRIPLINE_DUCKDB_MEMORY_LIMIT, else a share of the machine's memory."""
        return self.duckdb_memory_limit or default_duckdb_memory_limit()

    @property
    def outreach_dir(self) -> Path:
        return self.home / "outreach"

    @property
    def effective_send_mode(self) -> str:
        """What sending does: a dry run whenever no API key is set, whatever DRIPLINE_SEND_MODE says."""
        return self.send_mode if self.sendgrid_api_key is not None else "dry_run"

    @property
    def is_demo_home(self) -> bool:
        return self.home == DEFAULT_HOME.resolve()
