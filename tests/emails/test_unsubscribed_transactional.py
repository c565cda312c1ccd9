"""An unsubscribe stops bulk mail; it stops transactional mail too only when the account says so."""

import pytest

from contacts.subscriptions import Source, contact_unsubscribe, preference_settings_update
from emails.models import Email
from tests.contacts.factories import contact_for
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db


def test_transactional_email_still_reaches_an_unsubscribed_contact_by_default(client_for, account):
    sending_connection(account)
    contact_unsubscribe(contact=contact_for(account, email="jon@example.net"), topic=None, source=Source.API)
    response = client_for.post("/v1/emails", email_body(), format="json")
    assert response.json()["status"] == "queued"


def test_an_account_can_make_unsubscribes_stop_transactional_email(client_for, account, other_account):
    sending_connection(account)
    contact_unsubscribe(contact=contact_for(account, email="jon@example.net"), topic=None, source=Source.API)
    contact_for(account, email="ann@example.net")
    preference_settings_update(account_id=account.pk, unsubscribe_stops_transactional=True)
    # Another account's switch, and its unsubscribed contact of the same address, change nothing here.
    preference_settings_update(account_id=other_account.pk, unsubscribe_stops_transactional=False)
    dropped = client_for.post("/v1/emails", email_body(), format="json")
    assert dropped.json()["status"] == "suppressed"
    assert Email.objects.get(pk=dropped.json()["id"]).dropped_recipients == [
        {"address": "jon@example.net", "reason": "unsubscribed"}
    ]
    kept = client_for.post("/v1/emails", email_body(to="ann@example.net"), format="json")
    assert kept.json()["status"] == "queued"
