"""Broadcast lifecycle: draft -> scheduled -> sending (<-> paused) -> sent, or cancelled.

Never twice, never lost:
- Starting writes the whole audience into the ledger (BroadcastRecipient, unique per contact) in the transaction
  that marks the broadcast `sending`: a crash before the commit leaves it `scheduled`, and beat starts it again.
- Feeding moves ledger rows `pending` -> `queued` in the transaction that stores their emails (each under the
  client_email_id `broadcast:<id>:<contact id>`, unique per account), holding the broadcast's row lock. A crash
  rolls both back; nothing is ever queued without its ledger row saying so.
- Only a window of emails (SESAME_BROADCAST_AHEAD_SECONDS of the connection's rate) waits in the outbox at a time,
  so transactional mail of the same connection, at a more urgent priority, is claimed first and pausing is prompt:
  pause withdraws the waiting emails (never one a sender claimed) and puts their rows back to `pending`.
- Beat's tick (Postgres only, nothing in Redis) starts due broadcasts and feeds those sending, so a lost task or an
  emptied Redis delays a broadcast by a tick and loses nothing; the engine's own sweeper covers a worker that died
  while sending.
"""

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection as db
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from config.api.errors import Conflict, ErrorEntry, UnprocessableEntity, error_entry
from contacts.models import Contact, Segment, TopicOptOut
from contacts.selectors import contacts_matching, topic_list
from emails.models import Email
from emails.services import emails_withdraw
from emails.services.accept import AcceptContext
from emails.templating import TemplateNotFound, template_resolve
from events.broadcasts.audience import audience_materialise
from events.broadcasts.channels import Recipient, broadcast_channel
from events.broadcasts.models import Broadcast, BroadcastRecipient

Row = BroadcastRecipient.Status


def _conflict(broadcast: Broadcast, action: str, allowed: str) -> Conflict:
    return Conflict(f"The broadcast is {broadcast.status}; it can be {action} only when {allowed}.")


def _locked(broadcast: Broadcast) -> Broadcast:
    return (
        Broadcast.objects.select_related("account", "connection", "template_version__template")
        .select_for_update(of=("self",))
        .get(pk=broadcast.pk)
    )


def broadcast_check(*, broadcast: Broadcast) -> None:
    """Raise UnprocessableEntity (422) with every reason the broadcast cannot be sent as it stands."""
    template = broadcast.template
    version = template.current_version
    if template.archived_at is not None or version is None:
        raise UnprocessableEntity(
            [error_entry(["body", "template"], "the template is archived; pick a live one", "value_error.archived")]
        )
    errors = broadcast_channel(broadcast.channel).problems(broadcast, version, ["body"])
    if errors:
        raise UnprocessableEntity(errors)


@transaction.atomic
def broadcast_send(*, broadcast: Broadcast, send_at: datetime | None = None) -> Broadcast:
    """Send a draft now or at `send_at`: the template's current version is pinned, and the audience is evaluated
    when it starts."""
    broadcast = _locked(broadcast)
    if broadcast.status != Broadcast.Status.DRAFT:
        raise _conflict(broadcast, "sent", "a draft")
    broadcast_check(broadcast=broadcast)
    broadcast.template_version = broadcast.template.current_version
    broadcast.send_at = send_at or timezone.now()
    broadcast.status = Broadcast.Status.SCHEDULED
    broadcast.save(update_fields=["template_version", "send_at", "status", "updated_at"])
    if broadcast.send_at <= timezone.now():
        _enqueue("events.broadcasts.tasks.broadcast_start", broadcast.pk)
    return broadcast


