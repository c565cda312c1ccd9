"""Attempting outbound webhook deliveries: Postgres is the queue, the broker holds one drain task at most.

A drain claims due deliveries in account-fair rounds (each account's oldest first, one per account per turn, never
more than SESAME_WEBHOOK_ACCOUNT_CONCURRENCY of an account in flight, and one probe at a time to an endpoint that
is failing), POSTs them from a pool of SESAME_WEBHOOK_CONCURRENCY threads with a short timeout, and records each
result as it lands. It keeps the pool full while due work remains, for DRAIN_SECONDS, then hands over to a fresh
task so that other tasks on the shared queue get a worker in between. A Redis SET NX key makes sure only one drain
is queued or running; the beat sweep nudges it when backed-off endpoints fall due.

Failures are counted per endpoint, not per delivery: a failed attempt backs the whole endpoint off
(SESAME_WEBHOOK_BACKOFF_BASE_SECONDS doubling up to SESAME_WEBHOOK_BACKOFF_MAX_SECONDS), and an endpoint that has
failed without a single success for SESAME_WEBHOOK_DISABLE_AFTER_HOURS (and at least MIN_FAILURES_TO_DISABLE
times in a row) is disabled, and its account owner emailed.
"""

import logging
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from accounts.ratelimit import shared_redis
from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.services import outbound

logger = logging.getLogger("sesame.events")

NUDGE_KEY = "sesame:webhooks:drain"
# A drain stops claiming after this long and hands over to a fresh task; attempts in flight then get the timeout
# plus GRACE_SECONDS to finish (a thread stuck beyond that, e.g. in DNS, is abandoned; its lease expires).
DRAIN_SECONDS = 2.0
GRACE_SECONDS = 2.0
# While attempts are in flight the drain looks for newly due work this often.
POLL_SECONDS = 0.1
NUDGE_DEBOUNCE = 0.02
DRAIN_LINGER = 0.1
# An attempt in flight holds its delivery this long; a drain that died loses its claims after that.
LEASE = timedelta(minutes=2)
MIN_FAILURES_TO_DISABLE = 5

_last_nudge = 0.0



def _key_ttl() -> int:
    return int(DRAIN_SECONDS + settings.SESAME_WEBHOOK_TIMEOUT_SECONDS + GRACE_SECONDS) + 30


def webhook_drain_nudge() -> None:
    """Make sure a drain runs soon: enqueue one unless one holds the key (it looks again before letting go)."""
    global _last_nudge
    from events.tasks import webhook_deliveries_drain

    client = shared_redis()
    now = time.monotonic()
    if client is not None and now - _last_nudge < NUDGE_DEBOUNCE:
        return
    _last_nudge = now
    try:
        if client is not None and not client.set(NUDGE_KEY, "1", nx=True, ex=_key_ttl()):
            return
    except redis.RedisError:
        logger.warning("Redis unavailable for the webhook drain nudge; enqueueing a drain directly")
    webhook_deliveries_drain.delay()


def webhook_drain_handover(*, attempted: int) -> bool:
    """Called by a drain at its end. True: a fresh drain task must be enqueued (the key is held for it).

    With work left, the key stays held and the next task takes over. Without, the key is let go, and after a linger
    (longer than the nudge debounce) the queue is looked at once more, for work committed by a nudge that saw the
    key still held. A drain that attempted nothing does not hand over (no spinning on work it cannot claim); the
    beat sweep nudges again."""
    client = shared_redis()
    if client is None:
        return False
    try:
        if attempted and _candidates(limit=1):
            client.set(NUDGE_KEY, "1", ex=_key_ttl())
            return True
        client.delete(NUDGE_KEY)
        time.sleep(DRAIN_LINGER)
        if not _candidates(limit=1):
            return False
        return bool(client.set(NUDGE_KEY, "1", nx=True, ex=_key_ttl()))
    except redis.RedisError:
        logger.warning("Redis unavailable at the end of a webhook drain; the beat sweep starts the next one")
        return False


# --- claiming, fairly -------------------------------------------------------------------------------------------

