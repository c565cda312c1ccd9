"""Pushes that Sesame renders itself for many contacts (broadcasts): one push per contact, as `POST /v1/push` to a
contact makes (`target` contact, one delivery per enabled device), stored in batches under a `client_push_id` each,
so a batch stored twice stores nothing twice; and taken back while none of their deliveries has been claimed.

Push has no quota at accept (sends are counted once sent), so there is none to reserve here.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from config.delivery.batches import withdrawn_client_id
from config.delivery.channels import channel_named
from config.delivery.rows import outbox_store_new
from config.delivery.services import delivery_announce
from contacts.models import Contact
from emails.templating import TemplateVersion
from push.models import PushDelivery, PushDevice, PushMessage
from push.services.sending import push_apps_of, push_deliveries_for

# A push whose deliveries are all still here was never handed to a sender.
_UNCLAIMED = (*PushDelivery.WAITING, PushDelivery.Status.HELD)


@dataclass(frozen=True)
class BulkPush:
    client_push_id: str
    contact: Contact
    title: str
    body: str
    data: dict[str, Any]


@dataclass(frozen=True)
class BulkPushSender:
    """What every push of one bulk send shares."""

    account: Account
    priority: int
    tags: list[str]
    template_version: TemplateVersion | None


def pushes_enqueue_bulk(*, sender: BulkPushSender, items: Sequence[BulkPush]) -> dict[str, uuid.UUID | None]:
    """Store one push per item, to its contact's enabled devices, in the caller's transaction. Returns
    client_push_id -> push id for every item: the new push's, the one that already held that client_push_id, or
    None when the contact has no enabled device (nothing is stored for it)."""
    if not items:
        return {}
    now = timezone.now()
    devices: dict[Any, list[PushDevice]] = {}
    found = PushDevice.objects.filter(
        account=sender.account, contact_id__in=[item.contact.pk for item in items], enabled=True
    ).order_by("contact_id", "created_at")
    for device in found:
        devices.setdefault(device.contact_id, []).append(device)
    rows = [
        PushMessage(
            account=sender.account,
            client_push_id=item.client_push_id,
            target=PushMessage.Target.CONTACT,
            contact=item.contact,
            title=item.title,
            body=item.body,
            data=item.data,
            template_version=sender.template_version,
            priority=sender.priority,
            tags=sender.tags,
            send_at=now,
            status=PushMessage.Status.QUEUED,
            fanout_touched_at=now,
            device_count=len(devices[item.contact.pk]),
        )
        for item in items
        if item.contact.pk in devices
    ]
    with transaction.atomic():
        kept, holders = outbox_store_new(rows, account_id=sender.account.pk, client_id_field="client_push_id")
        reached = [device for message in kept for device in devices[message.contact_id]]
        apps = push_apps_of(reached)
        deliveries = [
            delivery for message in kept for delivery in push_deliveries_for(message, devices[message.contact_id], apps)
        ]
        PushDelivery.objects.bulk_create(deliveries)  # new pushes: every delivery is new
        delivery_announce(channel="push", connection_ids={delivery.connection_id for delivery in deliveries})
    stored: dict[str, uuid.UUID | None] = {message.client_push_id: message.pk for message in kept}
    return {item.client_push_id: stored.get(item.client_push_id) or holders.get(item.client_push_id) for item in items}


def pushes_withdraw(*, message_ids: Sequence[Any], reason: str) -> set[uuid.UUID]:
    """Cancel those of these pushes none of whose deliveries a sender has claimed, in the caller's transaction;
    returns their ids. Their client_push_id gets a suffix, so the same item can be stored again later. A push with
    a delivery claimed meanwhile (the lock below waits for the claim) stays whole: its other devices still get it,
    so a contact never has a push half taken back."""
    if not message_ids:
        return set()
    with transaction.atomic():
        deliveries = list(
            PushDelivery.objects.select_for_update()
            .filter(message_id__in=list(message_ids))
            .only("pk", "account_id", "message_id", "device_id", "status")
        )
        claimed = {d.message_id for d in deliveries if d.status not in _UNCLAIMED}
        withdrawn = {d.message_id for d in deliveries} - claimed
        taken = [d for d in deliveries if d.message_id in withdrawn]
        PushDelivery.objects.filter(pk__in=[d.pk for d in taken]).update(
            status=PushDelivery.Status.CANCELLED, failure_reason=reason
        )
        PushMessage.objects.filter(pk__in=withdrawn).update(
            status=PushMessage.Status.CANCELLED,
            client_push_id=withdrawn_client_id("client_push_id"),
        )
        channel_named("push").record(taken, "cancelled", reason)
    return withdrawn
