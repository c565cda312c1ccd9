"""Outbound webhooks: customers' HTTPS endpoints get each event as signed JSON, retried for a day.

The signature header is `Sesame-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`:
receivers recompute it over the raw body and refuse stale timestamps, which stops replays.

This module holds the endpoints (with the per-account endpoint limit), the deliveries' creation (with the
per-account pending limit) and the one HTTP call; `webhook_drain` attempts the deliveries, fairly across accounts.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from accounts.models import Account
from emails.models import Email, EmailEvent
from events import parsing
from events.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("sesame.events")

SECRET_PREFIX = "whsec_"  # noqa: S105  (a label, not a secret)
# Events of the account itself, beside the messages' (billing.usage_alert: 80, 90 and 100% of included emails used).
ACCOUNT_EVENT_TYPES = ("billing.usage_alert",)
EVENT_TYPES = (*parsing.KNOWN_TYPES, *ACCOUNT_EVENT_TYPES, "*")


class EndpointRefused(ValueError):
    pass


class EndpointLimitReached(EndpointRefused):
    pass


def webhook_url_check(url: str) -> None:
    """HTTPS only, no credentials in the URL, and (unless allowed) no private or loopback address literal."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise EndpointRefused("Webhook URLs must use https://.")
    if not parts.hostname or parts.username or parts.password:
        raise EndpointRefused("Give a host name and no user:password in the URL.")
    if settings.SESAME_WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return
    host = parts.hostname
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise EndpointRefused(f"{host} is not reachable from the internet.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise EndpointRefused(f"{host} is a private, loopback or reserved address.")


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _check_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown or not event_types:
        raise EndpointRefused(f"Event types must be some of {', '.join(EVENT_TYPES)}; got {unknown or 'none'}.")
    return sorted(set(event_types))


def _lock_account_endpoints(account_id: Any) -> None:
    """Serialise endpoint creation per account, so two concurrent requests cannot both take the last slot."""
    db = transaction.get_connection()
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"sesame:webhook-endpoints:{account_id}"])


@transaction.atomic
def webhook_endpoint_create(
    *, account: Account, url: str, event_types: list[str], description: str = "", is_active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; the plaintext secret exists only in this return value (and, encrypted, in the row).

    Raises EndpointLimitReached when the account already has SESAME_WEBHOOK_MAX_ENDPOINTS endpoints (active,
    paused or disabled: they all count)."""
    webhook_url_check(url)
    _lock_account_endpoints(account.pk)
    limit = settings.SESAME_WEBHOOK_MAX_ENDPOINTS
    if WebhookEndpoint.objects.filter(account=account).count() >= limit:
        raise EndpointLimitReached(
            f"This account already has {limit} webhook endpoints, the most allowed "
            f"(SESAME_WEBHOOK_MAX_ENDPOINTS={limit}). Delete one, or subscribe an existing one to more event types."
        )
    secret = _new_secret()
    endpoint = WebhookEndpoint.objects.create(
        account=account,
        url=url,
        event_types=_check_types(event_types),
        description=description,
        is_active=is_active,
        secret=secret,
        secret_prefix=secret[:10],
    )
    return endpoint, secret


def _clear_failures(endpoint: WebhookEndpoint) -> None:
    endpoint.consecutive_failures = 0
    endpoint.failing_since = endpoint.retry_at = None


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change an endpoint. `is_active=True` also re-enables one Sesame disabled: its failure streak and backoff are
    cleared and its pending deliveries are attempted again at once. A new URL clears the streak too."""
    if "url" in changes:
        webhook_url_check(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _check_types(changes["event_types"])
    resume = False
    if changes.get("url", endpoint.url) != endpoint.url:
        _clear_failures(endpoint)
        resume = True
    if changes.get("is_active") is True and (not endpoint.is_active or endpoint.disabled_at is not None):
        _clear_failures(endpoint)
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
        endpoint.disabled_notice, endpoint.disabled_notice_error = None, ""
        resume = True
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.save()
    if resume:
        transaction.on_commit(_nudge_drain, robust=True)
    return endpoint


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    secret = _new_secret()
    endpoint.secret = secret
    endpoint.secret_prefix = secret[:10]
    endpoint.save(update_fields=["secret", "secret_prefix", "updated_at"])
    return secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def event_payload(event: EmailEvent, email: Email | None) -> dict[str, Any]:
    return {
        "id": str(event.pk),
        "type": event.event_type,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "email_id": str(email.pk) if email else None,
        "client_email_id": email.client_email_id if email else None,
        "ses_message_id": event.ses_message_id,
        "recipient": event.recipient,
        "subtype": event.subtype,
        "detail": event.detail,
        "tags": email.tags if email else [],
        "ses": event.payload,
    }


def _nudge_drain() -> None:
    from events.services.webhook_drain import webhook_drain_nudge

    webhook_drain_nudge()


def webhook_deliveries_create(*, events: list[EmailEvent], email: Email | None) -> int:
    """Queue each event for each active endpoint of its account that wants it; the drain attempts them.

    At most SESAME_WEBHOOK_MAX_PENDING deliveries wait per account: beyond that the oldest waiting ones are dropped
    (status `dropped`, counted on their endpoint), so new events keep flowing to endpoints that work while a dead
    one's backlog is what gives way."""
    account_id = events[0].account_id if events else None
    if account_id is None:
        return 0
    return _deliveries_queue(account_id, [(event, event.event_type, event_payload(event, email)) for event in events])


def webhook_account_event_emit(*, account_id: Any, event_type: str, payload: dict[str, Any]) -> int:
    """Queue an event about the account itself (not about a message) for its endpoints that want it."""
    return _deliveries_queue(account_id, [(None, event_type, {"type": event_type, **payload})])


def _deliveries_queue(account_id: Any, items: list[tuple[EmailEvent | None, str, dict[str, Any]]]) -> int:
    endpoints = list(WebhookEndpoint.objects.filter(account_id=account_id, is_active=True))
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                account_id=account_id,
                event=event,
                event_type=event_type,
                payload=payload,
                next_attempt_at=now,
                give_up_at=now + timedelta(hours=settings.SESAME_WEBHOOK_RETRY_HOURS),
            )
            for event, event_type, payload in items
            for endpoint in endpoints
            if endpoint.wants(event_type)
        ]
    )
    if deliveries:
        webhook_deliveries_trim(account_id=account_id)
        transaction.on_commit(_nudge_drain, robust=True)
    return len(deliveries)


