"""The engine's periodic work and its doorbell: announce new work, release due work, sweep abandoned claims."""

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from accounts.models import AwsConnection
from config.delivery.channels import channels, lane_key
from config.delivery.lanes import lanes

logger = logging.getLogger(__name__)

# How far ahead the tick looks for scheduled messages, so a lane can be woken at their exact time.
LOOKAHEAD = timedelta(seconds=1.5)


def delivery_announce(*, channel: str, connection_ids: Iterable[uuid.UUID]) -> None:
    """Tell the engine that these connections have due work, once the current transaction commits."""
    wanted = {lane_key(channel, pk): 0 for pk in connection_ids}
    if wanted:
        transaction.on_commit(lambda: lanes().kick(wanted))


def delivery_tick(*, now: datetime) -> int:
    """Once a second (beat): show due scheduled messages as queued, end quota holds that have passed, and make
    sure every sendable connection (active, of an active account) with work due soon has a lane (so an emptied
    Redis loses nothing, and a reactivated account's held messages go out). Costs one index
    probe per connection that has waiting messages; idle connections cost nothing."""
    AwsConnection.objects.filter(sending_held_until__lte=now).update(sending_held_until=None)
    wanted: dict[str, int] = {}
    for channel in channels():
        channel.release_due(now=now)
        due = dict(channel.lanes_with_work(until=now + LOOKAHEAD))
        if not due:
            continue
        for connection in AwsConnection.objects.filter(pk__in=due, is_active=True, account__status="active"):
            if channel.lane_state(connection).can_send(now):
                wanted[lane_key(channel.name, connection.pk)] = int(due[connection.pk].timestamp() * 1000)
    lanes().kick(wanted)
    return len(wanted)


def delivery_sweep(*, now: datetime) -> int:
    """Messages a stopped worker left in `sending` go back to the queue, or fail once they used up their attempts
    (so a message that kills its sender every time cannot circulate for ever)."""
    claimed_before = now - timedelta(seconds=settings.SESAME_SENDING_STALE_AFTER)
    cap = settings.SESAME_MAX_SEND_ATTEMPTS
    moved = 0
    for channel in channels():
        stale = channel.stale_sending(claimed_before=claimed_before)
        if not stale:
            continue
        spent = [row for row in stale if row.attempts >= cap]
        retry = [row for row in stale if row.attempts < cap]
        if spent:
            moved += channel.fail_stale(
                spent,
                claimed_before=claimed_before,
                reason=f"gave up after {cap} attempts: the worker sending it stopped each time",
            )
        if retry:
            moved += channel.requeue_stale(retry, claimed_before=claimed_before)
            lanes().kick({lane_key(channel.name, pk): 0 for pk in {row.connection_id for row in retry}})
        logger.warning("%s: %d messages left in `sending` by a stopped worker", channel.name, len(stale))
    return moved
