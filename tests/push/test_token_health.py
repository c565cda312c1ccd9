"""Token health from SNS platform-application events, and the broken-app guard."""

import uuid

import pytest

from config.delivery.engine import Engine
from contacts.models import ContactEvent
from events.models import SnsNotification
from events.services import notification_process, ses_notification_receive
from push.models import PushApp, PushDelivery, PushDevice
from push.tasks import endpoints_enable
from tests.push.factories import APNS_TOKEN, apns_app_body, create_app, register

pytestmark = pytest.mark.django_db(transaction=True)


def _platform_event(connection, message: dict) -> str:
    """Feed a platform-application event through the SNS webhook's ingestion path."""
    message_id = str(uuid.uuid4())
    assert ses_notification_receive(connection=connection, message=message, sns_message_id=message_id)
    notification = SnsNotification.objects.get(message_id=message_id)
    notification_process(notification_id=notification.pk)
    notification.refresh_from_db()
    return notification.result


def _app_and_device(api, account, **extra):
    app = create_app(api, account, apns_app_body())
    device = register(api, account, app["id"], APNS_TOKEN, contact="ada@example.com", **extra).json()
    return app, device, PushDevice.objects.get(pk=device["id"])


def test_endpoint_updated_to_disabled_disables_the_device_on_both_timelines(api, account, connection, sns):
    app, shown, device = _app_and_device(api, account)
    result = _platform_event(
        connection,
        {
            "EventType": "EndpointUpdated",
            "EndpointArn": device.endpoint_arn,
            "Resource": app["platform_application_arn"],
            "Service": "SNS",
            "Enabled": "false",
            "Time": "2026-11-22T10:00:00.000Z",
        },
    )
    assert "disabled" in result
    detail = api(account).get(f"/v1/push/devices/{device.pk}").json()
    assert detail["enabled"] is False
    assert detail["timeline"][-1]["type"] == "disabled" and detail["timeline"][-1]["source"] == "sns"
    assert ContactEvent.objects.filter(contact_id=shown["contact"], name="push_device_disabled").exists()


def test_endpoint_deleted_disables_and_a_new_registration_recreates_it(api, account, connection, sns):
    app, _, device = _app_and_device(api, account)
    sns.delete_endpoint(EndpointArn=device.endpoint_arn)
    _platform_event(
        connection,
        {
            "EventType": "EndpointDeleted",
            "EndpointArn": device.endpoint_arn,
            "Resource": app["platform_application_arn"],
        },
    )
    assert PushDevice.objects.get(pk=device.pk).enabled is False
    again = register(api, account, app["id"], APNS_TOKEN).json()
    assert again["enabled"] is True
    assert PushDevice.objects.get(pk=device.pk).endpoint_arn != device.endpoint_arn


def test_delivery_failure_event_fails_the_sent_push_and_disables_the_device(api, account, connection, sns):
    app, shown, device = _app_and_device(api, account)
    push = api(account).post("/v1/push", {"to": {"device": str(device.pk)}, "body": "Hi"}, format="json").json()
    assert Engine().drain(timeout=10)
    delivery = PushDelivery.objects.get(message_id=push["id"])
    _platform_event(
        connection,
        {
            "EventType": "DeliveryFailure",
            "EndpointArn": device.endpoint_arn,
            "MessageId": delivery.sns_message_id,
            "FailureType": "InvalidPlatformToken",
            "FailureMessage": "Platform token associated with the endpoint is not valid",
            "DeliveryAttempts": 1,
            "Resource": app["platform_application_arn"],
        },
    )
    detail = api(account).get(f"/v1/push/{push['id']}").json()
    [shown_delivery] = detail["deliveries"]
    assert shown_delivery["status"] == "failed"
    assert "InvalidPlatformToken" in shown_delivery["failure_reason"]
    assert [e["type"] for e in shown_delivery["timeline"]] == ["queued", "sent", "delivery_failure"]
    assert PushDevice.objects.get(pk=device.pk).enabled is False
    assert ContactEvent.objects.filter(contact_id=shown["contact"], name="push_failed").exists()


def test_the_broken_app_guard_pauses_the_app_and_keeps_every_device_enabled(api, account, connection, sns, settings):
    settings.SESAME_NOTIFY_ACCOUNT_ID = ""  # no operator account: the app records why no notice went out
    app = create_app(api, account, apns_app_body())
    tokens = [f"{i:064x}" for i in range(30)]
    devices = [
        register(api, account, app["id"], token, contact=f"user{i}@example.com").json()
        for i, token in enumerate(tokens)
    ]
    # A sandbox token sent to production: APNs refuses every one, so SNS disables every endpoint.
    for device in PushDevice.objects.all():
        sns.set_endpoint_attributes(EndpointArn=device.endpoint_arn, Attributes={"Enabled": "false"})
    for device in devices:
        api(account).post("/v1/push", {"to": {"device": device["id"]}, "body": "Hi"}, format="json")

    assert Engine(senders=1).drain(timeout=20)

    paused = PushApp.objects.get(pk=app["id"])
    assert paused.status == "paused" and "failed" in paused.paused_reason
    assert "Not notified" in paused.pause_notice_error
    assert PushDevice.objects.filter(enabled=True).count() == 30  # not one device disabled
    failed = PushDelivery.objects.filter(status="failed")
    held = PushDelivery.objects.filter(status="held")
    assert failed.count() >= 20 and held.count() == 30 - failed.count()  # the rest wait, not lost
    tried = set(failed.values_list("device_id", flat=True))
    assert set(PushDevice.objects.filter(endpoint_needs_enable=True).values_list("pk", flat=True)) == tried
    shown = api(account).get(f"/v1/push/apps/{app['id']}").json()
    assert shown["status"] == "paused"

    # The owner fixed the app. SNS had disabled only the endpoints it tried: the held ones were never sent.
    for device in PushDevice.objects.exclude(pk__in=tried):
        sns.set_endpoint_attributes(EndpointArn=device.endpoint_arn, Attributes={"Enabled": "true"})
    # Resume sends what was held and enables the endpoints SNS disabled during the incident.
    answer = api(account).post(f"/v1/push/apps/{app['id']}/resume")
    assert answer.status_code == 200 and answer.json()["status"] == "active"
    endpoints_enable(app["id"])  # what the worker runs once the resume commits
    for device in PushDevice.objects.all():
        assert sns.get_endpoint_attributes(EndpointArn=device.endpoint_arn)["Attributes"]["Enabled"] == "true"
    assert Engine().drain(timeout=20)
    assert PushDelivery.objects.filter(status="held").count() == 0
    assert PushDelivery.objects.filter(status="sent").count() == 30 - len(tried)
    assert PushDevice.objects.filter(enabled=True).count() == 30


def test_a_single_dead_token_among_healthy_ones_only_disables_that_device(api, account, connection, sns):
    app = create_app(api, account, apns_app_body())
    tokens = [f"{i:064x}" for i in range(25)]
    for token in tokens:
        register(api, account, app["id"], token, contact="ada@example.com")
    dead = PushDevice.objects.order_by("created_at")[0]
    sns.set_endpoint_attributes(EndpointArn=dead.endpoint_arn, Attributes={"Enabled": "false"})

    api(account).post("/v1/push", {"to": {"contact": "ada@example.com"}, "body": "Hi"}, format="json")
    assert Engine().drain(timeout=20)

    assert PushApp.objects.get(pk=app["id"]).status == "active"
    assert list(PushDevice.objects.filter(enabled=False).values_list("pk", flat=True)) == [dead.pk]
    assert PushDelivery.objects.filter(status="sent").count() == 24
