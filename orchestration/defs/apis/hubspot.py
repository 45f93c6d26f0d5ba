"""HubSpot syncs: contacts, companies and deals land page by page as immutable batches for dbt.

A full refresh is a list walk, which also refreshes associations; deletions need no reconcile: every sync
lists HubSpot's archived records.
"""

import dagster as dg

from connectors.apis import hubspot
from connectors.apis.hubspot import MAX_PAGE_SIZE, MAX_SEARCH_PAGE_SIZE, HubSpotClient
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, api_sync_assets


class HubSpotResource(ApiResource):
    """The HubSpot CRM v3 client; the token is ``DRIPLINE_HUBSPOT_ACCESS_TOKEN``."""

    client_class = HubSpotClient
    token_field = "hubspot_access_token"
    base_url_field = "hubspot_base_url"
    page_size: int = MAX_PAGE_SIZE
    search_page_size: int = MAX_SEARCH_PAGE_SIZE


HUBSPOT = ApiSource.of(hubspot, "HubSpot", "a HubSpot private-app access token")
_AS_RETURNED = "(CRM v3, exactly as returned; archived ones as deleted)"

hubspot_contacts, hubspot_companies, hubspot_deals = api_sync_assets(
    HUBSPOT,
    [
        SyncEntity(
            "contacts",
            f"HubSpot contact version fetched {_AS_RETURNED}",
            ": the record plus its name, email, phone and company normalised like a spreadsheet row, so "
            "contacts join the contact union.",
        ),
        SyncEntity(
            "companies",
            f"HubSpot company version fetched {_AS_RETURNED}",
            "; staging keeps the latest version of each.",
        ),
        SyncEntity(
            "deals",
            "HubSpot deal version fetched (CRM v3, exactly as returned, with its contact and company "
            "associations on list walks; archived ones as deleted)",
        ),
    ],
)


@dg.definitions
def hubspot_definitions() -> dg.Definitions:
    return HUBSPOT.definitions(HubSpotResource(), [hubspot_contacts, hubspot_companies, hubspot_deals])
