"""Broadcast lifecycle: draft -> scheduled -> sending (<-> paused) -> sent, or cancelled.

Never twice, never lost:
- Starting writes the whole audience into the ledger (BroadcastRecipient, unique per contact) in the transaction
  that marks the broadcast `sending`: a crash before the commit leaves it `scheduled`, and beat starts it again.
- Feeding moves ledger rows `pending` -> `queued` in the transaction that stores their messages (each under the
  client id `broadcast:<id>:<contact id>`, unique per account: client_email_id, client_sms_id or client_push_id),
  holding the broadcast's row lock. A crash rolls both back; nothing is ever queued without its ledger row saying
  so. The channel (channels/) renders and stores the messages, and says when one has left the queue.
- Only a window of messages (SESAME_BROADCAST_AHEAD_SECONDS of the channel's rate) waits in the outbox at a time,
  so transactional messages of the same connection, at a more urgent priority, are claimed first and pausing is
  prompt: pause withdraws the waiting messages (never one a sender claimed) and puts their rows back to `pending`.
- Beat's tick (Postgres only, nothing in Redis) starts due broadcasts and feeds those sending, so a lost task or an
  emptied Redis delays a broadcast by a tick and loses nothing; the engine's own sweeper covers a worker that died
  while sending.
"""

import contextlib
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
from emails.services.accept import AcceptContext
from emails.templating import Template, TemplateNotFound, template_resolve
from events.broadcasts.audience import audience_materialise
from events.broadcasts.channels import Recipient, broadcast_channel
from events.broadcasts.channels.base import not_applicable
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
    channel = broadcast_channel(broadcast.channel)
    if template.channel != broadcast.channel:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "template"],
                    f"{template.name!r} is {_label(template.channel)} template; {_label(broadcast.channel)} broadcast "
                    f"sends {_label(broadcast.channel)} template (GET /v1/templates?channel={broadcast.channel})",
                    "value_error.template_channel",
                )
            ]
        )
    errors = channel.problems(broadcast, version, ["body"])
    if channel.uses_connection and broadcast.connection is None:
        errors.append(
            error_entry(["body", "config_identifier"], "no default AWS connection; pass config_identifier", "missing")
        )
    if errors:
        raise UnprocessableEntity(errors)


def _label(channel: str) -> str:
    return broadcast_channel(channel).label


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
    """Ledger rows whose message has left the queue (sent, failed, suppressed, cancelled) are done; what "left"
    means is the channel's (a push: every delivery of it)."""
    channel = broadcast_channel(broadcast.channel)
    queued = BroadcastRecipient.objects.filter(broadcast=broadcast, status=Row.QUEUED)
    queued.filter(channel.left_queue()).update(status=Row.DONE)


def _ahead(broadcast: Broadcast) -> int:
    """How many messages of the broadcast may wait in the outbox at once."""
    rate = broadcast_channel(broadcast.channel).rate(broadcast)
    return max(settings.SESAME_BROADCAST_BATCH, int(rate * settings.SESAME_BROADCAST_AHEAD_SECONDS))


def _store(broadcast: Broadcast, rows: list[tuple[int, int]]) -> None:
    """Render and queue the messages of these (row id, contact id) pairs, and record each outcome in the ledger."""
    channel = broadcast_channel(broadcast.channel)
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
        elif channel.address_column and not getattr(contact, channel.address_column):
            gone[row_id] = "no_address"
        else:
            recipients.append(Recipient(row_id=row_id, contact=contact))
    done = channel.enqueue(broadcast, recipients)
    for row_id, reason in {**gone, **done.excluded}.items():
        BroadcastRecipient.objects.filter(pk=row_id).update(status=Row.EXCLUDED, reason=reason)
    for row_id, reason in done.failed.items():
        BroadcastRecipient.objects.filter(pk=row_id).update(status=Row.FAILED, reason=reason)
    _mark_queued(done.stored)


