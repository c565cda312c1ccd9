"""Numbers an account never texts: those opted out at SNS (synced from ListPhoneNumbersOptedOut, checked with
CheckIfPhoneNumberIsOptedOut right before each send) and its own SMS suppressions."""

import uuid

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AwsConnection
from sms.models import SmsOptOut
from sms.services.policy import sms_state_for
from sms.transport import transport


def sms_opt_out_add(*, account: Account, phone_number: str, source: str = SmsOptOut.Source.MANUAL) -> SmsOptOut:
    opt_out, _ = SmsOptOut.objects.get_or_create(
        account=account, phone_number=phone_number, defaults={"source": source}
    )
    return opt_out


def sms_opt_out_remove(*, opt_out: SmsOptOut) -> None:
    opt_out.delete()


def opt_outs_sync(*, connection: AwsConnection) -> int:
    """Copy SNS's opted-out list of this connection into the account's opt-outs; returns how many were new."""
    numbers = transport().opted_out_numbers(connection)
    with transaction.atomic():
        known = set(
            SmsOptOut.objects.filter(account_id=connection.account_id, phone_number__in=numbers).values_list(
                "phone_number", flat=True
            )
        )
        fresh = [
            SmsOptOut(account_id=connection.account_id, phone_number=number, source=SmsOptOut.Source.SNS)
            for number in dict.fromkeys(numbers)
            if number not in known
        ]
        SmsOptOut.objects.bulk_create(fresh, ignore_conflicts=True)
        state = sms_state_for(connection=connection)
        state.opt_outs_synced_at = timezone.now()
        state.save(update_fields=["opt_outs_synced_at"])
    return len(fresh)


def opted_out_reason(*, connection: AwsConnection, account_id: uuid.UUID, phone_number: str) -> str | None:
    """Why this number must not be texted now, or None: the account's list first, then SNS itself."""
    known = SmsOptOut.objects.filter(account_id=account_id, phone_number=phone_number).values_list("source", flat=True)
    source = next(iter(known), None)
    if source is not None:
        return f"{phone_number} opted out ({SmsOptOut.Source(source).label.lower()})"
    if transport().opted_out(connection, phone_number):
        SmsOptOut.objects.get_or_create(
            account_id=account_id, phone_number=phone_number, defaults={"source": SmsOptOut.Source.SNS}
        )
        return f"{phone_number} opted out (opted out at SNS)"
    return None
