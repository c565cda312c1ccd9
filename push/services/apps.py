"""Push apps: SNS platform applications created from uploaded credentials or adopted, paused and resumed."""

import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, AwsConnection
from config.api.errors import UnprocessableEntity, error_entry
from config.delivery.errors import TransportError
from config.delivery.services import delivery_announce
from push.models import PushApp, PushDelivery, PushDevice
from push.services.health import devices_keep_enabled
from push.transport import transport

logger = logging.getLogger("sesame.push")

_APP_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:app/(APNS|APNS_SANDBOX|GCM)/([\w.-]+)$")
# SNS platform application names: letters, digits, '_', '-' and '.', up to 256.
_APP_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class AppCredentials:
    """What the caller uploaded: an APNs .p8 key with its ids, or an FCM service-account JSON."""

    kind: str
    secret: str  # the .p8 key or the service-account JSON, as uploaded
    summary: dict[str, str]  # what may be shown again
    attributes: dict[str, str]  # CreatePlatformApplication's attributes


def apns_credentials(*, key_p8: str, key_id: str, team_id: str, bundle_id: str) -> AppCredentials:
    return AppCredentials(
        kind=PushApp.Credential.APNS_KEY,
        secret=key_p8,
        summary={"key_id": key_id, "team_id": team_id, "bundle_id": bundle_id},
        attributes={
            "PlatformCredential": key_p8,
            "PlatformPrincipal": key_id,
            "ApplePlatformTeamID": team_id,
            "ApplePlatformBundleID": bundle_id,
        },
    )


def fcm_credentials(*, service_account: dict[str, Any]) -> AppCredentials:
    text = json.dumps(service_account)
    return AppCredentials(
        kind=PushApp.Credential.FCM_SERVICE_ACCOUNT,
        secret=text,
        summary={
            "project_id": str(service_account.get("project_id", "")),
            "client_email": str(service_account.get("client_email", "")),
        },
        attributes={"PlatformCredential": text},
    )


def _event_attributes(connection: AwsConnection) -> dict[str, str]:
    """SNS sends endpoint and delivery-failure events to the connection's topic, which reaches Sesame's webhook."""
    if not connection.sns_topic_arn:
        return {}
    return {
        "EventEndpointUpdated": connection.sns_topic_arn,
        "EventEndpointDeleted": connection.sns_topic_arn,
        "EventDeliveryFailure": connection.sns_topic_arn,
    }


def _refused(field: str, error: TransportError) -> UnprocessableEntity:
    return UnprocessableEntity([error_entry(["body", field], f"SNS refused it: {error.reason}", "value_error.sns")])


def _save(app: PushApp) -> PushApp:
    try:
        with transaction.atomic():
            app.save(force_insert=True)
    except IntegrityError:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "name"],
                    "an app with this name or platform application ARN exists",
                    "value_error.duplicate",
                )
            ]
        ) from None
    return app


def push_app_create(
    *, account: Account, connection: AwsConnection, name: str, platform: str, credentials: AppCredentials
) -> PushApp:
    """CreatePlatformApplication in the connection's AWS account from uploaded credentials, stored encrypted."""
    if PushApp.objects.filter(account=account, name=name).exists():
        raise UnprocessableEntity(
            [error_entry(["body", "name"], "you have an app with this name", "value_error.duplicate")]
        )
    sns_name = _APP_NAME.sub("-", name)[:256]
    try:
        arn = transport().app_create(
            connection,
            name=sns_name,
            platform=platform,
            attributes={**credentials.attributes, **_event_attributes(connection)},
        )
    except TransportError as error:
        raise _refused("credentials", error) from error
    app = PushApp(
        account=account,
        connection=connection,
        name=name,
        platform=platform,
        platform_application_arn=arn,
        credential_kind=credentials.kind,
        credentials=credentials.secret,
        credential_summary=credentials.summary,
    )
    return _save(app)


