"""Outbound webhooks stay fair: endpoint and pending limits per account, backoff per endpoint, disabling a dead
endpoint with a notice, re-enabling, and account-fair claims of deliveries and SNS notifications."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from emails.models import Email, EmailEvent
from events import services, tasks
from events.models import SnsNotification, WebhookDelivery, WebhookEndpoint
from events.services import notifications, outbound, webhook_drain
from tests.emails.factories import sending_connection
from tests.events.conftest import fixture_payload, provisioned

pytestmark = pytest.mark.django_db

DELIVERY = "ses-events/delivery.json"


def _endpoint(account, url="https://hooks.acme.test/x", **fields):
    endpoint, _ = services.webhook_endpoint_create(account=account, url=url, event_types=["*"])
    if fields:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
        endpoint.refresh_from_db()
    return endpoint


def _pending(endpoint, count, *, age=timedelta(0)):
    """`count` deliveries waiting for `endpoint`, as ingestion leaves them (created `age` ago)."""
    now = timezone.now() - age
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint,
            account_id=endpoint.account_id,
            event_type="delivery",
            payload={"id": str(index), "type": "delivery"},
            next_attempt_at=now,
            give_up_at=now + timedelta(hours=24),
        )
        for index in range(count)
    )
    WebhookDelivery.objects.filter(pk__in=[r.pk for r in rows]).update(created_at=now)
    return rows


@pytest.fixture
def operator(other_account, settings):
    """The operator's own Sesame account and verified sender, which tells owners about disabled endpoints."""
    sending_connection(other_account, domain="sesame.test")
    settings.SESAME_NOTIFY_ACCOUNT_ID = str(other_account.pk)
    settings.SESAME_NOTIFY_FROM = "Sesame alerts <alerts@sesame.test>"
    return other_account


# --- the endpoint limit ---------------------------------------------------------------------------------------------


def test_the_eleventh_endpoint_answers_422_naming_the_limit(account, client_for, api, other_account):
    def register(client, name):
        return client.post(
            "/v1/webhooks", {"url": f"https://hooks.acme.test/{name}", "event_types": ["*"]}, format="json"
        )

    for index in range(10):
        assert register(client_for, index).status_code == 201
    response = register(client_for, "eleventh")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body"] and error["type"] == "value_error.limit_reached"
    assert "10 webhook endpoints" in error["msg"] and "SESAME_WEBHOOK_MAX_ENDPOINTS=10" in error["msg"]
    assert not WebhookEndpoint.objects.filter(url__endswith="/eleventh").exists()
    # Another account is not affected; paused endpoints count too; deleting one frees a place.
    assert register(api(other_account), "other").status_code == 201
    first = WebhookEndpoint.objects.filter(account=account).order_by("created_at")[0]
    assert client_for.patch(f"/v1/webhooks/{first.pk}", {"is_active": False}, format="json").status_code == 200
    assert register(client_for, "eleventh").status_code == 422
    assert client_for.delete(f"/v1/webhooks/{first.pk}").status_code == 204
    assert register(client_for, "eleventh").status_code == 201


def test_the_endpoint_limit_follows_the_setting(account, settings):
    settings.SESAME_WEBHOOK_MAX_ENDPOINTS = 2
    _endpoint(account, "https://a.test/1")
    _endpoint(account, "https://a.test/2")
    with pytest.raises(outbound.EndpointLimitReached, match="SESAME_WEBHOOK_MAX_ENDPOINTS=2"):
        _endpoint(account, "https://a.test/3")


# --- per-endpoint backoff -------------------------------------------------------------------------------------------