@transaction.atomic
def broadcast_start(*, broadcast_id: Any, now: datetime) -> bool:
    """Materialise a due broadcast's audience and mark it sending; returns whether it started. A second call
    (a duplicate task, beat's tick) waits for or skips the first and then finds nothing to do."""
    broadcast = (
        Broadcast.objects.select_related("account", "segment")
        .select_for_update(of=("self",), skip_locked=True)
        .filter(pk=broadcast_id, status=Broadcast.Status.SCHEDULED, send_at__lte=now)
        .first()
    )
    if broadcast is None:
        return False
    # The ledger is empty until this transaction commits (a failed start rolls back whole): every row is new.
    broadcast.audience_count = audience_materialise(broadcast=broadcast)
    broadcast.materialised_at = broadcast.started_at = timezone.now()
    broadcast.status = Broadcast.Status.SENDING
    broadcast.save(update_fields=["audience_count", "materialised_at", "started_at", "status", "updated_at"])
    _enqueue("events.broadcasts.tasks.broadcast_feed", broadcast.pk)
    return True


def in_window(broadcast: Broadcast, now: datetime) -> bool:
    if broadcast.window_start is None or broadcast.window_end is None:
        return True
    local = now.astimezone(ZoneInfo(broadcast.window_timezone)).time()
    start, end = broadcast.window_start, broadcast.window_end
    return start <= local < end if start <= end else (local >= start or local < end)  # a window across midnight


def _settle(broadcast: Broadcast) -> None:
    """Ledger rows whose email has left the queue (sent, failed, suppressed, cancelled) are done."""
    ledger, emails = BroadcastRecipient._meta.db_table, Email._meta.db_table
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ledger} AS l SET status = 'done' FROM {emails} AS e "  # noqa: S608
                "WHERE l.broadcast_id = %s AND l.status = 'queued' AND e.id = l.email_id "
                "AND e.status NOT IN ('scheduled', 'queued', 'sending')",
                [broadcast.pk],
            )
        return
    queued = BroadcastRecipient.objects.filter(broadcast=broadcast, status=Row.QUEUED)
    left = Email.objects.filter(pk__in=queued.values("email_id")).exclude(status__in=[*Email.WAITING, "sending"])
    queued.filter(email_id__in=left.values("pk")).update(status=Row.DONE)


def _ahead(broadcast: Broadcast) -> int:
    """How many emails of the broadcast may wait in the outbox at once."""
    rate = broadcast_channel(broadcast.channel).rate(broadcast.connection)
    return max(settings.SESAME_BROADCAST_BATCH, int(rate * settings.SESAME_BROADCAST_AHEAD_SECONDS))


def _store(broadcast: Broadcast, rows: list[tuple[int, int]]) -> None:
    """Render and queue the emails of these (row id, contact id) pairs, and record each outcome in the ledger."""
    contacts = Contact.objects.in_bulk([contact_id for _, contact_id in rows])
    opted_out: set[int] = set()
    if broadcast.topic_id is not None:
        opted_out = set(
            TopicOptOut.objects.filter(topic_id=broadcast.topic_id, contact_id__in=list(contacts)).values_list(
                "contact_id", flat=True
            )
        )
    recipients: list[Recipient] = []
    gone: dict[int, str] = {}
    for row_id, contact_id in rows:
        # Evaluated again at send time: a contact deleted, unsubscribed or out of the topic since the start.
        contact = contacts.get(contact_id)
        if contact is None:
            gone[row_id] = "deleted"
        elif contact.status != Contact.Status.SUBSCRIBED:
            gone[row_id] = contact.status
        elif contact_id in opted_out:
            gone[row_id] = "opted_out"
        else:
            recipients.append(Recipient(row_id=row_id, contact=contact))
    stored, failed = broadcast_channel(broadcast.channel).enqueue(broadcast, recipients)
    for row_id, reason in gone.items():
        BroadcastRecipient.objects.filter(pk=row_id).update(status=Row.EXCLUDED, reason=reason)
    for row_id, reason in failed.items():
        BroadcastRecipient.objects.filter(pk=row_id).update(status=Row.FAILED, reason=reason)
    _mark_queued(stored)


def _mark_queued(stored: dict[int, Any]) -> None:
    if not stored:
        return
    if db.vendor != "postgresql":
        for row_id, email_id in stored.items():
            BroadcastRecipient.objects.filter(pk=row_id).update(status=Row.QUEUED, email_id=email_id)
        return
    values = ", ".join(["(%s::bigint, %s::uuid)"] * len(stored))
    with db.cursor() as cursor:
        cursor.execute(
            f"UPDATE {BroadcastRecipient._meta.db_table} AS l SET status = 'queued', email_id = v.email_id "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, email_id) WHERE l.id = v.id",
            [item for pair in stored.items() for item in pair],
        )


