"""SMS delivery status: SNS writes each SMS outcome to CloudWatch Logs (sns/<region>/<account>/
DirectPublishToPhoneNumber and .../Failure). Provisioning turns that on; beat reads new log events, resuming from the
last token; each becomes a timeline entry, a status (delivered, or failed with the carrier's reason) with its price,
and an entry on the timeline of the contact with that mobile. The SMS simulator reports through `delivery_event_ingest`
too. A log event read twice is stored once (its CloudWatch event id is unique)."""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AwsConnection
from contacts.services import contact_timeline_append_for_mobile
from sms.models import SmsConnectionState, SmsEvent, SmsMessage, SmsOptOut
from sms.services.policy import sms_spend_add, sms_state_for, usd
from sms.transport import FAILURE_LOG, SUCCESS_LOG, LogEvent, log_group, transport

logger = logging.getLogger("sesame.sms")

MAX_PAGES_PER_RUN = 50  # per log group; the next run resumes from the saved token
ORPHAN_DAYS = 1
DEFAULT_ROLE_NAME = "sesame-sns-sms-delivery-status"


def delivery_status_provision(*, connection: AwsConnection, role_arn: str = "") -> SmsConnectionState:
    """SetSMSAttributes: DeliveryStatusIAMRole (the role SNS writes the logs with) and a 100% success sampling
    rate, so every SMS outcome is logged. Idempotent."""
    sns = transport()
    state = sms_state_for(connection=connection)
    state.aws_account_id = state.aws_account_id or sns.aws_account_id(connection)
    sns.delivery_status_provision(
        connection, role_arn or f"arn:aws:iam::{state.aws_account_id}:role/{DEFAULT_ROLE_NAME}"
    )
    state.delivery_status_provisioned_at = timezone.now()
    state.save(update_fields=["aws_account_id", "delivery_status_provisioned_at"])
    return state


def delivery_status_ingest(*, connection: AwsConnection) -> int:
    """Read the connection's new delivery-status log events; returns how many were new."""
    state = sms_state_for(connection=connection)
    if not state.aws_account_id:
        state.aws_account_id = transport().aws_account_id(connection)
        state.save(update_fields=["aws_account_id"])
    delivery_orphans_adopt(connection=connection)
    overlap_ms = settings.SESAME_SMS_LOG_OVERLAP_SECONDS * 1000
    new = 0
    for name in (SUCCESS_LOG, FAILURE_LOG):
        cursor = dict(state.log_cursors.get(name) or {})
        start_ms = int(cursor.get("start_ms") or int(timezone.now().timestamp() * 1000) - overlap_ms)
        token = cursor.get("next_token")
        newest = int(cursor.get("newest_ms") or start_ms)
        group = log_group(connection, state.aws_account_id, name)
        for _ in range(MAX_PAGES_PER_RUN):
            page = transport().delivery_log_page(connection, group, start_ms=start_ms, next_token=token)
            for event in page.events:
                new += delivery_event_ingest(connection=connection, event=event)
                newest = max(newest, event.timestamp_ms)
            token = page.next_token
            if token:  # saved after every page: a crash resumes here
                cursor = {"start_ms": start_ms, "next_token": token, "newest_ms": newest}
            else:  # caught up: the next read starts a little before the newest event (late arrivals)
                cursor = {"start_ms": max(start_ms, newest - overlap_ms), "newest_ms": newest}
            state.log_cursors = {**state.log_cursors, name: cursor}
            SmsConnectionState.objects.filter(pk=state.pk).update(log_cursors=state.log_cursors)
            if not token:
                break
    return new


