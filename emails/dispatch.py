"""Dispatch: claim due emails strictly by priority, pace them through the connection's send bucket, send.

One dispatcher runs per lease slot of a connection (SESAME_DISPATCHERS_PER_CONNECTION, across all workers), with
SESAME_DISPATCH_THREADS threads so SES latency overlaps. Each thread takes one grant from the bucket *before*
claiming, and claims one email at a time: nothing is held back in a local buffer, so an email accepted now
with priority 1 is the very next one claimed.

The one duplicate window: a crash after SES accepted a message and before the `sent` UPDATE commits. The row
stays `sending` and the sweeper re-queues it after SESAME_SENDING_STALE_AFTER seconds, so that message would
go out twice. The window is one round trip to the database.
"""

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import AwsConnection
from emails.addresses import parse_address
from emails.bucket import send_bucket
from emails.dispatch_kick import leases, new_owner
from emails.mime import build_mime
from emails.models import Email
from emails.transport import FailureKind, OutgoingMessage, TransportError, transport
from events.models import EmailEvent

logger = logging.getLogger(__name__)

_TAG_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_LEASE_TTL = 30.0


def ses_tags(tags: list[str]) -> dict[str, str]:
    """SES message tags allow only letters, digits, '_' and '-' (at most 256 characters)."""
    return {_TAG_CHARS.sub("_", tag)[:256]: "true" for tag in tags}


_CLAIM_SQL = """
UPDATE emails_email SET status = 'sending', claimed_at = statement_timestamp(), attempts = attempts + 1
WHERE id = (
    SELECT id FROM emails_email
    WHERE connection_id = %s AND status IN ('scheduled', 'queued') AND send_at <= %s
    ORDER BY priority, send_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *
"""


def claim_next(connection_id: uuid.UUID, now: datetime) -> Email | None:
    """Move the most urgent due email of this connection to `sending`, or return None."""
    if connection.vendor == "postgresql":
        # One round trip: the row is locked, skipped by other claimers, updated and returned in one statement.
        # claimed_at is the statement's start, the moment of the snapshot the choice was made from.
        claimed = list(Email.objects.raw(_CLAIM_SQL, [connection_id, now]))
        return claimed[0] if claimed else None
    with transaction.atomic():  # SQLite: a single writer at a time, so a conditional UPDATE is enough
        email = (
            Email.objects.filter(connection_id=connection_id, status__in=Email.WAITING, send_at__lte=now)
            .order_by("priority", "send_at")
            .first()
        )
        if email is None:
            return None
        if not Email.objects.filter(pk=email.pk, status__in=Email.WAITING).update(
            status=Email.Status.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
        ):
            return None
    email.status = Email.Status.SENDING
    email.attempts += 1
    return email


def destinations(email: Email) -> list[str]:
    dropped = {item["address"].lower() for item in email.dropped_recipients}
    addresses = [parse_address(value).email for value in email.recipients]
    return [address for address in addresses if address.lower() not in dropped]


def _timeline(email: Email, event_type: str, detail: str) -> None:
    EmailEvent.objects.create(
        account_id=email.account_id,
        email=email,
        connection_id=email.connection_id,
        source=EmailEvent.Source.SESAME,
        event_type=event_type,
        detail=detail,
        occurred_at=timezone.now(),
    )


def mark_sent(email: Email, message_id: str) -> bool:
    return bool(
        Email.objects.filter(pk=email.pk, status=Email.Status.SENDING).update(
            status=Email.Status.SENT, sent_at=timezone.now(), ses_message_id=message_id
        )
    )


def mark_failed(email: Email, reason: str) -> None:
    with transaction.atomic():
        if Email.objects.filter(pk=email.pk, status=Email.Status.SENDING).update(
            status=Email.Status.FAILED, failure_reason=reason
        ):
            _timeline(email, "failed", reason)


def requeue(email: Email) -> None:
    Email.objects.filter(pk=email.pk, status=Email.Status.SENDING).update(status=Email.Status.QUEUED, claimed_at=None)


@dataclass
class ConnectionState:
    connection: AwsConnection
    rate: float
    held: bool

    @classmethod
    def load(cls, connection_id: uuid.UUID) -> "ConnectionState | None":
        conn = AwsConnection.objects.select_related("account").filter(pk=connection_id, is_active=True).first()
        if conn is None:
            return None
        held = conn.sending_held_until is not None and conn.sending_held_until > timezone.now()
        return cls(connection=conn, rate=conn.effective_send_rate, held=held)

    @property
    def can_send(self) -> bool:
        return self.rate > 0 and not self.held


