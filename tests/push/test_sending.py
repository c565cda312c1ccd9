"""Sending pushes through the delivery engine to SNS (moto): the exact JSON per platform, fan-out to a contact's
devices, token health on publish, and the API around a push."""

import json
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from config.delivery.engine import Engine
from contacts.models import ContactEvent
from push.models import PushDelivery, PushDevice
from tests.push.factories import APNS_TOKEN, FCM_TOKEN, apns_app_body, create_app, fcm_app_body, register

pytestmark = pytest.mark.django_db(transaction=True)


def _send(api, account, **body):
    answer = api(account).post(
        "/v1/push", {"title": "Shipped", "body": "Order 1234 is on its way.", **body}, format="json"
    )
    return answer


def _drain() -> None:
    assert Engine().drain(timeout=10)


def test_fcm_gets_an_fcm_v1_message_and_the_ttl_attribute(api, account, connection, sns, moto_sns, publishes):
    app = create_app(api, account, fcm_app_body())
    device = register(api, account, app["id"], FCM_TOKEN).json()
    answer = _send(
        api,
        account,
        to={"device": device["id"]},
        data={"order": 1234, "screen": "orders"},
        badge=3,
        sound="chime",
        ttl_seconds=600,
        collapse_key="order-1234",
        urgency="normal",
    )
    assert answer.status_code == 200 and answer.json()["device_count"] == 1
    _drain()

    [call] = publishes
    endpoint_arn = PushDevice.objects.get(pk=device["id"]).endpoint_arn
    assert call["TargetArn"] == endpoint_arn and call["MessageStructure"] == "json"
    message = json.loads(call["Message"])
    assert message["default"] == "Order 1234 is on its way."
    assert json.loads(message["GCM"]) == {
        "fcmV1Message": {
            "message": {
                "notification": {"title": "Shipped", "body": "Order 1234 is on its way."},
                "android": {
                    "priority": "NORMAL",
                    "collapse_key": "order-1234",
                    "notification": {"sound": "chime", "notification_count": 3},
                },
                "data": {"order": "1234", "screen": "orders"},
            }
        }
    }
    assert call["MessageAttributes"] == {"AWS.SNS.MOBILE.FCM.TTL": {"DataType": "String", "StringValue": "600"}}
    assert list(moto_sns.platform_endpoints[endpoint_arn].messages.values()) == [call["Message"]]
    delivery = PushDelivery.objects.get(message_id=answer.json()["id"])
    assert delivery.status == "sent" and delivery.sns_message_id


def test_apns_gets_aps_with_data_beside_it_and_apns_attributes(api, account, connection, sns, publishes):
    app = create_app(api, account, apns_app_body())
    device = register(api, account, app["id"], APNS_TOKEN).json()
    _send(
        api,
        account,
        to={"device": device["id"]},
        data={"order": 1234},
        badge=1,
        sound="default",
        ttl_seconds=3600,
        collapse_key="order-1234",
    )
    _drain()

    [call] = publishes
    message = json.loads(call["Message"])
    assert set(message) == {"default", "APNS"}
    assert json.loads(message["APNS"]) == {
        "aps": {"alert": {"title": "Shipped", "body": "Order 1234 is on its way."}, "badge": 1, "sound": "default"},
        "order": 1234,
    }
    assert {name: value["StringValue"] for name, value in call["MessageAttributes"].items()} == {
        "AWS.SNS.MOBILE.APNS.TTL": "3600",
        "AWS.SNS.MOBILE.APNS.PUSH_TYPE": "alert",
        "AWS.SNS.MOBILE.APNS.PRIORITY": "10",
        "AWS.SNS.MOBILE.APNS.COLLAPSE_ID": "order-1234",
    }


