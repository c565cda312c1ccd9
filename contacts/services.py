"""Writes to contacts, their tags and timelines, and saved segments. Callers pass values already normalised by
contacts.normalize (the serializers and the importer do that)."""

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import IO, Any, TypedDict, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from contacts.hooks import notify_contacts_created, notify_tags_changed
from contacts.ingest import timeline_rows_insert
from contacts.models import Contact, ContactEvent, ContactImport, Segment
from contacts.tagging import TagChange, contacts_retag, tag_counts_apply, tag_ids_for


class ContactFields(TypedDict, total=False):
    email: str | None
    mobile: str | None
    status: str
    full_name: str
    dob: Any
    gender: str
    city: str
    country: str
    attributes: dict[str, Any]


class ContactError(ValueError):
    """A write that cannot be done as asked; `field` names the input to fix."""

    def __init__(self, message: str, *, field: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


_PROFILE_FIELDS = ("status", "full_name", "dob", "gender", "city", "country")


def _owner_of(*, account_id: Any, field: str, value: str | None, exclude: int | None) -> Contact | None:
    if not value:
        return None
    found = Contact.objects.filter(account_id=account_id, **{field: value})
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return found.only("id").first()


def _check_keys_free(*, account_id: Any, fields: ContactFields, exclude: int | None = None) -> None:
    for field in ("email", "mobile"):
        value = cast(str | None, fields.get(field))
        owner = _owner_of(account_id=account_id, field=field, value=value, exclude=exclude)
        if owner is not None:
            raise ContactError(f"Another contact (id {owner.pk}) already has this {field}.", field=field, code="unique")


@transaction.atomic
def contact_create(
    *, account: Account, fields: ContactFields, tags: Iterable[str] = (), notify: bool = True
) -> Contact:
    """Create one contact with its tags. Listeners (contacts/hooks.py) hear of it unless `notify` is False (the
    row-by-row CSV import, which never starts automations, like the set-based one)."""
    if not fields.get("email") and not fields.get("mobile"):
        raise ContactError("Give an email or a mobile number: one of them identifies the contact.", field="email")
    _check_keys_free(account_id=account.pk, fields=fields)
    tag_ids = tag_ids_for(account_id=account.pk, names=tags, create=True)
    contact = Contact(account=account, tag_ids=sorted(tag_ids), **fields)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:  # created concurrently since the check above
        raise ContactError("A contact with this email or mobile already exists.", field="email", code="unique") from exc
    tag_counts_apply(dict.fromkeys(tag_ids, 1))
    if notify:
        notify_contacts_created(account_id=account.pk, contact_ids=[contact.pk])
        notify_tags_changed(account_id=account.pk, added={contact.pk: tag_ids} if tag_ids else {}, removed={})
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    fields: ContactFields,
    tags: Iterable[str] | None = None,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
    method: str | None = "api",
    notify: bool = True,
) -> Contact:
    """Change the given fields only. `attributes` merge into the stored ones (a null value removes a key);
    `tags` replaces the whole set, then `add_tags` and `remove_tags` apply. A move to or from `unsubscribed` goes
    on the timeline with `method` (None: not recorded, as imports do not record)."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    was = contact.status
    _check_keys_free(account_id=contact.account_id, fields=fields, exclude=contact.pk)
    for name, value in fields.items():
        if name == "attributes":
            merged = {**contact.attributes, **cast(dict[str, Any], value or {})}
            contact.attributes = {key: item for key, item in merged.items() if item is not None}
        else:
            setattr(contact, name, value)
    if not contact.email and not contact.mobile:
        raise ContactError("A contact needs an email or a mobile number; keep one of them.", field="email")
    contact.save()
    if method is not None and was != contact.status and Contact.Status.UNSUBSCRIBED in (was, contact.status):
        unsubscribed = contact.status == Contact.Status.UNSUBSCRIBED
        subscription_record(contact=contact, name="unsubscribed" if unsubscribed else "resubscribed", method=method)
    change = TagChange()
    if tags is not None:
        wanted = tag_ids_for(account_id=contact.account_id, names=tags, create=True)
        change.removing(set(contact.tag_ids) - wanted)
        change.adding(wanted)
    change.adding(tag_ids_for(account_id=contact.account_id, names=add_tags, create=True))
    change.removing(tag_ids_for(account_id=contact.account_id, names=remove_tags, create=False))
    if change.add or change.remove:
        contacts_retag(account_id=contact.account_id, changes={contact.pk: change}, notify=notify)
        contact.refresh_from_db(fields=["tag_ids", "updated_at"])
    return contact


def _find_for_upsert(*, account_id: Any, email: str | None, mobile: str | None) -> Contact | None:
    """The contact a write with this email and mobile is about: by email, else by mobile (when that contact has
    no other email)."""
    locked = Contact.objects.select_for_update().filter(account_id=account_id)
    if email:
        found = locked.filter(email=email).first()
        if found is not None:
            return found
    if mobile:
        found = locked.filter(mobile=mobile).first()
        if found is not None and (not email or found.email is None):
            return found
    return None


def contact_upsert(
    *,
    account: Account,
    fields: ContactFields,
    tags: Iterable[str] | None = None,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
) -> tuple[Contact, bool]:
    """Create the contact named by email (else mobile), or update it; returns (contact, created)."""
    email, mobile = fields.get("email"), fields.get("mobile")
    if not email and not mobile:
        raise ContactError("Give an email or a mobile number: one of them identifies the contact.", field="email")
    for attempt in (1, 2):
        with transaction.atomic():
            existing = _find_for_upsert(account_id=account.pk, email=email, mobile=mobile)
            if existing is not None:
                updated = contact_update(
                    contact=existing, fields=fields, tags=tags, add_tags=add_tags, remove_tags=remove_tags
                )
                return updated, False
            try:
                initial = [*(tags or ()), *add_tags]
                removed = {name.lower() for name in remove_tags}
                created = contact_create(
                    account=account, fields=fields, tags=[name for name in initial if name.lower() not in removed]
                )
                return created, True
            except ContactError as exc:
                # Lost a race with a concurrent create of the same key: the second pass updates it instead.
                if exc.code != "unique" or attempt == 2:
                    raise
    raise AssertionError("unreachable")


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    """Deletes the contact and its timeline, and takes it off its tags' counts."""
    locked = Contact.objects.select_for_update().filter(pk=contact.pk).first()
    if locked is None:
        return
    tag_counts_apply(dict.fromkeys(locked.tag_ids, -1))
    locked.delete()


