"""SendGrid suppression reconciliation: bounces, blocks, spam reports, invalid addresses and global and group
unsubscribes land from SendGrid's API, so the send path honours them even when a webhook was missed."""

import dagster as dg

from connectors.apis import sendgrid_suppressions
from connectors.apis.sendgrid_suppressions import MAX_PAGE_SIZE, SendGridSuppressionClient
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, api_sync_assets


class SendGridSuppressionsResource(ApiResource):
    """The SendGrid suppression-list reader; the key is ``DRIPLINE_SENDGRID_API_KEY`` (the send path's)."""

    client_class = SendGridSuppressionClient
    token_field = "sendgrid_api_key"
    base_url_field = "sendgrid_base_url"
    page_size: int = MAX_PAGE_SIZE


SENDGRID = ApiSource.of(sendgrid_suppressions, "SendGrid", "a SendGrid API key", reconciles=True)
_ROW = "SendGrid {} entry (v3 API, exactly as returned; record_id the normalised address)"
_SUPPRESSES = "; the send path never mails a listed address"

(
    sendgrid_bounces,
    sendgrid_blocks,
    sendgrid_spam_reports,
    sendgrid_invalid_emails,
    sendgrid_global_unsubscribes,
    sendgrid_group_unsubscribes,
) = SENDGRID_ASSETS = api_sync_assets(
    SENDGRID,
    [
        SyncEntity("bounces", _ROW.format("bounce"), f"{_SUPPRESSES} (kind bounce)."),
        SyncEntity(
            "blocks",
            _ROW.format("block"),
            "; a block is temporary (SendGrid keeps delivering to the address), so it suppresses nothing.",
        ),
        SyncEntity("spam_reports", _ROW.format("spam report"), f"{_SUPPRESSES} (kind spam_report)."),
        SyncEntity("invalid_emails", _ROW.format("invalid address"), f"{_SUPPRESSES} (kind invalid_email)."),
        SyncEntity(
            "global_unsubscribes",
            _ROW.format("global unsubscribe"),
            f"{_SUPPRESSES} (kind global_unsubscribe).",
        ),
        SyncEntity(
            "group_unsubscribes",
            "SendGrid group unsubscribe (v3 API, exactly as returned; record_id `<group_id>:<address>`)",
            "; the send path does not mail the address a campaign of that unsubscribe group "
            "(kind group_unsubscribe).",
        ),
    ],
)


@dg.definitions
def sendgrid_definitions() -> dg.Definitions:
    return SENDGRID.definitions(SendGridSuppressionsResource(), SENDGRID_ASSETS)