def test_sandbox_apps_publish_under_apns_sandbox(api, account, connection, sns, publishes):
    app = create_app(api, account, apns_app_body(platform="APNS_SANDBOX"))
    device = register(api, account, app["id"], APNS_TOKEN).json()
    _send(api, account, to={"device": device["id"]}, ttl_seconds=60)
    _drain()
    message = json.loads(publishes[0]["Message"])
    assert "aps" in json.loads(message["APNS_SANDBOX"])
    assert publishes[0]["MessageAttributes"]["AWS.SNS.MOBILE.APNS_SANDBOX.TTL"]["StringValue"] == "60"


def test_a_contact_send_fans_out_to_its_enabled_devices_with_a_timeline_each(api, account, connection, sns, publishes):
    ios = create_app(api, account, apns_app_body())
    android = create_app(api, account, fcm_app_body())
    phone = register(api, account, ios["id"], APNS_TOKEN, contact="ada@example.com").json()
    tablet = register(api, account, android["id"], FCM_TOKEN, contact="ada@example.com").json()
    old = register(api, account, android["id"], FCM_TOKEN + "-old", contact="ada@example.com").json()
    PushDevice.objects.filter(pk=old["id"]).update(enabled=False)

    accepted = _send(api, account, to={"contact": "ada@example.com"}).json()
    assert accepted["device_count"] == 2
    _drain()

    detail = api(account).get(f"/v1/push/{accepted['id']}").json()
    assert detail["to"] == {"contact": phone["contact"]}
    assert detail["outcomes"] == {"sent": 2}
    assert {d["device"] for d in detail["deliveries"]} == {phone["id"], tablet["id"]}
    assert all([e["type"] for e in d["timeline"]] == ["queued", "sent"] for d in detail["deliveries"])
    platforms = sorted(key for call in publishes for key in json.loads(call["Message"]) if key != "default")
    assert platforms == ["APNS", "GCM"]
    sent = ContactEvent.objects.filter(contact_id=phone["contact"], name="push_sent", source="push")
    assert sent.count() == 2


def test_endpoint_disabled_on_publish_disables_the_device_and_says_why(api, account, connection, sns):
    app = create_app(api, account, apns_app_body())
    device = register(api, account, app["id"], APNS_TOKEN, contact="ada@example.com").json()
    arn = PushDevice.objects.get(pk=device["id"]).endpoint_arn
    sns.set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})  # APNs said the token is dead
    accepted = _send(api, account, to={"device": device["id"]}).json()
    _drain()

    delivery = api(account).get(f"/v1/push/{accepted['id']}").json()["deliveries"][0]
    assert delivery["status"] == "failed" and delivery["failure_reason"].startswith("EndpointDisabled")
    shown = api(account).get(f"/v1/push/devices/{device['id']}").json()
    assert shown["enabled"] is False and shown["disabled_reason"].startswith("EndpointDisabled")
    assert [e["type"] for e in shown["timeline"]][-1] == "disabled"
    names = set(ContactEvent.objects.filter(contact_id=device["contact"]).values_list("name", flat=True))
    assert {"push_failed", "push_device_disabled"} <= names
    again = _send(api, account, to={"device": device["id"]})
    assert again.status_code == 422 and "disabled" in again.json()["detail"][0]["msg"]


