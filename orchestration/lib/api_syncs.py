"""One asset factory for every API sync: skipped without a token, retried when worth it, reported alike.

A source describes itself once (``ApiSource``: its name, its token setting, where its entities land and how
one asset runs its syncs) and its client settings once (an ``ApiResource`` subclass);
``api_sync_assets`` makes one asset per entity with the key ``[source, entity]`` dbt's source names, the
``ingest`` group, ``SYNC_RETRY_POLICY``, the full-refresh config (and ``allow_mass_deletion`` where a full
refresh reconciles deletions) and ``FULL_REFRESH_TAG``. A sync without its token still materialises, with
``skipped`` metadata the ``sync_is_configured`` check reads.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import SecretStr

from connectors.apis.http import ApiClient, ApiError
from connectors.apis.sync_engine import MassDeletionError, SyncReport
from connectors.core.landing import LandingZone
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS, SYNC_RETRY_POLICY, is_full_refresh_run

_TOTALS = (
    "pages",
    "records_fetched",
    "records_new",
    "records_updated",
    "records_unchanged",
    "records_deleted",
    "rows_landed",
)
_STATS = ("api_calls", "retries", "rate_limit_waits")


class ApiResource(dg.ConfigurableResource):
    """A source's client, built at run time from settings: its token stays a ``SecretStr`` in
    ``DriplineSettings`` and never enters run config, metadata or logs. Subclasses say which token and
    how the client is built."""

    max_retries: int = 5
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0

    def token(self, settings: DriplineSettings) -> SecretStr | None:
        raise NotImplementedError

    def build(self, settings: DriplineSettings, token: SecretStr) -> ApiClient:
        raise NotImplementedError

    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout_seconds, self.read_timeout_seconds)

    def client(self, settings: DriplineSettings) -> ApiClient | None:
        """A client, or None when no token is configured."""
        token = self.token(settings)
        if token is None or not token.get_secret_value():
            return None
        return self.build(settings, token)

    def is_configured(self, settings: DriplineSettings) -> bool:
        token = self.token(settings)
        return token is not None and bool(token.get_secret_value())


class SyncConfig(dg.Config):
    full_refresh: bool = False
    """Walk every record instead of those changed since the landed cursor."""


class ReconcilingSyncConfig(SyncConfig):
    allow_mass_deletion: bool = False
    """Let a full refresh tombstone more than a fifth of the landed records (refused by default: a walk
    that came back short, or a token that sees less, must not delete the CRM)."""


@dataclass(frozen=True)
class SyncRequest:
    """What one run asks of one asset's syncs."""

    entity: str
    settings: DriplineSettings
    full_refresh: bool
    allow_mass_deletion: bool

    @property
    def overlap(self) -> timedelta:
        return timedelta(minutes=self.settings.sync_overlap_minutes)


@dataclass(frozen=True)
class SyncEntity:
    """One asset: the entity (the key's second part), what one row is, and what it reads."""

    name: str
    description: str
    deps: Sequence[dg.AssetKey] = ()


@dataclass(frozen=True)
class ApiSource:
    """How the factory runs one source's syncs.

    ``zones(landing_dir, entity)`` are the zones an asset writes (the first is the one it counts);
    ``run(client, request)`` runs its syncs and returns their reports. ``unconfigured(settings)`` names a
    further setting the sync needs, with what to set it to, when it is missing. ``parts`` is the metadata key
    under which an asset that runs several syncs (Typeform, one per form) reports each of them.
    """

    name: str
    title: str
    token_setting: str
    token_hint: str
    zones: Callable[[Path, str], list[LandingZone]]
    run: Callable[[ApiClient, SyncRequest], list[SyncReport]]
    reconciles: bool = False
    unconfigured: Callable[[DriplineSettings], tuple[str, str] | None] = lambda _settings: None
    resume_note: str = "the pages landed before the failure are kept and a re-run resumes from them"
    parts: str | None = None


def api_sync_assets(source: ApiSource, entities: Sequence[SyncEntity]) -> list[dg.AssetsDefinition]:
    """One asset per entity, ``[source.name, entity]``, reading its client from the resource
    ``source.name``."""
    return [_sync_asset(source, entity) for entity in entities]


