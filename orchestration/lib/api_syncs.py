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
from types import ModuleType
from typing import Any, ClassVar

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
    ``DriplineSettings`` and never enters run config, metadata or logs. A subclass names its client class
    and the settings fields of its token and base URL, and adds its client's options (page sizes) as
    fields named like the client's arguments."""

    max_retries: int = 5
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0

    client_class: ClassVar[Callable[..., ApiClient]]
    token_field: ClassVar[str]
    base_url_field: ClassVar[str]

    def client_options(self, settings: DriplineSettings) -> dict[str, Any]:
        """The client's own arguments: the subclass's fields."""
        return {name: getattr(self, name) for name in type(self).model_fields if name not in _COMMON_FIELDS}

    def token(self, settings: DriplineSettings) -> SecretStr | None:
        token = getattr(settings, self.token_field)
        return token if token is not None and token.get_secret_value() else None

    def client(self, settings: DriplineSettings) -> ApiClient | None:
        """A client, or None when no token is configured."""
        token = self.token(settings)
        if token is None:
            return None
        return self.client_class(
            getattr(settings, self.base_url_field),
            token,
            max_retries=self.max_retries,
            timeout=(self.connect_timeout_seconds, self.read_timeout_seconds),
            **self.client_options(settings),
        )


_COMMON_FIELDS = frozenset(ApiResource.model_fields)


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
    allow_mass_deletion: bool | None

    @property
    def options(self) -> dict[str, Any]:
        """The keyword arguments every source's sync function takes (``allow_mass_deletion`` only where a
        full refresh reconciles)."""
        options: dict[str, Any] = {
            "overlap": timedelta(minutes=self.settings.sync_overlap_minutes),
            "full_refresh": self.full_refresh,
            "region": self.settings.default_region,
            "local_tz": self.settings.local_timezone,
        }
        if self.allow_mass_deletion is not None:
            options["allow_mass_deletion"] = self.allow_mass_deletion
        return options

    @property
    def landing_dir(self) -> Path:
        return self.settings.landing_dir


@dataclass(frozen=True)
class SyncEntity:
    """One asset: the entity (the key's second part), what one row is (``"Shopify order version fetched
    (every status)"``), what the landed rows carry or become (``rest``, after the landing folder the
    factory names) and what it reads."""

    name: str
    row: str
    rest: str = "."
    deps: Sequence[dg.AssetKey] = ()

    def description(self, source: str) -> str:
        landing = f"`landing/{source}/{self.name}/`"
        return f"One row per {self.row}, landed one page per batch in {landing}{self.rest}"


@dataclass(frozen=True)
class ApiSource:
    """How the factory runs one source's syncs.

    ``zone(landing_dir, entity)`` is where an asset lands (and what it counts), ``extra_zones`` any other
    zone it writes; ``run(client, request)`` runs its syncs and returns their reports (``one_sync`` for the
    usual one sync per asset). ``requires`` is a further setting the sync needs besides its token: the
    ``DriplineSettings`` field, the environment variable and what to set it to. ``parts`` is the metadata
    key under which an asset that runs several syncs (Typeform, one per form) reports each of them.
    ``ApiSource.of`` reads the usual parts from a connector module.
    """

    name: str
    title: str
    token_setting: str
    token_hint: str
    zone: Callable[[Path, str], LandingZone]
    run: Callable[[ApiClient, SyncRequest], list[SyncReport]]
    reconciles: bool = False
    extra_zones: Callable[[Path], list[LandingZone]] = lambda _landing_dir: []
    requires: tuple[str, str, str] | None = None
    resume_note: str = "the pages landed before the failure are kept and a re-run resumes from them"
    parts: str | None = None

    @classmethod
    def of(cls, connector: ModuleType, title: str, token_hint: str, **fields: Any) -> "ApiSource":
        """The source of a connector module with the usual parts: ``SOURCE``, ``TOKEN_SETTING``,
        ``landing_zone`` and a ``sync_entity`` run once per asset (``fields`` override any of them)."""
        usual = {
            "zone": connector.landing_zone,
            "run": one_sync(connector.sync_entity, connector.landing_zone),
        }
        return cls(connector.SOURCE, title, connector.TOKEN_SETTING, token_hint, **{**usual, **fields})

    def definitions(self, resource: ApiResource, assets: Sequence[dg.AssetsDefinition]) -> dg.Definitions:
        """What the source's defs module returns from its ``@dg.definitions`` function (a module with one
        contributes only what it returns): its sync assets and its client resource, under the source's
        name."""
        return dg.Definitions(assets=list(assets), resources={self.name: resource})

    def unconfigured(self, settings: DriplineSettings) -> tuple[str, str] | None:
        """``(setting, what to set it to)`` of a required setting that is missing, else None."""
        if self.requires is None or getattr(settings, self.requires[0]):
            return None
        return self.requires[1], self.requires[2]


def one_sync(
    sync: Callable[..., SyncReport], zone: Callable[[Path, str], LandingZone]
) -> Callable[[ApiClient, SyncRequest], list[SyncReport]]:
    """The run of an asset that syncs its entity once: ``sync(client, zone, **request.options)``."""

    def run(client: ApiClient, request: SyncRequest) -> list[SyncReport]:
        return [sync(client, zone(request.landing_dir, request.entity), **request.options)]

    return run


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
        description=entity.description(source.name),
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
    zone = source.zone(settings.landing_dir, entity)
    for written in (zone, *source.extra_zones(settings.landing_dir)):
        written.prepare()  # dbt's source glob needs the schema file even when nothing was ever synced
    resource: ApiResource = getattr(context.resources, source.name)
    if resource.token(settings) is None:
        missing: tuple[str, str] | None = (source.token_setting, source.token_hint)
    else:
        missing = source.unconfigured(settings)
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
                "dagster/row_count": zone.row_count(),
            }
        )
    client = resource.client(settings)
    assert client is not None
    request = SyncRequest(
        entity,
        settings,
        full_refresh=full_refresh or is_full_refresh_run(context),
        allow_mass_deletion=allow_mass_deletion if source.reconciles else None,
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
        metadata={"skipped": False, "dagster/row_count": zone.row_count(), **_metadata(source, reports)}
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
