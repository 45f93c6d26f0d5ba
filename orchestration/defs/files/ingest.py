"""Ingestion: files a person dropped into the inbox land as immutable batches for dbt.

A file that cannot be read never blocks the warehouse: it is quarantined (``landing/quarantine/files``, the
``quarantined_files`` mart), the asset succeeds with the other files landed so dbt still builds, and its
``inbox_files_readable`` check fails as a warning (non-blocking) naming the file and why.
"""

from collections.abc import Callable
from functools import partial

import dagster as dg

from connectors.core.landing import LandingZone
from connectors.files.forms import read_form_export
from connectors.files.headers import FileRead
from connectors.files.inbox import (
    FORM_SUFFIXES,
    SPREADSHEET_SUFFIXES,
    IngestReport,
    ingest_inbox,
    quarantine_zone,
)
from connectors.files.orders import orders_zone
from connectors.files.spreadsheets import read_order_spreadsheet, read_spreadsheet
from orchestration.lib.settings import DriplineSettings
from orchestration.lib.sync_runs import OWNERS


def _mapping_table(report: IngestReport) -> str:
    """Markdown: for every file and sheet landed this run, which column became which field."""
    lines = [
        "| file | sheet | header row | rows | rejected | mapped columns | kept as attributes |",
        "|---|---|---|---|---|---|---|",
    ]
    for outcome in report.landed:
        for sheet in outcome.sheets:
            mapped = ", ".join(f"{column} → {name}" for column, name in sheet.mapping.items())
            extras = ", ".join(sheet.extra_columns)
            if sheet.skipped_reason:
                mapped, extras = f"skipped: {sheet.skipped_reason}", ""
            lines.append(
                f"| {outcome.file} | {sheet.sheet or ''} | {sheet.header_row or ''} | {sheet.rows_read} "
                f"| {sheet.rows_rejected} | {mapped} | {extras} |"
            )
    return "\n".join(lines)


READABLE_CHECK = "inbox_files_readable"


def _readable_check(key: list[str]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        READABLE_CHECK,
        asset=dg.AssetKey(key),
        blocking=False,
        description="Warns when an inbox file could not be read or was refused: it is quarantined "
        "(quarantined_files) and everything else landed and builds.",
    )


def _check_result(report: IngestReport) -> dg.AssetCheckResult:
    quarantined = report.quarantined
    return dg.AssetCheckResult(
        check_name=READABLE_CHECK,
        passed=not quarantined,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(quarantined)} file(s) quarantined, the others landed: "
            + "; ".join(f.error or f.file for f in quarantined)
            if quarantined
            else "every inbox file was read"
        ),
        metadata={"files_quarantined": [f.file for f in quarantined]},
    )


def _result(report: IngestReport, zone: LandingZone, *, check: bool = True) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[_check_result(report)] if check else None,
        metadata={
            # The asset is the landing zone: all it holds, this run's additions below.
            "dagster/row_count": zone.row_count(),
            "rows_read": report.rows_read,
            "rows_landed": report.rows_landed,
            "rows_quarantined": report.rows_rejected,
            "files_landed": len(report.landed),
            "files_already_landed": len(report.already_landed),
            "files_unreadable": [f.file for f in report.failed],
            # Every file that did not land, with why (no cell values: the reasons name files and columns).
            "files_quarantined": [f.error or f.file for f in report.quarantined],
            "files_skipped": [f"{s.file}: {s.reason}" for s in report.skipped],
            "encodings": {f.file: f.encoding for f in report.landed if f.encoding},
            "header_mapping": dg.MetadataValue.md(_mapping_table(report)),
        },
    )


def _ingest(
    context: dg.AssetExecutionContext,
    settings: DriplineSettings,
    source: str,
    entity: str,
    reader: Callable[..., FileRead],
    suffixes: tuple[str, ...],
    zone: LandingZone | None = None,
    quarantine: bool = True,
    **reader_options: object,
) -> dg.MaterializeResult:
    inbox = settings.inbox_dir / source
    reading = {
        "default_region": settings.default_region,
        "extra_synonyms": settings.header_synonyms,
        "local_tz": settings.local_timezone,
        **reader_options,
    }
    read = partial(reader, inbox_dir=inbox, **reading)
    zone = zone or LandingZone(settings.landing_dir, source, entity)
    report = ingest_inbox(
        inbox,
        zone,
        read,
        suffixes,
        workers=settings.ingest_workers,
        reading=reading,
        quarantine=quarantine_zone(settings.landing_dir) if quarantine else None,
    )
    context.log.info(
        f"{source}/{entity}: {len(report.landed)} file(s) landed, {len(report.already_landed)} already "
        f"landed, {len(report.quarantined)} quarantined, {len(report.skipped)} skipped; "
        f"{report.rows_read} rows read, {report.rows_rejected} quarantined"
    )
    for outcome in report.quarantined:
        context.log.warning(f"quarantined {source}/{outcome.error}")
    return _result(report, zone, check=quarantine)


@dg.asset(
    key=["spreadsheets", "contacts"],
    group_name="ingest",
    kinds={"python", "csv", "xlsx"},
    owners=OWNERS,
    check_specs=[_readable_check(["spreadsheets", "contacts"])],
)
def spreadsheet_contacts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One row per contact-list row found in `inbox/spreadsheets/` (.csv in UTF-8 or CP949, .xlsx).

    Each file lands once as an immutable batch in `landing/spreadsheets/contacts/`, raw cells kept next
    to their normalised values; rows without a usable channel land too, marked for quarantine. Order
    sheets are read by `spreadsheets/orders` instead. A file that cannot be read is quarantined (see the
    module docstring) and the others land.
    """
    settings = DriplineSettings()
    return _ingest(
        context,
        settings,
        "spreadsheets",
        "contacts",
        read_spreadsheet,
        SPREADSHEET_SUFFIXES,
        sheet=settings.spreadsheet_sheet,
    )


@dg.asset(
    key=["spreadsheets", "orders"],
    group_name="ingest",
    kinds={"python", "csv", "xlsx"},
    owners=OWNERS,
)
def spreadsheet_orders(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One row per row of an order sheet found in `inbox/spreadsheets/` (a CSV or any workbook sheet whose
    header names an order date, an amount and the buyer: 주문일자, 결제금액, 고객명/연락처/이메일).

    Each file lands once as an immutable batch in `landing/spreadsheets/orders/` (zero rows when it holds
    no order sheet); rows without a date, an amount or a buyer land too, marked for quarantine. A file
    that cannot be read at all is listed under `files_unreadable`; `spreadsheets/contacts` quarantines it.
    """
    settings = DriplineSettings()
    return _ingest(
        context,
        settings,
        "spreadsheets",
        "orders",
        read_order_spreadsheet,
        SPREADSHEET_SUFFIXES,
        zone=orders_zone(settings.landing_dir),
        quarantine=False,
        sheet=settings.spreadsheet_sheet,
        default_currency=settings.default_currency,
    )


@dg.asset(
    key=["forms", "submissions"],
    group_name="ingest",
    kinds={"python", "json", "csv"},
    owners=OWNERS,
    check_specs=[_readable_check(["forms", "submissions"])],
)
def form_submissions(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One row per form submission found in `inbox/forms/` (Google Forms CSV exports, JSON/JSONL captures).

    Each file lands once as an immutable batch in `landing/forms/submissions/`; a line or payload that
    cannot be parsed (at any depth) lands as a rejected record with its line, and a file that cannot be
    read is quarantined.
    """
    return _ingest(context, DriplineSettings(), "forms", "submissions", read_form_export, FORM_SUFFIXES)
