"""Typeform sync: the responses of the configured forms land page by page as immutable batches for dbt."""

from typing import Any

import dagster as dg

from connectors.apis.sync_engine import SyncReport
from connectors.apis.typeform import (
    FORM_IDS_SETTING,
    MAX_PAGE_SIZE,
    TOKEN_SETTING,
    TypeformClient,
    responses_zone,
    sync_form,
    walks_zone,
)
from orchestration.lib.api_syncs import ApiResource, ApiSource, SyncEntity, SyncRequest, api_sync_assets
from orchestration.lib.settings import DriplineSettings


class TypeformResource(ApiResource):
    """The Typeform client; the token is ``DRIPLINE_TYPEFORM_TOKEN``."""

    client_class = TypeformClient
    token_field = "typeform_token"
    base_url_field = "typeform_base_url"
    page_size: int = MAX_PAGE_SIZE
    request_interval_seconds: float = 0.5

    def client_options(self, settings: DriplineSettings) -> dict[str, Any]:
        return {"page_size": self.page_size, "request_interval": self.request_interval_seconds}


def _run(client: TypeformClient, request: SyncRequest) -> list[SyncReport]:
    responses, walks = responses_zone(request.landing_dir), walks_zone(request.landing_dir)
    synonyms = request.settings.header_synonyms
    return [
        sync_form(client, responses, walks, form_id, synonyms=synonyms, **request.options)
        for form_id in request.settings.typeform_form_ids
    ]


TYPEFORM = ApiSource(
    name="typeform",
    title="Typeform",
    token_setting=TOKEN_SETTING,
    token_hint="a Typeform personal token",
    zone=lambda landing_dir, _entity: responses_zone(landing_dir),
    extra_zones=lambda landing_dir: [walks_zone(landing_dir)],
    run=_run,
    reconciles=True,
    requires=("typeform_form_ids", FORM_IDS_SETTING, "the ids of the forms (comma-separated)"),
    resume_note="the pages landed before the failure are kept, and the next run walks an unfinished form "
    "again from its last complete walk",
    parts="forms",
)

[typeform_responses] = api_sync_assets(
    TYPEFORM,
    [
        SyncEntity(
            "responses",
            "Typeform response fetched (completed responses of the forms in `DRIPLINE_TYPEFORM_FORM_IDS`, "
            "exactly as returned, `_entity` = form id)",
            ": the response plus the name, email, phone, company and consent found among its answers, "
            "normalised like a spreadsheet row, so respondents join the contact union. A marker in "
            "`landing/typeform/walks/` records each complete walk; the next walk starts from it.",
        )
    ],
)


@dg.definitions
def typeform_definitions() -> dg.Definitions:
    return TYPEFORM.definitions(TypeformResource(), [typeform_responses])
