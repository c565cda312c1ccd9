"""Raw SNS notifications: committed first (webhook or simulator), processed after by a task."""

import json
import logging
import time
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import AwsConnection
from accounts.ratelimit import redis_client
from events import aws, parsing, sns
from events.models import SnsNotification
from events.services import reputation, timeline

logger = logging.getLogger("sesame.events")

# After this many failed processing attempts a notification is parked (failed_at) for an operator to look at.
MAX_ATTEMPTS = 10


# One drain task at a time claims stored notifications and hands them to workers in batches, so a POST costs at
# most one Redis SET instead of a Celery publish (the webhook must answer in milliseconds at hundreds per second).
NUDGE_KEY = "sesame:events:drain"
NUDGE_TTL = 30  # seconds; a drain that died frees the key by then (and the sweeper catches its leftovers)
# A process that nudged this recently skips its next nudges: safe because a drain, after letting go of the key,
# waits DRAIN_LINGER (longer than the debounce) and looks again before it stops.
NUDGE_DEBOUNCE = 0.02
DRAIN_LINGER = 0.1
BATCH_SIZE = 25
_last_nudge = 0.0


@cache
def _redis(url: str) -> "redis.Redis | None":
    return redis_client(url) if url else None


def _nudge() -> None:
    """Make sure a drain runs soon: start one unless one holds the key (it re-checks before it lets go)."""
    global _last_nudge
    from events.tasks import notifications_drain

    client = _redis(settings.REDIS_URL)
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


def drain_release() -> bool:
    """Called by a drain with nothing left: let go of the key, linger, then look once more. True means go on
    draining: a POST that committed meanwhile may have relied on us instead of nudging."""
    client = _redis(settings.REDIS_URL)
    if client is None:
        return False
    client.delete(NUDGE_KEY)
    time.sleep(DRAIN_LINGER)
    if not _claimable().exists():
        return False
    return bool(client.set(NUDGE_KEY, "1", nx=True, ex=NUDGE_TTL))


def _claimable() -> "QuerySet[SnsNotification]":
    return SnsNotification.objects.filter(processed_at__isnull=True, failed_at__isnull=True, enqueued_at__isnull=True)


@transaction.atomic
def notifications_claim(*, limit: int = 500, stale_before: datetime | None = None) -> list[int]:
    """Mark up to `limit` waiting notifications as handed to workers and return their ids. With `stale_before`,
    also re-claim those handed out before then and still unprocessed (the sweeper's case)."""
    waiting = SnsNotification.objects.filter(processed_at__isnull=True, failed_at__isnull=True)
    if stale_before is None:
        waiting = waiting.filter(enqueued_at__isnull=True)
    else:
        waiting = waiting.filter(received_at__lt=stale_before).filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale_before)
        )
    ids = list(waiting.select_for_update(skip_locked=True).order_by("received_at").values_list("pk", flat=True)[:limit])
    if ids:
        SnsNotification.objects.filter(pk__in=ids).update(enqueued_at=timezone.now())
    return ids


def notifications_dispatch(*, ids: list[int]) -> None:
    from events.tasks import notification_process_batch

    for start in range(0, len(ids), BATCH_SIZE):
        notification_process_batch.delay(ids[start : start + BATCH_SIZE])


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
    if parsing.is_ses_payload(message):
        assert isinstance(message, dict)
        notification.kind = SnsNotification.Kind.SES_EVENT
        notification.result = timeline.ses_event_record(notification=notification, message=message)
    elif parsing.is_alarm_payload(message):
        assert isinstance(message, dict)
        notification.kind = SnsNotification.Kind.ALARM
        notification.event_type = str(message.get("AlarmName", ""))[:60]
        notification.result = reputation.reputation_alarm(connection=notification.connection, alarm=message)
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
    """Hand out again what a lost task, a crashed worker or a processing error left unprocessed."""
    ids = notifications_claim(limit=limit, stale_before=timezone.now() - timedelta(seconds=older_than_seconds))
    notifications_dispatch(ids=ids)
    return len(ids)
