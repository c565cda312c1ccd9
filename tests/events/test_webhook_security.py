"""The SNS webhook accepts only genuine, current messages of the connection's own topic."""

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from emails.models import EmailEvent
from events.models import SnsNotification
from tests.events import signing
from tests.events.conftest import TOPIC_ARN, fixture_payload, provisioned

pytestmark = pytest.mark.django_db

DELIVERY = fixture_payload("ses-events/delivery.json")


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "Amazon SES Email Event Notification"])
def test_signed_notification_is_recorded_and_processed(connection, post_sns, version, subject):
    envelope = signing.notification(TOPIC_ARN, DELIVERY, subject=subject, version=version)
    response = post_sns(connection, envelope)
    assert response.status_code == 200, response.json()
    stored = SnsNotification.objects.get(message_id=envelope["MessageId"])
    assert stored.origin == "sns" and stored.processed_at is not None and stored.source_ip == "54.240.197.1"
    assert EmailEvent.objects.filter(notification=stored, event_type="delivery").count() == 1


@pytest.mark.parametrize("version", ["1", "2"])
def test_subscription_confirmation_is_confirmed_through_the_api_never_the_url(
    connection, post_sns, settings, version, _signing_certificate
):
    settings.SESAME_AWS_MODE = "aws"
    with mock_aws():
        import boto3

        arn = boto3.client("sns", region_name="us-east-1").create_topic(Name="sesame-events-test")["TopicArn"]
        assert arn == TOPIC_ARN
        connection.role_arn = ""
        envelope = signing.confirmation(TOPIC_ARN, version=version)
        response = post_sns(connection, envelope)
    assert response.status_code == 200
    stored = SnsNotification.objects.get(message_id=envelope["MessageId"])
    assert stored.kind == "subscription" and stored.result.startswith("Subscription confirmed: arn:aws:sns")
    # The only URL Sesame fetched is the signing certificate; the SubscribeURL never.
    assert {c.args[0] for c in _signing_certificate.call_args_list} == {signing.CERT_URL}


@pytest.mark.parametrize("version", ["1", "2"])
def test_unsubscribe_confirmation_is_recorded_with_advice(connection, post_sns, version):
    envelope = signing.confirmation(TOPIC_ARN, kind="UnsubscribeConfirmation", version=version)
    response = post_sns(connection, envelope)
    assert response.status_code == 200
    stored = SnsNotification.objects.get(message_id=envelope["MessageId"])
    assert "provision_connection" in stored.result


def _tampered(field, value):
    envelope = signing.notification(TOPIC_ARN, DELIVERY, subject="Subject")
    envelope[field] = value
    return envelope


