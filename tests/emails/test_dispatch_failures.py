"""How dispatch treats SES's refusals. moto never throttles, so the one SendEmail (SES v2) request is answered here as
SES answers a refusal over HTTP (status, `x-amzn-ErrorType` header, JSON body), through botocore's `before-send` hook
of the client accounts/aws.py builds; the answer is parsed by the same code as a real one, and every other call is
moto's."""

import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse

from accounts import aws
from config.delivery.engine import Engine
from emails.models import Email, EmailEvent
from emails.services import email_accept
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db(transaction=True)

_STATUS = {"TooManyRequestsException": 429, "LimitExceededException": 429, "ServiceUnavailable": 503}


class RefusingSes:
    """Answers the first `times` SendEmail requests with SES's refusal `code`/`message`; later ones go to moto."""

    def __init__(self, code: str, message: str, times: int) -> None:
        self._code, self._message, self._left = code, message, times

    def __call__(self, request: Any, **kwargs: Any) -> AWSResponse | None:
        if self._left <= 0:
            return None
        self._left -= 1
        headers = HTTPHeaders()
        headers["x-amzn-ErrorType"] = f"{self._code}:http://internal.amazon.com/coral/com.amazonaws.simpleemailv2/"
        headers["Content-Type"] = "application/json"
        body = json.dumps({"message": self._message}).encode()
        return AWSResponse(request.url, _STATUS.get(self._code, 400), headers, MockRawResponse(body))


@pytest.fixture
def refusing(settings, monkeypatch):
    settings.SESAME_AWS_MODE = "aws"
    aws.forget_all()
    with mock_aws():
        boto3.client("ses", region_name="us-east-1").verify_domain_identity(Domain="example.com")

        def install(code: str, message: str, times: int) -> None:
            refuse = RefusingSes(code, message, times)
            real_client = aws.client
            hooked: set[int] = set()

            def client(connection: Any, service: str) -> Any:
                found = real_client(connection, service)
                if service == "sesv2" and id(found) not in hooked:
                    found.meta.events.register_first("before-send.sesv2.SendEmail", refuse)
                    hooked.add(id(found))
                return found

            monkeypatch.setattr(aws, "client", client)

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
