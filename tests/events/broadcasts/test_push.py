"""Push broadcasts: one push per contact, rendered with the contact's variables, one delivery per enabled device;
contacts without devices, unsubscribed or out of the topic left out; the ledger one row per contact; pause and resume,
a batch stored twice, and the pushes published through SNS (moto) by the delivery engine."""

import json

import pytest
from django.test import override_settings
from django.utils import timezone

from config.delivery.engine import Engine
from contacts.subscriptions import Source, contact_unsubscribe, topic_create
from events.broadcasts import services
from events.broadcasts.audience import audience_preview
from events.broadcasts.channels import Recipient, broadcast_channel
from events.broadcasts.models import Broadcast, BroadcastRecipient
from events.broadcasts.selectors import broadcast_progress
from push.models import PushDelivery, PushDevice, PushMessage
from tests.accounts.factories import connection_for
from tests.contacts.factories import contact_for
from tests.events.broadcasts.factories import (
    broadcast_for,
    contacts_bulk,
    device_for,
    ledger,
    push_app_for,
    push_template,
    run,
)
from tests.push.conftest import publishes, sns  # noqa: F401 (fixtures: moto's SNS)
from tests.push.factories import FCM_TOKEN, create_app, fcm_app_body, register

pytestmark = pytest.mark.django_db


def push_broadcast(account, **data):
    if "template" not in data:
        data["template"] = str(push_template(account).pk)
    data.setdefault("variables", {"season": "spring"})
    return broadcast_for(account, channel="push", **data)


@pytest.fixture
def app(account):
    return push_app_for(account, connection_for(account))


@pytest.fixture
def audience(account, app):
    """Ann (two devices) and Bob (one enabled, one disabled) get it; the others are left out."""
    topic = topic_create(account=account, key="news", name="News")
    ann = contact_for(account, email="ann@example.net", full_name="Ann Lee")
    bob = contact_for(account, email="bob@example.net")
    for device in (device_for(ann, app), device_for(ann, app), device_for(bob, app)):
        assert device.enabled
    device_for(bob, app, enabled=False)
    contact_for(account, email="no-device@example.net")
    gone = contact_for(account, email="gone@example.net")
    out = contact_for(account, email="out@example.net")
    device_for(gone, app), device_for(out, app)
    contact_unsubscribe(contact=gone, topic=None, source=Source.API)
    contact_unsubscribe(contact=out, topic=topic, source=Source.API)
    return topic


@pytest.mark.sqlite
def test_one_push_per_contact_and_one_delivery_per_enabled_device(account, audience):
    broadcast = push_broadcast(account, topic="news", priority=85)
    preview = audience_preview(broadcast=broadcast)
    assert (preview["count"], preview["excluded"]) == (2, {"no_device": 1, "opted_out": 1, "unsubscribed": 1})
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert ledger(broadcast) == {
        "ann@example.net": "queued",
        "bob@example.net": "queued",
        "no-device@example.net": "excluded:no_device",
        "gone@example.net": "excluded:unsubscribed",
        "out@example.net": "excluded:opted_out",
    }
    pushes = {str(push.contact and push.contact.email): push for push in PushMessage.objects.select_related("contact")}
    assert sorted(pushes) == ["ann@example.net", "bob@example.net"]
    ann = pushes["ann@example.net"]
    assert (ann.target, ann.title, ann.body, ann.data, ann.priority, ann.device_count) == (
        "contact",
        "Hi Ann",
        "The spring collection is here.",
        {"screen": "spring"},
        85,
        2,
    )
    assert pushes["bob@example.net"].title == "Hi there"
    assert ann.client_push_id == f"broadcast:{broadcast.pk}:{ann.contact_id}"
    deliveries = PushDelivery.objects.filter(status="queued")
    assert sorted(str(email) for email in deliveries.values_list("message__contact__email", flat=True)) == [
        "ann@example.net",
        "ann@example.net",
        "bob@example.net",
    ]
    assert deliveries.values("device").distinct().count() == 3
    assert not deliveries.filter(device__enabled=False).exists()
    row = BroadcastRecipient.objects.get(broadcast=broadcast, contact__email="ann@example.net")
    assert row.message_id == ann.pk
    PushDelivery.objects.filter(message=ann).update(status="failed")  # every device of Ann's failed
    progress = broadcast_progress(broadcast=broadcast)
    assert (progress["to_send"], progress["failed"], progress["suppressed"]) == (1, 1, 3)


def test_a_contact_whose_devices_went_away_since_the_start_is_left_out(account, audience):
    broadcast = push_broadcast(account, topic="news")
    services.broadcast_send(broadcast=broadcast)
    services.broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    PushDevice.objects.filter(contact__email="bob@example.net").update(enabled=False)
    while services.broadcast_feed_step(broadcast_id=broadcast.pk, now=timezone.now()):
        pass
    assert ledger(broadcast)["bob@example.net"] == "excluded:no_device"
    assert not PushMessage.objects.filter(contact__email="bob@example.net").exists()