class Dispatcher:
    def __init__(self, connection_id: str) -> None:
        self.connection_id = uuid.UUID(str(connection_id))
        self.owner = new_owner()
        self.stop = threading.Event()
        self.sent = 0
        self._counter_lock = threading.Lock()
        self._backoff_until = 0.0
        self._throttles = 0
        self.state: ConnectionState | None = None
        self.lease_key = ""

    def acquire_slot(self) -> bool:
        for slot in range(settings.SESAME_DISPATCHERS_PER_CONNECTION):
            key = f"dispatch:{self.connection_id}:{slot}"
            if leases().acquire(key, self.owner, _LEASE_TTL):
                self.lease_key = key
                return True
        return False

    def run(self, *, max_seconds: float) -> bool:
        """Send until the connection has no due work (returns False) or time is up (returns True: more to do)."""
        if not self.acquire_slot():
            return False
        try:
            self.state = ConnectionState.load(self.connection_id)
            if self.state is None or not self.state.can_send:
                return False
            threads = [
                threading.Thread(target=self._thread_main, name=f"dispatch-{i}", daemon=True)
                for i in range(settings.SESAME_DISPATCH_THREADS)
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + max_seconds
            while any(t.is_alive() for t in threads):
                if time.monotonic() > deadline or not leases().acquire(self.lease_key, self.owner, _LEASE_TTL):
                    self.stop.set()
                    break
                time.sleep(1.0)
                state = ConnectionState.load(self.connection_id)
                if state is None or not state.can_send:
                    self.stop.set()
                else:
                    self.state = state
            for thread in threads:
                thread.join()
            return time.monotonic() > deadline
        finally:
            leases().release(self.lease_key, self.owner)
            close_old_connections()

    def _thread_main(self) -> None:
        try:
            while not self.stop.is_set():
                if not self._step():
                    return
        except Exception:  # a bug must not leave the thread's claim dangling silently; the sweeper re-queues it
            logger.exception("dispatcher thread crashed on connection %s", self.connection_id)
        finally:
            connection.close()

    def _take(self, count: int) -> bool:
        """Wait for `count` grants from the bucket; False if the dispatcher is stopping."""
        while not self.stop.is_set():
            pause = self._backoff_until - time.monotonic()
            if pause > 0:
                self.stop.wait(pause)
                continue
            state = self.state
            if state is None or not state.can_send:
                return False
            wait = send_bucket().try_acquire(str(self.connection_id), rate=state.rate, count=count)
            if wait <= 0:
                return True
            self.stop.wait(min(wait, 0.25))
        return False

    def _step(self) -> bool:
        """Send one email; False when there is nothing due (or the dispatcher must stop)."""
        if not self._take(1):
            return False
        email = claim_next(self.connection_id, timezone.now())
        if email is None:
            return False
        if self.stop.is_set():  # stopped (quota hold, pause) while claiming: hand it back untouched
            requeue(email)
            return False
        targets = destinations(email)
        if len(targets) > 1 and not self._take(len(targets) - 1):
            requeue(email)
            return False
        assert self.state is not None
        self._send(email, targets, self.state.connection)
        return True

    def _send(self, email: Email, targets: list[str], conn: AwsConnection) -> None:
        message = OutgoingMessage(
            source=parse_address(email.from_address).email,
            destinations=targets,
            raw=build_mime(email),
            # Set by provisioning; until then SES has no configuration set of ours to publish events through.
            configuration_set=conn.configuration_set_name,
            tags=ses_tags(email.tags),
            email_id=str(email.pk),
        )
        try:
            message_id = transport().send_raw(conn, message)
        except TransportError as error:
            self._failed(email, error)
            return
        mark_sent(email, message_id)
        self._throttles = 0
        with self._counter_lock:
            self.sent += 1

    def _failed(self, email: Email, error: TransportError) -> None:
        if error.kind is FailureKind.PERMANENT:
            mark_failed(email, error.reason)
        elif error.kind is FailureKind.QUOTA:
            # Stop the other threads before the email goes back, so none of them picks it up again.
            self.stop.set()
            hold = timezone.now() + timedelta(seconds=settings.SESAME_QUOTA_HOLD_SECONDS)
            AwsConnection.objects.filter(pk=self.connection_id).update(sending_held_until=hold)
            requeue(email)
            _timeline(email, "held", f"SES daily quota reached; sending resumes after {hold.isoformat()}")
        elif email.attempts >= settings.SESAME_MAX_SEND_ATTEMPTS and error.kind is FailureKind.TRANSIENT:
            mark_failed(email, f"gave up after {email.attempts} attempts: {error.reason}")
        else:
            # Throttling or a passing fault: back off together (SES's limit is per account, not per thread).
            requeue(email)
            self._throttles = min(self._throttles + 1, 6)
            self._backoff_until = time.monotonic() + 0.1 * 2**self._throttles
            logger.warning("SES %s on %s; backing off: %s", error.kind.value, self.connection_id, error.reason)
