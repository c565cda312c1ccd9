"""Sending a push: accept it, fan it out to devices (one PushDelivery each, the engine's outbox row), cancel it.

A device send and a contact send fan out inside the request (a contact has a handful of devices). A segment send
is accepted at once and fanned out by a task, one chunk of contacts at a time in contact-id order: each chunk's
deliveries and the cursor past it commit together, so a retried chunk never repeats a device, the segment is never
loaded into memory, and the engine starts sending the first chunk's pushes at the connection's rate while the next
chunks are read.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Account
from config.delivery.services import delivery_announce
from contacts.models import Contact, Segment
from contacts.selectors import segment_contacts
from emails.templating import TemplateVersion
from push.models import PushApp, PushDelivery, PushDevice, PushMessage
from push.services.content import content_of, push_content_render

# A contact's rendered title, body and data, or why it cannot have them.
Rendered = tuple[dict[str, Any] | None, str | None]

# A segment send is a broadcast: it queues behind transactional work (email and pushes to one device or contact).
SEGMENT_PRIORITY = 80


class DuplicateClientPushId(Exception):
    def __init__(self, client_push_id: str, existing_id: Any) -> None:
        super().__init__(f"A push with client_push_id {client_push_id!r} was already accepted.")
        self.existing_id = existing_id


class NotCancellable(Exception):
    pass


@dataclass
class PushDraft:
    """A validated `POST /v1/push` body (push/api/serializers.py), its target already found in the account."""

    title: str
    body: str
    device: PushDevice | None = None
    contact: Contact | None = None
    segment: Segment | None = None
    data: dict[str, Any] = field(default_factory=dict)
    badge: int | None = None
    sound: str = ""
    ttl_seconds: int | None = None
    collapse_key: str = ""
    urgency: str = PushMessage.Urgency.HIGH
    priority: int | None = None
    schedule_send_at: datetime | None = None
    client_push_id: str | None = None
    tags: list[str] = field(default_factory=list)
    template_version: TemplateVersion | None = None
    variables: dict[str, Any] | None = None  # a templated segment push's, rendered again for each contact


def _message_from(account: Account, draft: PushDraft, now: datetime) -> PushMessage:
    target = (
        PushMessage.Target.DEVICE
        if draft.device
        else PushMessage.Target.CONTACT
        if draft.contact
        else PushMessage.Target.SEGMENT
    )
    default_priority = SEGMENT_PRIORITY if target == PushMessage.Target.SEGMENT else 50
    scheduled = PushMessage.Status.SCHEDULED if draft.schedule_send_at else PushMessage.Status.QUEUED
    return PushMessage(
        account=account,
        client_push_id=draft.client_push_id,
        target=target,
        device=draft.device,
        contact=draft.contact or (draft.device.contact if draft.device else None),
        segment=draft.segment,
        title=draft.title,
        body=draft.body,
        data=draft.data,
        template_version=draft.template_version,
        variables=draft.variables,
        badge=draft.badge,
        sound=draft.sound,
        ttl_seconds=draft.ttl_seconds,
        collapse_key=draft.collapse_key,
        urgency=draft.urgency,
        priority=draft.priority or default_priority,
        tags=draft.tags,
        scheduled_for=draft.schedule_send_at,
        send_at=draft.schedule_send_at or now,
        status=PushMessage.Status.FANNING_OUT if target == PushMessage.Target.SEGMENT else scheduled,
        fanout_touched_at=now,
    )


def push_deliveries_for(
    message: PushMessage,
    devices: Sequence[PushDevice],
    apps: dict[Any, PushApp],
    contents: Mapping[Any, Rendered] | None = None,
) -> list[PushDelivery]:
    """A delivery of the message per device, not saved. With `contents` (contact id -> its rendered fields, or why
    it cannot have them), each carries its contact's own title, body and data, or is failed with the reason."""
    waiting = PushDelivery.Status.SCHEDULED if message.scheduled_for else PushDelivery.Status.QUEUED
    rows = []
    for device in devices:
        app = apps[device.app_id]
        delivery = PushDelivery(
            account_id=message.account_id,
            connection_id=app.connection_id,
            message=message,
            device=device,
            app_id=device.app_id,
            contact_id=device.contact_id,
            priority=message.priority,
            send_at=message.send_at,
            status=PushDelivery.Status.HELD if app.is_paused else waiting,
        )
        if contents is not None:  # a contact deleted since its devices were read gets nothing
            delivery.content, problem = contents.get(device.contact_id, (None, "the contact was deleted"))
            if problem:
                delivery.status, delivery.failure_reason = PushDelivery.Status.FAILED, f"not sent: {problem}"
        rows.append(delivery)
    return rows


def push_apps_of(devices: Iterable[PushDevice]) -> dict[Any, PushApp]:
    return {app.pk: app for app in PushApp.objects.filter(pk__in={d.app_id for d in devices})}


def _enqueue(
    message: PushMessage, devices: Sequence[PushDevice], contents: Mapping[Any, Rendered] | None = None
) -> int:
    """Create the deliveries of these devices (once each) and wake the engine; returns how many are new."""
    if not devices:
        return 0
    rows = push_deliveries_for(message, devices, push_apps_of(devices), contents)
    created = PushDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    new = len(created) if transaction.get_connection().vendor != "postgresql" else _inserted(message, rows)
    if not message.scheduled_for:
        delivery_announce(channel="push", connection_ids={row.connection_id for row in rows})
    return new