def test_a_batch_stored_twice_stores_nothing_twice(account, audience):
    broadcast = push_broadcast(account, topic="news")
    services.broadcast_send(broadcast=broadcast)
    services.broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    broadcast = Broadcast.objects.select_related("template_version__template").get(pk=broadcast.pk)
    rows = BroadcastRecipient.objects.filter(broadcast=broadcast, status="pending").select_related("contact")
    recipients = [Recipient(row_id=row.pk, contact=row.contact) for row in rows]
    channel = broadcast_channel("push")
    first = channel.enqueue(broadcast, recipients)
    second = channel.enqueue(broadcast, recipients)
    assert len(first.stored) == 2 and second.stored == first.stored and not second.excluded
    assert (PushMessage.objects.count(), PushDelivery.objects.count()) == (2, 3)


@pytest.mark.sqlite
@override_settings(SESAME_BROADCAST_BATCH=10, SESAME_BROADCAST_AHEAD_SECONDS=0, SESAME_PUSH_SEND_RATE=1)
def test_pause_withdraws_waiting_pushes_and_resume_reaches_each_device_once(account, app):
    for contact in contacts_bulk(account, 25):
        device_for(contact, app)
    broadcast = push_broadcast(account)
    services.broadcast_send(broadcast=broadcast)
    services.broadcast_start(broadcast_id=broadcast.pk, now=timezone.now())
    fed_first = BroadcastRecipient.objects.filter(broadcast=broadcast).order_by("pk")[0]
    device_for(fed_first.contact, app)  # a second device
    run(broadcast)
    assert PushMessage.objects.filter(status="queued").count() == 10  # the window: one batch at this rate
    first = PushMessage.objects.get(contact=fed_first.contact)
    one_of_two = first.deliveries.order_by("pk")[0]
    PushDelivery.objects.filter(pk=one_of_two.pk).update(status="sent")  # the other is still queued
    sent_whole = PushMessage.objects.filter(status="queued").exclude(pk=first.pk).order_by("pk")[:3]
    PushDelivery.objects.filter(message__in=list(sent_whole)).update(status="sent")
    services.broadcast_pause(broadcast=broadcast)
    # Pushes no device got yet are taken back; one whose first device got it goes on to its second.
    assert PushMessage.objects.filter(status="cancelled").count() == 6
    assert first.deliveries.filter(status="queued").count() == 1
    assert all("~withdrawn~" in str(p.client_push_id) for p in PushMessage.objects.filter(status="cancelled"))
    run(broadcast)  # a feed while paused does nothing
    assert PushDelivery.objects.filter(status="queued").count() == 1
    services.broadcast_resume(broadcast=broadcast)
    for _ in range(5):  # the engine sends what is queued; feeding tops the window up again
        run(broadcast)
        PushDelivery.objects.filter(status="queued").update(status="sent")
    run(broadcast)
    reached = list(PushDelivery.objects.filter(status="sent").values_list("device_id", flat=True))
    assert len(reached) == len(set(reached)) == PushDevice.objects.count() == 26
    assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.SENT


@pytest.mark.django_db(transaction=True)
def test_the_engine_publishes_each_device_and_progress_counts_contacts(api, account, sns, publishes):  # noqa: F811
    connection_for(account)
    app = create_app(api, account, fcm_app_body())
    contact_for(account, email="ann@example.net", full_name="Ann Lee")
    contact_for(account, email="bob@example.net", full_name="Bob Stone")
    for token, owner in [("ann-1", "ann"), ("ann-2", "ann"), ("bob-1", "bob")]:
        answer = register(api, account, app["id"], f"{FCM_TOKEN}-{token}", contact=f"{owner}@example.net")
        assert answer.status_code == 201, answer.json()
    contact_for(account, email="no-device@example.net")
    broadcast = push_broadcast(account)
    services.broadcast_send(broadcast=broadcast)
    run(broadcast)
    assert Engine().drain(timeout=10)
    fcm = [json.loads(json.loads(call["Message"])["GCM"])["fcmV1Message"]["message"] for call in publishes]
    assert sorted((m["notification"]["title"], m["data"]["screen"]) for m in fcm) == [
        ("Hi Ann", "spring"),
        ("Hi Ann", "spring"),
        ("Hi Bob", "spring"),
    ]
    run(broadcast)  # the next feed settles the ledger and finishes the broadcast
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.SENT
    progress = broadcast_progress(broadcast=broadcast)
    assert {key: progress[key] for key in ("audience", "to_send", "sent", "failed", "suppressed")} == {
        "audience": 3,
        "to_send": 0,
        "sent": 2,  # contacts, not devices
        "failed": 0,
        "suppressed": 1,
    }
    assert (progress["excluded"], progress["opens"], progress["clicks"]) == ({"no_device": 1}, None, None)
    assert progress["send_rate"] == 100.0  # SESAME_PUSH_SEND_RATE on the app's connection
    assert api(account).get(f"/v1/broadcasts/{broadcast.pk}").json()["config_identifier"] is None