@pytest.mark.parametrize(
    ("envelope_factory", "status", "reason"),
    [
        (
            lambda: _tampered("Message", json.dumps({**DELIVERY, "eventType": "Bounce"})),
            403,
            "Signature does not verify",
        ),
        (lambda: _tampered("Subject", "Something else"), 403, "Signature does not verify"),
        (lambda: _tampered("MessageId", "another-id"), 403, "Signature does not verify"),
        (lambda: _tampered("Signature", "bm90IGEgc2lnbmF0dXJl"), 403, "Signature does not verify"),
        (lambda: _tampered("SignatureVersion", "3"), 403, "Unsupported SignatureVersion"),
        (
            lambda: signing.notification("arn:aws:sns:us-east-1:123456789012:someone-else", DELIVERY),
            403,
            "TopicArn is not the topic",
        ),
        (
            lambda: signing.notification(
                TOPIC_ARN, DELIVERY, SigningCertURL="https://evil.example.com/SimpleNotificationService-abc.pem"
            ),
            403,
            "SigningCertURL is not an SNS certificate URL",
        ),
        (
            lambda: signing.notification(
                TOPIC_ARN,
                DELIVERY,
                SigningCertURL="https://sns.us-east-1.amazonaws.com.s3.amazonaws.com/SimpleNotificationService-abc.pem",
            ),
            403,
            "SigningCertURL is not an SNS certificate URL",
        ),
        (
            lambda: signing.notification(
                TOPIC_ARN,
                DELIVERY,
                SigningCertURL="https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            ),
            403,
            "SigningCertURL is not an SNS certificate URL",
        ),
        (
            lambda: signing.notification(
                TOPIC_ARN,
                DELIVERY,
                SigningCertURL="http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            ),
            403,
            "SigningCertURL is not an SNS certificate URL",
        ),
        (
            lambda: signing.notification(
                TOPIC_ARN,
                DELIVERY,
                SigningCertURL="https://sns.us-east-1.amazonaws.com@evil.example.com/SimpleNotificationService-abc.pem",
            ),
            403,
            "SigningCertURL is not an SNS certificate URL",
        ),
        (
            lambda: signing.notification(
                TOPIC_ARN, DELIVERY, SigningCertURL="https://sns.us-east-1.amazonaws.com/other.pem"
            ),
            403,
            "SigningCertURL is not an SNS certificate URL",
        ),
        (
            lambda: signing.notification(
                TOPIC_ARN,
                DELIVERY,
                SigningCertURL="https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
            ),
            403,
            "region does not match",
        ),
        (
            lambda: signing.notification(TOPIC_ARN, DELIVERY, at=datetime.now(UTC) - timedelta(hours=3)),
            403,
            "older than 7200 seconds",
        ),
        (
            lambda: signing.notification(TOPIC_ARN, DELIVERY, at=datetime.now(UTC) + timedelta(hours=1)),
            403,
            "in the future",
        ),
    ],
    ids=[
        "tampered-message",
        "tampered-subject",
        "tampered-message-id",
        "bad-signature",
        "unknown-version",
        "wrong-topic",
        "cert-other-host",
        "cert-s3-lookalike-host",
        "cert-s3-path",
        "cert-plain-http",
        "cert-userinfo-trick",
        "cert-other-file",
        "cert-other-region",
        "expired",
        "future",
    ],
)
def test_refusals_answer_4xx_with_the_reason_and_store_nothing(
    connection, post_sns, caplog, envelope_factory, status, reason
):
    with caplog.at_level(logging.WARNING, logger="sesame.events.webhook"):
        response = post_sns(connection, envelope_factory())
    assert response.status_code == status
    assert reason in response.json()["detail"]
    assert not SnsNotification.objects.exists() and not EmailEvent.objects.exists()
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert reason in record.getMessage() and "54.240.197.1" in record.getMessage()


def test_header_and_body_type_must_match(connection, post_sns):
    envelope = signing.notification(TOPIC_ARN, DELIVERY)
    response = post_sns(connection, envelope, header="SubscriptionConfirmation")
    assert response.status_code == 400
    assert "does not match body Type" in response.json()["detail"]
    assert post_sns(connection, envelope, header="").status_code == 400
    assert not SnsNotification.objects.exists()


@pytest.mark.parametrize(
    "body", ["not json at all", "[1, 2]", "", '{"Type": "Notification"}', '{"Type": "Notification"}'.encode("utf-16")]
)
def test_garbled_bodies_are_refused(connection, post_sns, body):
    response = post_sns(connection, body, header="Notification")
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not SnsNotification.objects.exists()


def test_a_replay_is_refused_and_recorded_once(connection, post_sns):
    envelope = signing.notification(TOPIC_ARN, DELIVERY)
    assert post_sns(connection, envelope).status_code == 200
    replay = post_sns(connection, envelope)
    assert replay.status_code == 409
    assert "recorded once" in replay.json()["detail"]
    assert SnsNotification.objects.count() == 1 and EmailEvent.objects.count() == 1


def test_another_connections_url_refuses_this_topics_messages(account, connection, post_sns):
    other = provisioned(account, identifier="second")
    other.sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:sesame-events-second"
    other.save(update_fields=["sns_topic_arn"])
    response = post_sns(other, signing.notification(TOPIC_ARN, DELIVERY))
    assert response.status_code == 403
    assert not SnsNotification.objects.exists()


def test_unknown_connection_and_unprovisioned_connection_are_refused(account, client, post_sns):
    from tests.accounts.factories import connection_for

    response = client.post("/webhooks/sns/00000000-0000-0000-0000-000000000000", data="{}", content_type="text/plain")
    assert response.status_code == 404 and response.json()["detail"] == "No such connection."
    assert client.post("/webhooks/sns/not-a-uuid", data="{}", content_type="text/plain").status_code == 404
    bare = connection_for(account, identifier="bare", is_default=False)
    response = post_sns(bare, signing.notification(TOPIC_ARN, DELIVERY))
    assert response.status_code == 403 and "provision_connection" in response.json()["detail"]


def test_get_is_not_allowed(connection, client):
    response = client.get(f"/webhooks/sns/{connection.pk}")
    assert response.status_code == 405


def test_expired_signing_certificate_is_not_trusted(connection, post_sns, _signing_certificate):
    _signing_certificate.return_value = signing.certificate(expired=True).pem
    envelope = signing.sign({**signing.notification(TOPIC_ARN, DELIVERY)}, key=signing.certificate(expired=True).key)
    response = post_sns(connection, envelope)
    assert response.status_code == 503
    assert not SnsNotification.objects.exists()


def test_certificate_is_cached_and_a_failed_fetch_is_retried_later(
    connection, post_sns, settings, _signing_certificate
):
    from events.sns import CertificateUnavailable

    settings.SESAME_SNS_CERT_FAILURE_SECONDS = 0
    _signing_certificate.side_effect = CertificateUnavailable("AWS is down")
    assert post_sns(connection, signing.notification(TOPIC_ARN, DELIVERY)).status_code == 503
    _signing_certificate.side_effect = None
    for _ in range(3):
        assert post_sns(connection, signing.notification(TOPIC_ARN, DELIVERY)).status_code == 200
    assert _signing_certificate.call_count == 2  # one failure, then one fetch serves every later message
