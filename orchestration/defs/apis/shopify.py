"""Shopify syncs: a store's customers and orders land page by page as immutable batches for dbt."""

from typing import Any

import dagster as dg

from connectors.apis import shopify
from connectors.apis.shopify import BASE_URL_SETTING, MAX_PAGE_SIZE, ShopifyClient
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, api_sync_assets
from orchestration.lib.settings import DriplineSettings


class ShopifyResource(ApiResource):
    """The Shopify Admin REST client; the token is ``DRIPLINE_SHOPIFY_ACCESS_TOKEN``, the store
    ``DRIPLINE_SHOPIFY_BASE_URL`` (asked for before a client is built) and the API version
    ``DRIPLINE_SHOPIFY_API_VERSION``."""

    client_class = ShopifyClient
    token_field = "shopify_access_token"
    base_url_field = "shopify_base_url"
    page_size: int = MAX_PAGE_SIZE

    def client_options(self, settings: DriplineSettings) -> dict[str, Any]:
        return {"page_size": self.page_size, "api_version": settings.shopify_api_version}


SHOPIFY = ApiSource.of(
    shopify,
    "Shopify",
    "a Shopify Admin API access token",
    reconciles=True,
    requires=("shopify_base_url", BASE_URL_SETTING, "the store's admin URL (https://<store>.myshopify.com)"),
)

shopify_customers, shopify_orders = api_sync_assets(
    SHOPIFY,
    [
        SyncEntity(
            "customers",
            "Shopify customer version fetched (Admin REST, exactly as returned)",
            ": the record plus its name, email, phone, company and email marketing consent normalised like a "
            "spreadsheet row, so customers join the contact union.",
        ),
        SyncEntity(
            "orders",
            "Shopify order version fetched (every status)",
            "; paid orders of a known customer become purchases.",
        ),
    ],
)


@dg.definitions
def shopify_definitions() -> dg.Definitions:
    return SHOPIFY.definitions(ShopifyResource(), [shopify_customers, shopify_orders])
