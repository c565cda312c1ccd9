"""Raw SNS notifications: committed first (webhook or simulator), processed after by a task."""

import json
import logging
import time
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import AwsConnection
from accounts.ratelimit import shared_redis
from emails.inbox import services as inbox_services
from events import aws, parsing, sns
from events.models import SnsNotification
from events.services import reputation, timeline
from push import services as push_services

logger = logging.getLogger("sesame.events")

# After this many failed processing attempts a notification is parked (failed_at) for an operator to look at.
MAX_ATTEMPTS = 10


# One drain task at a time claims stored notifications and hands them to workers in batches, so a POST costs at
# most one Redis SET instead of a Celery publish (the webhook must answer in milliseconds at hundreds per second).
# Each batch is account-fair (every account's oldest waiting notification, then every account's second, ...), and
# at most MAX_BATCHES_OUT batches are out with workers at a time, each working for at most about BATCH_SECONDS: a
# new notification of a quiet account is early in the next batch, behind at most MAX_BATCHES_OUT x BATCH_SECONDS of
# work, whatever another account's backlog. The broker holds O(1) of these tasks, never O(notifications).
NUDGE_KEY = "sesame:events:drain"
NUDGE_TTL = 30  # seconds; a drain that died frees the key by then (and the sweeper catches its leftovers)
# A process that nudged this recently skips its next nudges: safe because a drain, after letting go of the key,
# waits DRAIN_LINGER (longer than the debounce) and looks again before it stops.
NUDGE_DEBOUNCE = 0.02
DRAIN_LINGER = 0.1
BATCH_SIZE = 25
MAX_BATCHES_OUT = 4
# A batch stops after this long and gives the rest back, so the wait behind the batches out stays bounded in time
# even when one account's events are expensive (say, fanned out to many webhook endpoints).
BATCH_SECONDS = 0.5
# Batches out with workers: a sorted set of batch tokens scored by when they stop counting (a lost batch's
# notifications are handed out again by the sweeper after a minute anyway). Rebuildable: empty means none out.
BATCHES_KEY = "sesame:events:batches"
BATCH_LEASE = 60
_last_nudge = 0.0



def _nudge() -> None:
    """Make sure a drain runs soon: start one unless one holds the key (it re-checks before it lets go)."""
    global _last_nudge
    from events.tasks import notifications_drain

    client = shared_redis()
    now = time.monotonic()
    if client is not None and now - _last_nudge < NUDGE_DEBOUNCE:
        return
    _last_nudge = now
    try:
        if client is not None and not client.set(NUDGE_KEY, "1", nx=True, ex=NUDGE_TTL):
            return
    except redis.RedisError:
        logger.warning("Redis unavailable for the drain nudge; enqueueing a drain directly")
    notifications_drain.delay()


def batches_room() -> int:
    """How many more batches the drain may hand out now."""
    client = shared_redis()
    if client is None:
        return MAX_BATCHES_OUT
    try:
        client.zremrangebyscore(BATCHES_KEY, "-inf", time.time())
        return MAX_BATCHES_OUT - int(client.zcard(BATCHES_KEY))
    except redis.RedisError:
        return MAX_BATCHES_OUT


def notifications_batch_done(*, batch: str | None) -> None:
    """A worker finished a batch: free its place and wake the drain for the next one."""
    client = shared_redis()
    if not batch:
        return  # not handed out by a drain (a direct call): nothing to free, nobody waiting on it
    if client is not None:
        try:
            client.zrem(BATCHES_KEY, batch)
        except redis.RedisError:
            logger.warning(
                "Redis unavailable to free notification batch %s; it frees itself in %ss", batch, BATCH_LEASE
            )
    if _claimable().exists():
        _nudge()


def drain_release() -> bool:
    """Called by a drain with nothing it may hand out: let go of the key, linger, then look once more. True means go
    on draining: a POST or a finished batch that committed meanwhile may have relied on us instead of nudging."""
    client = shared_redis()
    if client is None:
        return False
    client.delete(NUDGE_KEY)
    time.sleep(DRAIN_LINGER)
    if batches_room() <= 0 or not _claimable().exists():
        return False
    return bool(client.set(NUDGE_KEY, "1", nx=True, ex=NUDGE_TTL))


def _claimable() -> "QuerySet[SnsNotification]":
    return SnsNotification.objects.filter(processed_at__isnull=True, failed_at__isnull=True, enqueued_at__isnull=True)


