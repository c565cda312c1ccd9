import pytest
from django.utils import timezone

from contacts.subscriptions import topic_create
from events.broadcasts import services
from events.broadcasts.models import Broadcast
from tests.contacts.factories import contact_for
from tests.emails.factories import sending_connection
from tests.events.broadcasts.factories import broadcast_for, newsletter_template

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def sending(account):
    connection = sending_connection(account)
    for name in ("ann", "bob"):
        contact_for(account, email=f"{name}@example.net")
    broadcast = broadcast_for(account)
    services.broadcast_send(broadcast=broadcast)
    services.broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    services.broadcast_feed_step(broadcast_id=broadcast.pk, now=timezone.now())
    return broadcast, connection


@pytest.mark.parametrize(
    "url",
    [
        "/admin/events/broadcast/",
        "/admin/events/broadcast/?status=sending",
        "/admin/events/broadcastrecipient/?status=queued",
        "/admin/contacts/topic/",
        "/admin/contacts/topicoptout/",
        "/admin/contacts/preferencesettings/",
    ],
)
def test_broadcast_pages_load(admin_client, sending, url):
    assert admin_client.get(url).status_code == 200


def test_a_broadcast_page_shows_progress_and_the_audience(admin_client, sending):
    broadcast, _ = sending
    page = admin_client.get(f"/admin/events/broadcast/{broadcast.pk}/change/").content.decode()
    assert "<th>to_send</th><td>2</td>" in page
    assert "2 contacts (left out: none)" in page


def test_actions_call_the_lifecycle_and_say_what_happened(admin_client, sending):
    broadcast, _ = sending
    answer = admin_client.post(
        "/admin/events/broadcast/", {"action": "pause", "_selected_action": [broadcast.pk]}, follow=True
    )
    assert "Paused 1 broadcast(s)." in answer.content.decode()
    assert Broadcast.objects.get(pk=broadcast.pk).status == "paused"
    answer = admin_client.post(
        "/admin/events/broadcast/", {"action": "pause", "_selected_action": [broadcast.pk]}, follow=True
    )
    assert "it can be paused only when scheduled or sending" in answer.content.decode()


def test_a_draft_made_in_the_admin_is_checked_like_the_api(admin_client, account, sending):
    _, connection = sending
    bare = newsletter_template(account, name="bare", html="<p>No way out</p>")
    topic = topic_create(account=account, key="news", name="News")
    form = {
        "account": account.pk,
        "name": "Admin draft",
        "channel": "email",
        "template": bare.pk,
        "variables": "{}",
        "topic": topic.pk,
        "filters": "{}",
        "connection": connection.pk,
        "from_address": "news@example.com",
        "priority": 90,
        "tags": "[]",
        "window_timezone": "UTC",
    }
    refused = admin_client.post("/admin/events/broadcast/add/", form)
    assert "no visible unsubscribe link" in refused.content.decode()
    good = newsletter_template(account, name="good")
    saved = admin_client.post("/admin/events/broadcast/add/", {**form, "template": good.pk})
    assert saved.status_code == 302
    assert Broadcast.objects.get(name="Admin draft").status == "draft"
    sms = admin_client.post("/admin/events/broadcast/add/", {**form, "name": "Admin SMS", "channel": "sms"})
    assert "&#x27;bare&#x27; is an email template; an SMS broadcast sends an SMS template" in sms.content.decode()
    assert not Broadcast.objects.filter(name="Admin SMS").exists()
