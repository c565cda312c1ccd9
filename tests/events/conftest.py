import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account, AwsConnection
from emails.models import Email
from events import sns
from tests.accounts.factories import connection_for
from tests.events import signing

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:sesame-events-test"
# AWS's own SES payload samples (Amazon SES Developer Guide), vendored so a clean clone tests on its own.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def _signing_certificate() -> Iterator[mock.MagicMock]:
    """The certificate fetch is replaced at its one function; the cache starts empty in every test."""
    sns.certificate_cache_clear()
    with mock.patch("events.sns.fetch_certificate_pem", return_value=signing.certificate().pem) as fetch:
        yield fetch
    sns.certificate_cache_clear()


@pytest.fixture(autouse=True)
def _eager_tasks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The events app's tasks run inline when enqueued; other apps' tasks just go to the (per-test) broker.
    Tests that use `celery_worker` get the real thing."""
    from celery import Task

    from events import tasks

    if "celery_worker" in request.fixturenames:
        return
    # Inline, a drain cannot race a POST: no need to linger before stopping, nor to debounce nudges.
    monkeypatch.setattr("events.services.notifications.DRAIN_LINGER", 0)
    monkeypatch.setattr("events.services.notifications.NUDGE_DEBOUNCE", 0)
    monkeypatch.setattr("events.services.webhook_drain.DRAIN_LINGER", 0)
    monkeypatch.setattr("events.services.webhook_drain.NUDGE_DEBOUNCE", 0)

    for task in vars(tasks).values():
        if isinstance(task, Task):
            monkeypatch.setattr(
                task, "delay", lambda *args, _task=task, **kwargs: _task.apply(args, kwargs, throw=True)
            )


@pytest.fixture
def connection(account: Account) -> AwsConnection:
    return provisioned(account)


def provisioned(account: Account, identifier: str = "default") -> AwsConnection:
    connection = connection_for(account, identifier=identifier)
    AwsConnection.objects.filter(pk=connection.pk).update(sns_topic_arn=TOPIC_ARN)
    connection.sns_topic_arn = TOPIC_ARN
    return connection


@pytest.fixture
def post_sns(client: Client, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """post_sns(connection, envelope) -> the response, as SNS would POST it (on-commit work runs, eagerly)."""

    def post(
        connection: AwsConnection, envelope: dict[str, Any] | str | bytes, *, header: str | None = None, **headers: str
    ) -> Any:
        body = envelope if isinstance(envelope, str | bytes) else json.dumps(envelope)
        message_type = (
            header if header is not None else (envelope.get("Type") if isinstance(envelope, dict) else "Notification")
        )
        extra: dict[str, Any] = {"HTTP_X_AMZ_SNS_MESSAGE_TYPE": message_type} if message_type else {}
        extra.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/webhooks/sns/{connection.pk}",
                data=body,
                content_type="text/plain; charset=utf-8",
                REMOTE_ADDR="54.240.197.1",
                **extra,
            )

    return post


@pytest.fixture
def receive(django_capture_on_commit_callbacks: Any) -> Callable[..., bool]:
    """receive(connection, payload, ...) -> ses_notification_receive, with its on-commit work run."""
    from events.services import ses_notification_receive

    def run(
        connection: AwsConnection, message: dict[str, Any], sns_message_id: str | None = None, **kwargs: Any
    ) -> bool:
        with django_capture_on_commit_callbacks(execute=True):
            return ses_notification_receive(
                connection=connection, message=message, sns_message_id=sns_message_id or str(uuid.uuid4()), **kwargs
            )

    return run


def fixture_payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def all_fixture_names() -> list[str]:
    return sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.json"))


def sent_email(
    connection: AwsConnection,
    *,
    ses_message_id: str | None,
    to: str = "recipient@example.com",
    status: str = "sent",
    **fields: Any,
) -> Email:
    """An email as the dispatcher leaves it once SES took it."""
    values: dict[str, Any] = {
        "account_id": connection.account_id,
        "connection": connection,
        "from_address": "sender@example.com",
        "to_address": to,
        "subject": "Message sent from Amazon SES",
        "html_body": "<p>Hi</p>",
        "status": status,
        "send_at": timezone.now(),
        "sent_at": timezone.now() if status == "sent" else None,
        "ses_message_id": ses_message_id,
    }
    values.update(fields)
    return Email.objects.create(**values)