# Built from constants only (the table name), never from input. Walk the accounts with waiting notifications (a
# loose index scan over sns_notification_waiting: one probe per account, whatever the backlog), take each one's
# oldest, number them per account, and take turns: every account's first, then every account's second, ...
_N = SnsNotification._meta.db_table
_WAITING = "processed_at IS NULL AND failed_at IS NULL AND enqueued_at IS NULL"
_CLAIM_SQL = f"""
WITH RECURSIVE accounts AS (
    (SELECT account_id FROM {_N} WHERE {_WAITING} ORDER BY account_id LIMIT 1)
    UNION ALL
    SELECT (SELECT n.account_id FROM {_N} n WHERE {_WAITING} AND n.account_id > a.account_id
            ORDER BY n.account_id LIMIT 1)
    FROM accounts a WHERE a.account_id IS NOT NULL
),
turns AS (
    SELECT w.id, w.received_at, row_number() OVER (PARTITION BY a.account_id ORDER BY w.received_at, w.id) AS turn
    FROM accounts a
    CROSS JOIN LATERAL (
        SELECT id, received_at FROM {_N} n WHERE n.account_id = a.account_id AND {_WAITING}
        ORDER BY received_at LIMIT %(limit)s
    ) w
),
picked AS (
    SELECT id FROM {_N}
    WHERE id IN (SELECT id FROM turns ORDER BY turn, received_at, id LIMIT %(limit)s) AND {_WAITING}
    FOR UPDATE SKIP LOCKED
)
UPDATE {_N} SET enqueued_at = %(now)s WHERE id IN (SELECT id FROM picked) RETURNING id, account_id, received_at
"""  # noqa: S608


def _in_turns(rows: list[tuple[int, Any, datetime]], limit: int) -> list[int]:
    """(id, account, received_at) rows in account turns: every account's oldest, then every account's second..."""
    seen: dict[Any, int] = {}
    turns = []
    for pk, account_id, received_at in sorted(rows, key=lambda row: (row[2], row[0])):
        seen[account_id] = seen.get(account_id, 0) + 1
        turns.append((seen[account_id], received_at, pk))
    return [pk for _, _, pk in sorted(turns)[:limit]]


@transaction.atomic
def notifications_claim(*, limit: int = BATCH_SIZE) -> list[int]:
    """Mark up to `limit` waiting notifications as handed to workers, in account-fair turns; returns their ids in
    that order (a batch cut short by its time budget leaves the later turns, not a quiet account's only event)."""
    now = timezone.now()
    db = transaction.get_connection()
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, {"limit": limit, "now": now})
            return _in_turns(cursor.fetchall(), limit)
    # The embedded SQLite default (one machine): the same turns in Python over the oldest waiting rows.
    rows = list(_claimable().order_by("received_at", "id").values_list("pk", "account_id", "received_at")[: limit * 40])
    ids = _in_turns(rows, limit)
    SnsNotification.objects.filter(pk__in=ids).update(enqueued_at=now)
    return ids


def notifications_unclaim(*, ids: list[int]) -> None:
    """Give notifications a batch had no time for back to the drain, to be handed out again in fair turns."""
    SnsNotification.objects.filter(pk__in=ids, processed_at__isnull=True, failed_at__isnull=True).update(
        enqueued_at=None
    )


def notifications_dispatch(*, ids: list[int]) -> None:
    """Hand claimed notifications to workers in batches, each counted as out until its worker is done."""
    from events.tasks import notification_process_batch

    client = shared_redis()
    for start in range(0, len(ids), BATCH_SIZE):
        batch = uuid.uuid4().hex
        if client is not None:
            try:
                client.zadd(BATCHES_KEY, {batch: time.time() + BATCH_LEASE})
            except redis.RedisError:
                logger.warning("Redis unavailable to count notification batches out")
        notification_process_batch.delay(ids[start : start + BATCH_SIZE], batch)


def notification_store(
    *,
    connection_id: Any,
    account_id: Any,
    message_id: str,
    message_type: str,
    topic_arn: str,
    body: str,
    sns_timestamp: datetime | None,
    origin: SnsNotification.Origin,
    received_at: datetime,
    source_ip: str | None = None,
) -> int | None:
    """Insert the raw notification unless its MessageId is already stored; returns its id, or None if a duplicate.

    Processing is enqueued once the insert commits (a sweeper catches anything the broker drops).
    """
    values: dict[str, Any] = {
        "connection_id": connection_id,
        "account_id": account_id,
        "message_id": message_id[:100],
        "message_type": message_type[:40],
        "topic_arn": topic_arn[:300],
        "body": body,
        "sns_timestamp": sns_timestamp,
        "origin": origin,
        "received_at": received_at,
        "source_ip": source_ip,
    }
    db = transaction.get_connection()
    notification_id = _insert_postgres(db, values) if db.vendor == "postgresql" else _insert_portable(db, values)
    if notification_id is None:
        return None
    # robust: a broker hiccup must not turn a committed notification into an error answer; the sweeper retries.
    transaction.on_commit(_nudge, robust=True)
    return notification_id


