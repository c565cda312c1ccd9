"""Hard bounces and complaints suppress the address; soft bounces only when they keep happening."""

import copy
from datetime import UTC, datetime, timedelta

import pytest

from emails.models import EmailEvent, Suppression
from events.models import ConnectionReputation
from events.services import reputation
from tests.events.conftest import fixture_payload, sent_email

pytestmark = pytest.mark.django_db


def _bounce(
    bounce_type: str, sub_type: str = "General", *, at: datetime | None = None, address: str = "jane@example.com"
):
    payload = copy.deepcopy(fixture_payload("ses-events/bounce.json"))
    payload["bounce"].update(bounceType=bounce_type, bounceSubType=sub_type)
    payload["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    payload["mail"]["destination"] = [address]
    if at:
        payload["bounce"]["timestamp"] = at.isoformat().replace("+00:00", "Z")
    return payload


def test_hard_bounce_suppresses_address_with_reason_and_source_email(account, connection, receive):
    payload = _bounce("Permanent")
    email = sent_email(connection, ses_message_id=payload["mail"]["messageId"], to="jane@example.com")
    receive(connection, payload)
    suppression = Suppression.objects.get(account=account)
    assert (suppression.address, suppression.reason, suppression.source_email_id) == (
        "jane@example.com",
        "hard_bounce",
        email.pk,
    )


def test_any_complaint_suppresses(account, connection, receive):
    receive(connection, fixture_payload("ses-notifications/complaint-4.json"))
    assert Suppression.objects.get(account=account).reason == "complaint"


def test_two_transient_bounces_do_not_suppress_but_three_in_a_week_do(account, connection, receive):
    now = datetime.now(UTC)
    receive(connection, _bounce("Transient", at=now - timedelta(days=10)))  # outside the week
    receive(connection, _bounce("Transient", at=now - timedelta(days=3)))
    receive(connection, _bounce("Transient", at=now - timedelta(days=1)))
    assert not Suppression.objects.exists()
    receive(connection, _bounce("Transient", at=now))
    assert Suppression.objects.get(account=account).address == "jane@example.com"


def test_transient_limit_is_configurable(account, connection, receive, settings):
    settings.SESAME_TRANSIENT_BOUNCE_LIMIT = 1
    receive(connection, _bounce("Transient"))
    assert Suppression.objects.filter(account=account).exists()


def test_on_account_suppression_list_is_recorded_as_suppressed_and_not_a_bounce(account, connection, receive, settings):
    settings.SESAME_REPUTATION_MIN_SENDS = 1
    payload = _bounce("Permanent", "OnAccountSuppressionList")
    email = sent_email(connection, ses_message_id=payload["mail"]["messageId"], to="jane@example.com")
    receive(connection, payload)
    event = EmailEvent.objects.get(source="ses")
    assert event.event_type == "suppressed" and "not counted toward the bounce rate" in event.detail
    email.refresh_from_db()
    assert email.recipient_outcomes == {"jane@example.com": "suppressed"}
    assert Suppression.objects.filter(account=account, address="jane@example.com").exists()
    rates = reputation.connection_rates(connection=connection, since=datetime(2000, 1, 1, tzinfo=UTC))
    assert (rates.sends, rates.bounces) == (0, 0)
    assert not ConnectionReputation.objects.exclude(state="healthy").exists()
