from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import Account
from contacts.csv_import import ImportProgress, encoding_named
from contacts.csv_import.jobs import import_recorded
from contacts.models import ContactImport
from contacts.normalize import clean_tag_names, normalize_region


class Command(BaseCommand):
    help = (
        "Import contacts from a CSV file into an account. Bad rows are written to an error CSV (row, column, value, "
        "reason) and never stop the import; running the same file again changes nothing. The encoding is detected "
        "(a byte order mark, else UTF-8 unless the start of the file is plainly cp1252) unless --encoding is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id", help="The account's id (see the admin, or create_account's output).")
        parser.add_argument("file", type=Path, help="A CSV with a header row.")
        parser.add_argument(
            "--encoding",
            default="",
            help="The file's encoding, e.g. utf-8, utf-16, cp1252, latin-1 (default: detected).",
        )
        parser.add_argument("--tags", default="", help="Comma-separated tags added to every imported contact.")
        parser.add_argument(
            "--update-existing", action="store_true", help="Overwrite fields of contacts that already exist."
        )
        parser.add_argument("--default-region", default="", help="Region for national mobile numbers, e.g. GB.")
        parser.add_argument("--errors", type=Path, help="Where to write bad rows (default: FILE.errors.csv).")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, CI).")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(pk=options["account_id"]).first() if _is_uuid(options["account_id"]) else None
        if account is None:
            raise CommandError(f"No account with id {options['account_id']!r}.")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            region = normalize_region(options["default_region"]) if options["default_region"] else None
            tags = clean_tag_names(options["tags"])
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        encoding = options["encoding"] or None
        if encoding:
            try:
                encoding_named(encoding)
            except ValueError as exc:
                raise CommandError(f"--encoding: {exc}") from exc
        errors_path: Path = options["errors"] or path.with_name(path.name + ".errors.csv")
        show = not options["no_progress"]
        # Recorded like an upload, so Contacts > Contact imports lists it with its counts and error file.
        now = timezone.now()
        job = ContactImport.objects.create(
            account=account,
            source=ContactImport.Source.COMMAND,
            filename=path.name[:255],
            tags=tags,
            update_existing=options["update_existing"],
            default_region=region or "",
            encoding=encoding or "",
            bytes_total=path.stat().st_size,
            status=ContactImport.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
        )
        try:
            with path.open("rb") as source, errors_path.open("w", newline="", encoding="utf-8") as errors:
                job, report = import_recorded(job, source, errors_file=errors, progress=self._draw if show else None)
        except BaseException as exc:  # Ctrl-C or a crash: the recorded import says it stopped
            ContactImport.objects.filter(pk=job.pk).update(
                status=ContactImport.Status.FAILED,
                failure=f"The import stopped: {type(exc).__name__}: {exc}"[:2000],
                finished_at=timezone.now(),
            )
            raise
        if report is None:
            errors_path.unlink(missing_ok=True)
            raise CommandError(job.failure)
        if show:
            self.stderr.write("")
        rate = report.rows / report.seconds if report.seconds else 0
        self.stdout.write(
            f"{report.rows:,} rows in {report.seconds:.1f} s ({rate:,.0f} rows/s): {report.created:,} created, "
            f"{report.updated:,} updated, {report.unchanged:,} unchanged, {report.errors:,} with errors"
        )
        self.stdout.write(f"Read as {report.encoding}{' (detected)' if report.encoding_detected else ''}.")
        self.stdout.write(f"Recorded as contact import {job.pk} (admin: Contacts > Contact imports).")
        if report.errors:
            self.stdout.write(f"Bad rows are listed in {errors_path}")
        else:
            errors_path.unlink(missing_ok=True)

    def _draw(self, progress: ImportProgress) -> None:
        share = progress.bytes_read / progress.bytes_total if progress.bytes_total else 0
        if progress.phase == "done":
            share = 1
        filled = int(30 * share)
        rate = progress.rows_read / progress.seconds if progress.seconds else 0
        label = {"reading": "reading ", "applying": "applying", "done": "done    "}[progress.phase]
        self.stderr.write(
            f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  {progress.rows_read:>10,} rows  "
            f"{rate:>8,.0f} rows/s  {progress.errors:,} errors   ",
            ending="",
        )
        self.stderr.flush()


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
