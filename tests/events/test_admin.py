import json

import pytest

from emails.models import EmailEvent
from events.models import SnsNotification
from events.services import reputation, webhook_endpoint_create
from tests.events import signing
from tests.events.conftest import TOPIC_ARN, fixture_payload, sent_email

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(account, connection, post_sns):
    payload = fixture_payload("ses-events/bounce.json")
    sent_email(connection, ses_message_id=payload["mail"]["messageId"])
    post_sns(connection, signing.notification(TOPIC_ARN, payload))
    post_sns(connection, signing.notification(TOPIC_ARN, "Successfully validated SNS topic."))
    webhook_endpoint_create(account=account, url="https://hooks.acme.test/x", event_types=["*"])
    reputation.reputation_check(connection_id=connection.pk)
    return connection


@pytest.mark.parametrize(
    "url",
    [
        "/admin/emails/emailevent/",
        "/admin/emails/emailevent/?type=bounce&matched=yes",
        "/admin/emails/emailevent/?matched=no",
        "/admin/events/snsnotification/",
        "/admin/events/snsnotification/?state=processed",
        "/admin/events/connectionreputation/",
        "/admin/events/webhookendpoint/",
        "/admin/events/webhookdelivery/?status=retrying",
        "/admin/accounts/awsconnection/",
    ],
)
def test_operator_pages_load(admin_client, populated, url):
    assert admin_client.get(url).status_code == 200


def test_notification_page_shows_the_message_but_not_the_token(admin_client, populated, post_sns):
    post_sns(populated, signing.confirmation(TOPIC_ARN))
    confirmation = SnsNotification.objects.get(message_type="SubscriptionConfirmation")
    page = admin_client.get(f"/admin/events/snsnotification/{confirmation.pk}/change/").content.decode()
    token = json.loads(confirmation.body)["Token"]
    assert "SubscribeURL" in page and token not in page.replace(f"Token={token}", "")
    bounce = SnsNotification.objects.get(kind="ses_event")
    page = admin_client.get(f"/admin/events/snsnotification/{bounce.pk}/change/").content.decode()
    assert "bouncedRecipients" in page and "1 bounce event(s)" in page


def test_event_and_connection_pages_show_details(admin_client, populated):
    event = EmailEvent.objects.get(source="ses")
    page = admin_client.get(f"/admin/emails/emailevent/{event.pk}/change/").content.decode()
    assert "diagnosticCode" in page and "Permanent" in page
    page = admin_client.get(f"/admin/accounts/awsconnection/{populated.pk}/change/").content.decode()
    assert TOPIC_ARN in page and "Event plumbing" in page
    page = admin_client.get(f"/admin/events/connectionreputation/{populated.pk}/change/").content.decode()
    assert "healthy" in page.lower()