def broadcast_feed_step(*, broadcast_id: Any, now: datetime) -> bool:
    """Top up the broadcast's window of waiting emails by one batch; returns whether another batch is due now.
    Finishes the broadcast when nothing is pending or waiting."""
    with transaction.atomic():
        broadcast = (
            Broadcast.objects.select_related("account", "connection", "template_version__template")
            .select_for_update(of=("self",), skip_locked=True)
            .filter(pk=broadcast_id, status=Broadcast.Status.SENDING)
            .first()
        )
        if broadcast is None:
            return False
        _settle(broadcast)
        rows = BroadcastRecipient.objects.filter(broadcast=broadcast)
        waiting = rows.filter(status=Row.QUEUED).count()
        batch: list[tuple[int, int]] = []
        if in_window(broadcast, now):
            room = min(settings.SESAME_BROADCAST_BATCH, _ahead(broadcast) - waiting)
            if room > 0:
                pending = rows.filter(status=Row.PENDING).order_by("id").values_list("id", "contact_id")
                batch = list(pending[:room])
        if batch:
            _store(broadcast, batch)
            return True
        if not waiting and not rows.filter(status=Row.PENDING).exists():
            broadcast.status = Broadcast.Status.SENT
            broadcast.finished_at = timezone.now()
            broadcast.save(update_fields=["status", "finished_at", "updated_at"])
        return False


def _withdraw(broadcast: Broadcast, *, to: str, reason: str) -> int:
    """Take the broadcast's waiting emails back from the outbox; their ledger rows become `to`. Emails a sender
    has claimed go on, and their rows stay queued."""
    queued = BroadcastRecipient.objects.filter(broadcast=broadcast, status=Row.QUEUED)
    withdrawn = emails_withdraw(email_ids=list(queued.values_list("email_id", flat=True)), reason=reason)
    return queued.filter(email_id__in=withdrawn).update(status=to, email_id=None)


@transaction.atomic
def broadcast_pause(*, broadcast: Broadcast) -> Broadcast:
    broadcast = _locked(broadcast)  # waits for a feed step under way: it commits first, then its emails come back
    if broadcast.status not in Broadcast.ACTIVE:
        raise _conflict(broadcast, "paused", "scheduled or sending")
    _withdraw(broadcast, to=Row.PENDING, reason="broadcast paused; queued again when it resumes")
    broadcast.status = Broadcast.Status.PAUSED
    broadcast.save(update_fields=["status", "updated_at"])
    return broadcast


@transaction.atomic
def broadcast_resume(*, broadcast: Broadcast) -> Broadcast:
    broadcast = _locked(broadcast)
    if broadcast.status != Broadcast.Status.PAUSED:
        raise _conflict(broadcast, "resumed", "paused")
    started = broadcast.materialised_at is not None
    broadcast.status = Broadcast.Status.SENDING if started else Broadcast.Status.SCHEDULED
    broadcast.save(update_fields=["status", "updated_at"])
    if started:
        _enqueue("events.broadcasts.tasks.broadcast_feed", broadcast.pk)
    elif broadcast.send_at and broadcast.send_at <= timezone.now():
        _enqueue("events.broadcasts.tasks.broadcast_start", broadcast.pk)
    return broadcast


@transaction.atomic
def broadcast_cancel(*, broadcast: Broadcast) -> Broadcast:
    """Stop for good: nothing more is queued, and waiting emails are withdrawn. Sent ones stay sent."""
    broadcast = _locked(broadcast)
    if broadcast.status in (Broadcast.Status.SENT, Broadcast.Status.CANCELLED):
        raise _conflict(broadcast, "cancelled", "not yet sent")
    _withdraw(broadcast, to=Row.CANCELLED, reason="broadcast cancelled")
    BroadcastRecipient.objects.filter(broadcast=broadcast, status=Row.PENDING).update(status=Row.CANCELLED)
    broadcast.status = Broadcast.Status.CANCELLED
    broadcast.finished_at = timezone.now()
    broadcast.save(update_fields=["status", "finished_at", "updated_at"])
    return broadcast


