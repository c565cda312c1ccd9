"""Celery tasks of the events app: thin doors that load ids and call services. Each owns its retries."""

import logging
import time

from celery import shared_task
from django.db import transaction

from events import services
from events.services import notifications

logger = logging.getLogger("sesame.events")


@shared_task
def notifications_drain() -> int:
    """Claim stored notifications in account-fair batches and hand them to workers, a few batches out at a time,
    until none wait or the batches out are at their cap (a finished batch nudges again; see services._nudge)."""
    handed_out = 0
    while True:
        ids = services.notifications_claim() if services.batches_room() > 0 else []
        if ids:
            services.notifications_dispatch(ids=ids)
            handed_out += len(ids)
        elif not services.drain_release():
            return handed_out


@shared_task
def notification_process_batch(notification_ids: list[int], batch: str | None = None) -> int:
    """Process a batch in one transaction (one commit instead of one per notification), each notification in its
    own savepoint: a failure rolls back that one only, is counted on it, and is left to the sweeper (once a minute,
    until MAX_ATTEMPTS parks it), so one bad message never holds up the others. A batch from the drain stops after
    BATCH_SECONDS and gives the rest back."""
    done = 0
    failures: list[tuple[int, str]] = []
    deadline = time.monotonic() + notifications.BATCH_SECONDS
    left: list[int] = []
    try:
        with transaction.atomic():
            for index, notification_id in enumerate(notification_ids):
                if batch and index and time.monotonic() > deadline:
                    left = notification_ids[index:]  # out of time: the rest go back to the fair queue
                    break
                try:
                    done += services.notification_process(notification_id=notification_id)
                except Exception as exc:
                    logger.exception("Processing SNS notification %s failed", notification_id)
                    failures.append((notification_id, f"{type(exc).__name__}: {exc}"))
        if left:
            services.notifications_unclaim(ids=left)
        for notification_id, error in failures:
            services.notification_record_failure(notification_id=notification_id, error=error)
    finally:
        services.notifications_batch_done(batch=batch)
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


# Connections per reputation task: a tick over many connections is a few tasks on the shared queue, not a flood of
# one per connection in front of everyone's event processing.
REPUTATION_CHUNK = 50


@shared_task
def reputation_check_chunk(connection_ids: list[str]) -> int:
    """One reputation tick for each of these connections; a failure is logged and left to the next tick (a minute
    later), so one connection's trouble never holds up the others'."""
    checked = 0
    for connection_id in connection_ids:
        try:
            services.reputation_check(connection_id=connection_id)
            checked += 1
        except Exception:
            logger.exception("Reputation check of connection %s failed", connection_id)
    return checked


@shared_task
def reputation_check_all() -> int:
    """Beat: one reputation tick for every connection that is active or not yet healthy."""
    connection_ids = [str(connection_id) for connection_id in services.connections_to_check()]
    for start in range(0, len(connection_ids), REPUTATION_CHUNK):
        reputation_check_chunk.delay(connection_ids[start : start + REPUTATION_CHUNK])
    return len(connection_ids)


@shared_task
def webhook_deliveries_drain() -> int:
    """Attempt due webhook deliveries, fairly across accounts, for a few seconds; then hand over to a fresh task
    while work remains (one at a time: see services.webhook_drain_nudge)."""
    attempted = services.webhook_deliveries_drain()
    if services.webhook_drain_handover(attempted=attempted):
        webhook_deliveries_drain.delay()
    return attempted


@shared_task
def webhook_deliver_task(delivery_id: str) -> str | None:
    """Kept for tasks queued before the drain existed: such a delivery is simply left to the drain."""
    services.webhook_drain_nudge()
    return None


@shared_task
def webhook_deliveries_sweep() -> int:
    """Beat: give up on deliveries past their retry window, and wake the drain when backed-off endpoints fall due."""
    return services.webhook_deliveries_sweep()


@shared_task
def rollups_compact() -> int:
    """Beat: fold the events path's rollup increments into the hourly and daily rows the dashboards read."""
    return services.rollups_compact()


@shared_task
def rollups_prune() -> int:
    """Beat: drop hourly rollups older than the hourly charts show."""
    return services.rollups_prune()


@shared_task
def billing_alerts_send() -> int:
    """Beat: email the owner and emit the webhook event for each usage alert billing recorded."""
    return services.billing_alerts_send()


@shared_task
def automation_runs_release() -> int:
    """Beat, every second: take due runs through their steps for up to a second (several at once are fine: each
    run is taken with SKIP LOCKED)."""
    from events.automations.runner import runs_release

    return runs_release(seconds=1.0)


@shared_task
def automation_segments_check() -> int:
    """Beat, every minute: enrol contacts that entered the segments of segment-triggered automations."""
    from events.automations.services import segment_automation_ids, segment_entries_check

    return sum(segment_entries_check(automation_id=pk) for pk in segment_automation_ids())
