"""Pipedrive syncs: persons, organizations and deals land page by page as immutable batches for dbt."""

import dagster as dg

from connectors.apis import pipedrive
from connectors.apis.pipedrive import MAX_PAGE_SIZE, PipedriveClient, landing_zone, sync_entity
from connectors.apis.sync_engine import SyncReport
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, SyncRequest, api_sync_assets


class PipedriveResource(ApiResource):
    """The Pipedrive v2 client; the token is ``DRIPLINE_PIPEDRIVE_API_TOKEN``."""

    client_class = PipedriveClient
    token_field = "pipedrive_api_token"
    base_url_field = "pipedrive_base_url"
    page_size: int = MAX_PAGE_SIZE


def _run(client: PipedriveClient, request: SyncRequest) -> list[SyncReport]:
    # A v2 person carries only org_id: a persons sync reads organization names from what landed.
    organizations = (
        landing_zone(request.landing_dir, "organizations") if request.entity == "persons" else None
    )
    zone = landing_zone(request.landing_dir, request.entity)
    return [sync_entity(client, zone, organizations=organizations, **request.options)]


PIPEDRIVE = ApiSource.of(pipedrive, "Pipedrive", "a Pipedrive API token", run=_run, reconciles=True)

pipedrive_organizations, pipedrive_persons, pipedrive_deals = api_sync_assets(
    PIPEDRIVE,
    [
        SyncEntity(
            "organizations",
            "Pipedrive organization version fetched (v2 API, exactly as returned)",
            "; staging keeps the latest version of each.",
        ),
        SyncEntity(
            "persons",
            "Pipedrive person version fetched",
            ": the record as returned plus its name, primary email, primary phone and organization name "
            "normalised like a spreadsheet row, so persons join the contact union.",
            deps=[dg.AssetKey(["pipedrive", "organizations"])],
        ),
        SyncEntity(
            "deals",
            "Pipedrive deal version fetched (every status, deleted included)",
            "; won deals become customers' purchases.",
        ),
    ],
)


@dg.definitions
def pipedrive_definitions() -> dg.Definitions:
    assets = [pipedrive_organizations, pipedrive_persons, pipedrive_deals]
    return PIPEDRIVE.definitions(PipedriveResource(), assets)
