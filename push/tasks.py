"""Celery tasks of push: thin doors that take ids and call services."""

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from config.delivery.errors import TransportError
from push import services
from push.models import PushApp, PushDevice
from push.transport import transport

logger = logging.getLogger("sesame.push")

# A fan-out task works this long, then hands over to a fresh task so other work on the queue gets a worker.
FANOUT_SECONDS = 2.0
# A fan-out untouched this long lost its task: the sweeper starts it again.
FANOUT_STALE_SECONDS = 60


@shared_task(ignore_result=True)
def fanout(message_id: str) -> None:
    deadline = time.monotonic() + FANOUT_SECONDS
    while services.push_fanout_step(message_id=message_id):
        if time.monotonic() > deadline:
            fanout.delay(message_id)
            return


@shared_task(ignore_result=True)
def fanouts_sweep() -> int:
    """Beat: restart segment fan-outs whose task a broker restart lost (a chunk never repeats, see services)."""
    stalled = services.push_fanouts_stalled(older_than=timezone.now() - timedelta(seconds=FANOUT_STALE_SECONDS))
    for message_id in stalled:
        fanout.delay(str(message_id))
    return len(stalled)


@shared_task(ignore_result=True)
def endpoints_enable(app_id: str) -> int:
    """After a resume: enable again in SNS the endpoints it disabled while the app was broken (their devices were
    kept enabled by the broken-app guard)."""
    app = PushApp.objects.select_related("connection").filter(pk=app_id).first()
    if app is None or app.is_paused:
        return 0
    done = 0
    while True:
        batch = list(PushDevice.objects.filter(app=app, endpoint_needs_enable=True).order_by("pk")[:500])
        if not batch:
            return done
        for device in batch:
            try:
                if device.endpoint_arn:
                    transport().endpoint_set(app.connection, device.endpoint_arn, enabled=True)
            except TransportError as error:  # gone meanwhile: its next registration creates a new endpoint
                logger.warning("could not enable endpoint of device %s: %s", device.pk, error.reason)
            PushDevice.objects.filter(pk=device.pk).update(endpoint_needs_enable=False)
            done += 1
