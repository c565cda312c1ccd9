"""Broadcast tasks: thin doors to the services. Every one is safe to run twice or concurrently (row locks)."""

import time

from celery import shared_task
from django.utils import timezone

from events.broadcasts import services

# A feed task tops up its broadcast for at most this long, then leaves the worker to others (beat feeds again).
FEED_SECONDS = 20.0


@shared_task(acks_late=True)
def broadcast_start(broadcast_id: str) -> bool:
    started = services.broadcast_start(broadcast_id=broadcast_id, now=timezone.now())
    return started


@shared_task(acks_late=True)
def broadcast_feed(broadcast_id: str) -> int:
    deadline, steps = time.monotonic() + FEED_SECONDS, 0
    while services.broadcast_feed_step(broadcast_id=broadcast_id, now=timezone.now()):
        steps += 1
        if time.monotonic() > deadline:
            break
    return steps


@shared_task
def broadcasts_tick() -> int:
    """Beat: start broadcasts that fell due, and feed those sending (their tasks may have been lost)."""
    due, sending = services.broadcasts_due(now=timezone.now())
    for broadcast_id in due:
        broadcast_start.apply_async(args=(str(broadcast_id),), expires=10)
    for broadcast_id in sending:
        broadcast_feed.apply_async(args=(str(broadcast_id),), expires=10)
    return len(due) + len(sending)
