"""SES's SendEmail across a real HTTP connection (moto's server on loopback), the way the delivery engine sends:
the lean call (accounts/aws.py `json_post`) goes through the boto3 client's own urllib3 pool, and SES's answer, its
refusal and an endpoint nobody answers come out as the engine's kinds of outcome."""

import socket
from typing import Any

import pytest

from accounts import aws
from config.delivery.errors import FailureKind, TransportError
from emails.transport import OutgoingMessage, SesTransport
from tests.emails.factories import sending_connection

pytestmark = pytest.mark.django_db


def _message(source: str = "hello@example.com") -> OutgoingMessage:
    raw = f"From: {source}\r\nTo: jon@example.net\r\nSubject: Hi\r\n\r\nHello Jon\r\n".encode()
    return OutgoingMessage(
        source=source,
        destinations=["jon@example.net"],
        raw=raw,
        configuration_set="",
        tags={"campaign": "welcome"},
        email_id="e-1",
    )


@pytest.fixture
def endpoint_is(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point Sesame's AWS clients at `url` (credentials for STS's AssumeRole come from the environment)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.SESAME_AWS_MODE = "aws"

    def point(url: str) -> None:
        settings.SESAME_AWS_ENDPOINT_URL = url
        aws.forget_all()

    yield point
    aws.forget_all()


def test_a_verified_sender_goes_out_and_ses_counts_it(account, moto_ses, endpoint_is):
    endpoint, ses = moto_ses
    endpoint_is(endpoint)
    connection = sending_connection(account)
    transport = SesTransport()
    first = transport.send_raw(connection, _message())
    second = transport.send_raw(connection, _message())  # the pooled connection is used again
    assert first and second and first != second
    assert int(ses.get_send_quota()["SentLast24Hours"]) == 2 * 2  # moto counts the envelope and the To header


def test_a_sender_ses_has_not_verified_is_refused_for_good_with_ses_words(account, moto_ses, endpoint_is):
    endpoint, ses = moto_ses
    endpoint_is(endpoint)
    connection = sending_connection(account, domain="unverified.test")
    with pytest.raises(TransportError) as refused:
        SesTransport().send_raw(connection, _message("hello@unverified.test"))
    assert refused.value.kind is FailureKind.PERMANENT
    assert refused.value.reason.startswith("MessageRejected: ")
    assert "hello@unverified.test" in refused.value.reason
    assert int(ses.get_send_quota()["SentLast24Hours"]) == 0


def test_an_endpoint_nobody_answers_is_a_passing_fault_to_retry(account, endpoint_is):
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    endpoint_is(f"http://127.0.0.1:{closed}")
    # Access keys, not a role: no STS call before the send.
    connection = sending_connection(
        account, role_arn="", access_key_id="AKIAEXAMPLEEXAMPLE12", secret_access_key="x" * 40
    )
    with pytest.raises(TransportError) as failed:
        SesTransport().send_raw(connection, _message())
    assert failed.value.kind is FailureKind.TRANSIENT
    assert failed.value.reason.startswith(
        f'EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:{closed}/v2/email/outbound-emails"'
    )
