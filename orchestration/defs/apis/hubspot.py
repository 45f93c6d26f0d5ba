"""HubSpot syncs: contacts, companies and deals land page by page as immutable batches for dbt."""

import dagster as dg
from pydantic import SecretStr

from connectors.apis.hubspot import (
    MAX_PAGE_SIZE,
    MAX_SEARCH_PAGE_SIZE,
    TOKEN_SETTING,
    HubSpotClient,
    landing_zone,
    sync_entity,
)
from connectors.apis.sync_engine import SyncReport
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, SyncRequest, api_sync_assets
from orchestration.lib.settings import DriplineSettings


class HubSpotResource(ApiResource):
    """The HubSpot CRM v3 client; the token is ``DRIPLINE_HUBSPOT_ACCESS_TOKEN``."""

    page_size: int = MAX_PAGE_SIZE
    search_page_size: int = MAX_SEARCH_PAGE_SIZE

    def token(self, settings: DriplineSettings) -> SecretStr | None:
        return settings.hubspot_access_token

    def build(self, settings: DriplineSettings, token: SecretStr) -> HubSpotClient:
        return HubSpotClient(
            settings.hubspot_base_url,
            token,
            page_size=self.page_size,
            search_page_size=self.search_page_size,
            max_retries=self.max_retries,
            timeout=self.timeout(),
        )


def _run(client: HubSpotClient, request: SyncRequest) -> list[SyncReport]:
    # A full refresh is a list walk, which also refreshes associations; deletions need no reconcile: every
    # sync lists HubSpot's archived records.
    report = sync_entity(
        client,
        landing_zone(request.settings.landing_dir, request.entity),
        overlap=request.overlap,
        full_refresh=request.full_refresh,
        region=request.settings.default_region,
        local_tz=request.settings.local_timezone,
    )
    return [report]


HUBSPOT = ApiSource(
    name="hubspot",
    title="HubSpot",
    token_setting=TOKEN_SETTING,
    token_hint="a HubSpot private-app access token",
    zones=lambda landing_dir, entity: [landing_zone(landing_dir, entity)],
    run=_run,
)

hubspot_contacts, hubspot_companies, hubspot_deals = api_sync_assets(
    HUBSPOT,
    [
        SyncEntity(
            "contacts",
            "One row per HubSpot contact version fetched (CRM v3, exactly as returned; archived ones as "
            "deleted), landed one page per batch in `landing/hubspot/contacts/`: the record plus its name, "
            "email, phone and company normalised like a spreadsheet row, so contacts join the contact union.",
        ),
        SyncEntity(
            "companies",
            "One row per HubSpot company version fetched (CRM v3, exactly as returned; archived ones as "
            "deleted), landed one page per batch in `landing/hubspot/companies/`; staging keeps the latest "
            "version of each.",
        ),
        SyncEntity(
            "deals",
            "One row per HubSpot deal version fetched (CRM v3, exactly as returned, with its contact and "
            "company associations on list walks; archived ones as deleted), landed one page per batch in "
            "`landing/hubspot/deals/`.",
        ),
    ],
)


@dg.definitions
def hubspot_definitions() -> dg.Definitions:
    # A module with a @dg.definitions function contributes only what that function returns.
    return dg.Definitions(
        assets=[hubspot_contacts, hubspot_companies, hubspot_deals],
        resources={"hubspot": HubSpotResource()},
    )
