"""Fixtures of the team inbox tests (requested by name only: nothing here applies to other email tests)."""

import json
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest

from accounts.models import Account, AwsConnection
from events import sns
from tests.emails.factories import sending_connection
from tests.events import signing
from tests.events.conftest import TOPIC_ARN


@pytest.fixture
def inbox_connection(account: Account) -> AwsConnection:
    """The account's default connection: example.com verified, its SNS topic provisioned."""
    return topic_connection(account)


def topic_connection(account: Account, **overrides: Any) -> AwsConnection:
    connection = sending_connection(account, **overrides)
    connection.sns_topic_arn = TOPIC_ARN
    connection.save(update_fields=["sns_topic_arn"])
    return connection


@pytest.fixture
def deliver(
    client: Any, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[AwsConnection, dict[str, Any]], Any]]:
    """deliver(connection, ses_payload) -> the webhook's response to it, signed and POSTed as SNS does; the events
    tasks run inline (the SNS signing certificate is the test CA's)."""
    from celery import Task

    from events import tasks

    monkeypatch.setattr("events.services.notifications.DRAIN_LINGER", 0)
    monkeypatch.setattr("events.services.notifications.NUDGE_DEBOUNCE", 0)
    for task in vars(tasks).values():
        if isinstance(task, Task):
            eager = lambda *args, _task=task, **kwargs: _task.apply(args, kwargs, throw=True)  # noqa: E731
            monkeypatch.setattr(task, "delay", eager)
    sns.certificate_cache_clear()

    def post(connection: AwsConnection, payload: dict[str, Any]) -> Any:
        envelope = signing.notification(TOPIC_ARN, payload)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/webhooks/sns/{connection.pk}",
                data=json.dumps(envelope),
                content_type="text/plain; charset=utf-8",
                REMOTE_ADDR="54.240.197.1",
                HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            )

    with mock.patch("events.sns.fetch_certificate_pem", return_value=signing.certificate().pem):
        yield post
    sns.certificate_cache_clear()
