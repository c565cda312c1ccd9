"""The local SES simulator: the emails transport keeps the message and schedules playback by task name; the events
app plays SES's mailbox simulator back through the same ingestion path as SNS notifications."""

from typing import Any
from unittest import mock

import pytest

from config.celery import app
from emails.models import Email, EmailEvent, Suppression
from emails.simulator import EVENT_DELAY_SECONDS, SimulatorTransport
from emails.transport import OutgoingMessage
from events import tasks
from events.models import SnsNotification
from tests.events.conftest import sent_email

pytestmark = pytest.mark.django_db


def _send(connection: Any, email: Email, capture: Any) -> tuple[str, mock.MagicMock]:
    """The simulator takes the email, as the dispatcher hands it over; returns its message id and the scheduler."""
    raw = f"From: {email.from_address}\r\nTo: {email.to_address}\r\nSubject: {email.subject}\r\n\r\nHi\r\n".encode()
    message = OutgoingMessage(
        source=email.from_address,
        destinations=[email.to_address],
        raw=raw,
        configuration_set=connection.configuration_set,
        tags={},
        email_id=str(email.pk),
    )
    with mock.patch.object(app, "send_task") as send_task, capture(execute=True):
        message_id = SimulatorTransport().send_raw(connection, message)
    Email.objects.filter(pk=email.pk).update(ses_message_id=message_id)
    return message_id, send_task


def test_a_simulated_send_schedules_the_events_playback_by_name_a_second_later(
    connection, django_capture_on_commit_callbacks
):
    email = sent_email(connection, ses_message_id=None)
    message_id, send_task = _send(connection, email, django_capture_on_commit_callbacks)
    send_task.assert_called_once_with(
        "events.tasks.simulate_mailbox_events", args=(message_id,), countdown=EVENT_DELAY_SECONDS
    )
    assert tasks.simulate_mailbox_events.name == "events.tasks.simulate_mailbox_events"


def test_playback_of_a_bounce_mailbox_records_the_bounce_and_suppresses(
    account, connection, django_capture_on_commit_callbacks
):
    email = sent_email(connection, ses_message_id=None, to="bounce@simulator.amazonses.com")
    message_id, _ = _send(connection, email, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        played = tasks.simulate_mailbox_events(message_id)
    assert played == 2  # Send, then Bounce
    assert set(EmailEvent.objects.filter(email=email, source="ses").values_list("event_type", flat=True)) == {
        "send",
        "bounce",
    }
    assert SnsNotification.objects.filter(origin="simulator", ses_message_id=message_id).count() == 2
    suppression = Suppression.objects.get(account=account, address="bounce@simulator.amazonses.com")
    assert suppression.reason == Suppression.Reason.HARD_BOUNCE


def test_playback_of_an_unknown_message_does_nothing(connection):
    assert tasks.simulate_mailbox_events("no-such-message") == 0
    assert not SnsNotification.objects.exists()