def _sync_asset(source: ApiSource, entity: SyncEntity) -> dg.AssetsDefinition:
    decorate = dg.asset(
        name=entity.name,
        key_prefix=[source.name],
        group_name="ingest",
        kinds={"python", source.name, "parquet"},
        owners=OWNERS,
        description=entity.description,
        retry_policy=SYNC_RETRY_POLICY,
        deps=list(entity.deps) or None,
        required_resource_keys={source.name},
    )
    # The config class is the asset's config schema: allow_mass_deletion only where a refresh reconciles.
    if source.reconciles:

        def reconciling(
            context: dg.AssetExecutionContext, config: ReconcilingSyncConfig
        ) -> dg.MaterializeResult:
            return _materialize(context, source, entity.name, config.full_refresh, config.allow_mass_deletion)

        return decorate(reconciling)

    def incremental(context: dg.AssetExecutionContext, config: SyncConfig) -> dg.MaterializeResult:
        return _materialize(context, source, entity.name, config.full_refresh, False)

    return decorate(incremental)


def _materialize(
    context: dg.AssetExecutionContext,
    source: ApiSource,
    entity: str,
    full_refresh: bool,
    allow_mass_deletion: bool,
) -> dg.MaterializeResult:
    settings = DriplineSettings()
    zones = source.zones(settings.landing_dir, entity)
    for zone in zones:
        zone.prepare()  # dbt's source glob needs the schema file even when nothing was ever synced
    resource: ApiResource = getattr(context.resources, source.name)
    if resource.is_configured(settings):
        missing = source.unconfigured(settings)
    else:
        missing = (source.token_setting, source.token_hint)
    if missing is not None:
        setting, hint = missing
        context.log.warning(
            f"{source.title} {entity}: skipped, {setting} is not set. Set it to {hint} to sync; the rest of "
            "the pipeline runs without it."
        )
        return dg.MaterializeResult(
            metadata={
                "skipped": True,
                "skipped_reason": f"{setting} is not set",
                "dagster/row_count": zones[0].row_count(),
            }
        )
    client = resource.client(settings)
    assert client is not None
    request = SyncRequest(
        entity,
        settings,
        full_refresh=full_refresh or is_full_refresh_run(context),
        allow_mass_deletion=allow_mass_deletion,
    )
    try:
        with client:
            reports = source.run(client, request)
    except MassDeletionError as error:
        raise dg.Failure(
            description=f"{error} Nothing was tombstoned. If the deletions are real, re-run with the config "
            "allow_mass_deletion: true.",
            allow_retries=False,
        ) from error
    except ApiError as error:
        # Only an outage or a rate limit is worth a retry; a wrong token, URL or answer needs a person.
        raise dg.Failure(
            description=f"{source.title} {entity} sync failed; {source.resume_note}: {error}",
            allow_retries=error.retryable,
        ) from error
    for report in reports:
        context.log.info(
            f"{source.title} {entity} {report.entity}: {report.records_fetched} fetched in {report.pages} "
            f"page(s) ({report.records_new} new, {report.records_updated} updated, {report.records_deleted} "
            f"deleted); cursor {report.cursor_before} -> {report.cursor_after}"
        )
    return dg.MaterializeResult(
        metadata={"skipped": False, "dagster/row_count": zones[0].row_count(), **_metadata(source, reports)}
    )


def _metadata(source: ApiSource, reports: list[SyncReport]) -> dict[str, object]:
    """One sync's report; for a source whose asset runs several, their totals and each under ``parts``."""
    if source.parts is None:
        [report] = reports
        return report.as_metadata()
    totals: dict[str, object] = {key: sum(getattr(report, key) for report in reports) for key in _TOTALS}
    totals |= {key: sum(getattr(report.stats, key) for report in reports) for key in _STATS}
    totals["rate_limit_wait_seconds"] = round(sum(r.stats.rate_limit_wait_seconds for r in reports), 3)
    parts = {report.entity: report.as_metadata() for report in reports}
    return {**totals, source.parts: dg.MetadataValue.json(parts)}
