"""The tabular import engine shared by every app: CSV/XLSX in, validate every row, then all or nothing.

How to write an importer
------------------------
Subclass :class:`Importer`, declare its ``columns`` and implement ``validate_row`` and ``apply``::

    class RegionImporter(Importer):
        kind = "regions.regions"            # unique; the key of the registry and of ImportJob.kind
        label = _("regions")
        permission = "regions.change"        # who may run it (pages check it; the importer re-checks scope)
        audit_action = "regions.region.import"
        columns = [
            Column("code", aliases=("代码", "区划代码")),
            Column("name", aliases=("名称",)),
            Column("parent_code", required=False, aliases=("上级代码",)),
        ]

        def validate_row(self, row: Row, context: ImportContext) -> Any:
            if not row["code"]:
                raise RowError("code", _("The code is empty."))
            return cleaned_value                # anything; handed to apply() in file order

        def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
            ...bulk_create / update...
            return {"created": n, "updated": m}

    imports.register(RegionImporter)

and run it with :func:`run_import` (CLI, tests) or :func:`start_job` (web upload -> :class:`ImportJob`).

Rules the engine enforces
-------------------------
* The file is CSV (UTF-8 with or without BOM, else GB18030 — what Excel in China writes) or XLSX (first
  worksheet, streamed with openpyxl ``read_only``).  Anything else — ``.xls``, a PDF renamed ``.csv``, an
  XLSX that is not a zip — raises :class:`BadFile` (422).  Larger than ``settings.SHANZHI_MAX_IMPORT_BYTES``
  raises :class:`~shanzhi.core.errors.TooLarge` before anything is read.
* The first non-empty row is the header.  Headers are matched to columns case-insensitively by key, label
  or alias (Chinese headers such as 代码/名称/上级代码).  A missing required column, a duplicated column and
  an empty sheet are reported as errors; unknown headers are ignored (listed in the report).
* Row numbers in errors are the numbers the user sees in the sheet (the header is row 1 when it is the
  first row; blank rows are skipped but still counted).
* EVERY row is validated first (``validate_row``; a :class:`RowError` becomes one error; an importer may
  also add several errors for a row with ``context.error``).  With any error, or in dry-run, nothing is
  written and the report lists every error.  Otherwise ``apply`` runs once with all cleaned rows inside
  ONE ``transaction.atomic()``; an exception inside it rolls everything back.
* Audit: the engine writes ONE audit row per applied import (action ``importer.audit_action``) holding the
  file name, its SHA-256, the row count and the counts ``apply`` returned; it does not write one audit row
  per object, because each audit row costs two queries under the chain lock and an import may hold tens of
  thousands of rows.  An importer that changes existing objects may add per-object rows itself (the
  regions importer records before/after for every *updated* region; created ones are covered by the
  summary row and the file hash).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import logging
import threading
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit
from . import context as request_context
from .errors import ShanzhiError, TooLarge, ValidationFailed

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called while rows are validated (and once more when they are applied)."""

FILE_TYPES = (".csv", ".xlsx")


class BadFile(ValidationFailed):
    """The upload is not a CSV or XLSX file the engine can read."""

    code = "bad_file"

    def default_message(self) -> str:
        return _("The file is not a CSV or XLSX table.")


class RowError(Exception):
    """Raised by ``validate_row``: the value in ``column`` of this row is wrong for ``reason``."""

    def __init__(self, column: str, reason: Any) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = str(reason)


@dataclass(frozen=True)
class Column:
    key: str
    required: bool = True
    aliases: tuple[str, ...] = ()
    label: Any = ""

    def names(self) -> set[str]:
        return {n.strip().lower() for n in (self.key, str(self.label or ""), *self.aliases) if n}


@dataclass(frozen=True)
class ImportIssue:
    row: int  # the row number as the user sees it in the sheet (0: the file as a whole)
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


class Row(dict[str, str]):
    """One data row: column key -> trimmed text ("" when empty or absent); ``number`` is its sheet row."""

    number: int = 0


@dataclass
class ImportContext:
    """What ``validate_row`` and ``apply`` may use.

    ``actor`` is the acting user, or ``None`` for the system (the CLI without ``--as``): then
    ``unrestricted`` is True and importers skip scope checks.  ``state`` is a scratch dict for the importer
    (lookups loaded once in ``prepare``, keys seen earlier in the file, ...).
    """

    actor: Any
    dry_run: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    errors: list[ImportIssue] = field(default_factory=list)
    current_row: int = 0

    @property
    def unrestricted(self) -> bool:
        return self.actor is None

    def error(self, column: str, reason: Any, row: int | None = None) -> None:
        self.errors.append(ImportIssue(self.current_row if row is None else row, column, str(reason)))


