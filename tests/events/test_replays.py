import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from emails.models import Email, EmailEvent
from events.models import RollupDelta, SnsNotification, WebhookDelivery, WebhookEndpoint
from tests.events.conftest import sent_email
from tests.events.test_rollups import ses_event

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, "--no-progress", stdout=out)
    return out.getvalue()


def state() -> tuple:
    """Everything a replay could change, as a user of the admin or the API would see it."""
    return (
        sorted(EmailEvent.objects.values_list("event_type", "recipient", "notification_id")),
        sorted(SnsNotification.objects.values_list("pk", "processed_at", "failed_at", "result")),
        sorted(Email.objects.values_list("pk", "status", "attempts", "failure_reason")),
        sorted(WebhookDelivery.objects.values_list("pk", "status", "next_attempt_at")),
        RollupDelta.objects.count(),
    )


@pytest.fixture
def endpoint(account) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        account=account, url="https://hooks.example.test/sesame", event_types=["*"], secret="s", secret_prefix="whsec_"
    )


def test_replay_notifications_restores_lost_rows_once(connection, receive, endpoint):
    email = sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}", to="recipient@example.com")
    receive(connection, ses_event("delivery", email))
    receive(connection, ses_event("bounce", email))
    assert WebhookDelivery.objects.count() == 2
    # A processing bug lost the bounce's rows and parked its notification.
    bounce = SnsNotification.objects.get(event_type="Bounce")
    EmailEvent.objects.filter(notification=bounce).delete()
    WebhookDelivery.objects.filter(event_type="bounce").delete()
    SnsNotification.objects.filter(pk=bounce.pk).update(failed_at=timezone.now(), processed_at=None)
    before = state()

    dry = run("replay_notifications", "--connection", str(connection.pk), "--since", "1h", "--dry-run")
    assert "2 notifications matched; would change 1" in dry
    assert state() == before

    assert "changed 1" in run("replay_notifications", "--connection", str(connection.pk), "--since", "1h")
    bounce.refresh_from_db()
    assert bounce.failed_at is None and bounce.processed_at is not None
    assert EmailEvent.objects.filter(notification=bounce, event_type="bounce").count() == 1
    assert WebhookDelivery.objects.filter(event_type="bounce").count() == 1
    email.refresh_from_db()
    assert email.status == "bounced"

    after = state()
    assert "changed 0" in run("replay_notifications", "--connection", str(connection.pk), "--since", "1h")
    assert state() == after


def test_replay_notifications_takes_only_the_types_asked_for(connection, receive):
    email = sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}")
    receive(connection, ses_event("delivery", email))
    receive(connection, ses_event("open", email))
    EmailEvent.objects.filter(source="ses").delete()
    output = run("replay_notifications", "--connection", str(connection.pk), "--since", "1h", "--type", "open")
    assert "changed 1" in output
    assert list(EmailEvent.objects.filter(source="ses").values_list("event_type", flat=True)) == ["open"]


def test_replay_notifications_refuses_unknown_connections_and_types(connection):
    with pytest.raises(CommandError, match="No AWS connection"):
        run("replay_notifications", "--connection", str(uuid.uuid4()), "--since", "1h")
    with pytest.raises(CommandError, match="Unknown event type"):
        run("replay_notifications", "--connection", str(connection.pk), "--since", "1h", "--type", "bouncy")
    with pytest.raises(CommandError, match="not a time"):
        run("replay_notifications", "--connection", str(connection.pk), "--since", "yesterday")


def test_requeue_emails_puts_failed_emails_back_once(connection, django_capture_on_commit_callbacks):
    throttled = sent_email(connection, ses_message_id=None, status="failed", failure_reason="Throttling: rate")
    refused = sent_email(connection, ses_message_id=None, status="failed", failure_reason="MessageRejected")
    delivered = sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}", status="delivered")
    before = state()

    assert "would change 1" in run("requeue_emails", "--status", "failed", "--reason", "throttl", "--dry-run")
    assert state() == before

    with django_capture_on_commit_callbacks(execute=True):
        assert "changed 1" in run("requeue_emails", "--status", "failed", "--reason", "throttl", "--since", "1d")
    throttled.refresh_from_db()
    assert (throttled.status, throttled.attempts, throttled.failure_reason) == ("queued", 0, "")
    requeued = throttled.events.get(event_type="requeued")
    assert "Throttling: rate" in requeued.detail
    assert Email.objects.get(pk=refused.pk).status == "failed"
    assert Email.objects.get(pk=delivered.pk).status == "delivered"

    after = state()
    assert "changed 0" in run("requeue_emails", "--status", "failed", "--reason", "throttl")
    assert state() == after


def test_requeue_emails_is_scoped_to_an_account(connection, other_account):
    sent_email(connection, ses_message_id=None, status="failed", failure_reason="x")
    assert "0 emails matched" in run("requeue_emails", "--status", "failed", "--account", str(other_account.pk))
    assert Email.objects.get().status == "failed"


def test_redeliver_webhooks_sends_failed_and_dropped_deliveries_again_once(endpoint, account):
    def delivery(status: str, age: timedelta = timedelta(minutes=5)) -> WebhookDelivery:
        row = WebhookDelivery.objects.create(
            endpoint=endpoint,
            account=account,
            event_type="bounce",
            payload={"type": "bounce"},
            status=status,
            give_up_at=timezone.now() - timedelta(hours=1),
        )
        WebhookDelivery.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
        return row

    failed, dropped, done = delivery("failed"), delivery("dropped"), delivery("delivered")
    old_failure = delivery("failed", age=timedelta(days=3))
    before = state()

    assert "would change 2" in run("redeliver_webhooks", "--endpoint", str(endpoint.pk), "--since", "1d", "--dry-run")
    assert state() == before

    assert "changed 2" in run("redeliver_webhooks", "--endpoint", str(endpoint.pk), "--since", "1d")
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {failed.pk: "pending", dropped.pk: "pending", done.pk: "delivered", old_failure.pk: "failed"}
    assert WebhookDelivery.objects.get(pk=failed.pk).give_up_at > timezone.now()

    after = state()
    assert "changed 0" in run("redeliver_webhooks", "--endpoint", str(endpoint.pk), "--since", "1d")
    assert state() == after


def test_admin_actions_call_the_same_services(admin_client, connection, receive, endpoint):
    email = sent_email(connection, ses_message_id=None, status="failed", failure_reason="boom")
    response = admin_client.post(
        "/admin/emails/email/", {"action": "requeue", "_selected_action": [str(email.pk)]}, follow=True
    )
    assert "Requeued 1 failed email(s)" in response.content.decode()
    email.refresh_from_db()
    assert email.status == "queued"

    sent = sent_email(connection, ses_message_id=f"ses-{uuid.uuid4()}")
    receive(connection, ses_event("delivery", sent))
    notification = SnsNotification.objects.get()
    EmailEvent.objects.filter(notification=notification).delete()
    response = admin_client.post(
        "/admin/events/snsnotification/",
        {"action": "replay", "_selected_action": [str(notification.pk)]},
        follow=True,
    )
    assert "Replayed 1 notification(s): 1 changed" in response.content.decode()
    assert EmailEvent.objects.filter(notification=notification).count() == 1
    page = admin_client.get(f"/admin/events/snsnotification/{notification.pk}/change/").content.decode()
    assert f"/admin/emails/email/{sent.pk}/change/" in page  # the notification links its rows and their email
    assert 'name="_save"' not in page
