"""CSV import of contacts, shared by `manage.py import_contacts` and the admin's upload page (a Celery task).

The header row maps to contact fields (email, mobile, status, full_name, dob, gender, city, country, tags; a few
common spellings too); unknown columns go to `attributes`; the `tags` column is split on commas. Bad rows are
reported (row, column, value, reason) and never stop the import: a control character or a byte that does not
decode spoils only its own row. Only a bad header row (or an unknown encoding) stops the whole file, as
ImportFileError. The encoding is detected unless given (encoding.py has the rule). Existing contacts (same email,
else mobile) gain the file's tags, and with update_existing their fields too; re-running a file changes nothing.
"""

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

from django.db import connection

from contacts.csv_import.cells import printable, spreadsheet_cell
from contacts.csv_import.encoding import CountingReader, encoding_named, open_text
from contacts.csv_import.generic import import_generic
from contacts.csv_import.postgres import import_postgres
from contacts.csv_import.rows import CsvRows, ImportFileError, RowError
from contacts.normalize import clean_tag_names

__all__ = ["ImportFileError", "ImportProgress", "ImportReport", "contacts_import", "encoding_named"]

ERROR_HEADER = ("row", "column", "value", "reason")


@dataclass
class ImportProgress:
    phase: str  # "reading", "applying" or "done"
    bytes_read: int
    bytes_total: int | None
    rows_read: int
    errors: int
    seconds: float


@dataclass(frozen=True)
class ImportReport:
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: int
    seconds: float
    encoding: str  # as the user is told it: "UTF-8", "cp1252", ...
    encoding_detected: bool


class ErrorWriter:
    """The error CSV; counts rows with problems (one row may have several). It is opened in spreadsheets too,
    so the file's own cells are written as the export writes them: printable, never a formula."""

    def __init__(self, stream: "SupportsWrite[str]") -> None:
        self.writer = csv.writer(stream)
        self.writer.writerow(ERROR_HEADER)
        self.count = 0
        self._last = -1

    def __call__(self, error: RowError) -> None:
        self.writer.writerow(
            (
                error.row_no,
                spreadsheet_cell(printable(error.column)),
                spreadsheet_cell(printable(error.value)),
                error.reason,
            )
        )
        if error.row_no != self._last:  # errors arrive grouped by row; no need to remember every row
            self.count += 1
            self._last = error.row_no


def contacts_import(
    *,
    account_id: Any,
    source: IO[bytes],
    errors: "SupportsWrite[str]",
    tags: list[str] | None = None,
    update_existing: bool = False,
    default_region: str | None = None,
    bytes_total: int | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    bulk: bool | None = None,
    encoding: str | None = None,
) -> ImportReport:
    """Import one CSV into an account. `encoding` is any Python text codec name (default: detected). `bulk` picks
    the PostgreSQL COPY path (default: whenever on PostgreSQL)."""
    started = time.monotonic()
    counting = CountingReader(source)
    try:
        text, chosen = open_text(counting, encoding=encoding)
    except ValueError as exc:
        raise ImportFileError(str(exc)) from exc
    on_error = ErrorWriter(errors)

    def report(phase: str) -> None:
        if progress is not None:
            progress(
                ImportProgress(
                    phase=phase,
                    bytes_read=counting.bytes_read,
                    bytes_total=bytes_total,
                    rows_read=rows_read,
                    errors=on_error.count,
                    seconds=time.monotonic() - started,
                )
            )

    rows_read = 0
    extra = clean_tag_names(tags or [])
    use_bulk = connection.vendor == "postgresql" if bulk is None else bulk
    if use_bulk:

        def loaded(count: int) -> None:
            nonlocal rows_read
            rows_read = count
            report("reading")

        rows_read, created, updated, unchanged = import_postgres(
            account_id=account_id,
            text=text,
            encoding=chosen.name,
            extra_tags=extra,
            default_region=default_region,
            update_existing=update_existing,
            on_progress=loaded,
            on_applying=lambda: report("applying"),
            on_error=on_error,
        )
    else:
        rows = CsvRows(text, encoding=chosen.name, extra_tags=extra, default_region=default_region, on_error=on_error)
        last = time.monotonic()

        def each(count: int) -> None:
            nonlocal last, rows_read
            rows_read = rows.row_no - 1
            if time.monotonic() - last > 0.5:
                last = time.monotonic()
                report("reading")

        created, updated, unchanged = import_generic(
            account_id=account_id, rows=rows, update_existing=update_existing, on_error=on_error, on_row=each
        )
        rows_read = max(rows.row_no - 1, 0)
    report("done")
    return ImportReport(
        rows=rows_read,
        created=created,
        updated=updated,
        unchanged=unchanged,
        errors=on_error.count,
        seconds=time.monotonic() - started,
        encoding=chosen.name,
        encoding_detected=chosen.detected,
    )
