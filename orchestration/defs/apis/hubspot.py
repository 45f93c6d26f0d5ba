"""HubSpot syncs: contacts, companies and deals land page by page as immutable batches for dbt."""

from datetime import timedelta

import dagster as dg

from connectors.apis.http import ApiError
from connectors.apis.hubspot import (
    MAX_PAGE_SIZE,
    MAX_SEARCH_PAGE_SIZE,
    TOKEN_SETTING,
    HubSpotClient,
    landing_zone,
    sync_entity,
)
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS, SYNC_RETRY_POLICY, is_full_refresh_run


class HubSpotResource(dg.ConfigurableResource):
    """The HubSpot CRM v3 client, built at run time from settings: the token
    (``DRIPLINE_HUBSPOT_ACCESS_TOKEN``) stays a ``SecretStr`` in ``DriplineSettings`` and never enters run
    config, metadata or logs."""

    page_size: int = MAX_PAGE_SIZE
    search_page_size: int = MAX_SEARCH_PAGE_SIZE
    max_retries: int = 5
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0

    def client(self, settings: DriplineSettings) -> HubSpotClient | None:
        """A client, or None when no token is configured."""
        if settings.hubspot_access_token is None or not settings.hubspot_access_token.get_secret_value():
            return None
        return HubSpotClient(
            settings.hubspot_base_url,
            settings.hubspot_access_token,
            page_size=self.page_size,
            search_page_size=self.search_page_size,
            max_retries=self.max_retries,
            timeout=(self.connect_timeout_seconds, self.read_timeout_seconds),
        )


class HubSpotSyncConfig(dg.Config):
    full_refresh: bool = False
    """Walk every record with a list walk (which also refreshes associations) instead of searching from the
    landed cursor. Deletions need no reconcile: every sync lists HubSpot's archived records."""


def _sync(
    context: dg.AssetExecutionContext, config: HubSpotSyncConfig, hubspot: HubSpotResource, entity: str
) -> dg.MaterializeResult:
    settings = DriplineSettings()
    zone = landing_zone(settings.landing_dir, entity)
    zone.prepare()  # dbt's source glob needs the schema file even when nothing was ever synced
    client = hubspot.client(settings)
    if client is None:
        context.log.warning(
            f"HubSpot {entity}: skipped, {TOKEN_SETTING} is not set. Set it to a HubSpot private-app access "
            "token to sync; the rest of the pipeline runs without it."
        )
        return dg.MaterializeResult(
            metadata={
                "skipped": True,
                "skipped_reason": f"{TOKEN_SETTING} is not set",
                "dagster/row_count": zone.row_count(),
            }
        )
    try:
        with client:
            report = sync_entity(
                client,
                zone,
                overlap=timedelta(minutes=settings.sync_overlap_minutes),
                full_refresh=config.full_refresh or is_full_refresh_run(context),
                region=settings.default_region,
                local_tz=settings.local_timezone,
            )
    except ApiError as error:
        # Only an outage or a rate limit is worth a retry; a wrong token, URL or answer needs a person.
        raise dg.Failure(
            description=f"HubSpot {entity} sync failed; the pages landed before the failure are kept and a "
            f"re-run resumes from them: {error}",
            allow_retries=error.retryable,
        ) from error
    context.log.info(
        f"HubSpot {entity}: {report.records_fetched} fetched in {report.pages} page(s) "
        f"({report.records_new} new, {report.records_updated} updated, {report.records_deleted} deleted); "
        f"cursor {report.cursor_before} -> {report.cursor_after}"
    )
    return dg.MaterializeResult(
        metadata={"skipped": False, "dagster/row_count": zone.row_count(), **report.as_metadata()}
    )


def _sync_asset(entity: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=entity,
        key_prefix=["hubspot"],
        group_name="ingest",
        kinds={"python", "hubspot", "parquet"},
        owners=OWNERS,
        description=description,
        retry_policy=SYNC_RETRY_POLICY,
    )
    def _asset(
        context: dg.AssetExecutionContext, config: HubSpotSyncConfig, hubspot: HubSpotResource
    ) -> dg.MaterializeResult:
        return _sync(context, config, hubspot, entity)

    return _asset


hubspot_contacts = _sync_asset(
    "contacts",
    "One row per HubSpot contact version fetched (CRM v3, exactly as returned; archived ones as deleted), "
    "landed one page per batch in `landing/hubspot/contacts/`: the record plus its name, email, phone and "
    "company normalised like a spreadsheet row, so contacts join the contact union.",
)
hubspot_companies = _sync_asset(
    "companies",
    "One row per HubSpot company version fetched (CRM v3, exactly as returned; archived ones as deleted), "
    "landed one page per batch in `landing/hubspot/companies/`; staging keeps the latest version of each.",
)
hubspot_deals = _sync_asset(
    "deals",
    "One row per HubSpot deal version fetched (CRM v3, exactly as returned, with its contact and company "
    "associations on list walks; archived ones as deleted), landed one page per batch in "
    "`landing/hubspot/deals/`.",
)


@dg.definitions
def hubspot_definitions() -> dg.Definitions:
    # A module with a @dg.definitions function contributes only what that function returns.
    return dg.Definitions(
        assets=[hubspot_contacts, hubspot_companies, hubspot_deals],
        resources={"hubspot": HubSpotResource()},
    )
