"""The recipient's side of RFC 8058: one-click POSTs of each content type, confirmation pages that never act on GET,
the preference centre, and tokens that name nothing."""

import pytest
from django.test import Client

from contacts.models import Contact, ContactEvent, TopicOptOut
from contacts.subscriptions import preference_settings_update, topic_create
from contacts.unsubscribe import unsubscribe_token
from tests.contacts.factories import contact_for

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def newsletter(account):
    return topic_create(account=account, key="newsletter", name="Newsletter")


def token_of(contact, topic=None) -> str:
    return unsubscribe_token(account_id=contact.account_id, contact_id=contact.pk, topic_id=topic.pk if topic else None)


def status_of(contact) -> str:
    return Contact.objects.get(pk=contact.pk).status


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_at_once_without_redirect(account, newsletter, multipart):
    contact = contact_for(account, email="ann@example.com")
    client = Client(enforce_csrf_checks=True)  # as a mail provider posts: no cookies, no CSRF token
    body = {"List-Unsubscribe": "One-Click"}
    if multipart:
        response = client.post(f"/u/{token_of(contact, newsletter)}", body)
    else:
        response = client.post(
            f"/u/{token_of(contact, newsletter)}",
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
    assert response.status_code == 200
    assert "Location" not in response
    assert b"no more <strong>Newsletter</strong> emails" in response.content
    assert TopicOptOut.objects.filter(contact=contact, topic=newsletter, source="one_click").exists()
    assert status_of(contact) == Contact.Status.SUBSCRIBED  # a topic's link leaves the other mail alone


def test_one_click_without_a_topic_unsubscribes_from_everything(account):
    contact = contact_for(account)
    response = Client(enforce_csrf_checks=True).post(f"/u/{token_of(contact)}", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert status_of(contact) == Contact.Status.UNSUBSCRIBED
    event = ContactEvent.objects.get(contact=contact)
    assert (event.name, event.properties) == ("unsubscribed", {"topic": None, "method": "one_click"})


def test_get_shows_a_confirmation_page_and_changes_nothing(account, newsletter):
    contact = contact_for(account, email="ann@example.com")
    for _ in range(3):  # a link scanner following the link, repeatedly
        response = Client().get(f"/u/{token_of(contact, newsletter)}")
        assert response.status_code == 200
        assert b"Stop sending <strong>Newsletter</strong> emails to ann@example.com?" in response.content
        assert b'name="List-Unsubscribe" value="One-Click"' in response.content
    assert Client().head(f"/u/{token_of(contact, newsletter)}").status_code == 200
    assert not TopicOptOut.objects.exists()
    assert status_of(contact) == Contact.Status.SUBSCRIBED
    assert not ContactEvent.objects.exists()


def test_post_without_the_one_click_field_changes_nothing(account):
    contact = contact_for(account)
    response = Client().post(f"/u/{token_of(contact)}", {"something": "else"})
    assert response.status_code == 400
    assert b"List-Unsubscribe=One-Click" in response.content
    assert status_of(contact) == Contact.Status.SUBSCRIBED


def test_a_bad_or_foreign_token_is_a_404_page(account, other_account):
    contact = contact_for(account)
    forged = unsubscribe_token(account_id=other_account.pk, contact_id=contact.pk, topic_id=None)
    for token in (forged, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "nonsense"):
        for path in (f"/u/{token}", f"/u/{token}/preferences"):
            response = Client().post(path, {"List-Unsubscribe": "One-Click", "action": "unsubscribe_all"})
            assert response.status_code == 404
            assert b"This link is not valid" in response.content
    assert status_of(contact) == Contact.Status.SUBSCRIBED


def test_preference_centre_switches_topics_and_unsubscribes_from_all(account, newsletter):
    updates = topic_create(account=account, key="updates", name="Product updates")
    preference_settings_update(account_id=account.pk, display_name="Acme Shoes", brand_color="#aa3300")
    contact = contact_for(account, email="ann@example.com")
    page = f"/u/{token_of(contact, newsletter)}/preferences"
    shown = Client().get(page)
    assert shown.status_code == 200
    assert b"Acme Shoes" in shown.content and b"#aa3300" in shown.content
    assert shown.content.count(b" checked") == 2
    response = Client(enforce_csrf_checks=True).post(page, {"action": "save", "topic": [str(updates.pk)]})
    assert b"Your preferences are saved." in response.content
    assert list(TopicOptOut.objects.filter(contact=contact).values_list("topic__key", flat=True)) == ["newsletter"]
    Client().post(page, {"action": "save", "topic": [str(updates.pk), str(newsletter.pk)]})
    assert not TopicOptOut.objects.filter(contact=contact).exists()
    Client().post(page, {"action": "unsubscribe_all"})
    assert status_of(contact) == Contact.Status.UNSUBSCRIBED
    again = Client().post(page, {"action": "save", "everything": "on", "topic": [str(updates.pk)]})
    assert b"You are unsubscribed from all" not in again.content
    assert status_of(contact) == Contact.Status.SUBSCRIBED
    names = list(ContactEvent.objects.filter(contact=contact).order_by("id").values_list("name", flat=True))
    assert names == ["unsubscribed", "topic_subscribed", "unsubscribed", "unsubscribed", "resubscribed"]
