import pytest

from contacts.models import Contact, ContactEvent, Topic
from contacts.subscriptions import Source, contact_unsubscribe, topic_create
from tests.contacts.factories import contact_for

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def test_topics_crud(client_for):
    created = client_for.post(
        "/v1/topics", {"key": "newsletter", "name": "Newsletter", "description": "Monthly"}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {k: body[k] for k in ("key", "name", "description", "opted_out_count")} == {
        "key": "newsletter",
        "name": "Newsletter",
        "description": "Monthly",
        "opted_out_count": 0,
    }
    duplicate = client_for.post("/v1/topics", {"key": "newsletter", "name": "Again"}, format="json")
    assert duplicate.status_code == 422
    assert duplicate.json()["detail"][0]["loc"] == ["body", "key"]
    bad = client_for.post("/v1/topics", {"key": "not a slug!", "name": ""}, format="json")
    assert bad.status_code == 422
    assert {tuple(item["loc"]) for item in bad.json()["detail"]} == {("body", "key"), ("body", "name")}
    renamed = client_for.patch(f"/v1/topics/{body['id']}", {"name": "Weekly"}, format="json")
    assert renamed.json()["name"] == "Weekly"
    assert [t["key"] for t in client_for.get("/v1/topics").json()["results"]] == ["newsletter"]
    assert client_for.delete(f"/v1/topics/{body['id']}").status_code == 204
    assert not Topic.objects.exists()


def test_contacts_show_status_and_opted_out_topics_and_count(client_for, account):
    topic = topic_create(account=account, key="newsletter", name="Newsletter")
    contact = contact_for(account, email="ann@example.com")
    contact_unsubscribe(contact=contact, topic=topic, source=Source.API)
    listed = client_for.get("/v1/contacts").json()["results"][0]
    assert (listed["status"], listed["unsubscribed_topics"]) == ("subscribed", ["newsletter"])
    assert client_for.get(f"/v1/topics/{topic.pk}").json()["opted_out_count"] == 1
    contact_unsubscribe(contact=contact, topic=None, source=Source.API)
    one = client_for.get(f"/v1/contacts/{contact.pk}").json()
    assert one["status"] == "unsubscribed"
    timeline = client_for.get(f"/v1/contacts/{contact.pk}/timeline").json()["results"]
    assert [(e["name"], e["properties"]["topic"]) for e in timeline] == [
        ("unsubscribed", None),
        ("unsubscribed", "newsletter"),
    ]


def test_another_accounts_topic_is_a_404(api, account, other_account):
    theirs = topic_create(account=other_account, key="newsletter", name="Theirs")
    client = api(account)
    assert client.get(f"/v1/topics/{theirs.pk}").status_code == 404
    assert client.patch(f"/v1/topics/{theirs.pk}", {"name": "Mine"}, format="json").status_code == 404
    assert client.delete(f"/v1/topics/{theirs.pk}").status_code == 404
    assert client.get("/v1/topics").json()["results"] == []
    assert Topic.objects.get(pk=theirs.pk).name == "Theirs"


def test_unsubscribing_through_the_contacts_api_is_on_the_timeline(client_for, account):
    contact = contact_for(account, email="ann@example.com")
    client_for.patch(f"/v1/contacts/{contact.pk}", {"status": "unsubscribed"}, format="json")
    client_for.patch(f"/v1/contacts/{contact.pk}", {"city": "Lyon"}, format="json")
    client_for.patch(f"/v1/contacts/{contact.pk}", {"status": "subscribed"}, format="json")
    timeline = client_for.get(f"/v1/contacts/{contact.pk}/timeline").json()["results"]
    assert [(e["name"], e["properties"], e["source"]) for e in timeline] == [
        ("resubscribed", {"topic": None, "method": "api"}, "api"),
        ("unsubscribed", {"topic": None, "method": "api"}, "api"),
    ]


def test_an_operator_unsubscribes_contacts_from_the_admin(admin_client, account):
    ann, bob = contact_for(account, email="ann@example.com"), contact_for(account, email="bob@example.com")
    answer = admin_client.post(
        "/admin/contacts/contact/", {"action": "unsubscribe", "_selected_action": [ann.pk, bob.pk]}, follow=True
    )
    assert "Unsubscribed 2 contact(s)." in answer.content.decode()
    assert set(Contact.objects.values_list("status", flat=True)) == {"unsubscribed"}
    assert list(ContactEvent.objects.values_list("source", flat=True).distinct()) == ["admin"]
