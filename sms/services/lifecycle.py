"""Moving SMS along after accept: cancel one not yet sent, and wipe the sealed text of passcodes that left."""

from django.db import transaction
from django.utils import timezone

from sms.models import SmsEvent, SmsMessage


class NotCancellable(Exception):
    pass


@transaction.atomic
def sms_cancel(*, message: SmsMessage) -> SmsMessage:
    cancelled = SmsMessage.objects.filter(pk=message.pk, status__in=SmsMessage.WAITING).update(
        status=SmsMessage.Status.CANCELLED, sealed_body=""
    )
    if not cancelled:
        message.refresh_from_db(fields=["status"])
        raise NotCancellable(f"The SMS is {message.status}; only scheduled or queued SMS can be cancelled.")
    SmsEvent.objects.create(
        account_id=message.account_id,
        message=message,
        connection_id=message.connection_id,
        source=SmsEvent.Source.SESAME,
        event_type="cancelled",
        detail="cancelled before sending",
        occurred_at=timezone.now(),
    )
    message.status = SmsMessage.Status.CANCELLED
    return message


def sealed_bodies_wipe() -> int:
    """A passcode's real text is kept (encrypted) only while its SMS may still be sent."""
    return (
        SmsMessage.objects.exclude(sealed_body="")
        .exclude(status__in=[*SmsMessage.WAITING, SmsMessage.Status.SENDING])
        .update(sealed_body="")
    )
