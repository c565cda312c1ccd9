"""Celery tasks of the events app: thin doors that load ids and call services. Each owns its retries."""

import logging
from typing import Any

from celery import shared_task
from django.db import transaction

from events import services

logger = logging.getLogger("sesame.events")


@shared_task
def notifications_drain() -> int:
    """Claim stored notifications and hand them to workers in batches, until none wait (see services._nudge)."""
    handed_out = 0
    while True:
        ids = services.notifications_claim()
        if ids:
            services.notifications_dispatch(ids=ids)
            handed_out += len(ids)
        elif not services.drain_release():
            return handed_out


@shared_task
def notification_process_batch(notification_ids: list[int]) -> int:
    """Process a batch in one transaction (one commit instead of one per notification), each notification in its
    own savepoint: a failure rolls back that one only, is counted on it, and is left to the sweeper (once a minute,
    until MAX_ATTEMPTS parks it), so one bad message never holds up the others."""
    done = 0
    failures: list[tuple[int, str]] = []
    with transaction.atomic():
        for notification_id in notification_ids:
            try:
                done += services.notification_process(notification_id=notification_id)
            except Exception as exc:
                logger.exception("Processing SNS notification %s failed", notification_id)
                failures.append((notification_id, f"{type(exc).__name__}: {exc}"))
    for notification_id, error in failures:
        services.notification_record_failure(notification_id=notification_id, error=error)
    return done


@shared_task
def notifications_sweep() -> int:
    """Beat: hand out again notifications a lost task, a crashed worker or an error left unprocessed."""
    return services.notifications_sweep()


@shared_task
def orphan_events_adopt() -> int:
    """Beat: attach events that arrived before their email's SES message id was committed."""
    return services.orphan_events_adopt()


@shared_task
def email_events_adopt(email_id: str) -> int:
    """For the email pipeline to enqueue right after it commits an email's SES message id."""
    return services.email_events_adopt(email_id=email_id)


@shared_task
def simulate_mailbox_events(message_id: str) -> int:
    """The local SES simulator's events for one sent message; its transport sends this by name, a second later."""
    return services.simulator_play_events(message_id=message_id)


@shared_task(bind=True, max_retries=3)
def reputation_check_task(self: Any, connection_id: str) -> str:
    try:
        return str(services.reputation_check(connection_id=connection_id).state)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=30) from exc


@shared_task
def reputation_check_all() -> int:
    """Beat: one reputation tick for every connection that is active or not yet healthy."""
    connection_ids = services.connections_to_check()
    for connection_id in connection_ids:
        reputation_check_task.delay(str(connection_id))
    return len(connection_ids)


@shared_task
def webhook_deliver_task(delivery_id: str) -> str | None:
    delivery = services.webhook_deliver(delivery_id=delivery_id)
    return str(delivery.status) if delivery else None


@shared_task
def webhook_deliveries_sweep() -> int:
    """Beat: start every delivery whose next attempt is due (first attempts are enqueued at once)."""
    due = services.webhook_deliveries_due()
    for delivery_id in due:
        webhook_deliver_task.delay(delivery_id)
    return len(due)
