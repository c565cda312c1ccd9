"""SES, seen from Sesame: send a raw MIME message (SES v2 SendEmail), read the send quota, manage identities.

Two transports share this interface: `SesTransport` (boto3, the customer's AWS account) and the local
`SimulatorTransport` (emails/simulator.py). Every failure is a `TransportError` whose `kind` tells the
delivery engine what to do: retry soon, hold until the daily quota allows, or fail the email for good.
"""

import base64
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from accounts import aws
from accounts.models import AwsConnection
from config.delivery.errors import FailureKind, TransportError


@dataclass(frozen=True)
class SendQuota:
    max_send_rate: float
    max_24_hour_send: float
    sent_last_24_hours: float


@dataclass(frozen=True)
class OutgoingMessage:
    source: str
    destinations: list[str]
    raw: bytes
    configuration_set: str
    tags: dict[str, str]
    email_id: str
    sealed: bool = False  # the body carries a secret: a simulator must not keep it


class Transport(Protocol):
    def send_raw(self, connection: AwsConnection, message: OutgoingMessage) -> str:
        """Hand the message to SES; returns SES's message id."""
        ...

    def send_quota(self, connection: AwsConnection) -> SendQuota: ...

    def identity_create(self, connection: AwsConnection, name: str, *, is_domain: bool) -> list[str]:
        """Start verification; returns the DKIM tokens (domains) or [] (addresses)."""
        ...

    def identity_statuses(self, connection: AwsConnection, names: list[str]) -> dict[str, str]:
        """SES's verification status per identity: Success, Pending, Failed, TemporaryFailure, NotStarted."""
        ...


# SES v1 and v2 names: sends use v2, the other calls v1.
_PERMANENT_CODES = {
    "MessageRejected",
    "NotFoundException",  # v2: the configuration set is gone
    "BadRequestException",
    "AccountSuspendedException",
    "SendingPausedException",
    "MailFromDomainNotVerifiedException",
    "MailFromDomainNotVerified",
    "ConfigurationSetDoesNotExist",
    "ConfigurationSetDoesNotExistException",
    "InvalidParameterValue",
    "AccountSendingPausedException",
    "ConfigurationSetSendingPausedException",
}


def classify(error: ClientError) -> TransportError:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "") or str(error)
    if code in {"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"}:
        if "daily" in message.lower() or "quota" in message.lower():
            return TransportError(FailureKind.QUOTA, message)
        return TransportError(FailureKind.THROTTLED, message)
    if code in _PERMANENT_CODES:
        return TransportError(FailureKind.PERMANENT, f"{code}: {message}")
    return TransportError(FailureKind.TRANSIENT, f"{code or 'Error'}: {message}")


class SesTransport:
    def send_raw(self, connection: AwsConnection, message: OutgoingMessage) -> str:
        # SES v2's JSON SendEmail rather than the Query API's SendRawEmail (botocore url-encodes a Query body's
        # base64 several times per call), made through aws.json_post rather than the boto3 client's per-call
        # machinery (bench/README.md has the figures).
        params: dict[str, Any] = {
            "FromEmailAddress": message.source,
            # The envelope: To, Cc and Bcc alike; the headers stay as the raw message has them.
            "Destination": {"ToAddresses": message.destinations},
            "Content": {"Raw": {"Data": base64.b64encode(message.raw).decode("ascii")}},
            "EmailTags": [{"Name": name, "Value": value} for name, value in message.tags.items()],
        }
        if message.configuration_set:
            params["ConfigurationSetName"] = message.configuration_set
        try:
            response = aws.json_post(connection, "sesv2", "SendEmail", "/v2/email/outbound-emails", params)
        except ClientError as exc:
            raise classify(exc) from exc
        except BotoCoreError as exc:
            raise TransportError(FailureKind.TRANSIENT, f"{type(exc).__name__}: {exc}") from exc
        return str(response["MessageId"])

    def send_quota(self, connection: AwsConnection) -> SendQuota:
        try:
            quota = aws.client(connection, "ses").get_send_quota()
        except ClientError as exc:
            raise classify(exc) from exc
        except BotoCoreError as exc:
            raise TransportError(FailureKind.TRANSIENT, f"{type(exc).__name__}: {exc}") from exc
        return SendQuota(
            max_send_rate=float(quota["MaxSendRate"]),
            max_24_hour_send=float(quota["Max24HourSend"]),
            sent_last_24_hours=float(quota["SentLast24Hours"]),
        )

    def identity_create(self, connection: AwsConnection, name: str, *, is_domain: bool) -> list[str]:
        ses = aws.client(connection, "ses")
        try:
            if is_domain:
                ses.verify_domain_identity(Domain=name)
                return list(ses.verify_domain_dkim(Domain=name)["DkimTokens"])
            ses.verify_email_identity(EmailAddress=name)
            return []
        except ClientError as exc:
            raise classify(exc) from exc

    def identity_statuses(self, connection: AwsConnection, names: list[str]) -> dict[str, str]:
        ses = aws.client(connection, "ses")
        statuses: dict[str, str] = {}
        for start in range(0, len(names), 100):  # the API takes at most 100 identities per call
            try:
                response = ses.get_identity_verification_attributes(Identities=names[start : start + 100])
            except ClientError as exc:
                raise classify(exc) from exc
            for name, attributes in response["VerificationAttributes"].items():
                statuses[name] = attributes.get("VerificationStatus", "NotStarted")
        return statuses


@cache
def _transport_for(mode: str) -> Transport:
    if mode == "aws":
        return SesTransport()
    from emails.simulator import SimulatorTransport

    return SimulatorTransport()


def transport() -> Transport:
    return _transport_for(settings.SESAME_AWS_MODE)
