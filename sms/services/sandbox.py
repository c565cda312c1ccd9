"""The SNS SMS sandbox: whether a connection is in it, and the destination numbers verified for it."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, AwsConnection
from config.api.errors import UnprocessableEntity, error_entry
from config.delivery.errors import FailureKind, TransportError
from sms.models import SmsSandboxNumber
from sms.services.policy import sms_state_for
from sms.transport import transport

logger = logging.getLogger("sesame.sms")

SANDBOX_STATUS_TTL = timedelta(minutes=10)


def sandbox_status_refresh(*, connection: AwsConnection) -> bool:
    """Ask SNS (GetSMSSandboxAccountStatus) and remember the answer; returns whether the account is in the sandbox."""
    state = sms_state_for(connection=connection)
    try:
        state.in_sandbox = transport().in_sandbox(connection)
    except TransportError as error:
        logger.warning("SMS sandbox status of connection %s unknown: %s", connection.pk, error.reason)
        return state.in_sandbox
    state.sandbox_checked_at = timezone.now()
    state.save(update_fields=["in_sandbox", "sandbox_checked_at"])
    return state.in_sandbox


def sandbox_in(*, connection: AwsConnection) -> bool:
    """The remembered sandbox status; asked of SNS the first time, and again once it is older than ten minutes
    (beat also refreshes it)."""
    state = sms_state_for(connection=connection)
    if state.sandbox_checked_at is None or state.sandbox_checked_at < timezone.now() - SANDBOX_STATUS_TTL:
        return sandbox_status_refresh(connection=connection)
    return state.in_sandbox


def _refused(field: str, error: TransportError) -> UnprocessableEntity:
    if error.kind is not FailureKind.PERMANENT:  # SNS is throttling or away: the caller may simply retry
        return UnprocessableEntity([error_entry(["body"], f"SNS did not answer: {error.reason}; try again", "retry")])
    return UnprocessableEntity([error_entry(["body", field], f"SNS refused it: {error.reason}", "value_error.sns")])


def sandbox_number_add(*, account: Account, connection: AwsConnection, phone_number: str) -> SmsSandboxNumber:
    """CreateSMSSandboxPhoneNumber: SNS texts a code to the number; verify it with `sandbox_number_verify`."""
    existing = SmsSandboxNumber.objects.filter(connection=connection, phone_number=phone_number).first()
    if existing is not None and existing.status == SmsSandboxNumber.Status.VERIFIED:
        return existing
    try:
        transport().sandbox_number_add(connection, phone_number)
    except TransportError as error:
        raise _refused("phone_number", error) from error
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return SmsSandboxNumber.objects.create(account=account, connection=connection, phone_number=phone_number)
    except IntegrityError:  # added concurrently
        return SmsSandboxNumber.objects.get(connection=connection, phone_number=phone_number)


def sandbox_number_verify(*, number: SmsSandboxNumber, code: str) -> SmsSandboxNumber:
    if number.status == SmsSandboxNumber.Status.VERIFIED:
        return number
    try:
        transport().sandbox_number_verify(number.connection, number.phone_number, code)
    except TransportError as error:
        raise _refused("code", error) from error
    number.status = SmsSandboxNumber.Status.VERIFIED
    number.verified_at = timezone.now()
    number.save(update_fields=["status", "verified_at"])
    return number
