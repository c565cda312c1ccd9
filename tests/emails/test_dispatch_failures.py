"""How dispatch treats SES's refusals. moto never throttles, so the one SendEmail (SES v2) call is faked at the module
that builds boto3 clients (accounts/aws.py), raising exactly what botocore raises, and every other call is moto's."""

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from accounts import aws
from config.delivery.engine import Engine
from emails.models import Email, EmailEvent
from emails.services import email_accept
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db(transaction=True)


class RefusingSes:
    """Wraps moto's SES v2 client: the first `times` SendEmail calls fail with `code`/`message`."""

    def __init__(self, real: Any, code: str, message: str, times: int) -> None:
        self._real, self._code, self._message, self._left = real, code, message, times

    def send_email(self, **params: Any) -> Any:
        if self._left > 0:
            self._left -= 1
            raise ClientError({"Error": {"Code": self._code, "Message": self._message}}, "SendEmail")
        return self._real.send_email(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def refusing(settings, monkeypatch):
    settings.SESAME_AWS_MODE = "aws"
    aws.forget_all()
    with mock_aws():
        boto3.client("ses", region_name="us-east-1").verify_domain_identity(Domain="example.com")

        def install(code: str, message: str, times: int) -> None:
            real_client = aws.client

            def client(connection: Any, service: str) -> Any:
                real = real_client(connection, service)
                return RefusingSes(real, code, message, times) if service == "sesv2" else real

            wrapped: dict[str, Any] = {}

            def cached(connection: Any, service: str) -> Any:
                key = f"{connection.pk}:{service}"
                if key not in wrapped:
                    wrapped[key] = client(connection, service)
                return wrapped[key]

            monkeypatch.setattr(aws, "client", cached)

        yield install
    aws.forget_all()


def _prepared(account: Any) -> Email:
    sending_connection(account, max_send_rate=50)
    return email_accept(account=account, data=email_body())


def test_throttling_backs_off_and_retries_never_failing(account, refusing):
    refusing("TooManyRequestsException", "Maximum sending rate exceeded.", times=2)
    email = _prepared(account)
    Engine().drain(timeout=10)
    email.refresh_from_db()
    assert email.status == Email.Status.SENT
    assert email.attempts == 3
    assert not EmailEvent.objects.filter(email=email, event_type="failed").exists()


def test_daily_quota_holds_the_connection_and_keeps_the_email_queued(account, refusing):
    refusing("LimitExceededException", "Daily message quota exceeded.", times=1)
    email = _prepared(account)
    Engine().drain(timeout=10)
    email.refresh_from_db()
    email.connection.refresh_from_db()
    assert email.status == Email.Status.QUEUED
    assert email.connection.sending_held_until is not None
    held = EmailEvent.objects.get(email=email, event_type="held")
    assert "daily quota" in held.detail
    # Held: a new email on the connection wakes the engine, which sends nothing until the hold passes.
    second = email_accept(account=account, data=email_body())
    Engine().drain(timeout=2)
    assert set(Email.objects.filter(pk__in=[email.pk, second.pk]).values_list("status", flat=True)) == {"queued"}


def test_permanent_refusal_fails_with_ses_reason(account, refusing):
    refusing("MessageRejected", "Email address is not verified.", times=1)
    email = _prepared(account)
    Engine().drain(timeout=10)
    email.refresh_from_db()
    assert email.status == Email.Status.FAILED
    assert email.failure_reason == "MessageRejected: Email address is not verified."


def test_transient_errors_retry_then_give_up_after_the_limit(account, refusing, settings):
    settings.SESAME_MAX_SEND_ATTEMPTS = 3
    refusing("ServiceUnavailable", "Service is unavailable.", times=10)
    email = _prepared(account)
    Engine().drain(timeout=15)
    email.refresh_from_db()
    assert email.status == Email.Status.FAILED
    assert email.attempts == 3
    assert email.failure_reason.startswith("gave up after 3 attempts: ServiceUnavailable")


def test_priority_order_is_strict_among_due_emails(account, settings):
    from datetime import timedelta

    from django.utils import timezone

    from emails.models import SimulatedMessage

    settings.SESAME_AWS_MODE = "simulator"
    sending_connection(account, max_send_rate=1000)
    for priority in (50, 90, 1, 50, 10):
        email_accept(account=account, data=email_body(priority=priority, subject=f"p{priority}"))
    scheduled = email_accept(
        account=account,
        data=email_body(priority=5, subject="p5", schedule_send_at=(timezone.now() + timedelta(seconds=1)).isoformat()),
    )
    Email.objects.filter(pk=scheduled.pk).update(send_at=timezone.now())  # its time has come
    Engine(senders=1).drain(timeout=10)  # one sender: each claim takes one email, so sends show the claim order
    order = list(SimulatedMessage.objects.order_by("created_at", "id").values_list("email__subject", flat=True))
    assert order == ["p1", "p5", "p10", "p50", "p50", "p90"]