def push_app_adopt(*, account: Account, connection: AwsConnection, name: str, arn: str) -> PushApp:
    """Use an existing platform application: its credentials stay in SNS. Its event topics are pointed at Sesame
    only where none is set, so the owner's own wiring is never replaced."""
    match = _APP_ARN.match(arn)
    if match is None:
        raise UnprocessableEntity(
            [
                error_entry(
                    ["body", "platform_application_arn"],
                    "not an SNS platform application ARN, e.g. arn:aws:sns:us-east-1:123456789012:app/GCM/my-app",
                    "value_error.arn",
                )
            ]
        )
    try:
        current = transport().app_attributes(connection, arn)
        unset = {key: value for key, value in _event_attributes(connection).items() if not current.get(key)}
        if unset:
            transport().app_attributes_set(connection, arn, unset)
    except TransportError as error:
        raise _refused("platform_application_arn", error) from error
    app = PushApp(
        account=account,
        connection=connection,
        name=name,
        platform=match.group(1),
        platform_application_arn=arn,
        credential_kind=PushApp.Credential.ADOPTED,
    )
    return _save(app)


@transaction.atomic
def push_app_pause(*, app: PushApp, reason: str, by_guard: bool = False) -> bool:
    """Stop sending the app's pushes: waiting deliveries are held (not failed), new ones are held as they come.
    The guard also keeps the burst's devices enabled and tells the owner. False when it was already paused."""
    now = timezone.now()
    if not PushApp.objects.filter(pk=app.pk, status=PushApp.Status.ACTIVE).update(
        status=PushApp.Status.PAUSED, paused_reason=reason[:2000], paused_at=now, updated_at=now
    ):
        return False
    app.status, app.paused_reason, app.paused_at = PushApp.Status.PAUSED, reason[:2000], now
    PushDelivery.objects.filter(app=app, status__in=PushDelivery.WAITING).update(status=PushDelivery.Status.HELD)
    if by_guard:
        since = now - timedelta(seconds=settings.SESAME_PUSH_GUARD_WINDOW_SECONDS)
        devices_keep_enabled(app=app, since=since, reason=f"kept enabled: the app was paused ({reason[:300]})")
        app.pause_notice_id, app.pause_notice_error = _notify_owner(app)
        PushApp.objects.filter(pk=app.pk).update(
            pause_notice_id=app.pause_notice_id, pause_notice_error=app.pause_notice_error
        )
    logger.warning("push app %s paused: %s", app.pk, reason)
    return True


@transaction.atomic
def push_app_resume(*, app: PushApp) -> int:
    """Send again: held deliveries are queued (due now, or at their schedule), and the endpoints SNS disabled
    during the incident are enabled again (push.tasks). Returns how many deliveries were released."""
    now = timezone.now()
    if not PushApp.objects.filter(pk=app.pk, status=PushApp.Status.PAUSED).update(
        status=PushApp.Status.ACTIVE, paused_reason="", paused_at=None, updated_at=now
    ):
        return 0
    app.status, app.paused_reason, app.paused_at = PushApp.Status.ACTIVE, "", None
    held = PushDelivery.objects.filter(app=app, status=PushDelivery.Status.HELD)
    released = held.filter(send_at__gt=now).update(status=PushDelivery.Status.SCHEDULED, failure_reason="")
    released += held.update(status=PushDelivery.Status.QUEUED, failure_reason="")
    delivery_announce(channel="push", connection_ids=[app.connection_id])
    if PushDevice.objects.filter(app=app, endpoint_needs_enable=True).exists():
        from push.tasks import endpoints_enable

        transaction.on_commit(lambda: endpoints_enable.delay(str(app.pk)))
    return released


def _notify_owner(app: PushApp) -> tuple[Any, str]:
    from emails.services.notices import owner_notify

    return owner_notify(
        account=app.account,
        subject=f"Sesame paused your push app {app.name}",
        text=(
            f"Most pushes of your app {app.name} ({app.platform}, {app.platform_application_arn}) failed at once, so "
            f"Sesame paused it instead of disabling every device.\n\n{app.paused_reason}\n\n"
            "Nothing is lost: its pushes are held and its devices stay enabled. Check the app's credentials (APNs key "
            "and environment, or the FCM service account), then resume it from the admin (Push apps, 'Resume')."
        ),
    )
