import pytest

from contacts.models import Contact, ContactEvent, Tag
from tests.contacts.factories import contact_for, event_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api, account):
    return api(account, scopes=("contacts",))


def test_create_returns_the_contact_with_normalised_values(client, account):
    response = client.post(
        "/v1/contacts",
        {
            "email": "Ada@Example.COM",
            "mobile": "+442071838750",
            "dob": "10-12-1990",
            "full_name": "Ada",
            "attributes": {"plan": "pro"},
            "tags": ["VIP", "red sneakers"],
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ada@example.com" and body["dob"] == "1990-12-10"
    assert body["tags"] == ["red sneakers", "VIP"] and body["status"] == "subscribed"
    assert body["attributes"] == {"plan": "pro"}


def test_spaced_mobile_is_refused_with_the_e164_form(client):
    response = client.post("/v1/contacts", {"mobile": "+44 20 7183 8750"}, format="json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "mobile"]
    assert "'+442071838750'" in entry["msg"]


def test_duplicate_email_is_422_pointing_at_upsert(client, account):
    contact = contact_for(account, email="ada@example.com")
    response = client.post("/v1/contacts", {"email": "ADA@example.com"}, format="json")
    assert response.status_code == 422
    [entry] = response.json()["detail"]
    assert entry["loc"] == ["body", "email"] and entry["type"] == "value_error.duplicate"
    assert str(contact.pk) in entry["msg"]


def test_upsert_creates_then_updates_and_merges_attributes(client, account):
    first = client.post("/v1/contacts/upsert", {"email": "a@example.com", "attributes": {"a": 1}}, format="json")
    assert first.status_code == 201
    second = client.post(
        "/v1/contacts/upsert",
        {"email": "a@example.com", "city": "Leeds", "attributes": {"b": 2}, "add_tags": "x,y"},
        format="json",
    )
    assert second.status_code == 200
    body = second.json()
    assert (body["id"], body["city"], body["attributes"], body["tags"]) == (
        first.json()["id"],
        "Leeds",
        {"a": 1, "b": 2},
        ["x", "y"],
    )


def test_patch_changes_only_given_fields_and_null_attribute_removes_it(client, account):
    contact = contact_for(account, email="a@example.com", full_name="A", attributes={"plan": "pro", "x": 1})
    response = client.patch(
        f"/v1/contacts/{contact.pk}", {"status": "Unsubscribe", "attributes": {"plan": None}}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["full_name"], response.json()["attributes"]) == (
        "unsubscribed",
        "A",
        {"x": 1},
    )


def test_unknown_field_is_refused(client):
    response = client.post("/v1/contacts", {"email": "a@example.com", "name": "A"}, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "value_error.extra"


def test_tags_endpoints_add_and_remove_keeping_counts(client, account):
    contact = contact_for(account, email="a@example.com", tags=["old"])
    added = client.post(f"/v1/contacts/{contact.pk}/tags", {"tags": ["Red Sneakers", "vip"]}, format="json")
    assert added.status_code == 200 and added.json()["tags"] == ["old", "Red Sneakers", "vip"]
    removed = client.delete(f"/v1/contacts/{contact.pk}/tags?tags=red sneakers,OLD")
    assert removed.status_code == 200 and removed.json()["tags"] == ["vip"]
    counts = dict(Tag.objects.filter(account=account).values_list("key", "contact_count"))
    assert counts == {"old": 0, "red sneakers": 0, "vip": 1}
    tags = client.get("/v1/tags").json()["results"]
    assert {t["name"]: t["contact_count"] for t in tags} == {"old": 0, "Red Sneakers": 0, "vip": 1}


def test_delete_removes_contact_timeline_and_tag_counts(client, account):
    contact = contact_for(account, email="a@example.com", tags=["vip"])
    event_for(contact, "login")
    assert client.delete(f"/v1/contacts/{contact.pk}").status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not ContactEvent.objects.filter(contact_id=contact.pk).exists()
    assert Tag.objects.get(account=account, key="vip").contact_count == 0


def test_template_key_header_authenticates_contact_endpoints(api, account, client):
    from tests.accounts.factories import token_for

    key = token_for(account, scopes=("contacts",))
    contact_for(account, email="a@example.com")
    response = api().get("/v1/contacts", HTTP_TEMPLATE_KEY=key)
    assert response.status_code == 200 and response.json()["results"][0]["email"] == "a@example.com"


def test_contacts_key_cannot_reach_full_scope_endpoints(client):
    response = client.get("/v1/tokens")
    assert response.status_code == 403
    assert "contacts" in response.json()["detail"]


def test_list_is_newest_first_and_cursor_paginated(client, account):
    for n in range(3):
        contact_for(account, email=f"c{n}@example.com")
    first = client.get("/v1/contacts?limit=2").json()
    assert [c["email"] for c in first["results"]] == ["c2@example.com", "c1@example.com"]
    second = client.get(first["next"]).json()
    assert [c["email"] for c in second["results"]] == ["c0@example.com"]