@transaction.atomic
def contact_tags_change(*, contact: Contact, add: Iterable[str] = (), remove: Iterable[str] = ()) -> Contact:
    change = TagChange()
    change.adding(tag_ids_for(account_id=contact.account_id, names=add, create=True))
    change.removing(tag_ids_for(account_id=contact.account_id, names=remove, create=False))
    contacts_retag(account_id=contact.account_id, changes={contact.pk: change})
    contact.refresh_from_db(fields=["tag_ids", "updated_at"])
    return contact


def contacts_tags_change(
    *, account_id: Any, contact_ids: Iterable[int], add: Iterable[str] = (), remove: Iterable[str] = ()
) -> int:
    """Tag or untag many contacts (admin actions), a thousand per transaction; returns how many changed."""
    ids = sorted(set(contact_ids))
    changed = 0
    with transaction.atomic():
        add_ids = tag_ids_for(account_id=account_id, names=add, create=True)
        remove_ids = tag_ids_for(account_id=account_id, names=remove, create=False)
    for start in range(0, len(ids), 1000):
        change = TagChange()
        change.adding(add_ids)
        change.removing(remove_ids)
        with transaction.atomic():
            changed += contacts_retag(account_id=account_id, changes=dict.fromkeys(ids[start : start + 1000], change))
    return changed


def contacts_delete(*, account_id: Any, contact_ids: Iterable[int]) -> int:
    """Bulk delete (admin) that keeps tag counts exact."""
    ids = sorted(set(contact_ids))
    deleted = 0
    for start in range(0, len(ids), 1000):
        with transaction.atomic():
            locked = list(
                Contact.objects.select_for_update()
                .filter(account_id=account_id, pk__in=ids[start : start + 1000])
                .only("id", "tag_ids")
            )
            deltas: Counter[int] = Counter()
            for contact in locked:
                deltas.update({tag_id: -1 for tag_id in contact.tag_ids})
            tag_counts_apply(deltas)
            deleted += Contact.objects.filter(pk__in=[c.pk for c in locked]).delete()[1].get("contacts.Contact", 0)
    return deleted


# Where each unsubscribe method lands on the timeline's `source`.
_METHOD_SOURCE = {
    "mailto": ContactEvent.Source.EMAIL,
    "api": ContactEvent.Source.API,
    "admin": ContactEvent.Source.ADMIN,
    "signup_form": ContactEvent.Source.FORM,
}