def _price(delivery: dict[str, Any]) -> Decimal | None:
    try:
        price = Decimal(str(delivery["priceInUSD"]))
    except (KeyError, InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and price >= 0 else None


def delivery_event_ingest(*, connection: AwsConnection, event: LogEvent) -> bool:
    """One delivery-status record into the SMS's timeline and status; False when it was ingested before."""
    record = event.message
    delivery: dict[str, Any] = record["delivery"] if isinstance(record.get("delivery"), dict) else {}
    notification: dict[str, Any] = record["notification"] if isinstance(record.get("notification"), dict) else {}
    succeeded = str(record.get("status", "")).upper() == "SUCCESS"
    sns_message_id = str(notification.get("messageId", ""))[:255]
    reason = str(delivery.get("providerResponse", ""))
    price = _price(delivery)
    occurred_at = datetime.fromtimestamp(event.timestamp_ms / 1000, tz=UTC)
    with transaction.atomic():
        message = (
            SmsMessage.objects.select_for_update().filter(connection=connection, sns_message_id=sns_message_id).first()
            if sns_message_id
            else None
        )
        try:
            with transaction.atomic():
                row = SmsEvent.objects.create(
                    account_id=message.account_id if message else connection.account_id,
                    message=message,
                    connection=connection,
                    source=SmsEvent.Source.SNS,
                    event_type="delivered" if succeeded else "failed",
                    detail=_detail(reason, price, delivery),
                    payload=delivery,
                    sns_message_id=sns_message_id,
                    log_event_id=event.event_id[:100],
                    occurred_at=occurred_at,
                )
        except IntegrityError:  # read twice (an overlapping read, or a retried page): already counted
            return False
        if price:
            sms_spend_add(account_id=row.account_id, moment=occurred_at, amount=price)
        if message is not None:
            _apply(message, row)
        else:
            logger.info("SMS delivery status for unknown SNS message %s kept for adoption", sns_message_id)
    return True


def _detail(reason: str, price: Decimal | None, delivery: dict[str, Any]) -> str:
    parts = [reason or "no provider response"]
    if price is not None:
        parts.append(f"price {usd(price)} (USD {price})")
    if delivery.get("phoneCarrier"):
        parts.append(f"carrier {delivery['phoneCarrier']} (MCC {delivery.get('mcc')}, MNC {delivery.get('mnc')})")
    return "; ".join(parts)


def _apply(message: SmsMessage, row: SmsEvent) -> None:
    """The outcome onto the SMS, its opt-out and its contact's timeline."""
    delivery = row.payload
    reason = str(delivery.get("providerResponse", ""))
    price = _price(delivery)
    changes: dict[str, Any] = {"provider_response": reason, "price_usd": price}
    if row.event_type == "delivered":
        changes.update(status=SmsMessage.Status.DELIVERED, delivered_at=row.occurred_at)
    else:
        changes.update(status=SmsMessage.Status.FAILED, failure_reason=reason or "the carrier did not deliver it")
        if "opted out" in reason.lower():
            SmsOptOut.objects.get_or_create(
                account_id=message.account_id, phone_number=message.to, defaults={"source": SmsOptOut.Source.DELIVERY}
            )
    SmsMessage.objects.filter(pk=message.pk).update(**changes)
    contact_timeline_append_for_mobile(
        account_id=message.account_id,
        mobile=message.to,
        name=f"sms.{row.event_type}",
        properties={
            "sms_id": str(message.pk),
            "provider_response": reason,
            "price_usd": str(price) if price is not None else None,
            "carrier": delivery.get("phoneCarrier"),
            "mcc": delivery.get("mcc"),
            "mnc": delivery.get("mnc"),
        },
        occurred_at=row.occurred_at,
    )


def delivery_orphans_adopt(*, connection: AwsConnection) -> int:
    """Statuses that arrived before their SMS's SNS message id was committed (a few milliseconds' window)."""
    since = timezone.now() - timedelta(days=ORPHAN_DAYS)
    adopted = 0
    orphans = SmsEvent.objects.filter(connection=connection, message__isnull=True, created_at__gte=since).exclude(
        sns_message_id=""
    )
    for row in orphans:
        with transaction.atomic():
            message = (
                SmsMessage.objects.select_for_update()
                .filter(connection=connection, sns_message_id=row.sns_message_id)
                .first()
            )
            if message is None:
                continue
            SmsEvent.objects.filter(pk=row.pk).update(message=message, account_id=message.account_id)
            _apply(message, row)
            adopted += 1
    return adopted
