"""POST /v1/events: up to a thousand behaviour events per call onto contact timelines.

Items are checked one by one (a bad item never sinks its neighbours), then every good item of the call is stored
with a handful of set-based statements: one lookup of the contacts named, one insert of contacts seen for the
first time, one insert of events, one last_seen update and one tag update. That keeps a batch of 1,000 well under
a tenth of a second, which is what the ingestion benchmark (bench/contacts_events.py) measures.
"""

import csv
import io
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction

from accounts.models import Account
from config.api.datetimes import InvalidDateTime, parse_iso_datetime
from contacts.hooks import WrittenEvent, notify_contacts_created, notify_events_recorded
from contacts.models import Contact, ContactEvent
from contacts.normalize import clean_tag_names, normalize_email, normalize_mobile, tag_key
from contacts.tagging import TagChange, contacts_retag, tags_resolve

MAX_EVENTS_PER_CALL = 1000
EVENT_FIELDS = ("email", "mobile", "name", "properties", "occurred_at", "source", "add_tags", "remove_tags")
# Clocks drift; an event from next week is a bug in the caller, not a plan.
FUTURE_TOLERANCE = timedelta(days=1)

ItemError = tuple[list[str | int], str, str]  # (loc below the item, msg, type)
# Automations write their own timeline rows; a caller cannot pose as one.
_SOURCE_NAMES = [value for value in ContactEvent.Source.values if value != ContactEvent.Source.AUTOMATION]
_SOURCES = frozenset(_SOURCE_NAMES)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EventInput:
    name: str
    occurred_at: datetime
    email: str | None = None
    mobile: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    source: str = ContactEvent.Source.API
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventsResult:
    accepted: int
    contacts_created: int


def _datetime(value: Any, now: datetime) -> datetime:
    if not isinstance(value, str):
        raise ValidationError("Give occurred_at as an ISO 8601 string, e.g. 2026-11-22T10:00:00Z.")
    try:
        moment = parse_iso_datetime(value)
    except InvalidDateTime as exc:
        raise ValidationError(f"occurred_at {exc.message}.") from exc
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now + FUTURE_TOLERANCE:
        raise ValidationError("occurred_at is more than a day in the future; send the time the event happened.")
    return moment


def event_from_item(item: Any, *, now: datetime) -> tuple[EventInput | None, list[ItemError]]:
    """Validate one event object; returns the event or the problems with it."""
    if not isinstance(item, Mapping):
        return None, [([], f"Each event must be a JSON object, got {type(item).__name__}.", "type_error.dict")]
    errors: list[ItemError] = [
        ([key], f"Unknown field {key!r}; allowed fields are: {', '.join(sorted(EVENT_FIELDS))}.", "value_error.extra")
        for key in item
        if key not in EVENT_FIELDS
    ]
    values: dict[str, Any] = {}
    name = item.get("name")
    if name is None:
        errors.append((["name"], "field required", "value_error.missing"))
    elif not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        errors.append(
            (["name"], "Give the event's name as 1-100 characters, e.g. 'added_to_wishlist'.", "value_error.invalid")
        )
    else:
        values["name"] = name.strip()
    for key, normalize in (("email", normalize_email), ("mobile", normalize_mobile)):
        raw = item.get(key)
        if raw in (None, ""):
            continue
        try:
            if not isinstance(raw, str):
                raise ValidationError(f"Give {key} as a string.")
            values[key] = normalize(raw)
        except ValidationError as exc:
            errors.append(([key], exc.messages[0], "value_error.invalid"))
    if not item.get("email") and not item.get("mobile"):
        errors.append((["email"], "Name the contact with an email or a mobile number.", "value_error.missing"))
    properties = item.get("properties", {})
    if properties is None or isinstance(properties, Mapping):
        values["properties"] = dict(properties or {})
    else:
        errors.append((["properties"], "Give properties as a JSON object.", "type_error.dict"))
    try:
        values["occurred_at"] = now if item.get("occurred_at") is None else _datetime(item["occurred_at"], now)
    except ValidationError as exc:
        errors.append((["occurred_at"], exc.messages[0], "value_error.datetime"))
    source = item.get("source", ContactEvent.Source.API)
    if isinstance(source, str) and source in _SOURCES:
        values["source"] = source
    else:
        errors.append(
            (
                ["source"],
                f"{source!r} is not a source; use one of {', '.join(_SOURCE_NAMES)}.",
                "type_error.enum",
            )
        )
    for key in ("add_tags", "remove_tags"):
        raw = item.get(key)
        if raw is None:
            continue
        try:
            if not isinstance(raw, str | list) or not all(
                isinstance(v, str) for v in (raw if isinstance(raw, list) else [raw])
            ):
                raise ValidationError("Give tags as a list of strings or one comma-separated string.")
            values[key] = tuple(clean_tag_names(raw))
        except ValidationError as exc:
            errors.append(([key], exc.messages[0], "value_error.invalid"))
    if errors:
        return None, errors
    return EventInput(**values), []


