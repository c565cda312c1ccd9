"""Streaming CSV of a set of contacts (a segment, usually), for `manage.py export_contacts` and the admin.

The columns are those the importer reads, attributes spread into their own columns, so an export imports back
unchanged. Rows are read with a server-side cursor in chunks and written as they come: memory stays flat.

Every cell is made safe to open in a spreadsheet (OWASP's CSV injection rule): control characters other than tab
and line breaks are stripped, and a cell starting with =, +, -, @, tab or CR gets a leading single quote unless it
is a plain number (an E.164 mobile, -2). The importer drops that quote again, so the round trip holds.
"""

import csv
from collections.abc import Iterator
from typing import Any

from django.db import connection
from django.db.models import F, Func, QuerySet

from contacts.csv_import.cells import FORMULA_STARTS, spreadsheet_cell
from contacts.models import Contact, Tag

BASE_COLUMNS = ("email", "mobile", "status", "full_name", "dob", "gender", "city", "country", "tags")


class _Line:
    """A write-through buffer: csv.writer writes one row, we hand back its text."""

    def write(self, value: str) -> str:
        return value


def attribute_keys(contacts: QuerySet[Contact]) -> list[str]:
    if connection.vendor == "postgresql":
        keys = contacts.annotate(key=Func(F("attributes"), function="jsonb_object_keys")).values_list("key", flat=True)
        return sorted(set(keys.order_by().distinct()))
    found: set[str] = set()
    for attributes in contacts.values_list("attributes", flat=True).iterator(chunk_size=2000):
        found.update(attributes or {})
    return sorted(found)


def export_lines(contacts: QuerySet[Contact], *, account_id: Any) -> Iterator[str]:
    """The CSV, header first, one line at a time."""
    keys = [key for key in attribute_keys(contacts) if key not in BASE_COLUMNS]
    names = dict(Tag.objects.filter(account_id=account_id).values_list("pk", "name"))
    writer = csv.writer(_Line())
    yield writer.writerow([spreadsheet_cell(name) for name in [*BASE_COLUMNS, *keys, "created_at", "last_seen_at"]])
    rows = contacts.order_by("pk").values_list(
        "email",
        "mobile",
        "status",
        "full_name",
        "dob",
        "gender",
        "city",
        "country",
        "tag_ids",
        "attributes",
        "created_at",
        "last_seen_at",
    )
    for (
        email,
        mobile,
        status,
        full_name,
        dob,
        gender,
        city,
        country,
        tag_ids,
        attributes,
        created,
        seen,
    ) in rows.iterator(chunk_size=2000):
        tags = ",".join(sorted((names[i] for i in tag_ids if i in names), key=str.lower))
        cells = [
            email or "",
            mobile or "",
            status,
            full_name,
            dob.strftime("%d-%m-%Y") if dob else "",
            gender,
            city,
            country,
            tags,
            *[_cell((attributes or {}).get(key)) for key in keys],
            created.isoformat(),
            seen.isoformat() if seen else "",
        ]
        # Most cells need nothing: test inline, and call spreadsheet_cell only for the few that might.
        yield writer.writerow(
            [
                cell if cell.isprintable() and cell[:1] not in FORMULA_STARTS else spreadsheet_cell(cell)
                for cell in cells
            ]
        )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