def subscription_record(*, contact: Contact, name: str, method: str, topic_key: str | None = None) -> None:
    """An unsubscribe (or opting back in) on the contact's timeline: `unsubscribed`, `topic_subscribed` or
    `resubscribed`, with the topic's key (None: all bulk mail) and how it was done."""
    ContactEvent.objects.create(
        account_id=contact.account_id,
        contact_id=contact.pk,
        name=name,
        properties={"topic": topic_key, "method": method},
        occurred_at=timezone.now(),
        source=_METHOD_SOURCE.get(method, ContactEvent.Source.WEB),
    )


def contact_timeline_append_for_address(
    *,
    account_id: Any,
    email: str,
    name: str,
    properties: dict[str, Any],
    occurred_at: datetime,
    source: str = "email",
    status: str | None = None,
) -> bool:
    """For the email pipeline: put an event on the timeline of the contact with this address, if the account
    has one, and mark it bounced or complained when `status` says so. Never creates a contact; returns whether
    one was found."""
    with transaction.atomic():
        contact_id = (
            Contact.objects.filter(account_id=account_id, email=email.strip().lower())
            .values_list("pk", flat=True)
            .first()
        )
        if contact_id is None:
            return False
        ContactEvent.objects.create(
            account_id=account_id,
            contact_id=contact_id,
            name=name[:100],
            properties=properties,
            occurred_at=occurred_at,
            source=source,
        )
        if status in (Contact.Status.BOUNCED, Contact.Status.COMPLAINED):
            Contact.objects.filter(pk=contact_id).exclude(status=status).update(
                status=status, updated_at=timezone.now()
            )
    return True


def contact_timeline_add(*, account_id: Any, entries: Iterable[tuple[int, str, dict[str, Any], datetime]]) -> None:
    """Timeline rows written by the floors above (automations): (contact id, name, properties, occurred_at) each.
    They are not events a listener hears of, so they never trigger anything."""
    source = ContactEvent.Source.AUTOMATION.value
    timeline_rows_insert(
        account_id=account_id,
        rows=[
            (contact_id, name[:100], properties, occurred_at, source)
            for contact_id, name, properties, occurred_at in entries
        ],
    )


def contact_timeline_append_for_mobile(
    *, account_id: Any, mobile: str, name: str, properties: dict[str, Any], occurred_at: datetime
) -> bool:
    """For the SMS pipeline: put an event on the timeline of the contact with this E.164 mobile, if the account has
    one. Never creates a contact; returns whether one was found."""
    contact_id = Contact.objects.filter(account_id=account_id, mobile=mobile).values_list("pk", flat=True).first()
    if contact_id is None:
        return False
    ContactEvent.objects.create(
        account_id=account_id,
        contact_id=contact_id,
        name=name[:100],
        properties=properties,
        occurred_at=occurred_at,
        source=ContactEvent.Source.SMS,
    )
    return True


@transaction.atomic
def segment_create(*, account: Account, name: str, filters: Mapping[str, Any], description: str = "") -> Segment:
    if Segment.objects.filter(account=account, name=name).exists():
        raise ContactError(f"A segment named {name!r} already exists.", field="name", code="unique")
    return Segment.objects.create(account=account, name=name, description=description, filters=dict(filters))


@transaction.atomic
def segment_update(*, segment: Segment, **changes: Any) -> Segment:
    name = changes.get("name")
    if name and Segment.objects.filter(account_id=segment.account_id, name=name).exclude(pk=segment.pk).exists():
        raise ContactError(f"A segment named {name!r} already exists.", field="name", code="unique")
    for field, value in changes.items():
        setattr(segment, field, dict(value) if field == "filters" else value)
    segment.save()
    return segment


@transaction.atomic
def contact_import_create(
    *,
    account: Account,
    upload: IO[bytes],
    filename: str,
    tags: list[str],
    update_existing: bool,
    default_region: str,
    encoding: str = "",
    created_by: Any = None,
) -> ContactImport:
    """Store an uploaded CSV and queue its import; the worker reports progress on the returned row."""
    from contacts.csv_import.jobs import store_upload
    from contacts.csv_import.turns import import_enqueue

    job = ContactImport.objects.create(
        account=account,
        created_by=created_by,
        filename=filename[:255],
        tags=tags,
        update_existing=update_existing,
        default_region=default_region,
        encoding=encoding,
    )
    job.bytes_total = store_upload(job=job, upload=upload)
    job.save(update_fields=["bytes_total"])
    import_enqueue(job.pk)
    return job
