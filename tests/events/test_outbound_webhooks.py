"""Customers' webhook endpoints: CRUD over /v1/webhooks, signed POSTs of each event, retries for a day."""

import hashlib
import hmac
import json
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection as db
from django.utils import timezone

from events import services, tasks
from events.models import WebhookDelivery, WebhookEndpoint
from events.services import outbound
from tests.events.conftest import fixture_payload, sent_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(client_for):
    response = client_for.post(
        "/v1/webhooks", {"url": "https://hooks.acme.test/sesame", "event_types": ["bounce", "delivery"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_secret_is_shown_once_and_encrypted_at_rest(client_for, endpoint):
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["secret_prefix"] == secret[:10]
    listed = client_for.get("/v1/webhooks").json()
    shown = client_for.get(f"/v1/webhooks/{endpoint['id']}").json()
    assert secret not in json.dumps(listed) and secret not in json.dumps(shown)
    with db.cursor() as cursor:
        cursor.execute("SELECT secret FROM events_webhookendpoint")
        [(stored,)] = cursor.fetchall()
    assert secret not in stored and WebhookEndpoint.objects.get().secret == secret


def test_rotating_gives_a_new_secret_once(client_for, endpoint):
    rotated = client_for.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret").json()
    assert rotated["secret"] != endpoint["secret"]
    assert WebhookEndpoint.objects.get().secret == rotated["secret"]


@pytest.mark.parametrize(
    ("body", "loc", "text"),
    [
        ({"url": "http://hooks.acme.test/x", "event_types": ["bounce"]}, "url", "https"),
        ({"url": "https://10.0.0.5/x", "event_types": ["bounce"]}, "url", "private"),
        ({"url": "https://localhost/x", "event_types": ["bounce"]}, "url", "not reachable"),
        ({"url": "https://hooks.acme.test/x", "event_types": ["teleport"]}, "event_types", "valid choice"),
        ({"url": "https://hooks.acme.test/x", "event_types": []}, "event_types", ""),
        ({"url": "https://hooks.acme.test/x", "event_types": ["bounce"], "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_endpoints_answer_422(client_for, body, loc, text):
    response = client_for.post("/v1/webhooks", body, format="json")
    assert response.status_code == 422
    [entry] = [e for e in response.json()["detail"] if loc in e["loc"]]
    assert text in entry["msg"]


def test_update_and_delete(client_for, endpoint):
    url = f"/v1/webhooks/{endpoint['id']}"
    changed = client_for.patch(url, {"event_types": ["*"], "is_active": False}, format="json")
    assert (
        changed.status_code == 200 and changed.json()["event_types"] == ["*"] and changed.json()["is_active"] is False
    )
    assert client_for.delete(url).status_code == 204
    assert client_for.get(url).status_code == 404


def test_each_event_is_posted_signed_with_a_timestamp(account, connection, endpoint, receive):
    payload = fixture_payload("ses-events/bounce.json")
    email = sent_email(connection, ses_message_id=payload["mail"]["messageId"], client_email_id="crm-42")
    with mock.patch.object(outbound, "_post", return_value=(200, "ok")) as post:
        receive(connection, payload)
        receive(connection, fixture_payload("ses-events/open.json"))  # not subscribed
    [(url, body, headers, _timeout)] = [c.args for c in post.call_args_list]
    assert url == "https://hooks.acme.test/sesame"
    event = json.loads(body)
    assert (event["type"], event["email_id"], event["client_email_id"], event["recipient"]) == (
        "bounce",
        str(email.pk),
        "crm-42",
        "recipient@example.com",
    )
    stamp, signature = (part.split("=", 1)[1] for part in headers["Sesame-Signature"].split(","))
    expected = hmac.new(endpoint["secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == expected and abs(int(stamp) - timezone.now().timestamp()) < 60
    assert WebhookDelivery.objects.get().status == "delivered"


def test_failures_back_the_endpoint_off_then_the_delivery_is_given_up_after_a_day(
    connection, endpoint, receive, client_for
):
    with mock.patch.object(outbound, "_post", return_value=(503, "busy")):
        receive(connection, fixture_payload("ses-events/delivery.json"))
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 503
    assert abs(delivery.give_up_at - delivery.created_at - timedelta(hours=24)) < timedelta(seconds=1)
    hook = WebhookEndpoint.objects.get()
    assert hook.consecutive_failures == 1 and hook.retry_at == delivery.next_attempt_at
    assert hook.retry_at is not None

    waits = [hook.retry_at - timezone.now()]
    with mock.patch.object(outbound, "_post", side_effect=TimeoutError("read timed out")):
        for _ in range(4):  # each retry as the endpoint's backoff runs out
            WebhookEndpoint.objects.update(retry_at=timezone.now())
            assert services.webhook_deliveries_drain() == 1
            hook.refresh_from_db()
            assert hook.retry_at is not None
            waits.append(hook.retry_at - timezone.now())
        assert [round(w.total_seconds() / 30) * 30 for w in waits] == [30, 60, 120, 240, 480]
        # Near the end of the 24 hours, a failure whose next retry would fall outside the window gives up.
        WebhookDelivery.objects.update(give_up_at=timezone.now() + timedelta(minutes=5))
        WebhookEndpoint.objects.update(retry_at=timezone.now())
        services.webhook_deliveries_drain()
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert "TimeoutError: read timed out" in delivery.last_error and "gave up" in delivery.last_error
    history = client_for.get(f"/v1/webhooks/{endpoint['id']}/deliveries").json()["results"]
    assert history[0]["status"] == "failed" and len(history[0]["attempt_log"]) == 6
    shown = client_for.get(f"/v1/webhooks/{endpoint['id']}").json()
    assert shown["status"] == "active" and shown["consecutive_failures"] == 6
    assert "TimeoutError" in shown["last_error"] and shown["retry_at"] is not None


def test_a_success_after_failures_is_delivered_and_clears_the_backoff(connection, endpoint, receive):
    with mock.patch.object(outbound, "_post", side_effect=[(500, "oops"), (204, "")]):
        receive(connection, fixture_payload("ses-events/delivery.json"))
        assert WebhookEndpoint.objects.get().consecutive_failures == 1
        assert services.webhook_deliveries_drain() == 0  # backed off: not due yet
        WebhookEndpoint.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
        tasks.webhook_deliveries_sweep()  # beat: the backoff ran out, so it wakes the drain
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [a.status_code for a in delivery.attempt_log.order_by("attempted_at")] == [500, 204]
    hook = WebhookEndpoint.objects.get()
    assert (hook.consecutive_failures, hook.retry_at, hook.failing_since) == (0, None, None)
    assert hook.last_success_at is not None


def test_another_accounts_events_are_not_sent_to_my_endpoint(other_account, endpoint, receive):
    from tests.events.conftest import provisioned

    with mock.patch.object(outbound, "_post", return_value=(200, "")) as post:
        receive(provisioned(other_account), fixture_payload("ses-events/delivery.json"))
    assert post.call_count == 0 and not WebhookDelivery.objects.exists()


def test_admin_shows_deliveries_with_attempts(admin_client, connection, endpoint, receive):
    with mock.patch.object(outbound, "_post", return_value=(502, "bad gateway")):
        receive(connection, fixture_payload("ses-events/delivery.json"))
    delivery = WebhookDelivery.objects.get()
    page = admin_client.get(f"/admin/events/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "bad gateway" in page and "502" in page
    listing = admin_client.get("/admin/events/webhookendpoint/").content.decode()
    assert endpoint["secret_prefix"] in listing and endpoint["secret"] not in listing
