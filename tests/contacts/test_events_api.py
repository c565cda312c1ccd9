from datetime import UTC, datetime

import pytest

from contacts.models import Contact, ContactEvent, Tag
from tests.contacts.factories import contact_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api, account):
    return api(account, scopes=("contacts",))


def test_batch_stores_events_creates_contacts_and_reports_bad_items(client, account):
    known = contact_for(account, email="known@example.com")
    events = [
        {"email": "Known@Example.com", "name": "login", "occurred_at": "2026-11-20T10:00:00Z"},
        {
            "email": "new@example.com",
            "name": "added_to_wishlist",
            "properties": {"sku": "RS-1"},
            "add_tags": ["Red sneakers"],
        },
        {"mobile": "+44 20 7183 8750", "name": "login"},
        {"email": "new@example.com", "name": "viewed", "occurred_at": "yesterday"},
        {"mobile": "+442071838750", "name": "sms_reply", "source": "sms"},
        {"name": "orphan"},
    ]
    response = client.post("/v1/events", {"events": events}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"], body["contacts_created"]) == (3, 3, 2)
    assert [e["loc"] for e in body["errors"]] == [
        ["body", "events", 2, "mobile"],
        ["body", "events", 3, "occurred_at"],
        ["body", "events", 5, "email"],
    ]
    assert "+442071838750" in body["errors"][0]["msg"]
    assert ContactEvent.objects.filter(contact=known, name="login").count() == 1
    known.refresh_from_db()
    assert known.last_seen_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    new = Contact.objects.get(account=account, email="new@example.com")
    assert list(Tag.objects.filter(pk__in=new.tag_ids).values_list("name", "contact_count")) == [("Red sneakers", 1)]
    assert ContactEvent.objects.get(contact=new).properties == {"sku": "RS-1"}
    assert Contact.objects.get(account=account, mobile="+442071838750").email is None


def test_a_single_event_object_is_accepted(client, account):
    response = client.post("/v1/events", {"email": "a@example.com", "name": "signup"}, format="json")
    assert response.json() == {"accepted": 1, "rejected": 0, "contacts_created": 1, "errors": []}


def test_all_invalid_is_422_and_stores_nothing(client, account):
    response = client.post("/v1/events", {"events": [{"email": "nope", "name": "x"}]}, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "events", 0, "email"]
    assert not ContactEvent.objects.exists()


def test_more_than_a_thousand_is_refused(client):
    events = [{"email": f"u{n}@example.com", "name": "x"} for n in range(1001)]
    response = client.post("/v1/events", {"events": events}, format="json")
    assert response.status_code == 422
    assert "1 to 1,000" in response.json()["detail"][0]["msg"]


def test_tags_apply_in_event_order(client, account):
    events = [
        {"email": "a@example.com", "name": "cart", "add_tags": "cart,vip"},
        {"email": "a@example.com", "name": "bought", "add_tags": ["buyer"], "remove_tags": ["CART"]},
    ]
    assert client.post("/v1/events", {"events": events}, format="json").json()["accepted"] == 2
    contact = Contact.objects.get(account=account, email="a@example.com")
    assert sorted(Tag.objects.filter(pk__in=contact.tag_ids).values_list("name", flat=True)) == ["buyer", "vip"]
    assert dict(Tag.objects.filter(account=account).values_list("name", "contact_count")) == {
        "cart": 0,
        "vip": 1,
        "buyer": 1,
    }


def test_unknown_event_field_is_reported_per_item(client):
    response = client.post(
        "/v1/events", {"events": [{"email": "a@example.com", "name": "x", "when": "now"}]}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "value_error.extra"


def test_events_never_touch_another_accounts_contact(client, account, other_account):
    theirs = contact_for(other_account, email="shared@example.com")
    client.post("/v1/events", {"email": "shared@example.com", "name": "login"}, format="json")
    assert not ContactEvent.objects.filter(contact=theirs).exists()
    assert Contact.objects.filter(account=account, email="shared@example.com").exists()
