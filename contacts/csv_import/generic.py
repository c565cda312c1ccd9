"""The import on databases without COPY (the embedded SQLite default): the same rules, row by row through the
services. Fine for demo-sized files; it remembers the file's keys to find duplicates, so memory grows with the
file, unlike the PostgreSQL path."""

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from accounts.models import Account
from contacts import services
from contacts.csv_import.rows import ParsedRow, RowError
from contacts.models import Contact
from contacts.tagging import tag_ids_for

_FIELDS = ("mobile", "status", "full_name", "dob", "gender", "city", "country")


def _changes(contact: Contact, row: ParsedRow) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if contact.email is None and row.email:
        changes["email"] = row.email
    for name in _FIELDS:
        value = getattr(row, name)
        if value is not None and getattr(contact, name) != value:
            changes[name] = value
    if any(contact.attributes.get(key) != value for key, value in row.attributes.items()):
        changes["attributes"] = row.attributes
    return changes


def import_generic(
    *,
    account_id: Any,
    rows: Iterable[ParsedRow],
    update_existing: bool,
    on_error: Any,
    on_row: Any,
) -> tuple[int, int, int]:
    account = Account.objects.get(pk=account_id)
    first_row: dict[tuple[str, str], int] = {}
    created = updated = unchanged = 0
    for count, row in enumerate(rows, 1):
        duplicate = next(
            (
                (key, first_row[(key, value)])
                for key, value in (("email", row.email), ("mobile", row.mobile))
                if value and (key, value) in first_row
            ),
            None,
        )
        if duplicate:
            key, first = duplicate
            on_error(
                RowError(row.row_no, key, getattr(row, key), f"Duplicate in this file: the same {key} as row {first}.")
            )
            continue
        for key, value in (("email", row.email), ("mobile", row.mobile)):
            if value:
                first_row[(key, value)] = row.row_no
        try:
            with transaction.atomic():
                outcome = _apply(account, row, update_existing=update_existing)
        except services.ContactError as exc:
            value = getattr(row, exc.field, "") or ""
            on_error(RowError(row.row_no, exc.field, value, str(exc)))
            continue
        created += outcome == "created"
        updated += outcome == "updated"
        unchanged += outcome == "unchanged"
        on_row(count)
    return created, updated, unchanged


def _apply(account: Account, row: ParsedRow, *, update_existing: bool) -> str:
    locked = Contact.objects.select_for_update().filter(account=account)
    contact = locked.filter(email=row.email).first() if row.email else None
    if contact is None and row.mobile:
        contact = locked.filter(mobile=row.mobile).first()
        if contact is not None and row.email and contact.email is not None:
            raise services.ContactError(
                f"This mobile already belongs to another contact (id {contact.pk}).", field="mobile"
            )
    if contact is None:
        fields = {name: getattr(row, name) for name in ("email", *_FIELDS) if getattr(row, name) is not None}
        values = {**fields, "attributes": row.attributes}
        services.contact_create(account=account, fields=values, tags=row.tag_names, notify=False)  # type: ignore[arg-type]
        return "created"
    changes = _changes(contact, row) if update_existing else {}
    missing_tags = tag_ids_for(account_id=account.pk, names=row.tag_names, create=True) - set(contact.tag_ids)
    if not changes and not missing_tags:
        return "unchanged"
    services.contact_update(
        contact=contact, fields=changes, add_tags=row.tag_names, method=None, notify=False  # type: ignore[arg-type]
    )
    return "updated"
