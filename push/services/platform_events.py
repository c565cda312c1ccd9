"""SNS platform-application events (EventEndpointUpdated, EventEndpointDeleted, EventDeliveryFailure), as the
events app hands them over from Sesame's verified SNS webhook. A message of a shape Sesame does not know is
reported, never an error."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import AwsConnection
from push.models import TOKEN_PREFIX_LENGTH, PushApp, PushDelivery, PushDevice, PushEvent, token_hash
from push.services.health import app_guard_check, deliveries_failed, device_disable, device_event, device_fails

_EVENT_TYPES = ("EndpointCreated", "EndpointUpdated", "EndpointDeleted", "DeliveryFailure")


def _event_type(message: dict[str, Any]) -> str:
    return str(message.get("EventType") or message.get("Type") or "")


def is_platform_event(message: Any) -> bool:
    return isinstance(message, dict) and _event_type(message) in _EVENT_TYPES and bool(message.get("EndpointArn"))


def _falsy(value: Any) -> bool:
    return value is False or str(value).lower() == "false"


@transaction.atomic
def push_platform_event(*, connection: AwsConnection, message: dict[str, Any]) -> str:
    """Apply one platform-application event; returns what was done, for the notification's record."""
    event_type, arn = _event_type(message), str(message["EndpointArn"])
    device = (
        PushDevice.objects.select_related("app")
        .filter(account_id=connection.account_id, app__connection=connection, endpoint_arn=arn)
        .first()
    )
    if device is None:
        return f"Push {event_type} for an endpoint no device of this connection has; nothing to do."
    now = timezone.now()
    source = PushEvent.Source.SNS
    if event_type == "EndpointDeleted":
        device_disable(device=device, reason="SNS deleted the endpoint", by_failure=False, at=now, source=source)
        return f"Device {device.pk} disabled: its endpoint was deleted."
    if event_type == "EndpointUpdated":
        return _updated(device, message, now)
    if event_type == "DeliveryFailure":
        return _delivery_failure(device, message, now)
    device_event(device, "endpoint_created", "SNS reported the endpoint created", at=now, source=source)
    return f"Device {device.pk}: endpoint created noted."


def _updated(device: PushDevice, message: dict[str, Any], now: Any) -> str:
    source = PushEvent.Source.SNS
    done = []
    token = message.get("Token")
    if isinstance(token, str) and token and token_hash(token) != device.token_hash:
        # FCM's canonical token or APNs's new token, as SNS learned it from the platform.
        taken = PushDevice.objects.filter(app=device.app, token_hash=token_hash(token)).exclude(pk=device.pk).exists()
        if not taken:
            PushDevice.objects.filter(pk=device.pk).update(
                token_hash=token_hash(token), token_prefix=token[:TOKEN_PREFIX_LENGTH], updated_at=now
            )
            device_event(
                device,
                "token_changed",
                f"SNS updated the token to {token[:TOKEN_PREFIX_LENGTH]}…",
                at=now,
                source=source,
            )
            done.append("token updated")
    if _falsy(message.get("Enabled")):
        device_fails(device_id=device.pk, reason="EndpointDisabled: SNS disabled the endpoint", at=now, source=source)
        app_guard_check(app=PushApp.objects.get(pk=device.app_id), now=now)
        done.append("disabled" if not PushApp.objects.get(pk=device.app_id).is_paused else "kept (app paused)")
    return f"Device {device.pk}: {', '.join(done) or 'nothing to change'}."


def _delivery_failure(device: PushDevice, message: dict[str, Any], now: Any) -> str:
    failure = f"{message.get('FailureType') or 'Unknown'}: {message.get('FailureMessage') or ''}".strip()
    reason = f"DeliveryFailure: {failure}"[:2000]
    deliveries = PushDelivery.objects.filter(device=device, status=PushDelivery.Status.SENT)
    message_id = message.get("MessageId")
    found = deliveries.filter(sns_message_id=message_id).first() if message_id else None
    found = found or deliveries.order_by("-sent_at").first()
    if found is None:
        device_fails(device_id=device.pk, reason=reason, at=now, source=PushEvent.Source.SNS)
        return f"Device {device.pk}: delivery failure with no sent push to match ({failure})."
    PushDelivery.objects.filter(pk=found.pk).update(status=PushDelivery.Status.FAILED, failure_reason=reason)
    found.status, found.failure_reason = PushDelivery.Status.FAILED, reason
    PushEvent.objects.create(
        account_id=found.account_id,
        delivery=found,
        device=device,
        event_type="delivery_failure",
        source=PushEvent.Source.SNS,
        detail=failure,
        occurred_at=now,
    )
    deliveries_failed([found], reason=reason)
    return f"Push delivery {found.pk} failed on the platform: {failure}."
