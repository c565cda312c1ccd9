from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact
from tests.contacts.factories import contact_for, event_for, segment_for

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def client(api, account):
    return api(account, scopes=("contacts",))


@pytest.fixture
def people(account, other_account):
    """Five contacts of ours (and look-alikes in another account, which must never show)."""
    ada = contact_for(
        account, email="ada@example.com", tags=["vip", "red sneakers"], attributes={"plan": "pro", "seats": 3}
    )
    bob = contact_for(account, email="bob@example.com", tags=["vip"], attributes={"plan": "free"})
    cat = contact_for(account, email="cat@example.com", tags=["vip", "churned"], status="unsubscribed")
    dan = contact_for(account, email="dan@example.com", tags=["red sneakers"], attributes={"vip": True})
    eve = contact_for(account, mobile="+442071838750")
    for other in ("ada", "bob", "cat", "dan"):
        contact_for(
            other_account, email=f"{other}@example.com", tags=["vip", "red sneakers"], attributes={"plan": "pro"}
        )
    Contact.objects.filter(pk=ada.pk).update(created_at=T0, last_seen_at=T0 + timedelta(days=20))
    Contact.objects.filter(pk=bob.pk).update(created_at=T0 + timedelta(days=10), last_seen_at=T0 + timedelta(days=2))
    for n in range(3):
        event_for(ada, "purchase", at=T0 + timedelta(days=5 + n))
    event_for(bob, "purchase", at=T0 + timedelta(days=6))
    event_for(cat, "purchase", at=T0 - timedelta(days=30))
    return {"ada": ada, "bob": bob, "cat": cat, "dan": dan, "eve": eve}


def emails(client, query):
    response = client.get("/v1/contacts", query)
    assert response.status_code == 200, response.json()
    return sorted(c["email"] or c["mobile"] for c in response.json()["results"])


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"tags": "VIP,red sneakers"}, ["ada"]),
        ({"tags": "vip,unknown-tag"}, []),
        ({"tags_any": "churned,red sneakers"}, ["ada", "cat", "dan"]),
        ({"tags_none": "vip"}, ["dan", "eve"]),
        ({"tags": "vip", "tags_none": "churned"}, ["ada", "bob"]),
        ({"status": "unsubscribed"}, ["cat"]),
        ({"status": "subscribed,unsubscribed", "tags": "churned"}, ["cat"]),
        ({"attribute": "plan:pro"}, ["ada"]),
        ({"attribute": "seats:3"}, ["ada"]),
        ({"attribute": "vip:true"}, ["dan"]),
        ({"email": "ADA@example.com"}, ["ada"]),
        ({"mobile": "+442071838750"}, ["eve"]),
    ],
)
def test_segment_filters(client, people, query, expected):
    response = client.get("/v1/contacts", query)
    assert response.status_code == 200, response.json()
    by_id = {person.pk: name for name, person in people.items()}
    assert sorted(by_id[c["id"]] for c in response.json()["results"]) == expected


def test_repeated_attribute_filters_all_apply(client, people):
    response = client.get("/v1/contacts?attribute=plan:pro&attribute=seats:3")
    assert [c["email"] for c in response.json()["results"]] == ["ada@example.com"]
    assert client.get("/v1/contacts?attribute=plan:pro&attribute=seats:4").json()["results"] == []


def test_created_and_last_seen_ranges(client, people):
    assert emails(client, {"created_before": iso(T0 + timedelta(days=1))}) == ["ada@example.com"]
    assert emails(
        client, {"created_after": iso(T0 + timedelta(days=5)), "created_before": iso(T0 + timedelta(days=11))}
    ) == ["bob@example.com"]
    assert emails(client, {"last_seen_after": iso(T0 + timedelta(days=10))}) == ["ada@example.com"]
    assert emails(client, {"last_seen_before": iso(T0 + timedelta(days=10))}) == ["bob@example.com"]


def test_did_event_at_least_n_times_since(client, people):
    assert emails(client, {"did_event": "purchase"}) == ["ada@example.com", "bob@example.com", "cat@example.com"]
    assert emails(client, {"did_event": "purchase", "did_event_since": iso(T0)}) == [
        "ada@example.com",
        "bob@example.com",
    ]
    assert emails(client, {"did_event": "purchase", "did_event_times": 2}) == ["ada@example.com"]
    assert (
        emails(client, {"did_event": "purchase", "did_event_times": 3, "did_event_since": iso(T0 + timedelta(days=6))})
        == []
    )


def test_did_not_do_event_since(client, people):
    assert emails(client, {"did_not_event": "purchase", "did_not_event_since": iso(T0)}) == [
        "+442071838750",
        "cat@example.com",
        "dan@example.com",
    ]
    assert emails(client, {"did_not_event": "purchase", "tags": "vip"}) == []


def test_count_only(client, people):
    assert client.get("/v1/contacts", {"tags": "vip", "count": 1}).json() == {"count": 3}


def test_bad_or_unknown_parameters_are_422_in_the_query(client, people):
    unknown = client.get("/v1/contacts", {"tag": "vip"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["query", "tag"]
    bad = client.get("/v1/contacts", {"status": "gone", "did_event_times": 2})
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} >= {("query", "status")}
    orphan = client.get("/v1/contacts", {"did_event_since": iso(T0)})
    assert orphan.status_code == 422 and orphan.json()["detail"][0]["loc"] == ["query", "did_event_since"]


def test_saved_segment_reports_its_live_count_and_members(client, account, people):
    response = client.post(
        "/v1/segments",
        {"name": "VIP buyers", "filters": {"tags": ["vip"], "did_event": "purchase", "did_event_since": iso(T0)}},
        format="json",
    )
    assert response.status_code == 201
    segment = response.json()
    assert segment["count"] == 2
    members = client.get(f"/v1/segments/{segment['id']}/contacts").json()["results"]
    assert sorted(m["email"] for m in members) == ["ada@example.com", "bob@example.com"]
    contact_for(account, email="fay@example.com", tags=["vip"])
    event_for(Contact.objects.get(email="fay@example.com", account=account), "purchase", at=timezone.now())
    assert client.get(f"/v1/segments/{segment['id']}").json()["count"] == 3
    assert emails(client, {"segment": segment["id"], "tags_none": "red sneakers"}) == [
        "bob@example.com",
        "fay@example.com",
    ]
    changed = client.patch(f"/v1/segments/{segment['id']}", {"filters": {"status": "unsubscribed"}}, format="json")
    assert changed.json()["count"] == 1


def test_saved_segment_with_bad_filters_is_refused(client, people):
    response = client.post("/v1/segments", {"name": "x", "filters": {"tag": "vip"}}, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "filters", "tag"]
    duplicate = segment_for(people["ada"].account, name="Same")
    again = client.post("/v1/segments", {"name": duplicate.name, "filters": {}}, format="json")
    assert again.status_code == 422 and again.json()["detail"][0]["type"] == "value_error.duplicate"


def test_another_accounts_segment_cannot_be_used_as_a_filter(client, other_account, people):
    theirs = segment_for(other_account, name="Theirs")
    response = client.get("/v1/contacts", {"segment": theirs.pk})
    assert response.status_code == 422