def _inserted(message: PushMessage, rows: Sequence[PushDelivery]) -> int:
    return PushDelivery.objects.filter(message=message, pk__in=[row.pk for row in rows]).count()


def push_accept(*, account: Account, draft: PushDraft) -> PushMessage:
    """Store the push and its deliveries (or start a segment's fan-out). Raises DuplicateClientPushId (409)."""
    now = timezone.now()
    message = _message_from(account, draft, now)
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            if draft.device is not None:
                message.device_count = _enqueue(message, [draft.device])
            elif draft.contact is not None:
                devices = PushDevice.objects.filter(contact=draft.contact, enabled=True).order_by("created_at")
                message.device_count = _enqueue(message, list(devices))
            else:
                from push.tasks import fanout

                transaction.on_commit(lambda: fanout.delay(str(message.pk)))
            if message.device_count:
                PushMessage.objects.filter(pk=message.pk).update(device_count=message.device_count)
    except IntegrityError:
        existing = PushMessage.objects.filter(account=account, client_push_id=draft.client_push_id).first()
        if existing is None or not draft.client_push_id:
            raise
        raise DuplicateClientPushId(draft.client_push_id, existing.pk) from None
    return message


def push_fanout_step(*, message_id: Any, chunk: int | None = None) -> bool:
    """Fan one chunk of a segment send out to its contacts' enabled devices. Returns True while more remain."""
    chunk = chunk or settings.SESAME_PUSH_FANOUT_CHUNK
    with transaction.atomic():
        message = (
            PushMessage.objects.select_for_update(of=("self",))
            .select_related("segment", "account", "template_version__template")
            .filter(pk=message_id, status=PushMessage.Status.FANNING_OUT)
            .first()
        )
        if message is None:
            return False  # done, cancelled, or another worker holds it
        contact_ids = _next_contacts(message, chunk)
        now = timezone.now()
        if contact_ids:
            devices = list(
                PushDevice.objects.filter(account=message.account, contact_id__in=contact_ids, enabled=True).order_by(
                    "contact_id", "created_at"
                )
            )
            contents = _rendered_per_contact(message, devices) if message.variables is not None else None
            added = _enqueue(message, devices, contents)
            PushMessage.objects.filter(pk=message.pk).update(
                fanout_cursor=contact_ids[-1], fanout_touched_at=now, device_count=F("device_count") + added
            )
        if len(contact_ids) < chunk:
            done = PushMessage.Status.SCHEDULED if message.scheduled_for else PushMessage.Status.QUEUED
            PushMessage.objects.filter(pk=message.pk).update(status=done, fanout_touched_at=now)
            return False
        return True


def _rendered_per_contact(message: PushMessage, devices: Sequence[PushDevice]) -> dict[Any, Rendered]:
    """The push's template rendered for each contact of these devices, with the call's variables and its own."""
    version, variables = message.template_version, message.variables
    assert version is not None and variables is not None  # set together at accept
    base = content_of(message)
    contacts = Contact.objects.in_bulk({device.contact_id for device in devices})
    return {
        pk: push_content_render(version=version, variables=variables, contact=contact, base=base)
        for pk, contact in contacts.items()
    }


def _next_contacts(message: PushMessage, chunk: int) -> list[int]:
    """The next contact ids of the segment past the cursor. Unsubscribed contacts get no broadcast."""
    if message.segment is None:
        return []  # the segment was deleted meanwhile: nothing more to send
    try:
        members = segment_contacts(segment=message.segment)
    except ValidationError:
        return []  # its filters no longer validate (a tag was deleted): stop where it is
    members = members.exclude(status=Contact.Status.UNSUBSCRIBED).filter(pk__gt=message.fanout_cursor)
    return list(members.order_by("pk").values_list("pk", flat=True)[:chunk])


def push_fanouts_stalled(*, older_than: datetime) -> list[Any]:
    """Segment sends whose fan-out task was lost (a broker restart): the sweeper starts them again."""
    return list(
        PushMessage.objects.filter(status=PushMessage.Status.FANNING_OUT, fanout_touched_at__lt=older_than).values_list(
            "pk", flat=True
        )[:1000]
    )


@transaction.atomic
def push_cancel(*, message: PushMessage) -> int:
    """Cancel what has not gone out: waiting and held deliveries, and the rest of a fan-out (one UPDATE, however
    big the segment). Raises NotCancellable when nothing is left to cancel. Returns how many were cancelled."""
    locked = PushMessage.objects.select_for_update().get(pk=message.pk)
    cancelled = PushDelivery.objects.filter(
        message=message, status__in=[*PushDelivery.WAITING, PushDelivery.Status.HELD]
    ).update(status=PushDelivery.Status.CANCELLED, failure_reason="cancelled before sending")
    if not cancelled and locked.status != PushMessage.Status.FANNING_OUT:
        raise NotCancellable("Every delivery of this push has been sent or has failed; nothing is left to cancel.")
    PushMessage.objects.filter(pk=message.pk).update(status=PushMessage.Status.CANCELLED)
    message.status = PushMessage.Status.CANCELLED
    return cancelled
