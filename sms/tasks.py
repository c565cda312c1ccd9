"""Celery tasks of the SMS app: thin doors that load ids and call services. Beat schedules them
(config/settings/celery.py); one connection's failure never stops the others."""

import logging

from celery import shared_task
from django.utils import timezone

from accounts.models import AwsConnection
from config.delivery.errors import TransportError
from sms import services
from sms.models import SimulatedSms, SmsConnectionState, SmsMessage
from sms.simulator import delivery_record
from sms.transport import LogEvent

logger = logging.getLogger("sesame.sms")


def _sms_connections() -> list[AwsConnection]:
    """Active connections of active accounts that have sent SMS (their state row exists once they did)."""
    return list(
        AwsConnection.objects.select_related("account").filter(
            is_active=True,
            account__status="active",
            pk__in=SmsConnectionState.objects.values("connection_id"),
        )
    )


@shared_task(ignore_result=True)
def delivery_status_ingest_all() -> int:
    new = 0
    for connection in _sms_connections():
        try:
            new += services.delivery_status_ingest(connection=connection)
        except TransportError as error:
            logger.warning("SMS delivery status of connection %s not read: %s", connection.pk, error.reason)
    return new


@shared_task(ignore_result=True)
def opt_outs_sync_all() -> int:
    added = 0
    for connection in _sms_connections():
        try:
            added += services.opt_outs_sync(connection=connection)
        except TransportError as error:
            logger.warning("SNS opt-outs of connection %s not synced: %s", connection.pk, error.reason)
    return added


@shared_task(ignore_result=True)
def sandbox_status_refresh_all() -> None:
    for connection in _sms_connections():
        services.sandbox_status_refresh(connection=connection)


@shared_task(ignore_result=True)
def otp_housekeeping() -> None:
    services.otp_expire()
    services.otp_ratio_check()
    services.sealed_bodies_wipe()
    services.otp_email_bodies_prune()


@shared_task(ignore_result=True)
def simulator_report(message_id: str) -> bool:
    """The local SMS simulator's delivery status for one text; its transport sends this by name, a moment later."""
    sent = SimulatedSms.objects.select_related("connection").filter(message_id=message_id).first()
    if sent is None:
        return False
    sms = SmsMessage.objects.filter(pk=sent.sms_id).values_list("segments", flat=True) if sent.sms_id else None
    segments = (sms.first() if sms is not None else None) or 1
    now = timezone.now()
    event = LogEvent(
        f"simulator-{message_id}", int(now.timestamp() * 1000), delivery_record(sent, segments=segments, now=now)
    )
    return services.delivery_event_ingest(connection=sent.connection, event=event)