_NOT_NULL_DEFAULTS = {"kind": "", "event_type": "", "ses_message_id": "", "result": "", "attempts": 0, "last_error": ""}


_COLUMNS = (
    "connection_id",
    "account_id",
    "message_id",
    "message_type",
    "topic_arn",
    "body",
    "sns_timestamp",
    "origin",
    "received_at",
    "source_ip",
    *_NOT_NULL_DEFAULTS,
)
# Built from constants only (the table and its column names), never from input.
_INSERT_SQL = (
    f'INSERT INTO "{SnsNotification._meta.db_table}" ({", ".join(_COLUMNS)}) '  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))}) "
    "ON CONFLICT (connection_id, message_id) DO NOTHING RETURNING id"
)


def _insert_postgres(db: Any, values: dict[str, Any]) -> int | None:
    """One statement, no savepoint and no exception for a duplicate: the webhook's hot path."""
    row = {**_NOT_NULL_DEFAULTS, **values}
    with db.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [row[name] for name in _COLUMNS])
        found = cursor.fetchone()
    return int(found[0]) if found else None


def _insert_portable(db: Any, values: dict[str, Any]) -> int | None:
    try:
        # Inside a caller's transaction, a savepoint keeps it usable when the MessageId is a duplicate.
        with transaction.atomic() if db.in_atomic_block else nullcontext():
            return int(SnsNotification.objects.create(**values).pk)
    except IntegrityError:
        if SnsNotification.objects.filter(
            connection_id=values["connection_id"], message_id=values["message_id"]
        ).exists():
            return None
        raise


