"""Dispatch through SES, with moto at the boto3 boundary."""

import email as email_lib
import json
from email.policy import default as default_policy
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from accounts import aws
from config.delivery.engine import Engine
from emails.models import Email, EmailEvent
from tests.emails.factories import email_body, sending_connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ses(settings: Any):
    settings.SESAME_AWS_MODE = "aws"
    aws.forget_all()
    with mock_aws():
        client = boto3.client("ses", region_name="us-east-1")
        client.verify_domain_identity(Domain="example.com")
        yield client
    aws.forget_all()


@pytest.fixture
def ses_calls(ses):
    """The JSON body of every SES v2 SendEmail request, as it went to (moto's) SES."""
    calls: list[dict[str, Any]] = []

    def record(request: Any, **kwargs: Any) -> None:
        calls.append(json.loads(request.body))

    boto3.DEFAULT_SESSION = None
    from botocore.session import Session

    original = Session.create_client

    def create_client(self: Session, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-send.sesv2.SendEmail", record)
        return client

    Session.create_client = create_client  # type: ignore[method-assign]
    aws.forget_all()
    yield calls
    Session.create_client = original  # type: ignore[method-assign]


def _sent_messages() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def _dispatch(connection_id: Any) -> None:
    Engine().drain(timeout=10)


def _provisioned(account: Any, ses: Any, **overrides: Any) -> Any:
    """A sending connection whose configuration set exists in SES, as `provision_connection` leaves it."""
    connection = sending_connection(account, max_send_rate=50, **overrides)
    ses.create_configuration_set(ConfigurationSet={"Name": connection.configuration_set})
    connection.configuration_set_name = connection.configuration_set
    connection.save(update_fields=["configuration_set_name"])
    return connection


def test_verified_sender_is_sent_with_cc_bcc_reply_to_headers_and_attachments(api, account, ses, ses_calls):
    connection = _provisioned(account, ses)
    response = api(account).post(
        "/v1/emails",
        email_body(
            cc=["Carol <carol@example.net>"],
            bcc=["audit@example.org"],
            reply_to="support@example.com",
            html_body="<p>Hello</p>",
            headers={"X-Campaign": "spring"},
            tags=["receipt", "high value!"],
            attachments=[{"filename": "invoice.pdf", "content_type": "application/pdf", "content_base64": "JVBERi0x"}],
        ),
        format="json",
    )
    email_id = response.json()["id"]

    _dispatch(connection.pk)

    email = Email.objects.get(pk=email_id)
    assert email.status == Email.Status.SENT
    assert email.ses_message_id
    [sent] = _sent_messages()
    [call] = ses_calls
    assert sorted(call["Destination"]["ToAddresses"]) == ["audit@example.org", "carol@example.net", "jon@example.net"]
    assert call["FromEmailAddress"] == "hello@example.com"
    mime = email_lib.message_from_string(sent.raw_data, policy=default_policy)
    assert mime["To"] == "Jon Doe <jon@example.net>"
    assert mime["Cc"] == "Carol <carol@example.net>"
    assert mime["Bcc"] is None  # bcc recipients are envelope-only
    assert mime["Reply-To"] == "support@example.com"
    assert mime["X-Campaign"] == "spring"
    assert mime["X-Sesame-Email-Id"] == email_id
    assert mime.get_content_type() == "multipart/mixed"
    body = mime.get_body(preferencelist=("html",))
    assert body is not None and "<p>Hello</p>" in body.get_content()
    [attachment] = list(mime.iter_attachments())
    assert attachment.get_filename() == "invoice.pdf" and attachment.get_content() == b"%PDF-1"
    assert call["ConfigurationSetName"] == connection.configuration_set
    assert call["EmailTags"] == [{"Name": "receipt", "Value": "true"}, {"Name": "high_value_", "Value": "true"}]


def test_text_and_html_make_multipart_alternative(api, account, ses):
    connection = _provisioned(account, ses)
    api(account).post("/v1/emails", email_body(html_body="<p>Hi</p>"), format="json")
    _dispatch(connection.pk)
    [sent] = _sent_messages()
    mime = email_lib.message_from_string(sent.raw_data, policy=default_policy)
    assert mime.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mime.iter_parts()] == ["text/plain", "text/html"]


def test_sender_unverified_at_ses_fails_with_the_reason_in_the_timeline(api, account, ses):
    connection = _provisioned(account, ses, domain="not-in-ses.example")
    email_id = (
        api(account).post("/v1/emails", email_body(**{"from": "news@not-in-ses.example"}), format="json").json()["id"]
    )

    _dispatch(connection.pk)

    email = Email.objects.get(pk=email_id)
    assert email.status == Email.Status.FAILED
    assert email.failure_reason.startswith("MessageRejected:")
    assert "news@not-in-ses.example" in email.failure_reason
    failed = EmailEvent.objects.get(email=email, event_type="failed")
    assert failed.detail == email.failure_reason
    timeline = api(account).get(f"/v1/emails/{email_id}").json()["timeline"]
    assert any(entry["type"] == "failed" and entry["detail"] == email.failure_reason for entry in timeline)
    assert _sent_messages() == []


def test_unprovisioned_connection_sends_without_a_configuration_set(api, account, ses, ses_calls):
    connection = sending_connection(account, max_send_rate=50)
    email_id = api(account).post("/v1/emails", email_body(), format="json").json()["id"]
    _dispatch(connection.pk)
    assert Email.objects.get(pk=email_id).status == Email.Status.SENT
    assert "ConfigurationSetName" not in ses_calls[0]


def test_send_quota_comes_from_ses(account, ses):
    from emails import services

    connection = sending_connection(account)
    quota = services.connection_refresh_send_quota(connection=connection)
    connection.refresh_from_db()
    assert quota is not None
    assert connection.max_send_rate == quota.max_send_rate
    assert connection.send_quota_refreshed_at is not None


def test_add_identity_creates_it_in_ses_and_prints_dkim_records(account, ses, capsys):
    from django.core.management import call_command

    sending_connection(account)
    call_command("add_identity", str(account.pk), "mail.acme.test")
    out = capsys.readouterr().out
    assert "mail.acme.test (domain)" in out
    assert "._domainkey.mail.acme.test  CNAME" in out
    assert "mail.acme.test" in ses.list_identities()["Identities"]
