import pytest
from django.test import override_settings

from contacts.models import Contact, ContactEvent, TopicOptOut
from contacts.subscriptions import Source, contact_unsubscribe, topic_create
from contacts.unsubscribe import (
    InvalidUnsubscribeToken,
    unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_token_read,
)
from tests.contacts.factories import contact_for

pytestmark = pytest.mark.django_db


def test_token_reads_back_its_account_contact_and_topic(account):
    contact = contact_for(account)
    topic = topic_create(account=account, key="newsletter", name="Newsletter")
    token = unsubscribe_token(account_id=account.pk, contact_id=contact.pk, topic_id=topic.pk)
    assert unsubscribe_token_read(token) == (account.pk, contact.pk, topic.pk)
    everything = unsubscribe_token(account_id=account.pk, contact_id=contact.pk, topic_id=None)
    assert unsubscribe_token_read(everything) == (account.pk, contact.pk, None)
    # Opaque, short enough for an address's local part, and safe for mail systems that fold case.
    assert str(contact.pk) not in token and len("unsubscribe+" + token) <= 64
    assert unsubscribe_token_read(token.upper()) == (account.pk, contact.pk, topic.pk)


def test_a_forged_or_altered_token_is_refused(account, other_account):
    contact = contact_for(account)
    neighbour = contact_for(account)
    token = unsubscribe_token(account_id=account.pk, contact_id=contact.pk, topic_id=None)
    for bad in (token[:-1] + ("a" if token[-1] != "a" else "b"), token[:20], "hello", ""):
        with pytest.raises(InvalidUnsubscribeToken):
            unsubscribe_token_read(bad)
    # A token made for the right contact but under another account's id does not verify.
    foreign = unsubscribe_token(account_id=other_account.pk, contact_id=contact.pk, topic_id=None)
    with pytest.raises(InvalidUnsubscribeToken):
        unsubscribe_token_read(foreign)
    # Tokens of neighbouring contacts share nothing that would let one be derived from the other.
    other = unsubscribe_token(account_id=account.pk, contact_id=neighbour.pk, topic_id=None)
    assert sum(a == b for a, b in zip(token, other, strict=True)) < 10
    with override_settings(SESAME_UNSUBSCRIBE_SECRET="another key"), pytest.raises(InvalidUnsubscribeToken):
        unsubscribe_token_read(token)


@override_settings(SESAME_PUBLIC_URL="https://mail.example.net", SESAME_INBOUND_DOMAIN="in.example.net")
def test_headers_are_exactly_rfc_8058s(account):
    contact = contact_for(account)
    headers = unsubscribe_headers(account_id=account.pk, contact_id=contact.pk, topic_id=None)
    token = unsubscribe_token(account_id=account.pk, contact_id=contact.pk, topic_id=None)
    assert headers == {
        "List-Unsubscribe": f"<https://mail.example.net/u/{token}>, <mailto:unsubscribe+{token}@in.example.net>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_unsubscribe_from_a_topic_or_everything_is_recorded_once(account):
    contact = contact_for(account)
    topic = topic_create(account=account, key="newsletter", name="Newsletter")
    assert contact_unsubscribe(contact=contact, topic=topic, source=Source.ONE_CLICK) is True
    assert contact_unsubscribe(contact=contact, topic=topic, source=Source.ONE_CLICK) is False
    assert TopicOptOut.objects.filter(contact=contact, topic=topic).count() == 1
    assert Contact.objects.get(pk=contact.pk).status == Contact.Status.SUBSCRIBED
    assert contact_unsubscribe(contact=contact, topic=None, source=Source.MAILTO) is True
    assert Contact.objects.get(pk=contact.pk).status == Contact.Status.UNSUBSCRIBED
    events = list(ContactEvent.objects.filter(contact=contact).order_by("id").values("name", "properties", "source"))
    assert events == [
        {"name": "unsubscribed", "properties": {"topic": "newsletter", "method": "one_click"}, "source": "web"},
        {"name": "unsubscribed", "properties": {"topic": None, "method": "mailto"}, "source": "email"},
    ]
