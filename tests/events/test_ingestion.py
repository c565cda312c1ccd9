"""Every SES payload AWS documents becomes timeline rows, matched to its email, whatever order things arrive in."""

import copy
import uuid

import pytest

from contacts.models import Contact, ContactEvent
from emails.models import Email, EmailEvent, Suppression
from events import tasks
from events.models import SnsNotification
from tests.events import signing
from tests.events.conftest import TOPIC_ARN, all_fixture_names, fixture_payload, sent_email

pytestmark = pytest.mark.django_db

# What each AWS sample must become: (event type, recipients).
EXPECTED = {
    "ses-events/bounce.json": ("bounce", ["recipient@example.com"]),
    "ses-events/click.json": ("click", ["recipient@example.com"]),
    "ses-events/complaint.json": ("complaint", ["recipient@example.com"]),
    "ses-events/delivery.json": ("delivery", ["recipient@example.com"]),
    "ses-events/deliverydelay.json": ("delivery_delay", ["recipient@example.com"]),
    "ses-events/open.json": ("open", ["recipient@example.com"]),
    "ses-events/reject.json": ("reject", ["sender@example.com"]),
    "ses-events/rendering-failure.json": ("rendering_failure", ["recipient@example.com"]),
    "ses-events/send.json": ("send", ["recipient@example.com"]),
    "ses-events/subscription.json": ("subscription", ["recipient@example.com"]),
    "ses-notifications/bounce-permanent-1.json": ("bounce", ["jane@example.com"]),
    "ses-notifications/bounce-permanent-2.json": ("bounce", ["jane@example.com", "richard@example.com"]),
    "ses-notifications/complaint-3.json": ("complaint", ["richard@example.com"]),
    "ses-notifications/complaint-4.json": ("complaint", ["richard@example.com"]),
    "ses-notifications/delivery-5.json": ("delivery", ["jane@example.com"]),
}


# Received mail is not an event of a sent email: the team inbox reads it (tests/emails/test_inbox.py).
INBOUND = ["ses-inbound/received-1.json"]


def test_every_shared_fixture_has_an_expectation():
    assert sorted([*EXPECTED, *INBOUND]) == all_fixture_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_aws_sample_ingests_through_the_signed_webhook(connection, post_sns, name):
    payload = fixture_payload(name)
    email = sent_email(
        connection,
        ses_message_id=payload["mail"]["messageId"],
        to=payload["mail"]["destination"][0],
        cc=payload["mail"]["destination"][1:],
    )
    response = post_sns(connection, signing.notification(TOPIC_ARN, payload))
    assert response.status_code == 200
    event_type, recipients = EXPECTED[name]
    rows = list(EmailEvent.objects.filter(source="ses").order_by("recipient"))
    assert [(r.event_type, r.recipient) for r in rows] == [(event_type, r) for r in recipients]
    assert all(r.email_id == email.pk and r.payload == payload and r.detail for r in rows)
    notification = SnsNotification.objects.get()
    assert notification.kind == "ses_event" and notification.processed_at and notification.ses_message_id


def test_an_event_arriving_twice_is_stored_once(connection, receive):
    payload = fixture_payload("ses-events/delivery.json")
    sns_id = str(uuid.uuid4())
    assert receive(connection, payload, sns_id) is True
    assert receive(connection, payload, sns_id) is False
    assert EmailEvent.objects.filter(source="ses").count() == 1
    assert SnsNotification.objects.get().origin == "simulator"


def test_an_event_before_its_email_is_matched_by_the_sweep(connection, receive):
    payload = fixture_payload("ses-events/delivery.json")
    receive(connection, payload)
    event = EmailEvent.objects.get(source="ses")
    assert event.email_id is None and event.ses_message_id == payload["mail"]["messageId"]
    email = sent_email(connection, ses_message_id=payload["mail"]["messageId"])  # the dispatcher commits later
    assert tasks.orphan_events_adopt() == 1
    event.refresh_from_db()
    email.refresh_from_db()
    assert event.email_id == email.pk
    assert email.status == "delivered" and email.delivered_at is not None


def test_an_email_still_sending_is_not_moved_but_keeps_its_timeline(connection, receive):
    payload = fixture_payload("ses-events/delivery.json")
    email = sent_email(connection, ses_message_id=payload["mail"]["messageId"], status="sending")
    receive(connection, payload)
    email.refresh_from_db()
    assert email.status == "sending" and email.events.filter(event_type="delivery").exists()


def test_another_accounts_email_is_never_touched(connection, other_account, receive):
    from tests.events.conftest import provisioned

    payload = fixture_payload("ses-events/bounce.json")
    theirs = sent_email(provisioned(other_account), ses_message_id=payload["mail"]["messageId"])
    receive(connection, payload)
    theirs.refresh_from_db()
    assert theirs.status == "sent" and not theirs.events.exists()
    assert not Suppression.objects.filter(account=other_account).exists()


def test_status_follows_the_strongest_outcome_whatever_the_order(connection, receive):
    delivery = fixture_payload("ses-events/delivery.json")
    email = sent_email(connection, ses_message_id=delivery["mail"]["messageId"])
    receive(connection, fixture_payload("ses-events/complaint.json"))
    receive(connection, delivery)  # arrives after the complaint it preceded
    receive(connection, fixture_payload("ses-events/deliverydelay.json"))
    email.refresh_from_db()
    assert email.status == "complained"
    assert email.recipient_outcomes == {"recipient@example.com": "complained"}
    assert email.delivered_at is not None


