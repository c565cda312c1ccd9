"""The engine's periodic work and its doorbell: announce new work, release due work, sweep abandoned claims."""

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from accounts.models import AwsConnection
from config.delivery.channels import Channel, channels, lane_key
from config.delivery.lanes import lanes

logger = logging.getLogger(__name__)

# How far ahead the tick looks for scheduled messages, so a lane can be woken at their exact time.
LOOKAHEAD = timedelta(seconds=1.5)


class _Doorbell:
    """Rings the engine's doorbell from a thread of this process, so an accepting request never waits on Redis
    for it: requests drop their lanes here and go on; the thread kicks whatever gathered while its last kick was
    in flight, in one call. Under load that is one round trip for many requests; when idle, the kick leaves at once.
    A kick lost to a Redis error or an exiting process costs at most one beat tick (a second)."""

    def __init__(self) -> None:
        self._pending: dict[str, int] = {}
        self._busy = False  # a kick is on its way to Redis
        self._wake = threading.Condition()
        self._owner = 0  # the pid whose thread is running (a forked child starts its own)

    def ring(self, wanted: dict[str, int]) -> None:
        with self._wake:
            self._pending.update(wanted)
            if self._owner != os.getpid():
                self._owner = os.getpid()
                threading.Thread(target=self._run, name="sesame-doorbell", daemon=True).start()
            self._wake.notify()

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until every kick rung so far has reached the lanes (a drain starts with this)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while (self._pending or self._busy) and time.monotonic() < deadline:
                self._wake.wait(0.01)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                batch, self._pending, self._busy = self._pending, {}, True
            try:
                lanes().kick(batch)
            except Exception:
                logger.exception("Could not ring the delivery doorbell; the next tick finds the work")
            finally:
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()


_doorbell = _Doorbell()


def delivery_doorbell_flush() -> None:
    """Wait until this process's announced work has reached the lanes."""
    _doorbell.flush()


def _kick(wanted: dict[str, int]) -> None:
    if settings.REDIS_URL:
        _doorbell.ring(wanted)
    else:
        lanes().kick(wanted)  # in process memory: as cheap as handing it over


def delivery_announce(*, channel: str, connection_ids: Iterable[uuid.UUID]) -> None:
    """Tell the engine that these connections have due work, once the current transaction commits."""
    wanted = {lane_key(channel, pk): 0 for pk in connection_ids}
    if wanted:
        transaction.on_commit(lambda: _kick(wanted))


def delivery_tick(*, now: datetime) -> int:
    """Once a second (beat): show due scheduled messages as queued, end quota holds that have passed, and make
    sure every sendable connection (active, of an active account) with work due soon has a lane (so an emptied
    Redis loses nothing, and a reactivated account's held messages go out). Costs one index
    probe per connection that has waiting messages; idle connections cost nothing."""
    AwsConnection.objects.filter(sending_held_until__lte=now).update(sending_held_until=None)
    wanted: dict[str, int] = {}
    for channel in channels():
        try:
            wanted.update(_due_lanes(channel, now))
        except Exception:  # one channel's trouble (a bad row, a missing table) never stops the others' ticks
            logger.exception("The delivery tick of channel %s failed; the other channels went on", channel.name)
    lanes().kick(wanted)
    return len(wanted)


def _due_lanes(channel: Channel, now: datetime) -> dict[str, int]:
    channel.release_due(now=now)
    due = dict(channel.lanes_with_work(until=now + LOOKAHEAD))
    wanted: dict[str, int] = {}
    if due:
        for connection in AwsConnection.objects.filter(pk__in=due, is_active=True, account__status="active"):
            if channel.lane_state(connection).can_send(now):
                wanted[lane_key(channel.name, connection.pk)] = int(due[connection.pk].timestamp() * 1000)
    return wanted


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
