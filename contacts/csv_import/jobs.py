"""Imports started from the admin: the upload is stored in the database (a worker on any host can read it), a
Celery task runs contacts_import on it, and progress and the error file go back to the ContactImport row."""

import io
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from contacts.csv_import import ImportFileError, ImportProgress, ImportReport, contacts_import
from contacts.csv_import.turns import import_heartbeat
from contacts.models import ContactImport, ContactImportBlob

PIECE = 1 << 20


class BlobReader(io.RawIOBase):
    """Reads the stored pieces of one file in order, a piece at a time."""

    def __init__(self, job: ContactImport, kind: str) -> None:
        self.pieces = (
            ContactImportBlob.objects.filter(contact_import=job, kind=kind)
            .order_by("seq")
            .values_list("data", flat=True)
            .iterator(chunk_size=4)
        )
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self.buffer:
            piece = next(self.pieces, None)
            if piece is None:
                return 0
            self.buffer = bytes(piece)
        size = min(len(target), len(self.buffer))
        target[:size] = self.buffer[:size]
        self.buffer = self.buffer[size:]
        return size


class BlobWriter(io.TextIOBase):
    """A text stream stored as 1 MB pieces (the error CSV)."""

    def __init__(self, job: ContactImport, kind: str) -> None:
        self.job = job
        self.kind = kind
        self.parts: list[bytes] = []
        self.size = 0
        self.seq = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = text.encode()
        self.parts.append(data)
        self.size += len(data)
        if self.size >= PIECE:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self.parts:
            ContactImportBlob.objects.create(
                contact_import=self.job, kind=self.kind, seq=self.seq, data=b"".join(self.parts)
            )
            self.seq += 1
            self.parts, self.size = [], 0


def store_upload(*, job: ContactImport, upload: IO[bytes]) -> int:
    """Copy an uploaded file into the job's source pieces; returns its size."""
    total = 0
    seq = 0
    while piece := upload.read(PIECE):
        ContactImportBlob.objects.create(contact_import=job, kind=ContactImportBlob.Kind.SOURCE, seq=seq, data=piece)
        total += len(piece)
        seq += 1
    return total


def blob_chunks(job: ContactImport, kind: str) -> Iterator[bytes]:
    pieces = ContactImportBlob.objects.filter(contact_import=job, kind=kind).order_by("seq")
    for data in pieces.values_list("data", flat=True).iterator(chunk_size=4):
        yield bytes(data)


class _Both(io.TextIOBase):
    """Writes the error CSV to the command's file and to the job's stored copy."""

    def __init__(self, *targets: Any) -> None:
        self.targets = targets

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for target in self.targets:
            target.write(text)
        return len(text)


def import_recorded(
    job: ContactImport,
    source: IO[bytes],
    *,
    errors_file: IO[str] | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
) -> tuple[ContactImport, ImportReport | None]:
    """Run contacts_import for `job` on `source`, keeping the job's progress, outcome and error file up to date
    (so the admin's Contact imports page shows every import, uploaded or run by the command). Returns the job and
    the report (None when the file itself was refused: the job says why)."""
    last = 0.0

    def beat(state: ImportProgress) -> None:
        nonlocal last
        if progress is not None:
            progress(state)
        if state.phase == "reading" and time.monotonic() - last < 0.5:
            return
        last = time.monotonic()
        import_heartbeat(job.pk, bytes_read=state.bytes_read, rows_read=state.rows_read, error_count=state.errors)

    stored = BlobWriter(job, ContactImportBlob.Kind.ERRORS)
    try:
        report = contacts_import(
            account_id=job.account_id,
            source=source,
            errors=_Both(errors_file, stored) if errors_file is not None else stored,
            tags=job.tags,
            update_existing=job.update_existing,
            default_region=job.default_region or None,
            bytes_total=job.bytes_total,
            progress=beat,
            encoding=job.encoding or None,
        )
        stored.flush()
    except ImportFileError as exc:
        ContactImport.objects.filter(pk=job.pk).update(
            status=ContactImport.Status.FAILED, failure=str(exc), finished_at=timezone.now()
        )
        return ContactImport.objects.get(pk=job.pk), None
    with transaction.atomic():
        ContactImport.objects.filter(pk=job.pk).update(
            status=ContactImport.Status.DONE,
            bytes_read=job.bytes_total,
            rows_read=report.rows,
            created_count=report.created,
            updated_count=report.updated,
            unchanged_count=report.unchanged,
            error_count=report.errors,
            encoding=report.encoding,
            finished_at=timezone.now(),
        )
    return ContactImport.objects.get(pk=job.pk), report


def run_import(job: ContactImport) -> ContactImport:
    """Run (or re-run, after a crash: the import is idempotent) one claimed upload (turns.import_claim) to
    completion."""
    ContactImportBlob.objects.filter(contact_import=job, kind=ContactImportBlob.Kind.ERRORS).delete()
    with BlobReader(job, ContactImportBlob.Kind.SOURCE) as source:
        return import_recorded(job, source)[0]  # type: ignore[arg-type]