# Built from constants only (table and column names), never from input. Steps: walk the endpoints that have pending
# deliveries (a loose index scan: one index probe per endpoint, whatever the backlog), keep those not paused,
# disabled or backed off, take each one's first deliveries (one if it is failing: a probe), number them per account,
# and give each account at most its free in-flight slots, in turns (every account's first, then seconds...).
# Whether a delivery is due is its endpoint's business (retry_at): a delivery's next_attempt_at only orders them
# (a failed one goes behind the others) and tells the customer when the next try is.
_D = WebhookDelivery._meta.db_table
_E = WebhookEndpoint._meta.db_table
_CANDIDATES_SQL = f"""
WITH RECURSIVE queued AS (
    (SELECT endpoint_id FROM {_D} WHERE status = 'pending' ORDER BY endpoint_id LIMIT 1)
    UNION ALL
    SELECT (SELECT d.endpoint_id FROM {_D} d
            WHERE d.status = 'pending' AND d.endpoint_id > q.endpoint_id ORDER BY d.endpoint_id LIMIT 1)
    FROM queued q WHERE q.endpoint_id IS NOT NULL
),
flying AS (
    SELECT endpoint_id, account_id, count(*) AS n FROM {_D}
    WHERE status = 'pending' AND leased_until IS NOT NULL AND leased_until > %(now)s
    GROUP BY endpoint_id, account_id
),
busy AS (SELECT account_id, sum(n) AS n FROM flying GROUP BY account_id),
ready AS (
    SELECT e.id, e.account_id, CASE WHEN e.consecutive_failures > 0 THEN 1 ELSE %(per_account)s END AS take
    FROM queued q JOIN {_E} e ON e.id = q.endpoint_id
    WHERE e.is_active AND (e.retry_at IS NULL OR e.retry_at <= %(now)s)
      AND (e.consecutive_failures = 0 OR NOT EXISTS (SELECT 1 FROM flying f WHERE f.endpoint_id = e.id))
),
turns AS (
    SELECT d.id, d.next_attempt_at, COALESCE(b.n, 0) AS busy,
           row_number() OVER (PARTITION BY r.account_id ORDER BY d.next_attempt_at, d.id) AS turn
    FROM ready r
    CROSS JOIN LATERAL (
        SELECT id, next_attempt_at FROM {_D}
        WHERE endpoint_id = r.id AND status = 'pending'
          AND give_up_at > %(now)s AND (leased_until IS NULL OR leased_until <= %(now)s)
        ORDER BY next_attempt_at LIMIT r.take
    ) d
    LEFT JOIN busy b ON b.account_id = r.account_id
)
SELECT id FROM turns WHERE turn + busy <= %(per_account)s ORDER BY turn, next_attempt_at, id LIMIT %(limit)s
"""  # noqa: S608
_CLAIM_SQL = f"""
WITH chosen AS ({_CANDIDATES_SQL}),
picked AS (
    SELECT id FROM {_D}
    WHERE id IN (SELECT id FROM chosen) AND status = 'pending' AND (leased_until IS NULL OR leased_until <= %(now)s)
    FOR UPDATE SKIP LOCKED
)
UPDATE {_D} SET leased_until = %(lease)s WHERE id IN (SELECT id FROM picked) RETURNING id
"""  # noqa: S608


def _params(limit: int, now: datetime) -> dict[str, Any]:
    return {
        "now": now,
        "lease": now + LEASE,
        "limit": limit,
        "per_account": max(1, settings.SESAME_WEBHOOK_ACCOUNT_CONCURRENCY),
    }


def _candidates(*, limit: int, now: datetime | None = None) -> list[Any]:
    """Ids a claim would take now (without taking them)."""
    now = now or timezone.now()
    db = transaction.get_connection()
    if db.vendor != "postgresql":
        return _candidates_portable(limit=limit, now=now)
    with db.cursor() as cursor:
        cursor.execute(_CANDIDATES_SQL, _params(limit, now))
        return [row[0] for row in cursor.fetchall()]