def _mark_queued(stored: dict[int, Any]) -> None:
    if not stored:
        return
    if db.vendor != "postgresql":
        for row_id, message_id in stored.items():
            BroadcastRecipient.objects.filter(pk=row_id).update(status=Row.QUEUED, message_id=message_id)
        return
    values = ", ".join(["(%s::bigint, %s::uuid)"] * len(stored))
    with db.cursor() as cursor:
        cursor.execute(
            f"UPDATE {BroadcastRecipient._meta.db_table} AS l SET status = 'queued', message_id = v.message_id "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, message_id) WHERE l.id = v.id",
            [item for pair in stored.items() for item in pair],
        )


def broadcast_feed_step(*, broadcast_id: Any, now: datetime) -> bool:
    """Top up the broadcast's window of waiting messages by one batch; returns whether another batch is due now.
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
    """Take the broadcast's waiting messages back from the outbox; their ledger rows become `to`. Messages a
    sender has claimed go on, and their rows stay queued."""
    queued = BroadcastRecipient.objects.filter(broadcast=broadcast, status=Row.QUEUED)
    channel = broadcast_channel(broadcast.channel)
    withdrawn = channel.withdraw(list(queued.values_list("message_id", flat=True)), reason)
    return queued.filter(message_id__in=withdrawn).update(status=to, message_id=None)


@transaction.atomic
def broadcast_pause(*, broadcast: Broadcast) -> Broadcast:
    broadcast = _locked(broadcast)  # waits for a feed step under way: it commits first, then its messages come back
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
    """Stop for good: nothing more is queued, and waiting messages are withdrawn. Sent ones stay sent."""
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


def _template(account: Account, ref: str, channel: str) -> Template:
    """The live template `ref` names for this channel; failing that, one of another channel, so that the check
    can say the template is of the wrong channel rather than unknown. Raises TemplateNotFound."""
    try:
        return template_resolve(account=account, ref=ref, channel=channel)
    except TemplateNotFound:
        for other in Template.Channel.values:
            if other != channel:
                with contextlib.suppress(TemplateNotFound):
                    return template_resolve(account=account, ref=ref, channel=other)
        raise


def _resolve(account: Account, data: dict[str, Any], errors: list[ErrorEntry], channel: str) -> dict[str, Any]:
    """Model fields for the references a create or update names (template, topic, segment, connection)."""
    fields: dict[str, Any] = {}
    if "template" in data:
        try:
            fields["template"] = _template(account, str(data["template"]), channel)
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
        fields["connection"] = None
        if broadcast_channel(channel).uses_connection:
            fields["connection"], problem = AcceptContext(account).connection(data["config_identifier"], ["body"])
            if problem:
                errors.append(problem)
        elif data["config_identifier"] is not None:
            why = f"{_label(channel)} goes out through the AWS connection of its device's app"
            errors.append(not_applicable(["body"], "config_identifier", why))
    return fields


_PLAIN = ("name", "channel", "filters", "from_address", "reply_to", "priority", "variables", "tags", "window_timezone",
          "window_start", "window_end")  # fmt: skip


@transaction.atomic
def broadcast_create(*, account: Account, data: dict[str, Any]) -> Broadcast:
    """A draft from validated input (see the API's serializer). Raises UnprocessableEntity naming every problem,
    the template's missing unsubscribe link included."""
    errors: list[ErrorEntry] = []
    channel = data.get("channel", Broadcast.Channel.EMAIL)
    fields = _resolve(account, {"topic": None, "segment": None, "config_identifier": None, **data}, errors, channel)
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
    channel = data.get("channel", broadcast.channel)
    if "config_identifier" not in data and broadcast_channel(channel).uses_connection != bool(broadcast.connection_id):
        data = {**data, "config_identifier": None}  # a new channel that needs the default connection, or none
    fields = _resolve(broadcast.account, data, errors, channel)
    if errors:
        raise UnprocessableEntity(errors)
    for key, value in [*fields.items(), *((key, data[key]) for key in _PLAIN if key in data)]:
        setattr(broadcast, key, value)
    broadcast_check(broadcast=broadcast)
    broadcast.save()
    return broadcast
