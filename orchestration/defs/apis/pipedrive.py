"""Pipedrive syncs: persons, organizations and deals land page by page as immutable batches for dbt."""

from datetime import timedelta

import dagster as dg

from connectors.apis.http import ApiError
from connectors.apis.pipedrive import MAX_PAGE_SIZE, TOKEN_SETTING, PipedriveClient, landing_zone, sync_entity
from connectors.apis.sync_engine import MassDeletionError
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS, SYNC_RETRY_POLICY, is_full_refresh_run


class PipedriveResource(dg.ConfigurableResource):
    """The Pipedrive v2 client, built at run time from settings: the token (``DRIPLINE_PIPEDRIVE_API_TOKEN``)
    stays a ``SecretStr`` in ``DriplineSettings`` and never enters run config, metadata or logs."""

    page_size: int = MAX_PAGE_SIZE
    max_retries: int = 5
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0

    def client(self, settings: DriplineSettings) -> PipedriveClient | None:
        """A client, or None when no token is configured."""
        if settings.pipedrive_api_token is None or not settings.pipedrive_api_token.get_secret_value():
            return None
        return PipedriveClient(
            settings.pipedrive_base_url,
            settings.pipedrive_api_token,
            page_size=self.page_size,
            max_retries=self.max_retries,
            timeout=(self.connect_timeout_seconds, self.read_timeout_seconds),
        )


class PipedriveSyncConfig(dg.Config):
    full_refresh: bool = False
    """Walk every record instead of those updated since the landed cursor, and reconcile deletions."""
    allow_mass_deletion: bool = False
    """Let a full refresh tombstone more than a fifth of the landed records (refused by default: a walk
    that came back short, or a token that sees less, must not delete the CRM)."""


def _sync(
    context: dg.AssetExecutionContext,
    config: PipedriveSyncConfig,
    pipedrive: PipedriveResource,
    entity: str,
) -> dg.MaterializeResult:
    settings = DriplineSettings()
    zone = landing_zone(settings.landing_dir, entity)
    zone.prepare()  # dbt's source glob needs the schema file even when nothing was ever synced
    client = pipedrive.client(settings)
    if client is None:
        context.log.warning(
            f"Pipedrive {entity}: skipped, {TOKEN_SETTING} is not set. Set it to a Pipedrive API token "
            "to sync; the rest of the pipeline runs without it."
        )
        return dg.MaterializeResult(
            metadata={
                "skipped": True,
                "skipped_reason": f"{TOKEN_SETTING} is not set",
                "dagster/row_count": zone.row_count(),
            }
        )
    organizations = landing_zone(settings.landing_dir, "organizations") if entity == "persons" else None
    try:
        with client:
            report = sync_entity(
                client,
                zone,
                overlap=timedelta(minutes=settings.sync_overlap_minutes),
                full_refresh=config.full_refresh or is_full_refresh_run(context),
                allow_mass_deletion=config.allow_mass_deletion,
                region=settings.default_region,
                local_tz=settings.local_timezone,
                organizations=organizations,
            )
    except MassDeletionError as error:
        raise dg.Failure(
            description=f"{error} Nothing was tombstoned. If the deletions are real, re-run with the config "
            "allow_mass_deletion: true.",
            allow_retries=False,
        ) from error
    except ApiError as error:
        # Only an outage or a rate limit is worth a retry; a wrong token, URL or answer needs a person.
        raise dg.Failure(
            description=f"Pipedrive {entity} sync failed; the pages landed before the failure are kept and a "
            f"re-run resumes from them: {error}",
            allow_retries=error.retryable,
        ) from error
    context.log.info(
        f"Pipedrive {entity}: {report.records_fetched} fetched in {report.pages} page(s) "
        f"({report.records_new} new, {report.records_updated} updated, {report.records_deleted} deleted); "
        f"cursor {report.cursor_before} -> {report.cursor_after}"
    )
    return dg.MaterializeResult(
        metadata={"skipped": False, "dagster/row_count": zone.row_count(), **report.as_metadata()}
    )


def _sync_asset(entity: str, description: str, deps: list[dg.AssetKey] | None = None) -> dg.AssetsDefinition:
    @dg.asset(
        name=entity,
        key_prefix=["pipedrive"],
        group_name="ingest",
        kinds={"python", "pipedrive", "parquet"},
        owners=OWNERS,
        description=description,
        retry_policy=SYNC_RETRY_POLICY,
        deps=deps,
    )
    def _asset(
        context: dg.AssetExecutionContext, config: PipedriveSyncConfig, pipedrive: PipedriveResource
    ) -> dg.MaterializeResult:
        return _sync(context, config, pipedrive, entity)

    return _asset


pipedrive_organizations = _sync_asset(
    "organizations",
    "One row per Pipedrive organization version fetched (v2 API, exactly as returned), landed one page per "
    "batch in `landing/pipedrive/organizations/`; staging keeps the latest version of each.",
)
pipedrive_persons = _sync_asset(
    "persons",
    "One row per Pipedrive person version fetched, landed one page per batch in "
    "`landing/pipedrive/persons/`: the record as returned plus its name, primary email, primary phone "
    "and organization name normalised like a spreadsheet row, so persons join the contact union.",
    deps=[dg.AssetKey(["pipedrive", "organizations"])],
)
pipedrive_deals = _sync_asset(
    "deals",
    "One row per Pipedrive deal version fetched (every status, deleted included), landed one page per batch "
    "in `landing/pipedrive/deals/`; won deals become customers' purchases.",
)


@dg.definitions
def pipedrive_definitions() -> dg.Definitions:
    # A module with a @dg.definitions function contributes only what that function returns.
    return dg.Definitions(
        assets=[pipedrive_organizations, pipedrive_persons, pipedrive_deals],
        resources={"pipedrive": PipedriveResource()},
    )
