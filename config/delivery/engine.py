"""The delivery engine of one worker process: a feeder that claims, and sender threads that send.

The feeder takes the lane (channel + connection) that has waited longest among those due (config/delivery/lanes.py),
claims as many of its messages as the lane's send bucket and this process's free senders allow, in exact
(priority, due time) order, releases the lane and hands the messages to the senders. Sender threads overlap the
provider's latency; the bucket keeps every connection at or under its rate across all processes and hosts. An
idle connection has no lane, so it costs no thread, no task and no query.

Nothing is lost: Postgres holds every message, a message is only ever moved to `sending` by the claim, and the
sweeper (config/delivery/sweeps.py) re-queues what a killed process left in `sending`.

Sent messages are settled by one settler thread per process, which moves everything sent in the last few
milliseconds to `sent` in one UPDATE (a commit per message would cost more database time than the send itself).

The one duplicate window: a process dying after the provider accepted a message and before its `sent` UPDATE
commits. The row stays `sending`, the sweeper re-queues it after SESAME_SENDING_STALE_AFTER seconds, and that
message goes out twice. The window is at most SETTLE_EVERY plus one UPDATE round trip (about 20 ms). A settle that
fails while the process lives (a dropped connection, a deadlock) is tried again for about 15 seconds before its
rows are left to the sweeper: they went out, and the sweeper would send them again.
"""

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.db import connection as db
from django.utils import timezone

from accounts import aws
from accounts.models import AwsConnection
from config.delivery.channels import Channel, lane_parts
from config.delivery.errors import FailureKind, MessageDropped, TransportError
from config.delivery.lanes import Lanes, Taken, lanes, window_for
from config.delivery.services import delivery_doorbell_flush

logger = logging.getLogger(__name__)

_STATE_TTL = 1.0  # how stale a connection's rate, pause or hold may be in one process
_MAX_BACKOFF_STEPS = 9  # throttling backs a lane off 0.01, 0.02 ... 2.56 seconds
# Seconds a sent message may wait for its `sent` UPDATE: at 500/s, 20 ms makes groups of about five per process,
# which costs the worker and PostgreSQL 0.15 ms less per email than 5 ms did (bench/README.md).
SETTLE_EVERY = 0.02
# Pauses between the tries of a settle that failed (about 15 s in all). Its senders' slots stay taken meanwhile, and
# so do those of the sends that queue behind it, so a process whose database fails soon stops claiming rather than
# piling up sent messages it cannot record.
SETTLE_RETRY_PAUSES = (0.1, 0.5, 2.0, 5.0, 8.0)
STAMP_EVERY = 0.002  # seconds a send's bucket stamp may wait (late is the safe side: see _stamp_loop)


@dataclass
class Job:
    lane: str
    channel: Channel
    connection: AwsConnection
    message: Any
    units: list[str]  # the send-bucket units reserved for it, stamped right before the provider call
    not_before: float  # time.monotonic() when its units have room (see LOOKAHEAD_MS)


class ConnectionCache:
    """Active connections by id, re-read at most once a second per process."""

    def __init__(self) -> None:
        self._entries: dict[uuid.UUID, tuple[AwsConnection | None, float]] = {}

    def get(self, pk: uuid.UUID) -> AwsConnection | None:
        entry = self._entries.get(pk)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        found = AwsConnection.objects.select_related("account").filter(pk=pk, is_active=True).first()
        self._entries[pk] = (found, time.monotonic() + _STATE_TTL)
        return found

    def forget(self, pk: uuid.UUID) -> None:
        self._entries.pop(pk, None)


