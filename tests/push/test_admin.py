"""The operator console for push (simulator transport): apps without their keys, devices by token prefix, pushes
read-only with per-device outcomes, and the pause and resume actions."""

import pytest

from config.delivery.engine import Engine
from push.models import PushApp, PushDelivery, PushDevice, PushMessage
from tests.push.factories import P8_KEY, apns_app_body, create_app, register

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sent_push(api, account, connection):
    app = create_app(api, account, apns_app_body())
    register(api, account, app["id"], "a" * 64, contact="ada@example.com")
    register(api, account, app["id"], "sim-disabled-" + "b" * 51, contact="ada@example.com")
    push = (
        api(account)
        .post("/v1/push", {"to": {"contact": "ada@example.com"}, "title": "Hello", "body": "Hi"}, format="json")
        .json()
    )
    assert Engine().drain(timeout=10)
    return PushMessage.objects.get(pk=push["id"])


def test_app_pages_show_status_and_error_rate_but_never_the_key(admin_client, sent_push):
    app = PushApp.objects.get()
    listing = admin_client.get("/admin/push/pushapp/").content.decode()
    assert "Acme iOS" in listing and "50% of 2" in listing
    page = admin_client.get(f"/admin/push/pushapp/{app.pk}/change/").content.decode()
    assert "ABC123DEFG" in page and "SECRETSECRET" not in page and P8_KEY not in page


def test_device_pages_show_only_the_token_prefix(admin_client, sent_push):
    listing = admin_client.get("/admin/push/pushdevice/?enabled__exact=0").content.decode()
    assert "sim-disa…" in listing and "b" * 20 not in listing
    device = PushDevice.objects.get(enabled=True)
    page = admin_client.get(f"/admin/push/pushdevice/{device.pk}/change/").content.decode()
    assert "aaaaaaaa" in page and "a" * 20 not in page


def test_push_pages_are_read_only_with_outcomes_and_timelines(admin_client, sent_push):
    page = admin_client.get(f"/admin/push/pushmessage/{sent_push.pk}/change/").content.decode()
    assert "failed: 1, sent: 1" in page
    delivery = PushDelivery.objects.get(status="failed")
    detail = admin_client.get(f"/admin/push/pushdelivery/{delivery.pk}/change/").content.decode()
    assert "EndpointDisabled" in detail
    assert admin_client.get("/admin/push/pushmessage/add/").status_code == 403


def test_pause_and_resume_actions(admin_client, sent_push):
    app = PushApp.objects.get()
    url = "/admin/push/pushapp/"
    answer = admin_client.post(url, {"action": "pause", "_selected_action": [app.pk]}, follow=True)
    assert "1 app(s) paused" in answer.content.decode()
    assert PushApp.objects.get().status == "paused"
    answer = admin_client.post(url, {"action": "resume", "_selected_action": [app.pk]}, follow=True)
    assert "Resumed" in answer.content.decode()
    assert PushApp.objects.get().status == "active"