def ses_notification_receive(
    *,
    connection: AwsConnection,
    message: dict[str, Any],
    sns_message_id: str,
    topic_arn: str = "",
    received_at: datetime | None = None,
) -> bool:
    """Feed an SES payload through the same path as a verified SNS POST (the local simulator uses this).

    Returns False when that sns_message_id was already stored for the connection.
    """
    received_at = received_at or timezone.now()
    topic_arn = topic_arn or connection.sns_topic_arn
    envelope = {
        "Type": sns.NOTIFICATION,
        "MessageId": sns_message_id,
        "TopicArn": topic_arn,
        "Message": json.dumps(message),
        "Timestamp": received_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    stored = notification_store(
        connection_id=connection.pk,
        account_id=connection.account_id,
        message_id=sns_message_id,
        message_type=sns.NOTIFICATION,
        topic_arn=topic_arn,
        body=json.dumps(envelope),
        sns_timestamp=received_at,
        origin=SnsNotification.Origin.SIMULATOR,
        received_at=received_at,
    )
    return stored is not None


@transaction.atomic
def notification_process(*, notification_id: int) -> bool:
    """Do what a stored notification says. Idempotent: a processed (or locked) notification is skipped."""
    notification = (
        SnsNotification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("connection", "account")
        .filter(pk=notification_id, processed_at__isnull=True, failed_at__isnull=True)
        .first()
    )
    if notification is None:
        return False
    envelope = json.loads(notification.body)
    if notification.message_type == sns.SUBSCRIPTION_CONFIRMATION:
        notification.kind = SnsNotification.Kind.SUBSCRIPTION
        notification.result = _confirm_subscription(notification, envelope)
    elif notification.message_type == sns.UNSUBSCRIBE_CONFIRMATION:
        notification.kind = SnsNotification.Kind.SUBSCRIPTION
        notification.result = (
            "SNS says the topic's subscription to Sesame was removed; "
            "run `manage.py provision_connection` to restore it."
        )
        logger.warning("SNS subscription removed connection=%s", notification.connection_id)
    else:
        _process_message(notification, envelope.get("Message"))
    notification.processed_at = timezone.now()
    notification.last_error = ""
    notification.save()
    return True


def _process_message(notification: SnsNotification, text: Any) -> None:
    try:
        message = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        message = None
    if inbox_services.is_inbound_notification(message):
        assert isinstance(message, dict)
        # Mail received by an SES receipt rule: the team inbox threads it (emails/inbox).
        notification.kind = SnsNotification.Kind.INBOUND
        notification.event_type = "Received"
        notification.ses_message_id = str((message.get("mail") or {}).get("messageId") or "")[:255]
        received = inbox_services.inbound_receive(
            connection=notification.connection, message=message, received_at=notification.received_at
        )
        notification.result = received.result
    elif parsing.is_ses_payload(message):
        assert isinstance(message, dict)
        notification.kind = SnsNotification.Kind.SES_EVENT
        notification.result = timeline.ses_event_record(notification=notification, message=message)
    elif parsing.is_alarm_payload(message):
        assert isinstance(message, dict)
        notification.kind = SnsNotification.Kind.ALARM
        notification.event_type = str(message.get("AlarmName", ""))[:60]
        notification.result = reputation.reputation_alarm(connection=notification.connection, alarm=message)
    elif push_services.is_platform_event(message):
        assert isinstance(message, dict)
        # A push platform-application event (endpoint updated or deleted, delivery failure): push decides.
        notification.kind = SnsNotification.Kind.OTHER
        notification.event_type = str(message.get("EventType", ""))[:60]
        notification.result = push_services.push_platform_event(connection=notification.connection, message=message)
    else:
        # SES's "Successfully validated SNS topic" test message, or anything else: kept and shown, not an error.
        notification.kind = SnsNotification.Kind.OTHER
        notification.result = "Not an SES event or a CloudWatch alarm; kept as received."


def _confirm_subscription(notification: SnsNotification, envelope: dict[str, Any]) -> str:
    if settings.SESAME_AWS_MODE != "aws" and not settings.SESAME_AWS_ENDPOINT_URL:
        return "Not confirmed: SESAME_AWS_MODE is not aws."
    # ConfirmSubscription through the connection's own credentials; the SubscribeURL is never fetched.
    arn = aws.subscription_confirm(notification.connection, envelope["TopicArn"], envelope["Token"])
    logger.info("SNS subscription confirmed connection=%s subscription=%s", notification.connection_id, arn)
    return f"Subscription confirmed: {arn}"


@transaction.atomic
def notification_replay(*, notification_id: int, event_types: set[str] | None = None) -> bool:
    """Process a stored SES-event notification again, whatever its state (processed, failed or parked): rows it
    already produced are kept and only missing ones are added, with what follows from them (ses_event_record's
    replay), so replaying twice changes nothing. It waits for a worker processing the same notification, and a
    worker finds it processed afterwards. Returns whether anything changed: False as well when it is not an SES
    event of `event_types` (alarms and subscription messages are never replayed: an old alarm would pause a
    connection that has healed)."""
    notification = (
        SnsNotification.objects.select_for_update(of=("self",))
        .select_related("connection", "account")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.message_type != sns.NOTIFICATION:
        return False
    try:
        message = json.loads(json.loads(notification.body).get("Message") or "")
    except (TypeError, ValueError):
        return False
    if not parsing.is_ses_payload(message) or (event_types and parsing.parse(message).event_type not in event_types):
        return False
    done = notification.processed_at is not None and notification.failed_at is None
    before = notification.events.count()
    result = timeline.ses_event_record(notification=notification, message=message, replay=True)
    added = notification.events.count() - before
    if added or not done:
        notification.kind = SnsNotification.Kind.SES_EVENT
        notification.result = result
        notification.processed_at = notification.processed_at or timezone.now()
        notification.failed_at = None
        notification.last_error = ""
        notification.save()
    return added > 0 or not done


def notification_record_failure(*, notification_id: int, error: str) -> None:
    """Count a failed attempt outside the rolled-back transaction; park the notification after MAX_ATTEMPTS."""
    notification = SnsNotification.objects.filter(pk=notification_id).first()
    if notification is None:
        return
    notification.attempts += 1
    notification.last_error = error[:4000]
    if notification.attempts >= MAX_ATTEMPTS:
        notification.failed_at = timezone.now()
    notification.save(update_fields=["attempts", "last_error", "failed_at"])


def notification_retry(*, notification: SnsNotification) -> None:
    """An operator's "process again": clear the parked state and let the drain pick it up."""
    SnsNotification.objects.filter(pk=notification.pk, processed_at__isnull=True).update(
        failed_at=None, attempts=0, enqueued_at=None
    )
    transaction.on_commit(_nudge, robust=True)


def notifications_sweep(*, older_than_seconds: int = 60, limit: int = 2000) -> int:
    """Hand back to the drain what a lost task, a crashed worker or a processing error left unprocessed (handed out
    more than `older_than_seconds` ago), and wake it for anything left waiting that long. Returns how many."""
    stale_before = timezone.now() - timedelta(seconds=older_than_seconds)
    unfinished = SnsNotification.objects.filter(processed_at__isnull=True, failed_at__isnull=True)
    stale = list(unfinished.filter(enqueued_at__lt=stale_before).values_list("pk", flat=True)[:limit])
    if stale:
        unfinished.filter(pk__in=stale, enqueued_at__lt=stale_before).update(enqueued_at=None)
    waiting = _claimable().filter(received_at__lt=stale_before).exclude(pk__in=stale).count()
    if stale or _claimable().exists():
        _nudge()
    return len(stale) + waiting
