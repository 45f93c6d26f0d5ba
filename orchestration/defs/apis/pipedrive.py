"""Pipedrive syncs: persons, organizations and deals land page by page as immutable batches for dbt."""

import dagster as dg
from pydantic import SecretStr

from connectors.apis.pipedrive import MAX_PAGE_SIZE, TOKEN_SETTING, PipedriveClient, landing_zone, sync_entity
from connectors.apis.sync_engine import SyncReport
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, SyncRequest, api_sync_assets
from orchestration.lib.settings import DriplineSettings


class PipedriveResource(ApiResource):
    """The Pipedrive v2 client; the token is ``DRIPLINE_PIPEDRIVE_API_TOKEN``."""

    page_size: int = MAX_PAGE_SIZE

    def token(self, settings: DriplineSettings) -> SecretStr | None:
        return settings.pipedrive_api_token

    def build(self, settings: DriplineSettings, token: SecretStr) -> PipedriveClient:
        return PipedriveClient(
            settings.pipedrive_base_url,
            token,
            page_size=self.page_size,
            max_retries=self.max_retries,
            timeout=self.timeout(),
        )


def _run(client: PipedriveClient, request: SyncRequest) -> list[SyncReport]:
    landing_dir = request.settings.landing_dir
    organizations = landing_zone(landing_dir, "organizations") if request.entity == "persons" else None
    report = sync_entity(
        client,
        landing_zone(landing_dir, request.entity),
        overlap=request.overlap,
        full_refresh=request.full_refresh,
        allow_mass_deletion=request.allow_mass_deletion,
        region=request.settings.default_region,
        local_tz=request.settings.local_timezone,
        organizations=organizations,
    )
    return [report]


PIPEDRIVE = ApiSource(
    name="pipedrive",
    title="Pipedrive",
    token_setting=TOKEN_SETTING,
    token_hint="a Pipedrive API token",
    zones=lambda landing_dir, entity: [landing_zone(landing_dir, entity)],
    run=_run,
    reconciles=True,
)

pipedrive_organizations, pipedrive_persons, pipedrive_deals = api_sync_assets(
    PIPEDRIVE,
    [
        SyncEntity(
            "organizations",
            "One row per Pipedrive organization version fetched (v2 API, exactly as returned), landed one "
            "page per batch in `landing/pipedrive/organizations/`; staging keeps the latest version of each.",
        ),
        SyncEntity(
            "persons",
            "One row per Pipedrive person version fetched, landed one page per batch in "
            "`landing/pipedrive/persons/`: the record as returned plus its name, primary email, primary "
            "phone and organization name normalised like a spreadsheet row, so persons join the contact "
            "union.",
            deps=[dg.AssetKey(["pipedrive", "organizations"])],
        ),
        SyncEntity(
            "deals",
            "One row per Pipedrive deal version fetched (every status, deleted included), landed one page "
            "per batch in `landing/pipedrive/deals/`; won deals become customers' purchases.",
        ),
    ],
)


@dg.definitions
def pipedrive_definitions() -> dg.Definitions:
    # A module with a @dg.definitions function contributes only what that function returns.
    return dg.Definitions(
        assets=[pipedrive_organizations, pipedrive_persons, pipedrive_deals],
        resources={"pipedrive": PipedriveResource()},
    )