def webhook_deliveries_trim(*, account_id: Any) -> int:
    """Drop the account's oldest waiting deliveries beyond SESAME_WEBHOOK_MAX_PENDING. Returns how many."""
    pending = WebhookDelivery.objects.filter(account_id=account_id, status=WebhookDelivery.Status.PENDING)
    excess = pending.count() - settings.SESAME_WEBHOOK_MAX_PENDING
    if excess <= 0:
        return 0
    now = timezone.now()
    # Attempts in flight finish on their own; rows another transaction holds are left for the next trim.
    victims = list(
        pending.filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        .select_for_update(skip_locked=True)
        .order_by("created_at", "id")
        .values_list("pk", "endpoint_id")[:excess]
    )
    if not victims:
        return 0
    limit = settings.SESAME_WEBHOOK_MAX_PENDING
    WebhookDelivery.objects.filter(pk__in=[pk for pk, _ in victims]).update(
        status=WebhookDelivery.Status.DROPPED,
        next_attempt_at=None,
        leased_until=None,
        last_error=f"Dropped: the account had more than {limit} deliveries waiting (SESAME_WEBHOOK_MAX_PENDING).",
    )
    per_endpoint: dict[Any, int] = {}
    for _, endpoint_id in victims:
        per_endpoint[endpoint_id] = per_endpoint.get(endpoint_id, 0) + 1
    # The counters are written after the commit, each in its own short statement: holding endpoint rows for the
    # rest of an ingestion batch would stall the delivery drain, which records every account's attempts.
    transaction.on_commit(partial(_count_dropped, per_endpoint, now), robust=True)
    logger.warning("Webhook deliveries dropped account=%s count=%s (pending limit %s)", account_id, len(victims), limit)
    return len(victims)


def _count_dropped(per_endpoint: dict[Any, int], at: datetime) -> None:
    added = Case(*(When(pk=pk, then=Value(n)) for pk, n in per_endpoint.items()), default=Value(0))
    WebhookEndpoint.objects.filter(pk__in=list(per_endpoint)).update(
        deliveries_dropped=F("deliveries_dropped") + added, last_dropped_at=at
    )


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def delivery_request(delivery: WebhookDelivery) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt, signed now."""
    if delivery.payload.get("email_id") is None and delivery.event is not None and delivery.event.email_id:
        delivery.payload["email_id"] = str(delivery.event.email_id)  # adopted since the event arrived
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Sesame-Webhooks/1.0",
        "Sesame-Event-Type": delivery.event_type,
        "Sesame-Event-Id": str(delivery.payload.get("id", "")),
        "Sesame-Delivery-Id": str(delivery.pk),
        "Sesame-Signature": signature_header(delivery.endpoint.secret, int(time.time()), body),
    }
    return body, headers


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str]:
    """POST over verified TLS to the address the name resolved to (so a re-resolution cannot point elsewhere).

    The one function tests replace."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    if not settings.SESAME_WEBHOOK_ALLOW_PRIVATE_HOSTS and not ipaddress.ip_address(address).is_global:
        raise EndpointRefused(f"{host} resolves to a private address ({address}).")
    pool = urllib3.HTTPSConnectionPool(
        str(address),
        port,
        server_hostname=host,
        assert_hostname=host,
        cert_reqs="CERT_REQUIRED",
        timeout=urllib3.Timeout(total=timeout),
        retries=False,
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers={**headers, "Host": parts.netloc}, redirect=False, preload_content=False
        )
        excerpt = response.read(1024).decode("utf-8", "replace")
        response.release_conn()
    finally:
        pool.close()
    return int(response.status), excerpt
