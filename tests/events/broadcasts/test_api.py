from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.subscriptions import Source, contact_unsubscribe, topic_create
from emails.models import Email
from events.broadcasts import services
from events.broadcasts.models import Broadcast
from tests.contacts.factories import contact_for, segment_for
from tests.emails.factories import sending_connection
from tests.events.broadcasts.factories import broadcast_for, newsletter_template

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def ready(account):
    sending_connection(account)
    newsletter_template(account)
    topic_create(account=account, key="newsletter", name="Newsletter")
    for name in ("ann", "bob", "cid"):
        contact_for(account, email=f"{name}@example.net", tags=["vip"])
    contact_for(account, email="dan@example.net")
    return segment_for(account, name="VIPs", tags=["vip"])


def body(**overrides):
    data = {"name": "News", "template": "newsletter", "from": "Acme <news@example.com>", "topic": "newsletter"}
    data.update(overrides)
    return data


def test_create_preview_send_and_follow_progress(client_for, account, ready):
    contact_unsubscribe(contact=account.contacts.get(email="cid@example.net"), topic=None, source=Source.API)
    created = client_for.post("/v1/broadcasts", body(segment=ready.pk), format="json")
    assert created.status_code == 201, created.json()
    draft = created.json()
    assert (draft["status"], draft["priority"], draft["topic"], draft["progress"]) == ("draft", 90, "newsletter", None)
    audience = client_for.get(f"/v1/broadcasts/{draft['id']}/audience").json()
    assert (audience["count"], audience["excluded"]) == (2, {"unsubscribed": 1})
    assert [c["email"] for c in audience["sample"]] == ["ann@example.net", "bob@example.net"]
    sent = client_for.post(f"/v1/broadcasts/{draft['id']}/send", {}, format="json")
    assert sent.json()["status"] == "scheduled"
    services.broadcast_start(broadcast_id=draft["id"], now=timezone.now())
    services.broadcast_feed_step(broadcast_id=draft["id"], now=timezone.now())
    Email.objects.filter(to_email="ann@example.net").update(status="delivered", opened_at=timezone.now())
    progress = client_for.get(f"/v1/broadcasts/{draft['id']}").json()["progress"]
    assert {k: progress[k] for k in ("audience", "to_send", "sent", "suppressed", "opens", "clicks", "excluded")} == {
        "audience": 3,
        "to_send": 1,
        "sent": 1,
        "suppressed": 1,
        "opens": 1,
        "clicks": 0,
        "excluded": {"unsubscribed": 1},
    }
    assert progress["eta"] is not None and progress["send_rate"] == 14.0
    paused = client_for.post(f"/v1/broadcasts/{draft['id']}/pause")
    assert paused.json()["status"] == "paused"
    again = client_for.post(f"/v1/broadcasts/{draft['id']}/pause")
    assert again.status_code == 409
    assert again.json() == {"detail": "The broadcast is paused; it can be paused only when scheduled or sending."}
    assert client_for.post(f"/v1/broadcasts/{draft['id']}/resume").json()["status"] == "sending"
    assert client_for.post(f"/v1/broadcasts/{draft['id']}/cancel").json()["status"] == "cancelled"


def test_a_template_without_an_unsubscribe_link_is_a_422_that_says_so(client_for, account, ready):
    newsletter_template(account, name="bare", html="<p>Buy now!</p>")
    refused = client_for.post("/v1/broadcasts", body(template="bare"), format="json")
    assert refused.status_code == 422
    [entry] = refused.json()["detail"]
    assert entry["loc"] == ["body", "template"]
    assert entry["msg"].startswith("the template's HTML has no visible unsubscribe link")
    assert not Broadcast.objects.exists()


def test_bad_input_is_named(client_for, account, ready):
    refused = client_for.post(
        "/v1/broadcasts",
        body(template="nope", topic="sports", segment=999, priority=0, window={"start": "9", "end": "18:00"}),
        format="json",
    )
    assert refused.status_code == 422
    locs = {tuple(item["loc"]) for item in refused.json()["detail"]}
    assert locs == {("body", "priority"), ("body", "window", "start")}
    refused = client_for.post("/v1/broadcasts", body(template="nope", topic="sports", segment=999), format="json")
    locs = {tuple(item["loc"]) for item in refused.json()["detail"]}
    assert locs == {("body", "template"), ("body", "topic"), ("body", "segment")}
    unverified = client_for.post("/v1/broadcasts", body(**{"from": "x@elsewhere.org"}), format="json")
    assert [e["loc"] for e in unverified.json()["detail"]] == [["body", "from"]]


def test_only_drafts_change(client_for, account, ready):
    broadcast = broadcast_for(account, template="newsletter")
    assert client_for.patch(f"/v1/broadcasts/{broadcast.pk}", {"name": "Renamed"}, format="json").json()["name"] == (
        "Renamed"
    )
    services.broadcast_send(broadcast=broadcast, send_at=timezone.now() + timedelta(days=1))
    refused = client_for.patch(f"/v1/broadcasts/{broadcast.pk}", {"name": "Late"}, format="json")
    assert refused.status_code == 409
    assert client_for.post(f"/v1/broadcasts/{broadcast.pk}/send").status_code == 409


def test_another_accounts_broadcast_is_a_404_everywhere(api, account, other_account):
    sending_connection(other_account)
    theirs = broadcast_for(other_account)
    client = api(account)
    for method, path in [
        ("get", ""),
        ("patch", ""),
        ("get", "/audience"),
        ("post", "/send"),
        ("post", "/pause"),
        ("post", "/resume"),
        ("post", "/cancel"),
    ]:
        assert getattr(client, method)(f"/v1/broadcasts/{theirs.pk}{path}", {}, format="json").status_code == 404
    assert client.get("/v1/broadcasts").json()["results"] == []
    assert Broadcast.objects.get(pk=theirs.pk).status == "draft"