def _resolve_contacts(*, account: Account, events: Sequence[EventInput]) -> tuple[list[int], list[int]]:
    """The contact id of every event, creating contacts seen for the first time; returns (ids, created ids)."""
    emails = {event.email for event in events if event.email}
    mobiles = {event.mobile for event in events if event.mobile}
    scoped = Contact.objects.filter(account=account)
    by_email: dict[str, int] = {}
    by_mobile: dict[str, tuple[int, str | None]] = {}

    def learn(emails: Iterable[str], mobiles: Iterable[str]) -> None:
        emails, mobiles = list(emails), list(mobiles)
        if connection.vendor == "postgresql":
            # `= ANY(array)`: one parameter, where `IN (...)` would be a thousand for the driver to rewrite.
            with connection.cursor() as cursor:
                if emails:
                    cursor.execute(_BY_EMAIL, [account.pk, joined(emails)])
                    by_email.update(cursor.fetchall())
                if mobiles:
                    cursor.execute(_BY_MOBILE, [account.pk, joined(mobiles)])
                    by_mobile.update((m, (pk, e)) for m, pk, e in cursor.fetchall())
            return
        if emails:
            by_email.update((e, pk) for e, pk in scoped.filter(email__in=emails).values_list("email", "pk") if e)
        if mobiles:
            rows = scoped.filter(mobile__in=mobiles).values_list("mobile", "pk", "email")
            by_mobile.update((m, (pk, e)) for m, pk, e in rows if m)

    learn(emails, mobiles)

    def known(event: EventInput) -> int | None:
        if event.email and event.email in by_email:
            return by_email[event.email]
        if event.mobile and event.mobile in by_mobile:
            pk, email = by_mobile[event.mobile]
            if not event.email or email is None:
                return pk
        return None

    newcomers: dict[str, Newcomer] = {}
    for event in events:
        if known(event) is not None:
            continue
        key = event.email or event.mobile or ""
        seen = newcomers.get(key)
        if seen is None:
            mobile = event.mobile if event.mobile not in by_mobile else None
            newcomers[key] = Newcomer(email=event.email, mobile=mobile, last_seen_at=event.occurred_at)
        elif event.occurred_at > seen.last_seen_at:
            seen.last_seen_at = event.occurred_at
    created: list[int] | None = []
    if newcomers:
        # Newcomers may share a mobile: the first one with an email keeps it, and a mobile-only newcomer whose
        # number is taken is not created; its events go to the contact that took the number.
        taken: set[str] = set()
        for contact in newcomers.values():
            if contact.email and contact.mobile:
                if contact.mobile in taken:
                    contact.mobile = None
                else:
                    taken.add(contact.mobile)
        for key, contact in list(newcomers.items()):
            if not contact.email and contact.mobile in taken:
                del newcomers[key]
        # Sorted: concurrent batches then insert shared new addresses in the same order and queue instead of
        # deadlocking on each other's unique-index entries.
        ordered = sorted(newcomers.values(), key=lambda c: (c.email or "", c.mobile or ""))
        created = _create_contacts(account=account, contacts=ordered)
        learn([c.email for c in newcomers.values() if c.email], [c.mobile for c in newcomers.values() if c.mobile])
    ids = []
    for event in events:
        pk = known(event)
        if pk is None:
            raise RuntimeError(f"contact for {event.email or event.mobile} vanished during ingestion")
        ids.append(pk)
    if created is None:  # SQLite (one writer at a time): the newcomers, as looked up again
        fresh = zip(events, ids, strict=True)
        created = sorted({pk for event, pk in fresh if (event.email or event.mobile) in newcomers})
    return ids, created


