"""Celery doors into the email pipeline. Tasks take ids, call services, and never raise into the worker."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from accounts.models import AwsConnection
from emails import services
from emails.dispatch import Dispatcher
from emails.dispatch_kick import kick, leases, new_owner
from emails.models import Email

logger = logging.getLogger(__name__)

# How far ahead the once-a-second tick looks for scheduled emails, so it can wake a dispatcher at their exact time.
_LOOKAHEAD = timedelta(seconds=1.5)


@shared_task(acks_late=True, ignore_result=True)
def dispatch_connection(connection_id: str) -> None:
    more = Dispatcher(connection_id).run(max_seconds=settings.SESAME_DISPATCH_MAX_SECONDS)
    if more:  # yield the worker slot now and then; the next run picks up where this one stopped
        dispatch_connection.delay(connection_id)


@shared_task(ignore_result=True)
def tick() -> None:
    """Once a second: release due scheduled emails and make sure every connection with due work is sending."""
    now = timezone.now()
    services.email_release_due(now=now)
    AwsConnection.objects.filter(sending_held_until__lte=now).update(sending_held_until=None)
    for connection_id in AwsConnection.objects.filter(is_active=True, send_rate_factor__gt=0).values_list(
        "pk", flat=True
    ):
        waiting = Email.objects.filter(connection_id=connection_id, status__in=Email.WAITING)
        if waiting.filter(send_at__lte=now).exists():
            kick(connection_id)
            continue
        upcoming = waiting.filter(send_at__lte=now + _LOOKAHEAD).aggregate(first=Min("send_at"))["first"]
        if upcoming is not None and leases().acquire(f"eta:{connection_id}:{upcoming.timestamp()}", new_owner(), 5):
            dispatch_connection.apply_async(args=(str(connection_id),), eta=upcoming)


@shared_task(ignore_result=True)
def sweep_stale_sending() -> None:
    stale_before = timezone.now() - timedelta(seconds=settings.SESAME_SENDING_STALE_AFTER)
    count = services.email_requeue_stale(claimed_before=stale_before)
    if count:
        logger.warning("re-queued %d emails left in `sending` by a stopped worker", count)


@shared_task(ignore_result=True)
def refresh_send_quotas() -> None:
    for connection in AwsConnection.objects.filter(is_active=True).select_related("account"):
        services.connection_refresh_send_quota(connection=connection)


@shared_task(ignore_result=True)
def refresh_identities() -> None:
    for connection in AwsConnection.objects.filter(is_active=True, identities__isnull=False).distinct():
        services.identity_refresh(connection=connection)


@shared_task(ignore_result=True)
def prune_email_bodies() -> None:
    services.email_bodies_prune()


@shared_task(ignore_result=True)
def simulate_mailbox_events(message_id: str) -> None:
    from emails.simulator import simulator_play_events

    simulator_play_events(message_id=message_id)
