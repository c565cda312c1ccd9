"""Push as a channel of the delivery engine: the outbox is `PushDelivery` (one row per device), the transport is SNS
mobile push (or the simulator), and a publish costs one rate unit of the connection's push lane."""

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AwsConnection
from config.delivery.channels import Channel, LaneState
from config.delivery.errors import MessageDropped
from push import payloads
from push.models import PushApp, PushConnectionRate, PushDelivery, PushDevice, PushEvent, PushMessage
from push.services.content import content_of
from push.services.health import deliveries_failed, deliveries_sent
from push.transport import OutgoingPush, transport

_TTL = 1.0  # seconds a lane's rate, an app's pause or a message's content may be stale in one process
_CONTENT_CACHE_MAX = 256


class _Cache:
    """A small per-process cache with a time to live, shared by the sender threads."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[Any, tuple[Any, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, load: Any) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        value = load()
        with self._lock:
            if len(self._entries) >= _CONTENT_CACHE_MAX:
                self._entries.clear()
            self._entries[key] = (value, now + self._ttl)
        return value


class PushChannel(Channel):
    name = "push"
    model = PushDelivery
    provider_id_column = "sns_message_id"

    def __init__(self) -> None:
        self._lanes = _Cache(_TTL)
        self._apps = _Cache(_TTL)
        # A segment's thousands of deliveries share one message: its content is read once per process.
        self._contents = _Cache(60.0)

    def lane_state(self, connection: AwsConnection) -> LaneState:
        def load() -> LaneState:
            own = PushConnectionRate.objects.filter(connection_id=connection.pk).first()
            if own is None:
                return LaneState(rate=settings.SESAME_PUSH_SEND_RATE)
            return LaneState(rate=own.rate, held_until=own.held_until)

        state: LaneState = self._lanes.get(connection.pk, load)
        return state

    def prepare(self, connection: AwsConnection, message: Any) -> OutgoingPush:
        app: PushApp = self._apps.get(message.app_id, lambda: PushApp.objects.get(pk=message.app_id))
        if app.is_paused:  # paused after this delivery was claimed: it waits with the app's other held deliveries
            raise MessageDropped(f"the app {app.name!r} is paused", status=PushDelivery.Status.HELD)
        device = PushDevice.objects.filter(pk=message.device_id).values("endpoint_arn", "enabled").first()
        if device is None or not device["enabled"] or not device["endpoint_arn"]:
            raise MessageDropped(
                "DeviceDisabled: the device was disabled after this push was queued", status=PushDelivery.Status.FAILED
            )
        content = self._contents.get(
            message.message_id, lambda: content_of(PushMessage.objects.get(pk=message.message_id))
        )
        if message.content:  # rendered for this delivery's contact (a templated segment push)
            content = replace(content, **message.content)
        return OutgoingPush(
            endpoint_arn=device["endpoint_arn"],
            message=payloads.sns_message(app.platform, content),
            attributes=payloads.sns_attributes(app.platform, content),
        )

    def deliver(self, connection: AwsConnection, message: Any, prepared: OutgoingPush) -> str:
        return transport().publish(connection, prepared)

    def mark_sent(self, sent: Sequence[tuple[Any, str, datetime]]) -> int:
        # One transaction with the contacts' timeline events, so a settle tried again after a failure (the engine's
        # `_settle`) records each delivery's event once.
        with transaction.atomic():
            moved = super().mark_sent(sent)
            deliveries_sent([message for message, _, _ in sent])
        return moved

    def hold(self, connection: AwsConnection, until: datetime) -> None:
        PushConnectionRate.objects.update_or_create(
            connection_id=connection.pk,
            defaults={"held_until": until},
            create_defaults={"held_until": until, "rate": settings.SESAME_PUSH_SEND_RATE},
        )

    def record(self, messages: Iterable[Any], event_type: str, detail: str) -> None:
        messages = list(messages)
        now = timezone.now()
        PushEvent.objects.bulk_create(
            PushEvent(
                account_id=message.account_id,
                delivery_id=message.pk,
                device_id=message.device_id,
                event_type=event_type,
                detail=detail,
                occurred_at=now,
            )
            for message in messages
        )
        if event_type == "failed":
            deliveries_failed(messages, reason=detail)


push_channel = PushChannel()