# Lists travel as one newline-joined string split by the server: the driver quotes a Python list of a thousand
# values element by element, which costs more than the query. Emails, E.164 numbers, ids and ISO times never
# contain a newline; '' stands for NULL.
_BY_EMAIL = "SELECT email, id FROM contacts_contact WHERE account_id = %s AND email = ANY(string_to_array(%s, E'\\n'))"
_BY_MOBILE = (
    "SELECT mobile, id, email FROM contacts_contact WHERE account_id = %s AND mobile = ANY(string_to_array(%s, E'\\n'))"
)
_CREATE_CONTACTS = """
INSERT INTO contacts_contact (account_id, email, mobile, status, full_name, gender, city, country, attributes,
                              tag_ids, created_at, updated_at, last_seen_at)
SELECT %s, e, m, %s, '', '', '', '', '{}', '{}', now(), now(), seen
FROM unnest(string_to_array(%s, E'\\n', ''), string_to_array(%s, E'\\n', ''),
            string_to_array(%s, E'\\n')::timestamptz[]) AS t(e, m, seen)
ON CONFLICT DO NOTHING
RETURNING id
"""


def joined(values: Iterable[Any]) -> str:
    return "\n".join("" if value is None else str(value) for value in values)


_COPY_EVENTS = (
    "COPY contacts_contactevent (account_id, contact_id, name, properties, occurred_at, source) FROM STDIN (FORMAT csv)"
)


@dataclass(slots=True)
class Newcomer:
    email: str | None
    mobile: str | None
    last_seen_at: datetime


def _create_contacts(*, account: Account, contacts: list[Newcomer]) -> list[int] | None:
    """Insert these contacts (a concurrent batch may have made some); the ids inserted here, None on SQLite."""
    if connection.vendor != "postgresql":
        rows = [Contact(account=account, email=c.email, mobile=c.mobile, last_seen_at=c.last_seen_at) for c in contacts]
        Contact.objects.bulk_create(rows, ignore_conflicts=True)
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            _CREATE_CONTACTS,
            [
                account.pk,
                Contact.Status.SUBSCRIBED.value,
                joined(c.email for c in contacts),
                joined(c.mobile for c in contacts),
                joined(c.last_seen_at.isoformat() for c in contacts),
            ],
        )
        return [pk for (pk,) in cursor.fetchall()]


TimelineRow = tuple[int, str, Mapping[str, Any], datetime, str]  # contact id, name, properties, occurred_at, source