def _candidates_portable(*, limit: int, now: datetime) -> list[Any]:
    """The same turns in Python over the oldest due rows (the embedded SQLite default: one machine, small queues)."""
    per_account = max(1, settings.SESAME_WEBHOOK_ACCOUNT_CONCURRENCY)
    pending = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
    busy: dict[Any, int] = {}
    flying: set[Any] = set()
    for account_id, endpoint_id in pending.filter(leased_until__gt=now).values_list("account_id", "endpoint_id"):
        busy[account_id] = busy.get(account_id, 0) + 1
        flying.add(endpoint_id)
    due = (
        pending.filter(give_up_at__gt=now, endpoint__is_active=True)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        .filter(Q(endpoint__retry_at__isnull=True) | Q(endpoint__retry_at__lte=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", "account_id", "endpoint_id", "endpoint__consecutive_failures", "next_attempt_at")[:2000]
    )
    per_endpoint: dict[Any, int] = {}
    turns: list[tuple[int, Any, Any]] = []
    for pk, account_id, endpoint_id, failures, due_at in due:
        per_endpoint[endpoint_id] = per_endpoint.get(endpoint_id, 0) + 1
        if failures and (per_endpoint[endpoint_id] > 1 or endpoint_id in flying):
            continue  # a failing endpoint gets one probe at a time
        busy[account_id] = busy.get(account_id, 0) + 1
        if busy[account_id] <= per_account:
            turns.append((busy[account_id], due_at, pk))
    return [pk for _, _, pk in sorted(turns, key=lambda t: (t[0], t[1], str(t[2])))[:limit]]


def webhook_deliveries_claim(*, limit: int) -> list[Any]:
    """Lease up to `limit` due deliveries, in account-fair turns; returns their ids. A conditional UPDATE (rows
    locked by someone else are skipped), so two drains never take the same delivery."""
    if limit <= 0:
        return []
    now = timezone.now()
    db = transaction.get_connection()
    if db.vendor == "postgresql":
        with transaction.atomic(), db.cursor() as cursor:
            cursor.execute(_CLAIM_SQL, _params(limit, now))
            return [row[0] for row in cursor.fetchall()]
    with transaction.atomic():
        ids = _candidates_portable(limit=limit, now=now)
        free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
        claimed = list(
            WebhookDelivery.objects.filter(free, pk__in=ids, status=WebhookDelivery.Status.PENDING).values_list(
                "pk", flat=True
            )
        )
        WebhookDelivery.objects.filter(pk__in=claimed).update(leased_until=now + LEASE)
    return claimed


# --- attempting ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    delivery_id: Any
    url: str
    body: bytes
    headers: dict[str, str]
    claimed_at: datetime


@dataclass(frozen=True)
class _Outcome:
    claimed_at: datetime  # when the drain decided on this attempt: attempts decided together are one round
    started_at: datetime
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int


def _prepare(ids: Iterable[Any]) -> list[_Attempt]:
    attempts, now = [], timezone.now()
    for delivery in WebhookDelivery.objects.filter(pk__in=list(ids)).select_related("endpoint", "event"):
        body, headers = outbound.delivery_request(delivery)
        attempts.append(_Attempt(delivery.pk, delivery.endpoint.url, body, headers, now))
    return attempts


def _send(attempt: _Attempt) -> _Outcome:
    """Runs in a pool thread: HTTP only, no database."""
    started_at, started = timezone.now(), time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    try:
        status_code, excerpt = outbound._post(
            attempt.url, attempt.body, attempt.headers, settings.SESAME_WEBHOOK_TIMEOUT_SECONDS
        )
    except Exception as exc:  # any network or TLS failure is one failed attempt, retried later
        error = f"{type(exc).__name__}: {exc}"[:1000]
    duration_ms = int((time.monotonic() - started) * 1000)
    return _Outcome(attempt.claimed_at, started_at, status_code, excerpt, error, duration_ms)


def webhook_deliveries_drain(*, seconds: float | None = None) -> int:
    """Claim and attempt due deliveries, up to SESAME_WEBHOOK_CONCURRENCY at once, for about `seconds`
    (DRAIN_SECONDS) or until none is due. Returns the number of attempts recorded."""
    threads = max(1, settings.SESAME_WEBHOOK_CONCURRENCY)
    deadline = time.monotonic() + (DRAIN_SECONDS if seconds is None else seconds)
    give_up = deadline + settings.SESAME_WEBHOOK_TIMEOUT_SECONDS + GRACE_SECONDS
    in_flight: dict[Future[_Outcome], _Attempt] = {}
    recorded = 0
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sesame-webhook")
    try:
        while True:
            now = time.monotonic()
            if now < deadline and len(in_flight) < threads:
                for attempt in _prepare(webhook_deliveries_claim(limit=threads - len(in_flight))):
                    in_flight[pool.submit(_send, attempt)] = attempt
            if not in_flight or now > give_up:
                break
            done, _ = wait(in_flight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                attempt = in_flight.pop(future)
                try:
                    webhook_attempt_record(delivery_id=attempt.delivery_id, outcome=future.result())
                    recorded += 1
                except Exception:  # one bad row must not stop everyone else's deliveries; its lease expires
                    logger.exception("Recording webhook delivery %s failed", attempt.delivery_id)
    finally:
        if in_flight:
            logger.warning("Webhook drain abandoned %s attempt(s) still running after the timeout", len(in_flight))
        pool.shutdown(wait=False, cancel_futures=True)
    return recorded


def webhook_deliver(*, delivery_id: Any) -> WebhookDelivery | None:
    """One attempt at one delivery now, whatever its endpoint's backoff (operators and tests). None when it is not
    pending or another attempt holds it."""
    now = timezone.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    claimed = WebhookDelivery.objects.filter(free, pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        leased_until=now + LEASE
    )
    if not claimed:
        return None
    [attempt] = _prepare([delivery_id])
    return webhook_attempt_record(delivery_id=delivery_id, outcome=_send(attempt))


# --- recording results: per-endpoint backoff, disabling ----------------------------------------------------------


def endpoint_backoff(failures: int) -> timedelta:
    """How long an endpoint waits after its `failures`-th failure in a row: BASE, 2xBASE, 4xBASE ... up to MAX."""
    base, cap = settings.SESAME_WEBHOOK_BACKOFF_BASE_SECONDS, settings.SESAME_WEBHOOK_BACKOFF_MAX_SECONDS
    return timedelta(seconds=min(cap, base * 2 ** min(max(failures, 1) - 1, 30)))


@transaction.atomic
def webhook_attempt_record(*, delivery_id: Any, outcome: _Outcome) -> WebhookDelivery | None:
    """Log an attempt, settle its delivery, and move its endpoint's failure streak, backoff and status."""
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        return None
    finished = timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=outcome.started_at,
        status_code=outcome.status_code,
        duration_ms=outcome.duration_ms,
        response_excerpt=outcome.excerpt,
        error=outcome.error,
    )
    succeeded = outcome.status_code is not None and 200 <= outcome.status_code < 300
    # NO KEY UPDATE: not blocked by ingestion inserting deliveries for this endpoint (they take KEY SHARE).
    endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).get(pk=delivery.endpoint_id)
    error = "" if succeeded else outcome.error or f"HTTP {outcome.status_code}: {outcome.excerpt[:200]}"
    if succeeded:
        _endpoint_succeeded(endpoint, finished)
    else:
        _endpoint_failed(endpoint, outcome.claimed_at, finished, error)
    delivery.attempts += 1
    delivery.last_status_code = outcome.status_code
    delivery.leased_until = None
    if delivery.status != WebhookDelivery.Status.PENDING:
        pass  # settled meanwhile (an operator, the sweep): the attempt is logged, the status stays
    elif succeeded:
        delivery.last_error = error
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            WebhookDelivery.Status.DELIVERED,
            finished,
            None,
        )
    else:
        delivery.last_error = error
        retry_at = endpoint.retry_at or finished
        if retry_at > delivery.give_up_at:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
            delivery.last_error += f" (gave up: not delivered within {settings.SESAME_WEBHOOK_RETRY_HOURS} h)"
        else:
            delivery.next_attempt_at = retry_at
    delivery.save()
    return delivery


