"""Ingest the files a person dropped into an inbox folder into the landing zone.

Each file becomes one immutable batch whose id is the SHA-256 of its bytes and of how it was read (the
reader options and ``READER_VERSION``): a file already landed is skipped without being read again, so
dropping the same file twice or re-running after a crash never duplicates a record, while a file read
with other options (a new header synonym, another default region) lands again as a new version of
itself. An unreadable file is reported, never half-landed, and does not stop the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from connectors.core.landing import LandingZone, file_sha256
from connectors.files.headers import FileRead, SheetReport, UnreadableFileError

Reader = Callable[[Path], FileRead]

# Bump when a change to the readers should re-read files that already landed.
# 2: order sheets are read into spreadsheets/orders and no longer as contact lists.
# Not bumped for birthdays: a re-read file lands with a new loaded_at, and an undated row counts as of when it
# landed, so re-reading every file would re-date undated answers (consent_email_at, consent, survivorship).
READER_VERSION = 2
SPREADSHEET_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm", ".xls")  # not .txt: a note is not a table
FORM_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")


def batch_id_for(file_digest: str, reading: Mapping[str, object]) -> str:
    """The id of a file's batch: its content and how it was read, so new reader options re-land it."""
    options = json.dumps({**reading, "reader_version": READER_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(f"{file_digest}\n{options}".encode()).hexdigest()


@dataclass(frozen=True)
class FileOutcome:
    file: str
    batch_id: str
    status: str  # "landed", "already_landed" or "failed"
    rows_read: int = 0
    rows_rejected: int = 0
    encoding: str | None = None
    sheets: tuple[SheetReport, ...] = ()
    error: str | None = None


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)

    def _of(self, status: str) -> list[FileOutcome]:
        return [f for f in self.files if f.status == status]

    @property
    def landed(self) -> list[FileOutcome]:
        return self._of("landed")

    @property
    def already_landed(self) -> list[FileOutcome]:
        return self._of("already_landed")

    @property
    def failed(self) -> list[FileOutcome]:
        return self._of("failed")

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.landed)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.landed)

    @property
    def rows_landed(self) -> int:
        """Every row read lands, rejected ones included (they surface in quarantined_rows)."""
        return self.rows_read


def inbox_files(directory: Path, suffixes: Iterable[str]) -> list[Path]:
    """Files under ``directory`` with one of ``suffixes``, sorted; hidden and Office lock files skipped."""
    wanted = {s.lower() for s in suffixes}
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.suffix.lower() in wanted
        and not any(part.startswith((".", "~$")) for part in p.relative_to(directory).parts)
    )


def land_file(path: Path, batch_id: str, *, inbox_dir: Path, zone: LandingZone, read: Reader) -> FileOutcome:
    relative = path.relative_to(inbox_dir).as_posix()
    if zone.has_batch(batch_id):
        return FileOutcome(file=relative, batch_id=batch_id, status="already_landed")
    try:
        result = read(path)
    except UnreadableFileError as error:
        return FileOutcome(file=relative, batch_id=batch_id, status="failed", error=str(error))
    zone.write_batch(batch_id, result.table)
    return FileOutcome(
        file=relative,
        batch_id=batch_id,
        status="landed",
        rows_read=result.table.num_rows,
        rows_rejected=sum(s.rows_rejected for s in result.sheets),
        encoding=result.encoding,
        sheets=tuple(result.sheets),
    )


def ingest_inbox(
    inbox_dir: Path,
    zone: LandingZone,
    read: Reader,
    suffixes: Iterable[str],
    workers: int = 1,
    reading: Mapping[str, object] | None = None,
) -> IngestReport:
    """Land every file of ``inbox_dir`` not landed yet with these ``reading`` options.

    ``read`` must be picklable when ``workers > 1``; ``reading`` names the options ``read`` applies.
    """
    zone.prepare()
    # Hash first, so that two copies of one file in the inbox land once.
    first_path_of: dict[str, Path] = {}
    copies: list[FileOutcome] = []
    for path in inbox_files(inbox_dir, suffixes):
        batch_id = batch_id_for(file_sha256(path), reading or {})
        if batch_id in first_path_of:
            relative = path.relative_to(inbox_dir).as_posix()
            copies.append(FileOutcome(file=relative, batch_id=batch_id, status="already_landed"))
        else:
            first_path_of[batch_id] = path
    land = partial(land_file, inbox_dir=inbox_dir, zone=zone, read=read)
    batch_ids, paths = list(first_path_of), list(first_path_of.values())
    if workers > 1 and len(paths) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(paths))) as pool:
            outcomes = list(pool.map(land, paths, batch_ids))
    else:
        outcomes = [land(p, b) for p, b in zip(paths, batch_ids, strict=True)]
    return IngestReport(files=sorted(outcomes + copies, key=lambda f: f.file))
