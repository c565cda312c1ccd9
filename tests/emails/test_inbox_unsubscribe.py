"""Unsubscribe by mail: mail to the `mailto:` address of a List-Unsubscribe header unsubscribes that contact from
that topic (whichever connection's receipt rule got it), and an unknown token is kept for the team."""

import pytest

from contacts.models import Contact, ContactEvent, TopicOptOut
from contacts.subscriptions import topic_create
from contacts.unsubscribe import unsubscribe_headers, unsubscribe_mailto, unsubscribe_token
from emails.models import Conversation, InboxMessage
from events.models import SnsNotification
from tests.contacts.factories import contact_for
from tests.emails.inbox_support import mime, received

pytestmark = pytest.mark.django_db


def test_mail_to_the_list_unsubscribe_mailto_unsubscribes_from_that_topic(
    account, other_account, deliver, inbox_connection, settings
):
    settings.SESAME_INBOUND_DOMAIN = "in.sesame.test"
    # The operator's account receives mail for the deployment's inbound domain; the token is another account's.
    receiving = inbox_connection
    contact = contact_for(other_account, email="ada@customer.test")
    topic = topic_create(account=other_account, key="newsletter", name="Newsletter")
    header = unsubscribe_headers(account_id=other_account.pk, contact_id=contact.pk, topic_id=topic.pk)
    address = header["List-Unsubscribe"].split("<mailto:")[1].rstrip(">")
    token = unsubscribe_token(account_id=other_account.pk, contact_id=contact.pk, topic_id=topic.pk)
    assert address == unsubscribe_mailto(token) and address.endswith("@in.sesame.test")

    deliver(receiving, received(mime(to=address, subject="unsubscribe"), recipients=[address]))

    opt_out = TopicOptOut.objects.get(contact=contact, topic=topic)
    assert opt_out.source == "mailto"
    assert ContactEvent.objects.filter(contact_id=contact.pk, name="unsubscribed").exists()
    contact.refresh_from_db()
    assert contact.status == "subscribed"  # only that topic
    assert not InboxMessage.objects.exists() and not Conversation.objects.exists()
    assert "Unsubscribed contact" in SnsNotification.objects.get().result

    # A second request changes nothing and says so.
    deliver(receiving, received(mime(to=address), recipients=[address]))
    assert TopicOptOut.objects.count() == 1
    last = SnsNotification.objects.order_by("received_at").last()
    assert last is not None and "Already unsubscribed" in last.result


def test_a_token_for_all_bulk_mail_unsubscribes_the_contact(account, deliver, inbox_connection, settings):
    contact = contact_for(account, email="bob@customer.test")
    address = unsubscribe_mailto(unsubscribe_token(account_id=account.pk, contact_id=contact.pk, topic_id=None))
    deliver(inbox_connection, received(mime(to=address), recipients=[address]))
    contact.refresh_from_db()
    assert contact.status == Contact.Status.UNSUBSCRIBED


def test_an_unknown_token_is_kept_as_a_flagged_unsubscribe_request(deliver, inbox_connection):
    address = "unsubscribe+notatoken@example.com"
    deliver(inbox_connection, received(mime(to=address), recipients=[address]))
    message = InboxMessage.objects.get()
    assert message.kind == "unsubscribe" and message.flagged
    assert "unsubscribe request with an unknown token" in message.flags
    assert message.conversation is not None and message.conversation.flagged
    assert not Contact.objects.exists()
