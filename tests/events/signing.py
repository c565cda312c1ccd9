"""A test CA and an SNS signing certificate, and envelopes signed with it exactly as SNS signs them."""

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from events import sns

CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"


@dataclass(frozen=True)
class TestCertificate:
    key: rsa.RSAPrivateKey
    pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@cache
def certificate(*, expired: bool = False) -> TestCertificate:
    """A leaf for sns.amazonaws.com issued by a throwaway CA (built once per test run)."""
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Sesame Test Root CA"))
        .issuer_name(_name("Sesame Test Root CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    window = (
        (now - timedelta(days=30), now - timedelta(days=1))
        if expired
        else (now - timedelta(days=1), now + timedelta(days=90))
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("sns.amazonaws.com"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(window[0])
        .not_valid_after(window[1])
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("sns.amazonaws.com")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return TestCertificate(key=key, pem=leaf.public_bytes(serialization.Encoding.PEM))


def sign(fields: dict[str, Any], *, version: str = "2", key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303  (SNS SignatureVersion 1 is SHA1)
    signer = key or certificate().key
    signed = {**fields, "SignatureVersion": version, "SigningCertURL": fields.get("SigningCertURL", CERT_URL)}
    signature = signer.sign(sns.string_to_sign(signed), padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def timestamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notification(
    topic_arn: str,
    message: Any,
    *,
    subject: str | None = None,
    version: str = "2",
    at: datetime | None = None,
    message_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": timestamp(at),
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
        **overrides,
    }
    if subject is not None:
        fields["Subject"] = subject
    return sign(fields, version=version)


def confirmation(
    topic_arn: str, *, kind: str = "SubscriptionConfirmation", version: str = "2", at: datetime | None = None
) -> dict[str, Any]:
    token = "2336412f37fb687f5d51e6e241d638b05824e9e2f6713b42abaeb86" + uuid.uuid4().hex
    fields = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic_arn,
        "Message": f"You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit "
        "the SubscribeURL included in this message.",
        "SubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}",
        "Timestamp": timestamp(at),
    }
    return sign(fields, version=version)
