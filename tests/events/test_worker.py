"""The real path: the webhook commits the notification, a Celery worker process does the rest."""

import json

import pytest
from django.test import Client

from emails.models import Suppression
from events.models import SnsNotification
from tests.events import signing
from tests.events.conftest import TOPIC_ARN, fixture_payload, provisioned, sent_email
from tests.waiting import wait_for


@pytest.mark.django_db(transaction=True)
def test_webhook_then_worker_updates_email_and_suppresses(account, celery_worker):
    connection = provisioned(account)
    bounce = fixture_payload("ses-events/bounce.json")
    email = sent_email(connection, ses_message_id=bounce["mail"]["messageId"])
    envelope = signing.notification(TOPIC_ARN, bounce)
    client, url = Client(), f"/webhooks/sns/{connection.pk}"
    response = client.post(
        url,
        data=json.dumps(envelope),
        content_type="text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
    )
    assert response.status_code == 200
    assert wait_for(lambda: SnsNotification.objects.filter(processed_at__isnull=False).exists())
    email.refresh_from_db()
    assert email.status == "bounced" and email.recipient_outcomes == {"recipient@example.com": "bounced"}
    assert Suppression.objects.filter(account=account, address="recipient@example.com").exists()

    # A burst: nudges are debounced per process, and the drain lingers before stopping, so none is left behind.
    delivery = fixture_payload("ses-events/delivery.json")
    for _ in range(40):
        burst = signing.notification(TOPIC_ARN, delivery)
        client.post(url, data=json.dumps(burst), content_type="text/plain", HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification")
    assert wait_for(lambda: not SnsNotification.objects.filter(processed_at__isnull=True).exists())
    assert SnsNotification.objects.count() == 41