def broadcasts_due(*, now: datetime) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """(scheduled broadcasts due to start, broadcasts sending): beat's work, from one indexed query."""
    active: QuerySet[Broadcast] = Broadcast.objects.filter(status__in=Broadcast.ACTIVE, send_at__lte=now)
    due: list[uuid.UUID] = []
    sending: list[uuid.UUID] = []
    for pk, status in active.values_list("pk", "status"):
        (due if status == Broadcast.Status.SCHEDULED else sending).append(pk)
    return due, sending


def _enqueue(task: str, broadcast_id: Any) -> None:
    from celery import current_app

    transaction.on_commit(lambda: current_app.send_task(task, args=(str(broadcast_id),)))


def _resolve(account: Account, data: dict[str, Any], errors: list[ErrorEntry]) -> dict[str, Any]:
    """Model fields for the references a create or update names (template, topic, segment, connection)."""
    fields: dict[str, Any] = {}
    if "template" in data:
        try:
            fields["template"] = template_resolve(account=account, ref=str(data["template"]), channel="email")
        except TemplateNotFound as exc:
            errors.append(error_entry(["body", "template"], str(exc), "value_error.unknown"))
    if "topic" in data:
        ref = data["topic"]
        fields["topic"] = topic = None if ref is None else topic_list(account=account).filter(key=str(ref)).first()
        if ref is not None and topic is None:
            errors.append(error_entry(["body", "topic"], f"no topic with key {ref!r}; see GET /v1/topics", "unknown"))
    if "segment" in data:
        ref = data["segment"]
        fields["segment"] = segment = None if ref is None else Segment.objects.filter(account=account, pk=ref).first()
        if ref is not None and segment is None:
            errors.append(error_entry(["body", "segment"], f"no segment {ref}; see GET /v1/segments", "unknown"))
    if "filters" in data:
        try:
            contacts_matching(account=account, filters=data["filters"])
        except ValidationError as exc:
            errors.extend(
                error_entry(["body", "filters", key], " ".join(messages), "invalid")
                for key, messages in exc.message_dict.items()
            )
    if data.get("segment") is not None and data.get("filters"):
        errors.append(error_entry(["body", "filters"], "give a segment or filters, not both", "value_error.conflict"))
    if "config_identifier" in data:
        connection, problem = AcceptContext(account).connection(data.get("config_identifier"), ["body"])
        if problem:
            errors.append(problem)
        fields["connection"] = connection
    return fields


_PLAIN = ("name", "filters", "from_address", "reply_to", "priority", "variables", "tags", "window_timezone",
          "window_start", "window_end")  # fmt: skip


@transaction.atomic
def broadcast_create(*, account: Account, data: dict[str, Any]) -> Broadcast:
    """A draft from validated input (see the API's serializer). Raises UnprocessableEntity naming every problem,
    the template's missing unsubscribe link included."""
    errors: list[ErrorEntry] = []
    fields = _resolve(account, {"topic": None, "segment": None, "config_identifier": None, **data}, errors)
    if errors:
        raise UnprocessableEntity(errors)
    broadcast = Broadcast(account=account, **fields, **{key: data[key] for key in _PLAIN if key in data})
    broadcast_check(broadcast=broadcast)
    broadcast.save()
    return broadcast


@transaction.atomic
def broadcast_update(*, broadcast: Broadcast, data: dict[str, Any]) -> Broadcast:
    broadcast = _locked(broadcast)
    if broadcast.status != Broadcast.Status.DRAFT:
        raise _conflict(broadcast, "changed", "a draft")
    errors: list[ErrorEntry] = []
    fields = _resolve(broadcast.account, data, errors)
    if errors:
        raise UnprocessableEntity(errors)
    for key, value in [*fields.items(), *((key, data[key]) for key in _PLAIN if key in data)]:
        setattr(broadcast, key, value)
    broadcast_check(broadcast=broadcast)
    broadcast.save()
    return broadcast