class Engine:
    def __init__(self, *, senders: int | None = None, store: Lanes | None = None) -> None:
        self.senders = senders or settings.SESAME_ENGINE_SENDERS
        self.lanes = store or lanes()
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._settle: queue.SimpleQueue[tuple[Job, str, datetime] | None] = queue.SimpleQueue()
        self._stamps: queue.SimpleQueue[tuple[str, list[str]] | None] = queue.SimpleQueue()
        self._slots = threading.Condition()
        self._in_flight = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections = ConnectionCache()
        self._rates: dict[str, float] = {}  # the rate this process last published per lane
        self._throttles: dict[str, int] = {}
        self.sent = 0

    # -- life cycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._feed, name="delivery-feeder", daemon=True)]
        self._settler = threading.Thread(target=self._settle_loop, name="delivery-settler", daemon=True)
        self._settler.start()
        self._stamper = threading.Thread(target=self._stamp_loop, name="delivery-stamper", daemon=True)
        self._stamper.start()
        self._threads += [
            threading.Thread(target=self._send_loop, name=f"delivery-sender-{i}", daemon=True)
            for i in range(self.senders)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop claiming, send what is already claimed, then end the threads."""
        self._stopping.set()
        with self._slots:
            self._slots.notify_all()
        deadline = time.monotonic() + timeout
        self._threads[0].join(timeout)
        for _ in self._threads[1:]:
            self._jobs.put(None)
        for thread in self._threads[1:]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._settle.put(None)
        self._stamps.put(None)
        self._settler.join(max(0.0, deadline - time.monotonic()))
        self._stamper.join(max(0.0, deadline - time.monotonic()))

    def drain(self, timeout: float = 30.0) -> bool:
        """Run until no lane has work and nothing is in flight: for tests, benchmarks and commands."""
        delivery_doorbell_flush()  # work this process announced is in the lanes before "no lane has work" counts
        self.start()
        deadline = time.monotonic() + timeout
        try:
            quiet_since = None
            while time.monotonic() < deadline:
                if self.lanes.idle() and self._in_flight == 0:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > 0.1:
                        return True
                else:
                    quiet_since = None
                time.sleep(0.02)
            return False
        finally:
            self.stop()

    # -- the feeder -----------------------------------------------------------------------------------------

    def _free_slots(self) -> int:
        """Wait until at least half the senders are free: a claim then takes a block of messages, and its fixed
        costs (two Redis scripts, a statement, a settle UPDATE) are shared by many sends, not paid for one or two."""
        with self._slots:
            while self._in_flight > self.senders // 2 and not self._stopping.is_set():
                self._slots.wait(0.5)
            return self.senders - self._in_flight

    def _feed(self) -> None:
        while not self._stopping.is_set():
            free_slots = self._free_slots()
            if self._stopping.is_set():
                break
            try:
                taken = self.lanes.take()
                if not taken.lane:
                    self.lanes.wait_for_work(1.0 if taken.wait_ms < 0 else taken.wait_ms / 1000)
                    continue
                self._serve(taken, free_slots)
            except Exception:  # the database or Redis went away: log, let Django reconnect, go on
                logger.exception("delivery feeder error; retrying in a second")
                close_old_connections()
                self._stopping.wait(1.0)
        db.close()

    def _serve(self, taken: Taken, free_slots: int) -> None:
        parts = lane_parts(taken.lane)
        connection = self._connections.get(parts[1]) if parts else None
        now = datetime.fromtimestamp(taken.now_ms / 1000, tz=UTC)
        if parts is None or connection is None or not connection.account.is_active:
            # Gone, deactivated or suspended: the messages wait; the tick brings the lane back on reactivation.
            self.lanes.release(taken, consumed=0, drained=True, remove=True)
            return
        channel = parts[0]
        state = channel.lane_state(connection)
        if not state.can_send(now):
            # Paused or held: beat's tick brings the lane back once the connection may send again.
            self.lanes.release(taken, consumed=0, drained=True, remove=True)
            return
        free = taken.free
        if self._rates.get(taken.lane) != state.rate or free < 0:
            self.lanes.set_rate(taken.lane, state.rate)
            self._rates[taken.lane] = state.rate
            free = self.lanes.free(taken.lane)
        capacity = window_for(state.rate)[0]
        limit = min(free, free_slots, settings.SESAME_ENGINE_MAX_BATCH)
        if limit <= 0:
            self.lanes.release(taken, consumed=0, drained=False)
            return
        try:
            messages = channel.claim(connection_id=connection.pk, now=now, limit=limit, budget=free, capacity=capacity)
        except Exception:
            self.lanes.release(taken, consumed=0, drained=False)
            raise
        costs = [min(message.cost, capacity) for message in messages]
        try:
            reserved = self.lanes.release(taken, consumed=sum(costs), drained=not messages)
        except Exception:
            # No units reserved (Redis failed): sending would risk the rate, and leaving the messages `sending`
            # would hold them until the sweeper. Put them back, and give the lane back if Redis answers again.
            channel.requeue(messages)
            with contextlib.suppress(Exception):
                self.lanes.release(taken, consumed=0, drained=False)
            raise
        released_at, first = time.monotonic(), 0
        with self._slots:
            self._in_flight += len(messages)
        for message, cost in zip(messages, costs, strict=True):
            own = slice(first, first + cost)
            not_before = released_at + max(reserved.waits_ms[own], default=0) / 1000
            self._jobs.put(Job(taken.lane, channel, connection, message, reserved.units[own], not_before))
            first += cost

    # -- the senders ----------------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            handed_on = False
            try:
                handed_on = self._send(job)
            except Exception:  # recording a failure failed (database gone): the sweeper re-queues the row later
                logger.exception("delivery sender error on %s", job.lane)
                close_old_connections()
            if not handed_on:
                self._release_slot()
        db.close()

    def _release_slot(self) -> None:
        with self._slots:
            self._in_flight -= 1
            self._slots.notify()

    def _settle_loop(self) -> None:
        """Move sent messages to `sent`, SETTLE_EVERY's worth per UPDATE."""
        for batch in _batches(self._settle, SETTLE_EVERY):
            by_channel: dict[Channel, list[tuple[Any, str, datetime]]] = {}
            for job, provider_id, sent_at in batch:
                by_channel.setdefault(job.channel, []).append((job.message, provider_id, sent_at))
            try:
                for channel, sent in by_channel.items():
                    _settle(channel, sent)
            finally:
                for job, _, _ in batch:
                    self._throttles.pop(job.lane, None)
                    self._release_slot()
        db.close()

    def _stamp_loop(self) -> None:
        """Tell the send buckets which reserved units went out, a couple of milliseconds' worth per lane and call.
        Until stamped, a unit counts as used at its reservation's far end (lanes.PENDING_MS), and a stamp records
        the flush's moment, after the real one: both err towards sending slower, never faster."""
        for batch in _batches(self._stamps, STAMP_EVERY):
            by_lane: dict[str, list[str]] = {}
            for lane, units in batch:
                by_lane.setdefault(lane, []).extend(units)
            try:
                for lane, units in by_lane.items():
                    self.lanes.stamp(lane, units)
            except Exception:  # Redis went away: the units expire with their reservation
                logger.exception("could not stamp %d sends", len(batch))

    def _send(self, job: Job) -> bool:
        """Send one message; True when it went out and was handed to the settler (which frees its slot)."""
        channel, message = job.channel, job.message
        try:
            prepared = channel.prepare(job.connection, message)
        except MessageDropped as drop:  # policy keeps it from the provider: settle it, give its room back
            self.lanes.unreserve(job.lane, job.units)
            channel.mark_dropped(message, drop.status, drop.reason)
            return False
        except Exception as exc:  # this message can never be built: fail it, never retry it, give its room back
            logger.exception("could not build %s message %s", channel.name, message.pk)
            self.lanes.unreserve(job.lane, job.units)
            channel.mark_failed(message, f"could not build the message: {type(exc).__name__}: {exc}")
            return False
        early = job.not_before - time.monotonic()
        if early > 0:
            time.sleep(early)
        stamped = False

        def stamp() -> None:  # the bucket records the moment the provider is called, not the claim's
            nonlocal stamped
            stamped = True
            self._stamps.put((job.lane, job.units))

        try:
            with aws.on_request_sent(stamp):
                try:
                    provider_id = channel.deliver(job.connection, message, prepared)
                finally:
                    if not stamped:  # a transport that made no HTTP call (the simulator): late is the safe side
                        stamp()
        except TransportError as error:
            self._failed(job, error)
            return False
        except Exception as exc:  # an unexpected library error: retried like a passing fault, within the cap
            logger.exception("unexpected error sending %s message %s", channel.name, message.pk)
            self._failed(job, TransportError(FailureKind.TRANSIENT, f"{type(exc).__name__}: {exc}"))
            return False
        self.sent += 1
        self._settle.put((job, provider_id, timezone.now()))
        return True

    def _failed(self, job: Job, error: TransportError) -> None:
        channel, message = job.channel, job.message
        if error.kind is FailureKind.PERMANENT:
            channel.mark_failed(message, error.reason)
        elif error.kind is FailureKind.QUOTA:
            until = timezone.now() + timedelta(seconds=settings.SESAME_QUOTA_HOLD_SECONDS)
            channel.hold(job.connection, until)
            self._connections.forget(job.connection.pk)
            channel.requeue([message])
            channel.record([message], "held", f"daily quota reached; sending resumes after {until.isoformat()}")
        elif error.kind is FailureKind.TRANSIENT and message.attempts >= settings.SESAME_MAX_SEND_ATTEMPTS:
            channel.mark_failed(message, f"gave up after {message.attempts} attempts: {error.reason}")
        else:
            # Throttling or a passing fault: the whole lane backs off (the provider's limit is per account).
            channel.requeue([message])
            steps = min(self._throttles.get(job.lane, 0) + 1, _MAX_BACKOFF_STEPS)
            self._throttles[job.lane] = steps
            self.lanes.hold(job.lane, int(5 * 2**steps))
            logger.warning("%s %s on %s; backing off: %s", channel.name, error.kind.value, job.lane, error.reason)


def _settle(channel: Channel, sent: list[tuple[Any, str, datetime]]) -> None:
    """`channel.mark_sent(sent)`, tried again after SETTLE_RETRY_PAUSES when it fails (it moves only rows still
    `sending`, so a try that half succeeded is safe to repeat). After the last try the rows stay `sending` for the
    sweeper, which re-queues them: those messages go out twice."""
    for pause in (*SETTLE_RETRY_PAUSES, None):
        try:
            channel.mark_sent(sent)
            return
        except Exception:
            close_old_connections()  # a broken connection is replaced at the next query
            if pause is None:
                logger.exception("could not record %d sent %s messages; the sweeper re-queues them", len(sent),
                                 channel.name)  # fmt: skip
                return
            logger.warning("could not record %d sent %s messages; trying again in %s s", len(sent), channel.name,
                           pause, exc_info=True)  # fmt: skip
            time.sleep(pause)


def _batches(source: "queue.SimpleQueue[Any]", every: float) -> Iterator[list[Any]]:
    """What arrives on `source` in windows of `every` seconds from each window's first item, until a None."""
    while True:
        first = source.get()
        if first is None:
            return
        batch, deadline = [first], time.monotonic() + every
        while (left := deadline - time.monotonic()) > 0:
            try:
                item = source.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                yield batch
                return
            batch.append(item)
        yield batch