@dataclass
class ImportReport:
    kind: str
    filename: str
    sha256: str
    dry_run: bool
    total: int = 0
    valid: int = 0
    errors: list[ImportIssue] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    applied: bool = False
    ignored_headers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "filename": self.filename, "sha256": self.sha256, "dry_run": self.dry_run,
            "total": self.total, "valid": self.valid, "ok": self.ok, "applied": self.applied,
            "counts": self.counts, "ignored_headers": self.ignored_headers,
            "errors": [e.as_dict() for e in self.errors],
        }


class Importer(ABC):
    """One import target.  Subclasses set the class attributes and implement two methods."""

    kind: ClassVar[str]
    label: ClassVar[Any] = ""
    permission: ClassVar[str]
    audit_action: ClassVar[str]
    columns: ClassVar[Sequence[Column]]

    def prepare(self, rows: list[Row], context: ImportContext) -> list[Row]:
        """Called once before validation: bulk-load lookups into ``context.state``; may reorder rows."""
        return rows

    @abstractmethod
    def validate_row(self, row: Row, context: ImportContext) -> Any:
        """Return the cleaned row, or raise :class:`RowError`.  Must not write to the database."""

    @abstractmethod
    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        """Write every cleaned row (runs inside the engine's transaction); return counts for the report."""

    def audit_region(self, context: ImportContext) -> str:
        """The region code the summary audit row is filed under ("" for the whole platform)."""
        return str(context.options.get("region_code", ""))


_registry: dict[str, type[Importer]] = {}


def register(importer: type[Importer]) -> type[Importer]:
    _registry[importer.kind] = importer
    return importer


def get_importer(kind: str) -> Importer:
    try:
        return _registry[kind]()
    except KeyError:
        raise ValidationFailed(_("Unknown import kind."), detail={"kind": kind}) from None


# --- reading files ------------------------------------------------------------------------------------


def check_file(filename: str, size: int) -> str:
    """Refuse a wrong type or an oversized file before reading it; return the lower-case extension."""
    ext = Path(filename or "").suffix.lower()
    if ext not in FILE_TYPES:
        if ext == ".xls":
            raise BadFile(_("Old Excel files (.xls) cannot be read: save the sheet as .xlsx or .csv."),
                          detail={"filename": filename})
        raise BadFile(_("Only .csv and .xlsx files can be imported."), detail={"filename": filename})
    limit = int(settings.SHANZHI_MAX_IMPORT_BYTES)
    if size > limit:
        raise TooLarge(_("The file is larger than the limit of %(limit)s bytes.") % {"limit": limit},
                       detail={"size": size, "limit": limit})
    return ext


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise BadFile(_("The .csv file is binary, not text."))
    try:
        return codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise BadFile(_("The .csv file is neither UTF-8 nor GB18030 text.")) from None


def read_table(data: bytes, ext: str) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(sheet row number, cell texts)`` for every row of the file (blank rows included)."""
    if ext == ".csv":
        text = _decode(data)
        first_line = text.split("\n", 1)[0]
        delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            for number, cells in enumerate(reader, start=1):
                yield number, [c.strip() for c in cells]
        except csv.Error as exc:
            raise BadFile(_("The .csv file cannot be parsed: %(error)s") % {"error": exc}) from None
        return
    if not data.startswith(b"PK\x03\x04"):
        raise BadFile(_("The .xlsx file is not a valid Excel workbook."))
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise BadFile(_("The .xlsx file is not a valid Excel workbook."), detail={"error": str(exc)}) from None
    try:
        sheet: Any = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in values]
    finally:
        workbook.close()


def parse_rows(
    importer: Importer, table: Iterable[tuple[int, list[str]]]
) -> tuple[list[Row], list[ImportIssue], list[str]]:
    """Map the header to the importer's columns; return (rows, header errors, ignored headers)."""
    errors: list[ImportIssue] = []
    header: list[str] | None = None
    header_row = 0
    positions: dict[str, int] = {}
    ignored: list[str] = []
    rows: list[Row] = []
    by_name: dict[str, Column] = {}
    for col in importer.columns:
        for name in col.names():
            by_name[name] = col
    for number, cells in table:
        if header is None:
            if not any(cells):
                continue
            header, header_row = cells, number
            for index, raw in enumerate(cells):
                name = raw.strip().lstrip("\ufeff").strip("*").strip().lower()
                if not name:
                    continue
                matched = by_name.get(name)
                if matched is None:
                    ignored.append(raw)
                elif matched.key in positions:
                    errors.append(ImportIssue(number, raw, _("This column appears twice.")))
                else:
                    positions[matched.key] = index
            for col in importer.columns:
                if col.required and col.key not in positions:
                    errors.append(ImportIssue(number, col.key, _("The required column is missing.")))
            continue
        if not any(cells):
            continue
        row = Row({key: (cells[i] if i < len(cells) else "") for key, i in positions.items()})
        for col in importer.columns:
            row.setdefault(col.key, "")
        row.number = number
        rows.append(row)
    if header is None:
        errors.append(ImportIssue(0, "", _("The file holds no header row and no data.")))
    elif not rows and not errors:
        errors.append(ImportIssue(header_row, "", _("The file holds a header but no data rows.")))
    return rows, errors, ignored


