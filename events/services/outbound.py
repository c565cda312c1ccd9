"""Outbound webhooks: customers' HTTPS endpoints get each event as signed JSON, retried for a day.

The signature header is `Sesame-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`:
receivers recompute it over the raw body and refuse stale timestamps, which stops replays.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from emails.models import Email, EmailEvent
from events import parsing
from events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("sesame.events")

SECRET_PREFIX = "whsec_"  # noqa: S105  (a label, not a secret)
EVENT_TYPES = (*parsing.KNOWN_TYPES, "*")
# Seconds to wait after each failed attempt; the last step repeats until the retry window ends.
RETRY_DELAYS = (30, 120, 600, 1800, 3600, 7200, 14400)
# An attempt in flight holds its delivery this long, so the sweeper does not start a second one.
_LEASE = timedelta(minutes=2)


class EndpointRefused(ValueError):
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


@transaction.atomic
def webhook_endpoint_create(
    *, account: Account, url: str, event_types: list[str], description: str = "", is_active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; the plaintext secret exists only in this return value (and, encrypted, in the row)."""
    webhook_url_check(url)
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


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    if "url" in changes:
        webhook_url_check(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _check_types(changes["event_types"])
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.save()
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


def _enqueue(delivery_id: str) -> None:
    from events.tasks import webhook_deliver_task

    webhook_deliver_task.delay(delivery_id)


def webhook_deliveries_create(*, events: list[EmailEvent], email: Email | None) -> int:
    account_id = events[0].account_id if events else None
    if account_id is None:
        return 0
    endpoints = list(WebhookEndpoint.objects.filter(account_id=account_id, is_active=True))
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                account_id=account_id,
                event=event,
                event_type=event.event_type,
                payload=event_payload(event, email),
                next_attempt_at=now,
                give_up_at=now + timedelta(hours=settings.SESAME_WEBHOOK_RETRY_HOURS),
            )
            for event in events
            for endpoint in endpoints
            if endpoint.wants(event.event_type)
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(_enqueue, str(delivery.pk)), robust=True)
    return len(deliveries)


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


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


def webhook_deliver(*, delivery_id: Any) -> WebhookDelivery | None:
    """One attempt. A conditional UPDATE claims the delivery, so a duplicated task cannot POST twice at once."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + _LEASE)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if delivery.payload.get("email_id") is None and delivery.event is not None and delivery.event.email_id:
        delivery.payload["email_id"] = str(delivery.event.email_id)  # adopted since the event arrived
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Sesame-Webhooks/1.0",
        "Sesame-Event-Type": delivery.event_type,
        "Sesame-Event-Id": str(delivery.payload.get("id", "")),
        "Sesame-Delivery-Id": str(delivery.pk),
        "Sesame-Signature": signature_header(endpoint.secret, stamp, body),
    }
    started = time.monotonic()
    status_code: int | None = None
    excerpt = error = ""
    if not endpoint.is_active:
        error = "Endpoint is disabled."
    else:
        try:
            status_code, excerpt = _post(endpoint.url, body, headers, settings.SESAME_WEBHOOK_TIMEOUT_SECONDS)
        except Exception as exc:  # any network or TLS failure is one failed attempt, retried later
            error = f"{type(exc).__name__}: {exc}"[:1000]
    attempt = WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        status_code=status_code,
        duration_ms=int((time.monotonic() - started) * 1000),
        response_excerpt=excerpt,
        error=error,
    )
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error or ("" if attempt.succeeded else f"HTTP {status_code}: {excerpt[:200]}")
    finished = timezone.now()
    if attempt.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            WebhookDelivery.Status.DELIVERED,
            finished,
            None,
        )
    else:
        wait = RETRY_DELAYS[min(delivery.attempts, len(RETRY_DELAYS)) - 1]
        retry_at = finished + timedelta(seconds=wait)
        if retry_at > delivery.give_up_at or not endpoint.is_active:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = retry_at
    delivery.save()
    return delivery


def webhook_deliveries_due(*, limit: int = 500) -> list[str]:
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
    return [str(pk) for pk in due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]]


def webhook_delivery_retry(*, delivery: WebhookDelivery) -> None:
    """An operator's "retry now": back to pending, with at least an hour more to succeed."""
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=now,
        give_up_at=max(delivery.give_up_at, now + timedelta(hours=1)),
    )
    transaction.on_commit(partial(_enqueue, str(delivery.pk)), robust=True)