def test_opens_and_clicks_are_counted_with_first_times(connection, receive):
    opened = fixture_payload("ses-events/open.json")
    email = sent_email(connection, ses_message_id=opened["mail"]["messageId"])
    receive(connection, fixture_payload("ses-events/delivery.json"))
    receive(connection, opened)
    later = copy.deepcopy(opened)
    later["open"]["timestamp"] = "2017-08-09T23:00:00.000Z"
    receive(connection, later)
    receive(connection, fixture_payload("ses-events/click.json"))
    email.refresh_from_db()
    assert (email.open_count, email.click_count) == (2, 1)
    assert email.opened_at is not None and email.opened_at.isoformat() == "2017-08-09T22:00:19.652000+00:00"
    assert email.clicked_at is not None and email.clicked_at.isoformat() == "2017-08-09T23:51:25.570000+00:00"
    assert email.status == "delivered"


def test_multi_recipient_bounce_keeps_outcomes_per_recipient(connection, receive):
    bounce = fixture_payload("ses-notifications/bounce-permanent-2.json")
    email = sent_email(
        connection,
        ses_message_id=bounce["mail"]["messageId"],
        to="jane@example.com",
        cc=["mary@example.com", "richard@example.com"],
    )
    delivered = fixture_payload("ses-notifications/delivery-5.json")
    delivered["mail"]["messageId"] = bounce["mail"]["messageId"]
    delivered["delivery"]["recipients"] = ["mary@example.com"]
    receive(connection, bounce)
    receive(connection, delivered)
    email.refresh_from_db()
    assert email.recipient_outcomes == {
        "jane@example.com": "bounced",
        "mary@example.com": "delivered",
        "richard@example.com": "bounced",
    }
    assert email.status == "bounced"


def test_unknown_types_and_fields_are_kept_and_shown(connection, receive, admin_client):
    payload = fixture_payload("ses-events/delivery.json")
    payload["eventType"] = "Teleported"
    payload["teleport"] = {"planet": "Mars"}
    sent_email(connection, ses_message_id=payload["mail"]["messageId"])
    receive(connection, payload)
    event = EmailEvent.objects.get(source="ses")
    assert event.event_type == "teleported" and event.payload["teleport"] == {"planet": "Mars"}
    assert "not one Sesame knows" in event.detail
    page = admin_client.get(f"/admin/emails/emailevent/{event.pk}/change/").content.decode()
    assert "Mars" in page and "teleported" in page


def test_non_ses_messages_are_kept_not_errors(connection, post_sns):
    text = "Successfully validated SNS topic for Amazon SES event publishing."
    assert post_sns(connection, signing.notification(TOPIC_ARN, text)).status_code == 200
    notification = SnsNotification.objects.get()
    assert notification.kind == "other" and notification.processed_at and not EmailEvent.objects.exists()


def test_missing_fields_do_not_break_ingestion(connection, receive):
    receive(connection, {"eventType": "Bounce"})
    receive(connection, {"notificationType": "Complaint", "mail": "not an object"})
    assert SnsNotification.objects.filter(processed_at__isnull=False).count() == 2
    assert EmailEvent.objects.filter(recipient="").count() == 2


def test_contact_timeline_gets_the_event_and_status(account, connection, receive):
    contact = Contact.objects.create(account=account, email="recipient@example.com")
    receive(connection, fixture_payload("ses-events/bounce.json"))
    contact.refresh_from_db()
    assert contact.status == "bounced"
    assert ContactEvent.objects.get(contact=contact).name == "email.bounce"


def test_unprocessed_notifications_are_finished_by_the_sweeper(connection):
    from events.services import ses_notification_receive

    # No on-commit callbacks run here: as if the broker lost the task.
    ses_notification_receive(
        connection=connection, message=fixture_payload("ses-events/delivery.json"), sns_message_id="lost"
    )
    SnsNotification.objects.update(received_at=SnsNotification.objects.get().received_at.replace(year=2020))
    assert tasks.notifications_sweep() == 1
    assert SnsNotification.objects.get().processed_at is not None
    assert EmailEvent.objects.filter(event_type="delivery").count() == 1


def test_a_failing_notification_is_parked_after_repeated_errors(connection, monkeypatch):
    from events import services
    from events.services import notifications

    services.ses_notification_receive(connection=connection, message={"eventType": "Delivery"}, sns_message_id="x")
    notification = SnsNotification.objects.get()
    monkeypatch.setattr(notifications.timeline, "ses_event_record", lambda **kw: 1 / 0)
    for _ in range(notifications.MAX_ATTEMPTS):
        with pytest.raises(ZeroDivisionError):
            services.notification_process(notification_id=notification.pk)
        services.notification_record_failure(notification_id=notification.pk, error="ZeroDivisionError")
    notification.refresh_from_db()
    assert notification.failed_at is not None and notification.attempts == notifications.MAX_ATTEMPTS
    assert Email.objects.count() == 0


def test_one_bad_notification_does_not_hold_up_its_batch(connection, monkeypatch):
    from events import services
    from events.services import notifications

    services.ses_notification_receive(connection=connection, message={"eventType": "Poison"}, sns_message_id="bad")
    services.ses_notification_receive(
        connection=connection, message=fixture_payload("ses-events/delivery.json"), sns_message_id="good"
    )
    real = notifications.timeline.ses_event_record

    def record(*, notification, message):
        if message["eventType"] == "Poison":
            raise ValueError("cannot digest this")
        return real(notification=notification, message=message)

    monkeypatch.setattr(notifications.timeline, "ses_event_record", record)
    ids = list(SnsNotification.objects.order_by("message_id").values_list("pk", flat=True))  # bad, good
    assert tasks.notification_process_batch(ids) == 1
    bad, good = SnsNotification.objects.order_by("message_id")
    assert good.processed_at is not None and EmailEvent.objects.filter(event_type="delivery").count() == 1
    assert bad.processed_at is None and bad.attempts == 1 and "cannot digest this" in bad.last_error
