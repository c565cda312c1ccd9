"""Devices: registration by token, following AWS's documented flow for platform endpoints, and removal.

Registration (https://docs.aws.amazon.com/sns/latest/dg/mobile-platform-endpoint.html): a token Sesame has not
seen gets CreatePlatformEndpoint; a known device gets GetEndpointAttributes, then SetEndpointAttributes(Token,
Enabled=true) when the token changed or the endpoint was disabled, and a new endpoint when it was deleted. AWS is
called before the database is written, so no transaction waits on the network.
"""

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from config.api.errors import UnprocessableEntity, error_entry
from config.delivery.errors import TransportError
from contacts.models import Contact
from push.models import TOKEN_PREFIX_LENGTH, PushApp, PushDevice, token_hash
from push.services.health import contact_events, device_event
from push.transport import existing_endpoint, transport


@dataclass(frozen=True)
class Registration:
    device: PushDevice
    created: bool


def _refused(error: TransportError) -> UnprocessableEntity:
    return UnprocessableEntity([error_entry(["body", "token"], f"SNS refused it: {error.reason}", "value_error.sns")])


def _endpoint_for(app: PushApp, device: PushDevice, token: str) -> tuple[str, list[tuple[str, str]]]:
    """The endpoint ARN this device must use for `token` after AWS's flow, and what changed (timeline lines)."""
    sns, connection = transport(), app.connection
    changes: list[tuple[str, str]] = []
    state = sns.endpoint_get(connection, device.endpoint_arn) if device.endpoint_arn else None
    if state is None:
        if device.endpoint_arn:
            changes.append(("endpoint_recreated", "SNS had deleted the endpoint; a new one was created"))
        return _endpoint_create(app, device, token), changes
    if state.token != token:
        changes.append(("token_changed", f"the token changed to {token[:TOKEN_PREFIX_LENGTH]}…"))
    if not state.enabled:
        changes.append(("re_enabled", "the endpoint was disabled; registration enabled it again"))
    if changes:
        sns.endpoint_set(connection, device.endpoint_arn, token=token, enabled=True)
    return device.endpoint_arn, changes


def _endpoint_create(app: PushApp, device: PushDevice, token: str) -> str:
    sns = transport()
    try:
        return sns.endpoint_create(
            app.connection, app_arn=app.platform_application_arn, token=token, user_data=f"sesame-device:{device.pk}"
        )
    except TransportError as error:
        # SNS already has an endpoint for this token with other attributes (made before Sesame knew the device):
        # take it over, as AWS's flow says, with the latest token and enabled.
        arn = existing_endpoint(error)
        if arn is None:
            raise
        sns.endpoint_set(app.connection, arn, token=token, enabled=True)
        return arn


def push_device_register(
    *,
    account: Account,
    app: PushApp,
    token: str,
    contact: Contact | None = None,
    locale: str | None = None,
    attributes: dict[str, Any] | None = None,
    device_id: Any = None,
) -> Registration:
    """Register (or re-register) an app install. Idempotent by token; `device_id`, an id an earlier registration
    answered, carries the device over to a new token. Raises UnprocessableEntity when SNS refuses."""
    digest = token_hash(token)
    device = PushDevice.objects.filter(app=app, token_hash=digest).first()
    created = device is None
    if device is None and device_id is not None:
        device = PushDevice.objects.filter(account=account, app=app, pk=device_id).first()
        created = device is None
    if device is None:
        device = PushDevice(account=account, app=app, token_hash=digest, token_prefix=token[:TOKEN_PREFIX_LENGTH])
    try:
        arn, changes = _endpoint_for(app, device, token)
    except TransportError as error:
        raise _refused(error) from error
    now = timezone.now()
    device.token_hash, device.token_prefix, device.endpoint_arn = digest, token[:TOKEN_PREFIX_LENGTH], arn
    device.enabled, device.disabled_reason, device.disabled_at = True, "", None
    device.disabled_by_failure = device.endpoint_needs_enable = False
    device.registered_at = now
    if contact is not None:
        device.contact = contact
    if locale is not None:
        device.locale = locale
    if attributes is not None:
        device.attributes = attributes
    try:
        with transaction.atomic():
            device.save(force_insert=created)
            if created:
                device_event(device, "registered", f"endpoint {arn}", at=now)
                contact_events(
                    [(account.pk, device.contact_id, "push_device_registered", {"device_id": str(device.pk)})], at=now
                )
            for event_type, detail in changes:
                device_event(device, event_type, detail, at=now)
    except IntegrityError:
        # The same token registered concurrently, or already held by another device of this app: that one wins.
        winner = PushDevice.objects.filter(app=app, token_hash=digest).first()
        if winner is None:
            raise
        return Registration(device=winner, created=False)
    return Registration(device=device, created=created)


def push_device_delete(*, device: PushDevice) -> None:
    """Forget the device and delete its SNS endpoint; its past deliveries stay in their messages' history."""
    if device.endpoint_arn:
        try:
            transport().endpoint_delete(device.app.connection, device.endpoint_arn)
        except TransportError as error:
            raise UnprocessableEntity(
                [error_entry(["path", "id"], f"SNS refused to delete the endpoint: {error.reason}", "value_error.sns")]
            ) from error
    with transaction.atomic():
        contact_events(
            [(device.account_id, device.contact_id, "push_device_removed", {"device_id": str(device.pk)})],
            at=timezone.now(),
        )
        device.delete()