def timeline_rows_insert(*, account_id: Any, rows: Sequence[TimelineRow]) -> None:
    """Append rows to contacts' timelines in one statement (COPY on PostgreSQL): ingestion and every other writer
    of many rows at once."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        ContactEvent.objects.bulk_create(
            [
                ContactEvent(
                    account_id=account_id,
                    contact_id=contact_id,
                    name=name,
                    properties=dict(properties),
                    occurred_at=occurred_at,
                    source=source,
                )
                for contact_id, name, properties, occurred_at, source in rows
            ]
        )
        return
    # COPY: a thousand-row VALUES list (or arrays of a thousand values) costs more to build than to store.
    buffer = io.StringIO()
    write = csv.writer(buffer).writerow
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    account = str(account_id)
    for contact_id, name, properties, occurred_at, source in rows:
        write((account, contact_id, name, dumps(properties), occurred_at.isoformat(), source))
    with connection.cursor() as cursor, cursor.copy(_COPY_EVENTS) as copy:
        copy.write(buffer.getvalue())


# Rows are locked in id order (the CTE) so that concurrent batches wait for each other instead of deadlocking, and
# only rows whose last_seen_at actually moves forward are locked at all.
_TOUCH_LAST_SEEN = """
WITH v AS (
    SELECT * FROM unnest(string_to_array(%s, E'\\n')::bigint[], string_to_array(%s, E'\\n')::timestamptz[]) AS v(id, ts)
), locked AS (
    SELECT c.id FROM contacts_contact c JOIN v ON v.id = c.id
    WHERE c.last_seen_at IS NULL OR c.last_seen_at < v.ts ORDER BY c.id FOR UPDATE OF c
)
UPDATE contacts_contact c SET last_seen_at = v.ts FROM v JOIN locked USING (id)
WHERE c.id = v.id AND (c.last_seen_at IS NULL OR c.last_seen_at < v.ts)
"""


def _touch_last_seen(*, seen: Mapping[int, datetime]) -> None:
    ids = sorted(seen)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_TOUCH_LAST_SEEN, [joined(ids), joined(seen[pk].isoformat() for pk in ids)])
        return
    for pk in ids:  # the embedded SQLite default: few contacts, one statement each is fine
        Contact.objects.filter(pk=pk).exclude(last_seen_at__gte=seen[pk]).update(last_seen_at=seen[pk])


def _record(*, account: Account, events: Sequence[EventInput]) -> tuple[EventsResult, dict[int, datetime]]:
    contact_ids, created = _resolve_contacts(account=account, events=events)
    timeline_rows_insert(
        account_id=account.pk,
        rows=[
            (contact_id, event.name, event.properties, event.occurred_at, event.source)
            for event, contact_id in zip(events, contact_ids, strict=True)
        ],
    )
    notify_contacts_created(account_id=account.pk, contact_ids=created)
    seen: dict[int, datetime] = {}
    for event, contact_id in zip(events, contact_ids, strict=True):
        if contact_id not in seen or event.occurred_at > seen[contact_id]:
            seen[contact_id] = event.occurred_at
    # Ordered: a new tag keeps the spelling of its first mention.
    added = list(dict.fromkeys(name for event in events for name in event.add_tags))
    removed = list(dict.fromkeys(name for event in events for name in event.remove_tags))
    if added or removed:
        to_add = {key: tag.pk for key, tag in tags_resolve(account_id=account.pk, names=added, create=True).items()}
        to_remove = {
            key: tag.pk for key, tag in tags_resolve(account_id=account.pk, names=removed, create=False).items()
        }
        changes: dict[int, TagChange] = {}
        for event, contact_id in zip(events, contact_ids, strict=True):
            change = changes.setdefault(contact_id, TagChange())
            change.adding(to_add[tag_key(name)] for name in event.add_tags)
            change.removing(to_remove[tag_key(name)] for name in event.remove_tags if tag_key(name) in to_remove)
        contacts_retag(account_id=account.pk, changes=changes)
    # After the tags: an automation triggered by this event then sees the tags the same event gave.
    notify_events_recorded(
        account_id=account.pk,
        events=[
            WrittenEvent(
                contact_id=contact_id, name=event.name, properties=event.properties, occurred_at=event.occurred_at
            )
            for event, contact_id in zip(events, contact_ids, strict=True)
        ],
    )
    return EventsResult(accepted=len(events), contacts_created=len(created)), seen


def contact_events_record(*, account: Account, events: Sequence[EventInput]) -> EventsResult:
    """Store validated events on their contacts' timelines, creating contacts on first sight and applying each
    event's tag changes in order. All or nothing per call; retried once when it deadlocks with another batch."""
    if not events:
        return EventsResult(accepted=0, contacts_created=0)
    result, seen = _retrying(lambda: _record(account=account, events=events))
    # After the events are committed, in a transaction of its own: a busy contact's row is then locked for the
    # length of one statement, not of a whole batch. last_seen_at only ever moves forward, so this is safe to redo.
    _retrying(lambda: _touch_last_seen(seen=seen))
    return result


def _retrying(work: Callable[[], T]) -> T:
    """Run `work` in a transaction, again (up to twice) when it deadlocks with a concurrent batch."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as exc:
            if attempt == 2 or getattr(exc.__cause__, "sqlstate", None) not in ("40P01", "40001"):
                raise
            time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # jitter
    raise AssertionError("unreachable")
