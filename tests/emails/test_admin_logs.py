"""Logs are logs: emails, events, notifications, simulated messages and webhook deliveries are read-only."""

from datetime import timedelta

import pytest

from emails.models import Email, EmailEvent, SimulatedMessage
from emails.services import email_accept
from tests.emails.factories import email_body, sending_connection

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def sent(account) -> Email:
    sending_connection(account)
    email = email_accept(account=account, data=email_body())
    sent_at = (email.created_at + timedelta(seconds=1)).replace(microsecond=123456)
    Email.objects.filter(pk=email.pk).update(status="delivered", sent_at=sent_at, ses_message_id="ses-1")
    EmailEvent.objects.create(
        account=account,
        email=email,
        connection=email.connection,
        ses_message_id="ses-1",
        source="ses",
        event_type="delivery",
        recipient="jon@example.net",
        detail="delivered",
        occurred_at=sent_at,
    )
    email.refresh_from_db()
    return email


def test_a_sent_email_cannot_be_edited_or_deleted(admin_client, sent):
    url = f"/admin/emails/email/{sent.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="subject"' not in page and 'name="to_address"' not in page
    assert 'name="_save"' not in page and "/delete/" not in page
    response = admin_client.post(url, {"subject": "Changed", "to_address": "evil@example.com"})
    assert response.status_code == 403
    assert admin_client.post(f"/admin/emails/email/{sent.pk}/delete/", {"post": "yes"}).status_code == 403
    sent.refresh_from_db()
    assert sent.subject == "Your receipt"
    assert "delete_selected" not in admin_client.get("/admin/emails/email/").content.decode()


@pytest.mark.parametrize(
    "path", ["emails/emailevent", "emails/simulatedmessage", "events/snsnotification", "events/webhookdelivery"]
)
def test_other_logs_are_read_only(admin_client, path):
    page = admin_client.get(f"/admin/{path}/").content.decode()
    assert f"/admin/{path}/add/" not in page
    assert admin_client.get(f"/admin/{path}/add/").status_code == 403


def test_a_simulated_message_page_has_no_form(admin_client, sent):
    message = SimulatedMessage.objects.create(
        message_id="sim-1", email=sent, connection=sent.connection, destinations=["jon@example.net"], raw=b"Hi"
    )
    page = admin_client.get(f"/admin/emails/simulatedmessage/{message.pk}/change/").content.decode()
    assert 'name="_save"' not in page and 'name="message_id"' not in page


def test_the_email_list_never_shows_a_made_up_count(admin_client, sent):
    page = admin_client.get("/admin/emails/email/").content.decode()
    assert "1000000000" not in page and "Show all" not in page
    assert "1 email" in page
    searched = admin_client.get("/admin/emails/email/", {"q": "receipt"}).content.decode()
    assert "1000000000" not in searched


def test_a_full_page_of_emails_offers_the_next_page_and_says_many(admin_client, sent, account):
    for _ in range(100):
        email_accept(account=account, data=email_body())
    page = admin_client.get("/admin/emails/email/").content.decode()
    assert "many emails (not counted)" in page and "?p=2" in page
    second = admin_client.get("/admin/emails/email/", {"p": "2"}).content.decode()
    assert "?p=1" in second and "?p=3" not in second


def test_the_timeline_shows_what_the_api_shows_to_the_millisecond(admin_client, client_for, sent):
    page = admin_client.get(f"/admin/emails/email/{sent.pk}/change/").content.decode()
    api_timeline = client_for.get(f"/v1/emails/{sent.pk}").json()["timeline"]
    assert [entry["type"] for entry in api_timeline] == ["accepted", "sent", "delivery"]
    for entry in api_timeline:
        assert f"<b>{entry['type']}</b>" in page
    assert sent.sent_at.strftime("%Y-%m-%d %H:%M:%S.123 UTC") in page
    event = EmailEvent.objects.get(email=sent)
    assert f"/admin/emails/emailevent/{event.pk}/change/" in page
    assert "/admin/contacts/contact/?q=jon@example.net" in page
