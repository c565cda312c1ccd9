from datetime import UTC, datetime, timedelta

import pytest

from contacts.models import Contact, ContactEvent
from contacts.services import contact_timeline_append_for_address
from tests.contacts.factories import contact_for, event_for

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def client(api, account):
    return api(account, scopes=("contacts",))


def test_timeline_is_newest_first_with_a_cursor_and_filters(client, account):
    contact = contact_for(account, email="a@example.com")
    for n in range(5):
        event_for(contact, "login" if n % 2 else "view", at=T0 + timedelta(hours=n), n=n)
    page = client.get(f"/v1/contacts/{contact.pk}/timeline?limit=2").json()
    assert [e["properties"]["n"] for e in page["results"]] == [4, 3]
    rest = client.get(page["next"]).json()
    assert [e["properties"]["n"] for e in rest["results"]] == [2, 1]
    logins = client.get(f"/v1/contacts/{contact.pk}/timeline?name=login").json()["results"]
    assert [e["properties"]["n"] for e in logins] == [3, 1]
    since = (T0 + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    recent = client.get(f"/v1/contacts/{contact.pk}/timeline", {"since": since}).json()["results"]
    assert [e["properties"]["n"] for e in recent] == [4, 3, 2]


def test_bad_timeline_filter_is_422_in_the_query(client, account):
    contact = contact_for(account, email="a@example.com")
    response = client.get(f"/v1/contacts/{contact.pk}/timeline?since=soon")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "since"]


def test_hook_appends_to_the_contact_with_that_address(account):
    contact = contact_for(account, email="a@example.com")
    found = contact_timeline_append_for_address(
        account_id=account.pk,
        email="A@Example.com",
        name="email.delivered",
        properties={"message_id": "m-1"},
        occurred_at=T0,
    )
    assert found is True
    event = ContactEvent.objects.get(contact=contact)
    assert (event.name, event.source, event.properties, event.occurred_at) == (
        "email.delivered",
        "email",
        {"message_id": "m-1"},
        T0,
    )
    contact.refresh_from_db()
    assert contact.status == "subscribed"


def test_hook_marks_bounces_and_complaints(account):
    contact = contact_for(account, email="a@example.com")
    for status in ("bounced", "complained"):
        assert contact_timeline_append_for_address(
            account_id=account.pk,
            email="a@example.com",
            name=f"email.{status}",
            properties={},
            occurred_at=T0,
            status=status,
        )
        contact.refresh_from_db()
        assert contact.status == status


def test_hook_never_creates_contacts_nor_crosses_accounts(account, other_account):
    contact_for(other_account, email="a@example.com")
    assert not contact_timeline_append_for_address(
        account_id=account.pk, email="a@example.com", name="email.delivered", properties={}, occurred_at=T0
    )
    assert not Contact.objects.filter(account=account).exists()
    assert not ContactEvent.objects.exists()
