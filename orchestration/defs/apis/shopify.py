"""Shopify syncs: a store's customers and orders land page by page as immutable batches for dbt."""

import dagster as dg
from pydantic import SecretStr

from connectors.apis.shopify import (
    BASE_URL_SETTING,
    MAX_PAGE_SIZE,
    TOKEN_SETTING,
    ShopifyClient,
    landing_zone,
    sync_entity,
)
from connectors.apis.sync_engine import SyncReport
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, SyncRequest, api_sync_assets
from orchestration.lib.settings import DriplineSettings


class ShopifyResource(ApiResource):
    """The Shopify Admin REST client; the token is ``DRIPLINE_SHOPIFY_ACCESS_TOKEN``, the store
    ``DRIPLINE_SHOPIFY_BASE_URL``."""

    page_size: int = MAX_PAGE_SIZE

    def token(self, settings: DriplineSettings) -> SecretStr | None:
        return settings.shopify_access_token

    def build(self, settings: DriplineSettings, token: SecretStr) -> ShopifyClient:
        # The asset asks for the store URL before it builds a client (ApiSource.unconfigured).
        return ShopifyClient(
            settings.shopify_base_url or "",
            token,
            api_version=settings.shopify_api_version,
            page_size=self.page_size,
            max_retries=self.max_retries,
            timeout=self.timeout(),
        )


def _run(client: ShopifyClient, request: SyncRequest) -> list[SyncReport]:
    report = sync_entity(
        client,
        landing_zone(request.settings.landing_dir, request.entity),
        overlap=request.overlap,
        full_refresh=request.full_refresh,
        allow_mass_deletion=request.allow_mass_deletion,
        region=request.settings.default_region,
        local_tz=request.settings.local_timezone,
    )
    return [report]


def _unconfigured(settings: DriplineSettings) -> tuple[str, str] | None:
    if settings.shopify_base_url:
        return None
    return BASE_URL_SETTING, "the store's admin URL (https://<store>.myshopify.com)"


SHOPIFY = ApiSource(
    name="shopify",
    title="Shopify",
    token_setting=TOKEN_SETTING,
    token_hint="a Shopify Admin API access token",
    zones=lambda landing_dir, entity: [landing_zone(landing_dir, entity)],
    run=_run,
    reconciles=True,
    unconfigured=_unconfigured,
)

shopify_customers, shopify_orders = api_sync_assets(
    SHOPIFY,
    [
        SyncEntity(
            "customers",
            "One row per Shopify customer version fetched (Admin REST, exactly as returned), landed one page "
            "per batch in `landing/shopify/customers/`: the record plus its name, email, phone, company and "
            "email marketing consent normalised like a spreadsheet row, so customers join the contact union.",
        ),
        SyncEntity(
            "orders",
            "One row per Shopify order version fetched (every status), landed one page per batch in "
            "`landing/shopify/orders/`; paid orders of a known customer become purchases.",
        ),
    ],
)


@dg.definitions
def shopify_definitions() -> dg.Definitions:
    # A module with a @dg.definitions function contributes only what that function returns.
    return dg.Definitions(
        assets=[shopify_customers, shopify_orders], resources={"shopify": ShopifyResource()}
    )
