from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.subscriptions import Source, contact_unsubscribe, topic_create
from emails.models import Email
from emails.templating import template_create
from events.broadcasts import services
from events.broadcasts.models import Broadcast
from tests.contacts.factories import contact_for, segment_for
from tests.emails.factories import sending_connection
from tests.events.broadcasts.factories import broadcast_for, newsletter_template, push_template, sms_template
from tests.sms.factories import sms_connection

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


def test_an_sms_broadcast_from_draft_to_progress(client_for, account, ready):
    sms_template(account)
    contact_for(account, mobile="+14254147755", tags=["vip"])
    created = client_for.post(
        "/v1/broadcasts",
        body(channel="sms", template="sale", variables={"discount": "20%"}, segment=ready.pk, **{"from": "ACME"}),
        format="json",
    )
    assert created.status_code == 201, created.json()
    draft = created.json()
    assert (draft["channel"], draft["from"], draft["config_identifier"]) == ("sms", "ACME", "default")
    audience = client_for.get(f"/v1/broadcasts/{draft['id']}/audience").json()
    assert (audience["count"], audience["excluded"]) == (1, {"no_address": 3})
    client_for.post(f"/v1/broadcasts/{draft['id']}/send", {}, format="json")
    services.broadcast_start(broadcast_id=draft["id"], now=timezone.now())
    services.broadcast_feed_step(broadcast_id=draft["id"], now=timezone.now())
    progress = client_for.get(f"/v1/broadcasts/{draft['id']}").json()["progress"]
    assert {k: progress[k] for k in ("audience", "to_send", "suppressed", "opens", "clicks", "send_rate")} == {
        "audience": 4,
        "to_send": 1,
        "suppressed": 3,
        "opens": None,
        "clicks": None,
        "send_rate": 20.0,
    }


def test_wrong_channel_templates_and_senders_that_do_not_apply_are_422s_that_say_so(client_for, account, ready):
    sms_template(account)
    push_template(account)

    def refused(**data):
        answer = client_for.post("/v1/broadcasts", body(**data), format="json")
        assert answer.status_code == 422, answer.json()
        return {tuple(entry["loc"]): entry["msg"] for entry in answer.json()["detail"]}

    assert refused(channel="sms") == {
        ("body", "template"): "'newsletter' is an email template; an SMS broadcast sends an SMS template "
        "(GET /v1/templates?channel=sms)"
    }
    assert refused(channel="push", template="sale") == {
        ("body", "template"): "'sale' is an SMS template; a push broadcast sends a push template "
        "(GET /v1/templates?channel=push)"
    }
    assert refused(channel="push", template="season", reply_to="help@example.com") == {
        ("body", "from"): "a push comes from the app its device registered with; leave from out",
        ("body", "reply_to"): "a push cannot be answered; leave reply_to out",
    }
    assert refused(channel="push", template="season", config_identifier="default", **{"from": ""}) == {
        ("body", "config_identifier"): "a push goes out through the AWS connection of its device's app; leave "
        "config_identifier out"
    }
    assert refused(channel="sms", template="sale", reply_to="help@example.com", **{"from": "Acme Inc"}) == {
        ("body", "reply_to"): "an SMS is answered to the number it came from; leave reply_to out",
        ("body", "from"): "'Acme Inc' is neither a sender ID (1 to 11 letters and digits, at least one letter, e.g. "
        "ACME) nor an origination number in E.164 (e.g. +18005550100)",
    }
    assert refused(**{"from": ""}) == {
        ("body", "from"): "an email broadcast needs a sender: a verified identity",
    }
    template_create(account=account, channel="push", name="raw", content={"body": "Hi", "data": {"aps": "x"}})
    assert refused(channel="push", template="raw", **{"from": ""}) == {
        ("body", "template"): "the template's data uses aps, reserved by APNs or FCM; rename those keys",
    }
    assert not Broadcast.objects.exists()
    email = broadcast_for(account, template="newsletter")
    switched = client_for.patch(f"/v1/broadcasts/{email.pk}", {"channel": "sms"}, format="json")
    assert switched.status_code == 422
    assert switched.json()["detail"][0]["msg"].startswith("'newsletter' is an email template; an SMS broadcast")
    moved = client_for.patch(
        f"/v1/broadcasts/{email.pk}", {"channel": "push", "template": "season", "from": ""}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    assert (moved.json()["channel"], moved.json()["config_identifier"]) == ("push", None)


def test_another_accounts_sms_and_push_broadcasts_are_404s(api, account, other_account):
    sms_connection(other_account)
    theirs = [
        broadcast_for(other_account, channel="sms", template=str(sms_template(other_account).pk)),
        broadcast_for(other_account, channel="push", template=str(push_template(other_account).pk)),
    ]
    client = api(account)
    for broadcast in theirs:
        for method, path in [("get", ""), ("patch", ""), ("get", "/audience"), ("post", "/send"), ("post", "/cancel")]:
            answer = getattr(client, method)(f"/v1/broadcasts/{broadcast.pk}{path}", {}, format="json")
            assert answer.status_code == 404
    assert client.get("/v1/broadcasts").json()["results"] == []
    assert set(Broadcast.objects.values_list("status", flat=True)) == {"draft"}