def _endpoint_succeeded(endpoint: WebhookEndpoint, now: datetime) -> None:
    changed = endpoint.consecutive_failures or endpoint.retry_at or endpoint.failing_since
    stale = endpoint.last_success_at is None or now - endpoint.last_success_at > timedelta(minutes=1)
    if not (changed or stale):
        return  # a healthy endpoint's row is not rewritten on every delivery
    if changed:
        logger.info("Webhook endpoint %s recovered after %s failure(s)", endpoint.pk, endpoint.consecutive_failures)
    endpoint.consecutive_failures = 0
    endpoint.failing_since = endpoint.retry_at = None
    endpoint.last_success_at = now
    endpoint.save(update_fields=["consecutive_failures", "failing_since", "retry_at", "last_success_at", "updated_at"])


def _endpoint_failed(endpoint: WebhookEndpoint, claimed_at: datetime, now: datetime, error: str) -> None:
    # Attempts decided before a failure was recorded belong to that same round: they keep the backoff it set and
    # do not count again (an endpoint down for a burst of 8 deliveries has failed once).
    if endpoint.last_failure_at is not None and endpoint.last_failure_at >= claimed_at and endpoint.retry_at:
        return
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or claimed_at
    endpoint.last_failure_at = now
    endpoint.last_error = error[:2000]
    endpoint.retry_at = now + endpoint_backoff(endpoint.consecutive_failures)
    fields = ["consecutive_failures", "failing_since", "last_failure_at", "last_error", "retry_at", "updated_at"]
    failing_for = now - endpoint.failing_since
    if (
        endpoint.is_active
        and endpoint.consecutive_failures >= MIN_FAILURES_TO_DISABLE
        and failing_for >= timedelta(hours=settings.SESAME_WEBHOOK_DISABLE_AFTER_HOURS)
    ):
        _disable(endpoint, now, failing_for)
        fields += ["is_active", "disabled_at", "disabled_reason", "disabled_notice", "disabled_notice_error"]
    endpoint.save(update_fields=fields)