# --- running an import ----------------------------------------------------------------------------------


def run_import(
    importer: Importer,
    data: bytes,
    *,
    filename: str,
    actor: Any,
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    on_apply: Callable[[], None] | None = None,
) -> ImportReport:
    """Validate every row of ``data`` (the file's bytes); apply all of them in one transaction, or none.

    Raises :class:`BadFile` / :class:`TooLarge` for a file that cannot be read at all; every problem with
    the content is returned in the report (``report.ok`` is False and nothing was written).
    """
    ext = check_file(filename, len(data))
    report = ImportReport(kind=importer.kind, filename=filename, sha256=hashlib.sha256(data).hexdigest(),
                          dry_run=dry_run)
    rows, header_errors, report.ignored_headers = parse_rows(importer, read_table(data, ext))
    report.total = len(rows)
    if header_errors:
        report.errors = header_errors
        return report
    context = ImportContext(actor=actor, dry_run=dry_run, options=dict(options or {}))
    rows = importer.prepare(rows, context)
    cleaned: list[Any] = []
    total = len(rows)
    for done, row in enumerate(rows, start=1):
        context.current_row = row.number
        before = len(context.errors)
        try:
            value = importer.validate_row(row, context)
        except RowError as exc:
            context.errors.append(ImportIssue(row.number, exc.column, exc.reason))
        else:
            if len(context.errors) == before:
                cleaned.append(value)
        if progress is not None and (done % 50 == 0 or done == total):
            progress(done, total)
    report.valid = len(cleaned)
    report.errors = sorted(context.errors, key=lambda e: (e.row, e.column))
    if report.errors or dry_run:
        return report
    if on_apply is not None:
        on_apply()
    with transaction.atomic():
        report.counts = dict(importer.apply(cleaned, context))
        audit.record(
            actor=actor if actor is not None else "system",
            action=importer.audit_action,
            object_type="core.import",
            object_id=report.sha256[:16],
            region_code=importer.audit_region(context),
            after={"kind": importer.kind, "filename": filename, "sha256": report.sha256, "rows": report.total,
                   "counts": report.counts},
        )
    report.applied = True
    if progress is not None:
        progress(total, total)
    return report


def read_upload(upload: Any) -> bytes:
    """Read an uploaded file (``UploadedFile``) after checking its type and size."""
    check_file(upload.name or "", int(upload.size or 0))
    data: bytes = upload.read()
    check_file(upload.name or "", len(data))
    return data


