"""Ingest the files a person dropped into an inbox folder into the landing zone.

Each file becomes one immutable batch whose id is the SHA-256 of its bytes and of how it was read (the
reader options and ``READER_VERSION``): a file already landed is skipped without being read again, so
dropping the same file twice or re-running after a crash never duplicates a record, while a file read
with other options (a new header synonym, another default region) lands again as a new version of
itself. A file streams into its batch as it is read, so a large workbook is never held in memory.

The inbox is a boundary: only regular files inside it are read. A symbolic link (to a file or a folder,
wherever it points) is refused and never opened, and so is anything that is not a regular file (a pipe would
block the read forever). What the operating system leaves behind (``.DS_Store``, ``._*``, ``Thumbs.db``,
``desktop.ini``) and the lock files of open documents (``~$*``, ``.~lock.*#``) are skipped; both are named
in the report, never passed over in silence. Any other file whose name starts with a dot is read.

A file that cannot be read (damaged, empty, an HTML page saved as .xls, or a reader error of any kind) does
not stop the others and is never half-landed: it is quarantined, a record in ``landing/quarantine/files/``
with its name, size, SHA-256 and the reason in plain words, which dbt exposes as ``quarantined_files``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa

from connectors.core.landing import LandingZone
from connectors.files.headers import FileRead, SheetReport, UnreadableFileError

Reader = Callable[..., FileRead]  # read(path, sink=...)

# Bump when a change to the readers should re-read files that already landed.
# 2: order sheets are read into spreadsheets/orders and no longer as contact lists.
# Not bumped for birthdays: a re-read file lands with a new loaded_at, and an undated row counts as of when it
# landed, so re-reading every file would re-date undated answers (consent_email_at, consent, survivorship).
# Not bumped for issue #21 (streamed workbooks, two-row headers, formula text): files that landed keep their
# batches; a file that failed before is read again on the next run anyway, since it never landed.
READER_VERSION = 2
SPREADSHEET_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xlsm", ".xls")  # not .txt: a note is not a table
FORM_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")

# What an operating system or an open document leaves in a folder: never a person's data.
_SYSTEM_FILES = {
    ".ds_store": "a macOS folder settings file",
    "thumbs.db": "a Windows thumbnail cache",
    "desktop.ini": "a Windows folder settings file",
}
_SYSTEM_FOLDERS = {"__MACOSX", ".Trashes", ".Spotlight-V100", ".fseventsd", ".TemporaryItems"}
SYMLINK_REFUSED = (
    "a symbolic link: refused and never read (the inbox reads only files inside it; copy the file in instead)"
)

QUARANTINED_FILE_SCHEMA = pa.schema(
    [
        pa.field("_load_id", pa.string(), nullable=False),
        pa.field("_loaded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("inbox", pa.string(), nullable=False),
        pa.field("entity", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


def quarantine_zone(landing_dir: Path) -> LandingZone:
    """``landing/quarantine/files``: one batch per file an inbox could not read or refused."""
    return LandingZone(landing_dir, "quarantine", "files", QUARANTINED_FILE_SCHEMA)


def system_file_reason(name: str) -> str | None:
    """Why a file of this name is skipped (an operating system's or a lock file), or None to read it."""
    if name.lower() in _SYSTEM_FILES:
        return _SYSTEM_FILES[name.lower()]
    if name.startswith("._"):
        return "a macOS resource fork (the data is in the file of the same name without ._)"
    if name.startswith("~$"):
        return "an Office lock file (the document is open in Excel or Word)"
    if name.startswith(".~lock.") and name.endswith("#"):
        return "a LibreOffice lock file (the document is open)"
    return None


def batch_id_for(file_digest: str, reading: Mapping[str, object]) -> str:
    """The id of a file's batch: its content and how it was read, so new reader options re-land it."""
    options = json.dumps({**reading, "reader_version": READER_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(f"{file_digest}\n{options}".encode()).hexdigest()


@dataclass(frozen=True)
class FileOutcome:
    file: str
    batch_id: str
    status: str  # "landed", "already_landed", "failed" (unreadable) or "refused" (outside the boundary)
    rows_read: int = 0
    rows_rejected: int = 0
    encoding: str | None = None
    sheets: tuple[SheetReport, ...] = ()
    error: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None

    @property
    def reason(self) -> str | None:
        """The error in plain words, without the file name it starts with."""
        if self.error is None:
            return None
        return self.error.removeprefix(f"{self.file}: ")


@dataclass(frozen=True)
class SkippedFile:
    file: str
    reason: str


@dataclass
class InboxScan:
    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    refused: list[SkippedFile] = field(default_factory=list)


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

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
    def refused(self) -> list[FileOutcome]:
        return self._of("refused")

    @property
    def quarantined(self) -> list[FileOutcome]:
        """Files that did not land: unreadable or refused."""
        return [f for f in self.files if f.status in ("failed", "refused")]

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


def scan_inbox(directory: Path, suffixes: Iterable[str]) -> InboxScan:
    """The files of ``directory`` to read, with ``suffixes``, sorted; and those skipped or refused, named.

    Symbolic links are never followed (a linked folder is not entered); see the module docstring.
    """
    wanted = {s.lower() for s in suffixes}
    scan = InboxScan()
    if not directory.is_dir():
        return scan
    root = directory.resolve()
    for folder, folders, names in os.walk(directory, followlinks=False):
        here = Path(folder)
        for name in sorted(folders):
            path = here / name
            relative = path.relative_to(directory).as_posix()
            if path.is_symlink():
                scan.refused.append(SkippedFile(f"{relative}/", SYMLINK_REFUSED))
            elif name in _SYSTEM_FOLDERS:
                scan.skipped.append(SkippedFile(f"{relative}/", "a folder the operating system keeps"))
        folders[:] = sorted(n for n in folders if n not in _SYSTEM_FOLDERS and not (here / n).is_symlink())
        for name in sorted(names):
            path = here / name
            relative = path.relative_to(directory).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                scan.refused.append(SkippedFile(relative, SYMLINK_REFUSED))
            elif (reason := system_file_reason(name)) is not None:
                scan.skipped.append(SkippedFile(relative, reason))
            elif not stat.S_ISREG(mode):
                scan.refused.append(
                    SkippedFile(relative, "not a regular file (a pipe, socket or device): refused")
                )
            elif not path.resolve().is_relative_to(root):
                scan.refused.append(
                    SkippedFile(relative, "resolves outside the inbox: refused and never read")
                )
            elif path.suffix.lower() in wanted:
                scan.files.append(path)
            else:
                kinds = ", ".join(sorted(wanted))
                scan.skipped.append(SkippedFile(relative, f"not a file this inbox reads ({kinds})"))
    scan.files.sort()
    return scan


def inbox_files(directory: Path, suffixes: Iterable[str]) -> list[Path]:
    """Files under ``directory`` with one of ``suffixes``, sorted (``scan_inbox`` without the reasons)."""
    return scan_inbox(directory, suffixes).files


def file_digest(path: Path, chunk_size: int = 1 << 20) -> tuple[str, int]:
    """``(SHA-256, size)`` of a regular file, opened without following a symbolic link."""
    digest = hashlib.sha256()
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        size = 0
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def land_file(path: Path, batch_id: str, *, inbox_dir: Path, zone: LandingZone, read: Reader) -> FileOutcome:
    relative = path.relative_to(inbox_dir).as_posix()
    if zone.has_batch(batch_id):
        return FileOutcome(file=relative, batch_id=batch_id, status="already_landed")
    size = path.lstat().st_size
    if path.is_symlink():  # swapped for a link since the scan
        return FileOutcome(
            file=relative, batch_id=batch_id, status="refused", error=f"{relative}: {SYMLINK_REFUSED}"
        )
    writer = zone.open_batch(batch_id)
    try:
        result = read(path, sink=writer)
        writer.commit()
    except UnreadableFileError as error:
        writer.abort()
        return FileOutcome(
            file=relative, batch_id=batch_id, status="failed", error=str(error), size_bytes=size
        )
    except Exception as error:  # a reader bug or a file no rule foresaw must not stop the other files
        writer.abort()
        detail = f"{type(error).__name__}: {str(error)[:300]}" if str(error) else type(error).__name__
        return FileOutcome(
            file=relative,
            batch_id=batch_id,
            status="failed",
            error=f"{relative}: could not be read ({detail})",
            size_bytes=size,
        )
    return FileOutcome(
        file=relative,
        batch_id=batch_id,
        status="landed",
        rows_read=writer.rows,
        rows_rejected=sum(s.rows_rejected for s in result.sheets),
        encoding=result.encoding,
        sheets=tuple(result.sheets),
        size_bytes=size,
    )


def ingest_inbox(
    inbox_dir: Path,
    zone: LandingZone,
    read: Reader,
    suffixes: Iterable[str],
    workers: int = 1,
    reading: Mapping[str, object] | None = None,
    quarantine: LandingZone | None = None,
) -> IngestReport:
    """Land every file of ``inbox_dir`` not landed yet with these ``reading`` options.

    ``read(path, sink=...)`` must be picklable when ``workers > 1``; ``reading`` names the options ``read``
    applies. With ``quarantine`` (``quarantine_zone``), every file that did not land is recorded there.
    """
    zone.prepare()
    scan = scan_inbox(inbox_dir, suffixes)
    refused = [
        FileOutcome(
            file=item.file,
            batch_id=hashlib.sha256(f"refused\n{item.file}\n{item.reason}".encode()).hexdigest(),
            status="refused",
            error=f"{item.file}: {item.reason}",
        )
        for item in scan.refused
    ]
    # Hash first, so that two copies of one file in the inbox land once.
    first_path_of: dict[str, Path] = {}
    digests: dict[str, str] = {}
    copies: list[FileOutcome] = []
    for path in scan.files:
        relative = path.relative_to(inbox_dir).as_posix()
        try:
            digest, _ = file_digest(path)
        except OSError as error:
            refused.append(
                FileOutcome(
                    file=relative,
                    batch_id=hashlib.sha256(f"refused\n{relative}".encode()).hexdigest(),
                    status="refused",
                    error=f"{relative}: refused, not openable as a regular file ({error.strerror or error})",
                )
            )
            continue
        batch_id = batch_id_for(digest, reading or {})
        if batch_id in first_path_of:
            copies.append(FileOutcome(file=relative, batch_id=batch_id, status="already_landed"))
        else:
            first_path_of[batch_id] = path
            digests[batch_id] = digest
    land = partial(land_file, inbox_dir=inbox_dir, zone=zone, read=read)
    batch_ids, paths = list(first_path_of), list(first_path_of.values())
    if workers > 1 and len(paths) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(paths))) as pool:
            outcomes = list(pool.map(land, paths, batch_ids))
    else:
        outcomes = [land(p, b) for p, b in zip(paths, batch_ids, strict=True)]
    outcomes = [
        FileOutcome(**{**o.__dict__, "sha256": digests[o.batch_id]}) if o.status == "failed" else o
        for o in outcomes
    ]
    report = IngestReport(
        files=sorted(outcomes + copies + refused, key=lambda f: f.file), skipped=scan.skipped
    )
    if quarantine is not None:
        record_quarantined(quarantine, zone, report.quarantined)
    return report


def record_quarantined(quarantine: LandingZone, zone: LandingZone, outcomes: Iterable[FileOutcome]) -> None:
    """Land one record per file that did not land (once per file version: the batch id is the file's)."""
    quarantine.prepare()
    loaded_at = datetime.now(UTC)
    for outcome in outcomes:
        record = {
            "inbox": zone.source,
            "entity": zone.entity,
            "file": outcome.file,
            "size_bytes": outcome.size_bytes,
            "sha256": outcome.sha256,
            "status": "unreadable" if outcome.status == "failed" else outcome.status,
            "reason": outcome.reason or "unreadable",
        }
        quarantine.write_batch(
            f"{zone.source}-{zone.entity}-{outcome.batch_id}", [record], loaded_at=loaded_at
        )
