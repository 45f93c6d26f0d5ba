"""Typeform sync: the responses of the configured forms land page by page as immutable batches for dbt."""

from datetime import timedelta

import dagster as dg

from connectors.apis.http import ApiError
from connectors.apis.sync_engine import MassDeletionError
from connectors.apis.typeform import (
    FORM_IDS_SETTING,
    MAX_PAGE_SIZE,
    TOKEN_SETTING,
    TypeformClient,
    TypeformSyncReport,
    responses_zone,
    sync_form,
    walks_zone,
)
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS, SYNC_RETRY_POLICY, is_full_refresh_run

_TOTALS = (
    "pages",
    "records_fetched",
    "records_new",
    "records_updated",
    "records_unchanged",
    "records_deleted",
    "rows_landed",
)
_STATS = ("api_calls", "retries", "rate_limit_waits")


class TypeformResource(dg.ConfigurableResource):
    """The Typeform client, built at run time from settings: the token (``DRIPLINE_TYPEFORM_TOKEN``) stays
    a ``SecretStr`` in ``DriplineSettings`` and never enters run config, metadata or logs."""

    page_size: int = MAX_PAGE_SIZE
    request_interval_seconds: float = 0.5
    max_retries: int = 5
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0

    def client(self, settings: DriplineSettings) -> TypeformClient | None:
        """A client, or None when no token is configured."""
        if settings.typeform_token is None or not settings.typeform_token.get_secret_value():
            return None
        return TypeformClient(
            settings.typeform_base_url,
            settings.typeform_token,
            page_size=self.page_size,
            request_interval=self.request_interval_seconds,
            max_retries=self.max_retries,
            timeout=(self.connect_timeout_seconds, self.read_timeout_seconds),
        )


class TypeformSyncConfig(dg.Config):
    full_refresh: bool = False
    """Walk every response instead of those since the last complete walk, and reconcile deletions."""
    allow_mass_deletion: bool = False
    """Let a full refresh tombstone more than a fifth of the landed records (refused by default: a walk
    that came back short, or a token that sees less, must not delete the CRM)."""


def _skipped(
    context: dg.AssetExecutionContext, setting: str, what: str, row_count: int
) -> dg.MaterializeResult:
    context.log.warning(
        f"Typeform responses: skipped, {setting} is not set. Set it to {what} to sync; the rest of the "
        "pipeline runs without it."
    )
    return dg.MaterializeResult(
        metadata={"skipped": True, "skipped_reason": f"{setting} is not set", "dagster/row_count": row_count}
    )


@dg.asset(
    name="responses",
    key_prefix=["typeform"],
    group_name="ingest",
    kinds={"python", "typeform", "parquet"},
    owners=OWNERS,
    retry_policy=SYNC_RETRY_POLICY,
)
def typeform_responses(
    context: dg.AssetExecutionContext, config: TypeformSyncConfig, typeform: TypeformResource
) -> dg.MaterializeResult:
    """One row per Typeform response fetched (completed responses of the forms in
    `DRIPLINE_TYPEFORM_FORM_IDS`, exactly as returned, `_entity` = form id), landed one page per batch in
    `landing/typeform/responses/`: the response plus the name, email, phone, company and consent found
    among its answers, normalised like a spreadsheet row, so respondents join the contact union. A marker
    in `landing/typeform/walks/` records each complete walk; the next walk starts from it."""
    settings = DriplineSettings()
    zone = responses_zone(settings.landing_dir)
    walks = walks_zone(settings.landing_dir)
    zone.prepare()  # dbt's source glob needs the schema file even when nothing was ever synced
    walks.prepare()
    client = typeform.client(settings)
    if client is None:
        return _skipped(context, TOKEN_SETTING, "a Typeform personal token", zone.row_count())
    if not settings.typeform_form_ids:
        return _skipped(context, FORM_IDS_SETTING, "the ids of the forms (comma-separated)", zone.row_count())
    reports: list[TypeformSyncReport] = []
    try:
        with client:
            for form_id in settings.typeform_form_ids:
                reports.append(
                    sync_form(
                        client,
                        zone,
                        walks,
                        form_id,
                        overlap=timedelta(minutes=settings.sync_overlap_minutes),
                        full_refresh=config.full_refresh or is_full_refresh_run(context),
                        allow_mass_deletion=config.allow_mass_deletion,
                        region=settings.default_region,
                        local_tz=settings.local_timezone,
                        synonyms=settings.header_synonyms,
                    )
                )
    except MassDeletionError as error:
        raise dg.Failure(
            description=f"{error} Nothing was tombstoned. If the deletions are real, re-run with the config "
            "allow_mass_deletion: true.",
            allow_retries=False,
        ) from error
    except ApiError as error:
        # Only an outage or a rate limit is worth a retry; a wrong token, form or answer needs a person.
        raise dg.Failure(
            description=f"Typeform responses sync failed; the pages landed before the failure are kept, and "
            f"the next run walks an unfinished form again from its last complete walk: {error}",
            allow_retries=error.retryable,
        ) from error
    for report in reports:
        context.log.info(
            f"Typeform form {report.form_id}: {report.records_fetched} fetched in {report.pages} page(s) "
            f"({report.records_new} new, {report.records_deleted} deleted); "
            f"cursor {report.cursor_before} -> {report.cursor_after}"
        )
    totals = {key: sum(getattr(report, key) for report in reports) for key in _TOTALS}
    totals |= {key: sum(getattr(report.stats, key) for report in reports) for key in _STATS}
    totals["rate_limit_wait_seconds"] = round(sum(r.stats.rate_limit_wait_seconds for r in reports), 3)
    return dg.MaterializeResult(
        metadata={
            "skipped": False,
            "dagster/row_count": zone.row_count(),
            **totals,
            "forms": dg.MetadataValue.json({report.form_id: report.as_metadata() for report in reports}),
        }
    )


@dg.definitions
def typeform_definitions() -> dg.Definitions:
    # A module with a @dg.definitions function contributes only what that function returns.
    return dg.Definitions(assets=[typeform_responses], resources={"typeform": TypeformResource()})