def text_progress(stream: IO[str], label: str = "") -> Progress:
    """A progress callback that draws ``label [#####     ] 120/300`` on a terminal stream (stderr)."""

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        stream.write(f"\r{label} [{'#' * filled}{' ' * (width - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


# --- web jobs ----------------------------------------------------------------------------------------------


def start_job(
    *,
    kind: str,
    upload: Any,
    actor: Any,
    region_code: str,
    dry_run: bool,
    options: dict[str, Any] | None = None,
) -> Any:
    """Store the upload, create an :class:`~shanzhi.core.models.ImportJob` and run it after commit.

    The job runs in a ``threading.Thread`` of the web process with its own database connection (Django opens
    one per thread), updating the job row in autocommit so the progress page sees it.  If the process dies
    the job stays "running"; when the task system arrives, ``shanzhi worker`` takes jobs over from here.
    With ``settings.SHANZHI_IMPORT_INLINE`` (tests) the job runs in the calling thread after commit.
    The caller must already have checked that ``actor`` may import into ``region_code``.
    """
    from .models import ImportJob

    get_importer(kind)  # unknown kinds fail before anything is stored
    data = read_upload(upload)
    with transaction.atomic():
        job = ImportJob(kind=kind, region_code=region_code, created_by=actor, dry_run=dry_run,
                        filename=Path(upload.name).name[:200], sha256=hashlib.sha256(data).hexdigest(),
                        options=dict(options or {}))
        job.file.save(Path(upload.name).name, ContentFile(data), save=False)
        job.save()
        ctx = request_context.current()
        transaction.on_commit(lambda: _launch(job.pk, ctx))
    return job


def _launch(job_id: int, ctx: request_context.RequestContext) -> None:
    if getattr(settings, "SHANZHI_IMPORT_INLINE", False):
        run_job(job_id, ctx)
        return
    thread = threading.Thread(target=_thread_main, args=(job_id, ctx), name=f"import-{job_id}", daemon=True)
    thread.start()


def _thread_main(job_id: int, ctx: request_context.RequestContext) -> None:
    try:
        run_job(job_id, ctx)
    finally:
        connection.close()


def run_job(job_id: int, ctx: request_context.RequestContext | None = None) -> None:
    """Run one stored job to its end, recording progress, errors and the report on the job row."""
    from .models import ImportJob

    token = request_context.set_current(ctx) if ctx is not None else None
    try:
        job = ImportJob.objects.select_related("created_by").get(pk=job_id)
        ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.VALIDATING)
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = timezone.now().timestamp()
            if done >= total or now - last[0] >= 0.3:
                last[0] = now
                ImportJob.objects.filter(pk=job_id).update(done=done, total=total)

        def applying() -> None:
            ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.APPLYING)

        try:
            with job.file.open("rb") as handle:
                data = handle.read()
            report = run_import(get_importer(job.kind), data, filename=job.filename, actor=job.created_by,
                                dry_run=job.dry_run, options={**job.options, "region_code": job.region_code},
                                progress=progress, on_apply=applying)
        except ShanzhiError as exc:
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportJob.Status.FAILED, finished_at=timezone.now(),
                errors=[{"row": 0, "column": "", "reason": str(exc.message)}],
            )
            return
        except Exception:
            log.exception("import job %s failed", job_id)
            ImportJob.objects.filter(pk=job_id).update(
                status=ImportJob.Status.FAILED, finished_at=timezone.now(),
                errors=[{"row": 0, "column": "", "reason": _("The import failed; nothing was imported.")}],
            )
            return
        status = ImportJob.Status.DONE if report.ok else ImportJob.Status.REJECTED
        ImportJob.objects.filter(pk=job_id).update(
            status=status, total=report.total, done=report.total, finished_at=timezone.now(),
            errors=[e.as_dict() for e in report.errors], report=report.as_dict(),
        )
    finally:
        if token is not None:
            request_context.reset(token)


# --- exports -------------------------------------------------------------------------------------------


def write_xlsx(target: IO[bytes] | str | Path, headers: Sequence[Any], rows: Iterable[Sequence[Any]],
               *, title: str = "Sheet1") -> int:
    """Write a header row and ``rows`` to an openpyxl write-only workbook; return the number of rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet: Any = workbook.create_sheet(title=title[:31])
    sheet.append([str(h) for h in headers])
    count = 0
    for row in rows:
        sheet.append(list(row))
        count += 1
    workbook.save(target)
    return count


def xlsx_response(filename: str, headers: Sequence[Any], rows: Iterable[Sequence[Any]],
                  *, title: str = "Sheet1") -> FileResponse:
    """A download of ``rows`` as XLSX, built in a spooled temporary file and streamed in chunks."""
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    write_xlsx(spool, headers, rows, title=title)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=filename,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


__all__ = [
    "BadFile",
    "Column",
    "ImportContext",
    "ImportIssue",
    "ImportReport",
    "Importer",
    "Progress",
    "Row",
    "RowError",
    "check_file",
    "get_importer",
    "parse_rows",
    "read_table",
    "read_upload",
    "register",
    "run_import",
    "run_job",
    "start_job",
    "text_progress",
    "write_xlsx",
    "xlsx_response",
]