def test_backoff_doubles_per_endpoint_from_30_seconds_up_to_an_hour():
    waits = [services.endpoint_backoff(n).total_seconds() for n in range(1, 11)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_a_failing_endpoint_is_backed_off_as_a_whole_and_then_probed_with_one_delivery(account):
    endpoint = _endpoint(account)
    _pending(endpoint, 5)
    with mock.patch.object(outbound, "_post", side_effect=ConnectionRefusedError("refused")) as post:
        assert services.webhook_deliveries_drain() == 5  # healthy until now: all five go at once, and fail
        endpoint.refresh_from_db()
        assert endpoint.consecutive_failures == 1  # one round, counted once
        assert timedelta(seconds=25) < endpoint.retry_at - timezone.now() <= timedelta(seconds=30)
        assert services.webhook_deliveries_drain() == 0  # backed off: nothing is attempted
        WebhookEndpoint.objects.update(retry_at=timezone.now())
        assert services.webhook_deliveries_drain() == 1  # the backoff ran out: one probe, not five
    endpoint.refresh_from_db()
    assert post.call_count == 6 and endpoint.consecutive_failures == 2
    assert timedelta(seconds=55) < endpoint.retry_at - timezone.now() <= timedelta(seconds=60)
    assert "ConnectionRefusedError: refused" in endpoint.last_error
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    # Every waiting delivery shows when its endpoint is tried next.
    probed = WebhookDelivery.objects.filter(attempts=2).get()
    assert probed.next_attempt_at == endpoint.retry_at


def test_a_failing_endpoint_does_not_hold_up_another_endpoint_of_the_same_account(account):
    dead = _endpoint(account, "https://dead.test/x", consecutive_failures=3, retry_at=timezone.now())
    alive = _endpoint(account, "https://alive.test/x")
    _pending(dead, 20)
    _pending(alive, 3)

    def post(url, body, headers, timeout):
        if "dead" in url:
            raise TimeoutError("timed out")
        return 200, "ok"

    with mock.patch.object(outbound, "_post", side_effect=post):
        services.webhook_deliveries_drain()
    assert WebhookDelivery.objects.filter(endpoint=alive, status="delivered").count() == 3
    assert WebhookDelivery.objects.filter(endpoint=dead).exclude(attempts=0).count() == 1


# --- disabling, the notice, re-enabling ---------------------------------------------------------------------------


def _failing_for_a_day(account, **fields):
    now = timezone.now()
    streak = {
        "consecutive_failures": 9,
        "failing_since": now - timedelta(hours=24, minutes=5),
        "last_failure_at": now - timedelta(hours=1),
        "retry_at": now,
    }
    endpoint = _endpoint(account, **{**streak, **fields})
    _pending(endpoint, 2, age=timedelta(hours=1))
    return endpoint


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_owner_emailed(account, operator, client_for, admin_client):
    endpoint = _failing_for_a_day(account)
    with mock.patch.object(outbound, "_post", return_value=(502, "bad gateway")):
        services.webhook_deliveries_drain()
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled" and not endpoint.is_active and endpoint.disabled_at is not None
    assert "failing for 24 hours" in endpoint.disabled_reason and "HTTP 502: bad gateway" in endpoint.disabled_reason

    shown = client_for.get(f"/v1/webhooks/{endpoint.pk}").json()
    assert shown["status"] == "disabled" and shown["is_active"] is False
    assert shown["disabled_reason"] == endpoint.disabled_reason and shown["consecutive_failures"] == 10

    notice = Email.objects.get(pk=endpoint.disabled_notice_id)
    assert notice.account_id == operator.pk and notice.to_address == account.owner_email
    assert endpoint.url in notice.subject and f"PATCH /v1/webhooks/{endpoint.pk}" in str(notice.text_body)
    assert endpoint.disabled_notice_error == ""

    # Waiting deliveries are kept (for a re-enable) but not attempted; new events are not queued for it.
    with mock.patch.object(outbound, "_post", return_value=(200, "")) as post:
        assert services.webhook_deliveries_drain() == 0
        outbound.webhook_deliveries_create(events=[_event(account)], email=None)
    assert post.call_count == 0 and WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").count() == 2
    assert WebhookDelivery.objects.count() == 2

    page = admin_client.get(f"/admin/events/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert "disabled" in page and "failing for 24 hours" in page
    listing = admin_client.get("/admin/events/webhookendpoint/?status=disabled").content.decode()
    assert endpoint.url in listing


def _event(account):
    connection = provisioned(account, identifier=f"c{EmailEvent.objects.count()}")
    return EmailEvent.objects.create(
        account=account,
        connection=connection,
        ses_message_id="m-1",
        source="ses",
        event_type="delivery",
        recipient="jane@example.com",
        occurred_at=timezone.now(),
    )


def test_without_notify_settings_the_endpoint_is_disabled_and_says_why_nobody_was_emailed(account, settings):
    settings.SESAME_NOTIFY_ACCOUNT_ID = ""
    endpoint = _failing_for_a_day(account)
    with mock.patch.object(outbound, "_post", side_effect=TimeoutError("timed out")):
        services.webhook_deliveries_drain()
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled" and endpoint.disabled_notice is None
    assert "SESAME_NOTIFY_ACCOUNT_ID" in endpoint.disabled_notice_error


def test_a_long_quiet_endpoint_is_not_disabled_by_its_second_failure(account):
    endpoint = _failing_for_a_day(account, consecutive_failures=1)
    with mock.patch.object(outbound, "_post", return_value=(500, "")):
        services.webhook_deliveries_drain()
    endpoint.refresh_from_db()
    assert endpoint.status == "active" and endpoint.consecutive_failures == 2


def test_reenabling_through_the_api_resumes_the_waiting_deliveries(
    account, client_for, django_capture_on_commit_callbacks
):
    endpoint = _failing_for_a_day(account)
    with mock.patch.object(outbound, "_post", return_value=(500, "down")):
        services.webhook_deliveries_drain()
    assert WebhookEndpoint.objects.get().status == "disabled"
    with (
        mock.patch.object(outbound, "_post", return_value=(200, "ok")) as post,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client_for.patch(f"/v1/webhooks/{endpoint.pk}", {"is_active": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "active" and body["disabled_at"] is None and body["disabled_reason"] == ""
    assert body["consecutive_failures"] == 0 and body["retry_at"] is None
    assert post.call_count == 2
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_admin_enable_action_resumes_a_disabled_endpoint(admin_client, account):
    endpoint = _failing_for_a_day(account, is_active=False, disabled_at=timezone.now(), disabled_reason="dead")
    with mock.patch.object(outbound, "_post", return_value=(204, "")):
        response = admin_client.post(
            "/admin/events/webhookendpoint/", {"action": "enable", "_selected_action": [str(endpoint.pk)]}, follow=True
        )
    assert "Enabled 1 endpoint(s)." in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.status == "active" and endpoint.retry_at is None and endpoint.disabled_reason == ""


# --- the pending limit --------------------------------------------------------------------------------------------


def test_beyond_the_pending_limit_the_oldest_are_dropped_and_counted_on_their_endpoint(
    account, connection, receive, settings, client_for
):
    settings.SESAME_WEBHOOK_MAX_PENDING = 4
    dead = _endpoint(
        account, "https://dead.test/x", consecutive_failures=4, retry_at=timezone.now() + timedelta(hours=1)
    )
    alive = _endpoint(account, "https://alive.test/x")
    oldest = [_pending(dead, 1, age=timedelta(hours=hours))[0] for hours in (4, 3, 2, 1)]
    with mock.patch.object(outbound, "_post", return_value=(200, "ok")) as post:
        receive(connection, fixture_payload(DELIVERY))  # one new delivery for each endpoint: 6 waiting, limit 4
    assert post.call_count == 1 and WebhookDelivery.objects.get(endpoint=alive).status == "delivered"
    dropped = WebhookDelivery.objects.filter(status="dropped")
    assert {d.pk for d in dropped} == {d.pk for d in oldest[:2]}  # the two oldest
    assert "more than 4 deliveries waiting" in dropped[0].last_error
    assert WebhookDelivery.objects.filter(status="pending").count() == 3  # the dead one's newest 3
    shown = client_for.get(f"/v1/webhooks/{dead.pk}").json()
    assert shown["deliveries_dropped"] == 2 and shown["last_dropped_at"] is not None
    history = client_for.get(f"/v1/webhooks/{dead.pk}/deliveries").json()["results"]
    assert [d["status"] for d in history].count("dropped") == 2


def test_attempts_in_flight_are_not_dropped(account, settings):
    settings.SESAME_WEBHOOK_MAX_PENDING = 1
    endpoint = _endpoint(account)
    first, second = _pending(endpoint, 2, age=timedelta(minutes=1))
    WebhookDelivery.objects.filter(pk=first.pk).update(leased_until=timezone.now() + timedelta(minutes=1))
    assert services.webhook_deliveries_trim(account_id=account.pk) == 1
    assert WebhookDelivery.objects.get(pk=first.pk).status == "pending"
    assert WebhookDelivery.objects.get(pk=second.pk).status == "dropped"


# --- fair claims ------------------------------------------------------------------------------------------------


def test_claims_take_turns_across_accounts_and_cap_each_accounts_attempts_in_flight(account, other_account, settings):
    settings.SESAME_WEBHOOK_ACCOUNT_CONCURRENCY = 3
    noisy = [_endpoint(account, f"https://noisy.test/{n}") for n in range(3)]
    for endpoint in noisy:
        _pending(endpoint, 50, age=timedelta(minutes=5))
    quiet = _pending(_endpoint(other_account, "https://quiet.test/x"), 2)

    first = services.webhook_deliveries_claim(limit=4)
    # Turns: each account's first, then each account's second, ...: the quiet account's newer work is not behind
    # the noisy account's 150 older deliveries.
    assert {quiet[0].pk, quiet[1].pk} <= set(first)
    more = services.webhook_deliveries_claim(limit=100)
    in_flight = WebhookDelivery.objects.filter(leased_until__isnull=False)
    assert in_flight.filter(account=account).count() == 3  # the per-account cap
    assert len(first) + len(more) == 5
    assert services.webhook_deliveries_claim(limit=100) == []  # nothing more until attempts land


def test_a_drain_that_dies_loses_its_claims_after_the_lease(account):
    endpoint = _endpoint(account)
    [delivery] = _pending(endpoint, 1)
    assert services.webhook_deliveries_claim(limit=10) == [delivery.pk]
    assert services.webhook_deliveries_claim(limit=10) == []
    WebhookDelivery.objects.update(leased_until=timezone.now() - timedelta(seconds=1))
    assert services.webhook_deliveries_claim(limit=10) == [delivery.pk]


def test_the_sweep_gives_up_on_deliveries_past_their_window(account):
    endpoint = _endpoint(account, is_active=False)
    old, fresh = _pending(endpoint, 2)
    WebhookDelivery.objects.filter(pk=old.pk).update(give_up_at=timezone.now() - timedelta(seconds=1))
    assert tasks.webhook_deliveries_sweep() == 1
    old.refresh_from_db()
    assert old.status == "failed" and "Gave up" in old.last_error
    assert WebhookDelivery.objects.get(pk=fresh.pk).status == "pending"


def test_sns_notifications_are_claimed_in_turns_across_accounts(account, other_account):
    noisy, quiet = provisioned(account), provisioned(other_account)
    for index in range(60):
        services.ses_notification_receive(
            connection=noisy, message=fixture_payload(DELIVERY), sns_message_id=f"n{index}"
        )
    services.ses_notification_receive(connection=quiet, message=fixture_payload(DELIVERY), sns_message_id="q")
    quiet_id = SnsNotification.objects.get(account=other_account).pk
    batch = services.notifications_claim(limit=5)
    assert quiet_id in batch and len(batch) == 5
    assert SnsNotification.objects.filter(enqueued_at__isnull=False).count() == 5


def test_the_drain_keeps_only_a_few_batches_out_with_workers(connection, monkeypatch):
    for index in range(300):
        services.ses_notification_receive(
            connection=connection, message=fixture_payload(DELIVERY), sns_message_id=f"n{index}"
        )
    handed: list[tuple[list[int], str]] = []
    monkeypatch.setattr(tasks.notification_process_batch, "delay", lambda ids, batch: handed.append((ids, batch)))
    tasks.notifications_drain()
    assert len(handed) == notifications.MAX_BATCHES_OUT
    assert SnsNotification.objects.filter(enqueued_at__isnull=False).count() == 25 * notifications.MAX_BATCHES_OUT
    # A worker finishing one batch frees its place: the drain hands out exactly one more.
    services.notifications_batch_done(batch=handed[0][1])
    assert len(handed) == notifications.MAX_BATCHES_OUT + 1
    assert services.batches_room() == 0


def test_drain_handover_keeps_one_task_while_work_remains(account, monkeypatch):
    _pending(_endpoint(account), 3)
    monkeypatch.setattr(webhook_drain, "DRAIN_SECONDS", 0)  # stops claiming at once: work remains
    with mock.patch.object(outbound, "_post", return_value=(200, "")):
        assert services.webhook_deliveries_drain() == 0
        assert services.webhook_drain_handover(attempted=1) is True
    assert WebhookDelivery.objects.filter(status="pending").count() == 3


@pytest.mark.parametrize("status", ["active", "paused", "disabled", "failing", "dropping"])
def test_admin_endpoint_list_filters_by_status(admin_client, account, status):
    _endpoint(account, "https://healthy.test/x")
    _endpoint(account, "https://paused.test/x", is_active=False)
    _endpoint(account, "https://disabled.test/x", is_active=False, disabled_at=timezone.now(), disabled_reason="dead")
    _pending(_endpoint(account, "https://failing.test/x", consecutive_failures=2, deliveries_dropped=3), 4)
    page = admin_client.get(f"/admin/events/webhookendpoint/?status={status}").content.decode()
    expected = {
        "active": {"healthy", "failing"},
        "paused": {"paused"},
        "disabled": {"disabled"},
        "failing": {"failing"},
        "dropping": {"failing"},
    }[status]
    shown = {name for name in ("healthy", "paused", "disabled", "failing") if f"https://{name}.test/x" in page}
    assert shown == expected