def test_cancel_before_sending_and_409_after(api, account, connection, sns):
    app = create_app(api, account, apns_app_body())
    device = register(api, account, app["id"], APNS_TOKEN).json()
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    scheduled = _send(api, account, to={"device": device["id"]}, schedule_send_at=later).json()
    assert scheduled["status"] == "scheduled"
    cancelled = api(account).post(f"/v1/push/{scheduled['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api(account).get(f"/v1/push/{scheduled['id']}").json()["outcomes"] == {"cancelled": 1}

    now = _send(api, account, to={"device": device["id"]}).json()
    _drain()
    assert api(account).post(f"/v1/push/{now['id']}/cancel").status_code == 409


def test_client_push_id_repeats_answer_409_and_other_accounts_see_404(api, account, other_account, connection, sns):
    app = create_app(api, account, apns_app_body())
    device = register(api, account, app["id"], APNS_TOKEN).json()
    first = _send(api, account, to={"device": device["id"]}, client_push_id="ship-1").json()
    repeat = _send(api, account, to={"device": device["id"]}, client_push_id="ship-1")
    assert repeat.status_code == 409 and repeat.json()["id"] == first["id"]
    assert api(other_account).get(f"/v1/push/{first['id']}").status_code == 404
    assert api(other_account).get(f"/v1/push/{first['id']}/deliveries").status_code == 404
    foreign = _send(api, other_account, to={"device": device["id"]})
    assert foreign.status_code == 422 and foreign.json()["detail"][0]["loc"] == ["body", "to", "device"]
    listed = api(account).get("/v1/push?target=device").json()["results"]
    assert [p["id"] for p in listed] == [first["id"]]


def test_bad_push_bodies_are_422_at_their_place(api, account, connection):
    two_targets = _send(api, account, to={"device": "c3d2b1a0-9f8e-4d7c-8b6a-5f4e3d2c1b0a", "segment": 1})
    assert two_targets.status_code == 422 and two_targets.json()["detail"][0]["loc"][:2] == ["body", "to"]
    reserved = _send(api, account, to={"segment": 1}, data={"aps": 1})
    assert ["body", "data"] in [e["loc"] for e in reserved.json()["detail"]]
    huge = _send(api, account, to={"contact": "ada@example.com"}, data={"blob": "x" * 5000})
    assert huge.status_code == 422 and "bytes" in huge.json()["detail"][0]["msg"]
    past = _send(api, account, to={"segment": 1}, schedule_send_at="2001-01-01T00:00:00+00:00")
    assert ["body", "schedule_send_at"] in [e["loc"] for e in past.json()["detail"]]


def test_a_segment_fans_out_chunk_by_chunk_once_per_device_skipping_unsubscribed(
    api, account, connection, sns, publishes
):
    from contacts.models import Contact, Segment
    from push.services import push_fanout_step

    app = create_app(api, account, fcm_app_body())
    for i in range(5):
        register(api, account, app["id"], f"{FCM_TOKEN}-{i}", contact=f"user{i}@example.com")
    Contact.objects.filter(email="user4@example.com").update(status="unsubscribed")
    segment = Segment.objects.create(account=account, name="All", filters={})
    push = _send(api, account, to={"segment": segment.pk}).json()
    assert push["status"] == "fanning_out"

    steps = 1
    while push_fanout_step(message_id=push["id"], chunk=2):
        steps += 1
    assert steps == 3  # 4 subscribed contacts in chunks of 2, then an empty chunk ends it
    assert not push_fanout_step(message_id=push["id"], chunk=2)  # done: running again adds nothing
    _drain()
    detail = api(account).get(f"/v1/push/{push['id']}").json()
    assert detail["status"] == "queued" and detail["device_count"] == 4 and detail["priority"] == 80
    assert detail["outcomes"] == {"sent": 4}
    assert len(publishes) == 4


def test_a_settle_that_fails_after_the_timeline_write_is_tried_again_and_records_each_delivery_once(
    api, account, connection, sns, publishes, monkeypatch
):
    import push.channel

    real, calls = push.channel.deliveries_sent, []

    def breaks_after_writing(deliveries):
        real(deliveries)
        calls.append(len(deliveries))
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(push.channel, "deliveries_sent", breaks_after_writing)
    app = create_app(api, account, apns_app_body())
    phone = register(api, account, app["id"], APNS_TOKEN, contact="ada@example.com").json()
    accepted = _send(api, account, to={"contact": "ada@example.com"}).json()
    _drain()

    assert len(calls) == 2  # the settle failed once and was tried again
    assert len(publishes) == 1
    detail = api(account).get(f"/v1/push/{accepted['id']}").json()
    assert detail["outcomes"] == {"sent": 1}
    assert ContactEvent.objects.filter(contact_id=phone["contact"], name="push_sent").count() == 1
