"""Token health and app health: what a send's outcome, or an SNS platform-application event, does to a device and
its app, and how that shows on the timelines of the delivery, the device and the contact.

A token is dead when SNS says so for that endpoint (EndpointDisabled or NotFound on publish, an
EventEndpointUpdated to Enabled=false, EventEndpointDeleted, EventDeliveryFailure): its device is disabled. But
when most of an app's recent sends fail at once (a wrong APNs environment, an expired key, a revoked FCM key), the
app is at fault, not every token: the broken-app guard pauses the app, keeps its devices enabled (taking back the
disables of that burst) and tells the owner (push/services/apps.py).
"""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts.models import ContactEvent
from push.models import PushApp, PushDelivery, PushDevice, PushEvent
from push.transport import APP_DISABLED, ENDPOINT_DISABLED, ENDPOINT_NOT_FOUND, error_code

logger = logging.getLogger("sesame.push")

# The guard reads at most this many of an app's latest sends: a burst of failures costs a bounded read per failure.
GUARD_SAMPLE = 200

# Failures that say the token is dead (SNS disabled or lost its endpoint)...
TOKEN_DEAD_CODES = (ENDPOINT_DISABLED, ENDPOINT_NOT_FOUND, "DeliveryFailure")
# ...and every failure that came from SNS or the platform: what the broken-app guard counts.
GUARD_CODES = (*TOKEN_DEAD_CODES, APP_DISABLED, "InvalidParameter", "AuthorizationError", "InvalidSecurity")


def contact_events(rows: Iterable[tuple[Any, Any, str, dict[str, Any]]], *, at: datetime) -> None:
    """(account id, contact id, name, properties) rows onto the contacts' timelines, source push."""
    ContactEvent.objects.bulk_create(
        ContactEvent(
            account_id=account_id,
            contact_id=contact_id,
            name=name,
            properties=properties,
            occurred_at=at,
            source=ContactEvent.Source.PUSH,
        )
        for account_id, contact_id, name, properties in rows
        if contact_id is not None
    )


def deliveries_sent(deliveries: Sequence[Any]) -> None:
    contact_events(
        (
            (d.account_id, d.contact_id, "push_sent", {"push_id": str(d.message_id), "device_id": str(d.device_id)})
            for d in deliveries
        ),
        at=timezone.now(),
    )


def deliveries_failed(deliveries: Sequence[Any], *, reason: str) -> None:
    """Called in the transaction that moved them to `failed`."""
    now = timezone.now()
    contact_events(
        (
            (
                d.account_id,
                d.contact_id,
                "push_failed",
                {"push_id": str(d.message_id), "device_id": str(d.device_id), "reason": reason[:500]},
            )
            for d in deliveries
        ),
        at=now,
    )
    code = error_code(reason)
    if code not in GUARD_CODES:
        return
    for app_id in {d.app_id for d in deliveries}:
        ours = [d for d in deliveries if d.app_id == app_id]
        app = PushApp.objects.get(pk=app_id)
        if code == APP_DISABLED:
            _pause(app, f"SNS says the platform application is disabled ({reason[:300]})")
        elif code in TOKEN_DEAD_CODES:
            for delivery in ours:
                device_fails(device_id=delivery.device_id, reason=reason, at=now)
        app_guard_check(app=app, now=now)


def _pause(app: PushApp, reason: str) -> None:
    from push.services.apps import push_app_pause

    push_app_pause(app=app, reason=reason, by_guard=True)


def device_fails(*, device_id: Any, reason: str, at: datetime, source: str = PushEvent.Source.SESAME) -> None:
    """SNS says this device's token is dead. While its app is paused by the guard the app is blamed instead."""
    device = PushDevice.objects.select_related("app").filter(pk=device_id).first()
    if device is None:
        return
    if device.app.is_paused:
        PushDevice.objects.filter(pk=device.pk).update(endpoint_needs_enable=True)
        device_event(device, "kept_enabled", f"not disabled while the app is paused: {reason}", at=at, source=source)
        return
    device_disable(device=device, reason=reason, by_failure=True, at=at, source=source)


def device_disable(
    *, device: PushDevice, reason: str, by_failure: bool, at: datetime, source: str = PushEvent.Source.SESAME
) -> bool:
    if not PushDevice.objects.filter(pk=device.pk, enabled=True).update(
        enabled=False, disabled_reason=reason[:1000], disabled_at=at, disabled_by_failure=by_failure, updated_at=at
    ):
        return False
    device.enabled, device.disabled_reason, device.disabled_at = False, reason[:1000], at
    device_event(device, "disabled", reason, at=at, source=source)
    contact_events(
        [
            (
                device.account_id,
                device.contact_id,
                "push_device_disabled",
                {"device_id": str(device.pk), "reason": reason},
            )
        ],
        at=at,
    )
    return True


def device_event(device: PushDevice, event_type: str, detail: str, *, at: datetime, source: str = "sesame") -> None:
    PushEvent.objects.create(
        account_id=device.account_id, device=device, event_type=event_type, detail=detail, occurred_at=at, source=source
    )


def app_failure_share(*, app: PushApp, since: datetime) -> tuple[int, int]:
    """(pushes tried, pushes failed on the token or the app) among the app's latest GUARD_SAMPLE since a moment."""
    latest = (
        PushDelivery.objects.filter(app=app, claimed_at__gte=since)
        .order_by("-claimed_at")
        .values_list("status", "failure_reason")[:GUARD_SAMPLE]
    )
    outcomes = list(latest)
    failed = sum(
        1 for status, reason in outcomes if status == PushDelivery.Status.FAILED and error_code(reason) in GUARD_CODES
    )
    return len(outcomes), failed


def app_guard_check(*, app: PushApp, now: datetime) -> bool:
    """Pause the app when most of its recent sends failed; True when it did."""
    if app.is_paused:
        return False
    since = now - timedelta(seconds=settings.SESAME_PUSH_GUARD_WINDOW_SECONDS)
    tried, failed = app_failure_share(app=app, since=since)
    if tried < settings.SESAME_PUSH_GUARD_MIN_SENDS or failed < tried * settings.SESAME_PUSH_GUARD_FAILURE_SHARE:
        return False
    reason = (
        f"{failed} of the last {tried} pushes failed within {settings.SESAME_PUSH_GUARD_WINDOW_SECONDS // 60} "
        "minutes: the app's credentials or APNs environment are likely wrong (an expired or revoked key, a sandbox "
        "token sent to production), not every device's token"
    )
    _pause(app, reason)
    return True


@transaction.atomic
def devices_keep_enabled(*, app: PushApp, since: datetime, reason: str) -> int:
    """Take back the disables a failure burst made on this app: those devices are fine, the app was not."""
    now = timezone.now()
    devices = list(PushDevice.objects.filter(app=app, enabled=False, disabled_by_failure=True, disabled_at__gte=since))
    PushDevice.objects.filter(pk__in=[d.pk for d in devices]).update(
        enabled=True,
        disabled_reason="",
        disabled_at=None,
        disabled_by_failure=False,
        endpoint_needs_enable=True,
        updated_at=now,
    )
    PushEvent.objects.bulk_create(
        PushEvent(account_id=d.account_id, device=d, event_type="re_enabled", detail=reason, occurred_at=now)
        for d in devices
    )
    contact_events(
        (
            (d.account_id, d.contact_id, "push_device_re_enabled", {"device_id": str(d.pk), "reason": reason})
            for d in devices
        ),
        at=now,
    )
    return len(devices)
