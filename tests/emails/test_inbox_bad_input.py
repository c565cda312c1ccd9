"""Bad inbound mail (garbled MIME, too large, no content, an unreadable S3 object) is recorded with a clear error,
never crashes the worker, and never holds up the good mail behind it. Large mail comes through S3 (moto)."""

import json
from unittest import mock

import boto3
import pytest
from django.test import Client
from moto import mock_aws

from accounts import aws
from emails.models import Conversation, InboxAttachment, InboxMessage
from events.models import SnsNotification
from tests.emails.conftest import topic_connection
from tests.emails.inbox_support import mime, received
from tests.events import signing
from tests.events.conftest import TOPIC_ARN
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db

GARBLED = (
    b"From: =?x-unknown-charset?B?////?= <weird@customer.test>\r\n"
    b"To: support@example.com\r\nSubject: =?utf-8?B?not base64 at all?=\r\n"
    b"Date: yesterday-ish\r\nMessage-ID: <garbled@customer.test>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
    b"--never-closed\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nQapla\xff\xfe\x00!\r\n"
    b"--never-closed\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="broken.pdf"\r\n\r\n%%%not-base64%%%\r\n'
)


def test_garbled_mime_is_kept_with_its_problems_named(inbox_connection, deliver):
    response = deliver(inbox_connection, received(GARBLED))
    assert response.status_code == 200
    notification = SnsNotification.objects.get()
    assert notification.processed_at is not None and notification.last_error == ""
    message = InboxMessage.objects.get()
    assert message.conversation is not None
    assert "Unknown charset 'x-klingon'; read as UTF-8." in message.error
    assert "Unreadable Date header" in message.error
    assert "MIME defect" in message.error
    assert message.text_body.startswith("Qapla") and "\x00" not in message.text_body
    assert InboxAttachment.objects.get().filename == "broken.pdf"
    assert "Problems:" in notification.result


def test_garbage_that_is_not_mime_at_all(inbox_connection, deliver):
    deliver(inbox_connection, received(b"\x00\x01\x02 this is not an email \xff\xfe"))
    message = InboxMessage.objects.get()
    assert "No sender address in From." in message.error
    assert SnsNotification.objects.get().processed_at is not None


def test_oversized_mail_is_recorded_from_the_notification_and_not_read(inbox_connection, deliver, settings):
    settings.SESAME_INBOX_MAX_MESSAGE_BYTES = 2_000
    deliver(inbox_connection, received(mime(text="x" * 5_000)))
    message = InboxMessage.objects.get()
    assert "over SESAME_INBOX_MAX_MESSAGE_BYTES (2,000); it was not read" in message.error
    # Sender and subject come from SES's header summary in the notification.
    assert message.from_email == "sender@example.com" and message.subject == "Example subject"
    assert message.raw is None and message.text_body == ""
    assert message.conversation is not None and message.conversation.correspondent_email == "sender@example.com"


def test_a_notification_without_content_says_which_action_sent_it(inbox_connection, deliver):
    deliver(inbox_connection, received(action={"type": "Lambda", "functionArn": "arn:aws:lambda:us-east-1:1:f"}))
    message = InboxMessage.objects.get()
    assert message.error == "The notification carries no message: its receipt action is 'Lambda', not SNS or S3."


def test_an_oversized_attachment_is_listed_without_its_content(inbox_connection, deliver, settings):
    settings.SESAME_INBOX_MAX_ATTACHMENT_BYTES = 100
    raw = mime(attachments=[("small.txt", "text/plain", b"ok"), ("big.bin", "application/octet-stream", b"x" * 500)])
    deliver(inbox_connection, received(raw))
    by_name = {a.filename: a for a in InboxAttachment.objects.all()}
    assert by_name["small.txt"].content == b"ok"
    assert by_name["big.bin"].content is None and by_name["big.bin"].size_bytes == 500
    assert "over SESAME_INBOX_MAX_ATTACHMENT_BYTES (100)" in by_name["big.bin"].note


@pytest.fixture
def s3(settings):
    settings.SESAME_AWS_MODE = "aws"
    aws.forget_all()
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="acme-inbound")
        yield client
    aws.forget_all()


def _s3_action(key):
    return {"type": "S3", "topicArn": TOPIC_ARN, "bucketName": "acme-inbound", "objectKey": key}


def test_large_mail_is_read_back_from_s3_through_the_connection(inbox_connection, deliver, s3):
    raw = mime(attachments=[("photos.zip", "application/zip", b"PK" + b"\x00" * 400_000)])
    s3.put_object(Bucket="acme-inbound", Key="sesame-inbound/x/abc", Body=raw)
    deliver(inbox_connection, received(action=_s3_action("sesame-inbound/x/abc")))
    message = InboxMessage.objects.get()
    assert message.error == "" and message.size_bytes == len(raw) > 150 * 1024
    assert message.text_body.startswith("Hello, order 1234")
    assert InboxAttachment.objects.get().size_bytes == 400_002


def test_an_s3_object_that_cannot_be_read_is_recorded(inbox_connection, deliver, s3):
    deliver(inbox_connection, received(action=_s3_action("sesame-inbound/x/missing")))
    message = InboxMessage.objects.get()
    assert message.error.startswith("s3://acme-inbound/sesame-inbound/x/missing could not be read through the")
    assert SnsNotification.objects.get().processed_at is not None


def test_an_oversized_s3_object_is_not_downloaded(inbox_connection, deliver, s3, settings):
    settings.SESAME_INBOX_MAX_MESSAGE_BYTES = 1_000
    s3.put_object(Bucket="acme-inbound", Key="big", Body=mime(text="y" * 5_000))
    with mock.patch("emails.inbox.aws.s3_object_read") as read:
        deliver(inbox_connection, received(action=_s3_action("big")))
    read.assert_not_called()
    assert "it was not read" in InboxMessage.objects.get().error


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_bad_mail_and_goes_on_with_the_good(account, celery_worker):
    connection = topic_connection(account)
    client, url = Client(), f"/webhooks/sns/{connection.pk}"
    with mock.patch("events.sns.fetch_certificate_pem", return_value=signing.certificate().pem):
        for payload in (received(GARBLED), received(b"\xff" * 50), received(mime(subject="All good"))):
            envelope = signing.notification(TOPIC_ARN, payload)
            response = client.post(
                url, data=json.dumps(envelope), content_type="text/plain", HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification"
            )
            assert response.status_code == 200
    assert wait_for(lambda: SnsNotification.objects.filter(processed_at__isnull=False).count() == 3)
    assert not SnsNotification.objects.exclude(last_error="").exists()
    assert InboxMessage.objects.count() == 3
    assert Conversation.objects.filter(subject="All good").exists()