def _disable(endpoint: WebhookEndpoint, now: datetime, failing_for: timedelta) -> None:
    hours = int(failing_for.total_seconds() // 3600)
    endpoint.is_active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = (
        f"Disabled by Sesame after failing for {hours} hours without a success "
        f"({endpoint.consecutive_failures} failed attempts in a row). Last error: {endpoint.last_error[:500]}"
    )
    endpoint.disabled_notice_id, endpoint.disabled_notice_error = _notify_owner(endpoint)
    logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, endpoint.disabled_reason)


def _notify_owner(endpoint: WebhookEndpoint) -> tuple[Any, str]:
    """Queue the owner's email through Sesame itself, as reputation protection does. (email id or None, why not)"""
    from emails.services.notices import owner_notify

    owner = Account.objects.filter(pk=endpoint.account_id).first()
    if owner is None:
        return None, "Not notified: the account has no owner email."
    return owner_notify(
        account=owner,
        subject=f"Sesame disabled your webhook endpoint {endpoint.url[:200]}",
        text=(
            f"Your webhook endpoint {endpoint.url} (id {endpoint.pk}) has not accepted a delivery for "
            f"{settings.SESAME_WEBHOOK_DISABLE_AFTER_HOURS} hours, so Sesame stopped sending to it.\n\n"
            f"{endpoint.disabled_reason}\n\n"
            "Deliveries already waiting are kept until their retry window ends; new events are not queued for it. "
            "Once the endpoint answers 2xx again, turn it back on with\n"
            f'PATCH /v1/webhooks/{endpoint.pk} {{"is_active": true}}\n'
            "and the waiting deliveries go out at once.\n"
        ),
    )


# --- the sweep and operators ---------------------------------------------------------------------------------------


def webhook_deliveries_sweep(*, limit: int = 5000) -> int:
    """Beat: give up on deliveries whose retry window ended, and nudge the drain when something is due (endpoints
    whose backoff ran out, leases of a drain that died). Returns how many were given up."""
    now = timezone.now()
    expired = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, give_up_at__lte=now).filter(
        Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    )
    ids = list(expired.order_by("give_up_at").values_list("pk", flat=True)[:limit])
    given_up = 0
    if ids:
        given_up = WebhookDelivery.objects.filter(pk__in=ids, status=WebhookDelivery.Status.PENDING).update(
            status=WebhookDelivery.Status.FAILED,
            next_attempt_at=None,
            leased_until=None,
            last_error=f"Gave up: not delivered within {settings.SESAME_WEBHOOK_RETRY_HOURS} h "
            "(the endpoint was failing, paused or disabled).",
        )
    if _candidates(limit=1, now=now):
        webhook_drain_nudge()
    return given_up


def webhook_delivery_retry(*, delivery: WebhookDelivery) -> None:
    """An operator's "retry now": back to pending, due now, with at least an hour more to succeed; its endpoint's
    backoff is lifted (a paused or disabled endpoint stays so until it is re-enabled)."""
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now,
        leased_until=None,
        give_up_at=max(delivery.give_up_at, now + timedelta(hours=1)),
    )
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, retry_at__gt=now).update(retry_at=now)
    transaction.on_commit(webhook_drain_nudge, robust=True)


@transaction.atomic
def webhook_delivery_redeliver(*, delivery_id: Any) -> bool:
    """Send a delivery that failed (gave up) or was dropped once more, as "retry now" does; a pending or delivered
    one is left alone, so redelivering twice changes nothing. Returns whether it was queued again."""
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .filter(pk=delivery_id, status__in=[WebhookDelivery.Status.FAILED, WebhookDelivery.Status.DROPPED])
        .first()
    )
    if delivery is None:
        return False
    webhook_delivery_retry(delivery=delivery)
    return True
