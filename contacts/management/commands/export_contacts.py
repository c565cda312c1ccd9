from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from contacts.csv_export import export_lines
from contacts.models import Segment
from contacts.selectors import contacts_matching


class Command(BaseCommand):
    help = (
        "Write an account's contacts (or one saved segment, or any GET /v1/contacts filters) as CSV, streamed; "
        "the file imports back with import_contacts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account_id")
        parser.add_argument("--segment", type=int, help="A saved segment's id.")
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A contact filter, e.g. --filter tags=vip --filter did_not_event=purchase (repeatable).",
        )
        parser.add_argument("--output", "-o", type=Path, help="File to write (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        account = Account.objects.filter(pk=options["account_id"]).first() if _uuid(options["account_id"]) else None
        if account is None:
            raise CommandError(f"No account with id {options['account_id']!r}.")
        filters: dict[str, Any] = {}
        if options["segment"] is not None:
            segment = Segment.objects.filter(account=account, pk=options["segment"]).first()
            if segment is None:
                raise CommandError(f"No segment {options['segment']} in account {account}.")
            filters.update(segment.filters)
        for item in options["filter"]:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--filter takes NAME=VALUE, got {item!r}.")
            if name == "attribute":
                filters.setdefault("attribute", []).append(value)
            else:
                filters[name] = value
        try:
            contacts = contacts_matching(account=account, filters=filters)
        except ValidationError as exc:
            problems = "; ".join(f"{key}: {' '.join(messages)}" for key, messages in exc.message_dict.items())
            raise CommandError(f"Bad filters: {problems}") from exc
        output: Path | None = options["output"]
        lines = export_lines(contacts, account_id=account.pk)
        if output is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        count = -1
        with output.open("w", newline="", encoding="utf-8") as stream:
            for count, line in enumerate(lines):  # noqa: B007
                stream.write(line)
        self.stderr.write(f"Wrote {max(count, 0):,} contacts to {output}")


def _uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
