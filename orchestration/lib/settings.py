"""Dripline settings: environment variables with the ``DRIPLINE_`` prefix, or a ``.env`` file.

Read at run time, never at import time, so tests and the CLI can point ``DRIPLINE_HOME`` anywhere.
"""

from __future__ import annotations

from pathlib import Path

import phonenumbers
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.headers import FIELDS
from orchestration.lib.paths import DEFAULT_HOME


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
    def is_demo_home(self) -> bool:
        return self.home == DEFAULT_HOME.resolve()
