"""Amazon SNS envelopes: parsing, and signature verification exactly as AWS specifies it.

https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html: the string to sign is built
from a fixed list of fields per message type; SignatureVersion 1 is SHA1withRSA and 2 is SHA256withRSA; the
certificate is fetched only from the SNS host of the topic's region. Nothing here touches the database.
"""

import base64
import binascii
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings

from config.api import boundary

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

# The fields that are signed, in the order AWS concatenates them.
_SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_OPTIONAL_FIELDS = {"Subject"}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

# Only SNS's own certificate host for a region, and only its certificate file name: no S3-hosted look-alikes,
# no user info, ports, queries or fragments.
_CERT_URL = re.compile(
    r"https://sns\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?"
    r"/SimpleNotificationService-[0-9a-fA-F]+\.pem"
)
_TOPIC_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:sns:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):\d{12}:[\w.-]{1,256}")
_MAX_CERT_BYTES = 16 * 1024
# An envelope is a flat object of strings (MessageAttributes nest two levels more); these leave ample room.
_MAX_DEPTH = 8
_MAX_VALUES = 10_000
# A message stamped this far in the future is forged or from a badly skewed clock; either way, refuse it.
_FUTURE_SKEW = timedelta(minutes=15)


class Refused(Exception):
    """The POST is not a genuine, current SNS message for this endpoint. `status` is the 4xx to answer."""

    def __init__(self, reason: str, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched: our problem or AWS's, so SNS should retry later."""


@dataclass(frozen=True)
class Envelope:
    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    subject: str | None
    fields: dict[str, Any]


def parse(body: bytes, *, header_type: str | None) -> Envelope:
    """Decode and shape-check an SNS POST body; raises Refused (400) with what is wrong."""
    try:
        # Depth and count are bounded before decoding: a forged body of nested brackets is refused in
        # microseconds, before the signature check and without the decoder's recursion.
        data = boundary.decode(body.decode("utf-8"), max_depth=_MAX_DEPTH, max_items=_MAX_VALUES)
    except boundary.ShapeError as exc:
        raise Refused(f"Body is not an SNS envelope: {exc.message}", 413 if exc.too_large else 400) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(f"Body is not JSON ({exc.__class__.__name__}); SNS posts a JSON envelope.", 400) from exc
    if not isinstance(data, dict):
        raise Refused("Body is JSON but not an object; SNS posts a JSON object.", 400)
    message_type = data.get("Type")
    if message_type not in _SIGNED_FIELDS:
        raise Refused(f"Unknown Type {message_type!r}; expected one of {', '.join(_SIGNED_FIELDS)}.", 400)
    if not header_type:
        raise Refused("Missing x-amz-sns-message-type header.", 400)
    if header_type != message_type:
        raise Refused(f"x-amz-sns-message-type header {header_type!r} does not match body Type {message_type!r}.", 400)
    required = [f for f in (*_SIGNED_FIELDS[message_type], "Signature", "SignatureVersion", "SigningCertURL")]
    missing = [f for f in required if f not in _OPTIONAL_FIELDS and not isinstance(data.get(f), str)]
    if missing:
        raise Refused(f"Missing or non-string field(s): {', '.join(missing)}.", 400)
    subject = data.get("Subject")
    if subject is not None and not isinstance(subject, str):
        raise Refused("Subject must be a string when present.", 400)
    try:
        timestamp = datetime.fromisoformat(data["Timestamp"])
    except ValueError as exc:
        raise Refused(f"Timestamp {data['Timestamp']!r} is not ISO 8601.", 400) from exc
    if timestamp.tzinfo is None:
        raise Refused("Timestamp has no time zone.", 400)
    return Envelope(
        type=message_type,
        message_id=data["MessageId"],
        topic_arn=data["TopicArn"],
        message=data["Message"],
        timestamp=timestamp.astimezone(UTC),
        subject=subject,
        fields=data,
    )


def string_to_sign(fields: dict[str, Any]) -> bytes:
    lines: list[str] = []
    for name in _SIGNED_FIELDS[fields["Type"]]:
        value = fields.get(name)
        if value is None and name in _OPTIONAL_FIELDS:
            continue
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode()


def certificate_region(url: str) -> str:
    match = _CERT_URL.fullmatch(url)
    if match is None:
        raise Refused(
            "SigningCertURL is not an SNS certificate URL "
            "(https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem)."
        )
    return match["region"]


def verify(envelope: Envelope, *, expected_topic_arn: str, now: datetime | None = None) -> None:
    """Everything but the duplicate check: topic, age, certificate URL and signature. Raises Refused."""
    fields = envelope.fields
    if not expected_topic_arn:
        raise Refused("This connection has no provisioned SNS topic; run provision_connection first.")
    if envelope.topic_arn != expected_topic_arn:
        raise Refused("TopicArn is not the topic Sesame provisioned for this connection.")
    topic = _TOPIC_ARN.fullmatch(envelope.topic_arn)
    now = now or datetime.now(UTC)
    max_age = timedelta(seconds=settings.SESAME_SNS_MAX_MESSAGE_AGE_SECONDS)
    if now - envelope.timestamp > max_age:
        raise Refused(
            f"Message is older than {int(max_age.total_seconds())} seconds (Timestamp {fields['Timestamp']})."
        )
    if envelope.timestamp - now > _FUTURE_SKEW:
        raise Refused(f"Timestamp {fields['Timestamp']} is in the future.")
    region = certificate_region(fields["SigningCertURL"])
    if topic is None or topic["region"] != region:
        raise Refused("SigningCertURL's region does not match the topic's region.")
    algorithm = _HASHES.get(fields["SignatureVersion"])
    if algorithm is None:
        raise Refused(f"Unsupported SignatureVersion {fields['SignatureVersion']!r}; expected 1 or 2.")
    try:
        signature = base64.b64decode(fields["Signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("Signature is not base64.") from exc
    key = signing_key(fields["SigningCertURL"], now=now)
    try:
        key.verify(signature, string_to_sign(fields), padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise Refused("Signature does not verify against the SNS signing certificate.") from exc


# --- the signing certificate: fetched from the pinned host, cached with a size bound and a lifetime ---------

_http = urllib3.PoolManager(num_pools=4, maxsize=4, retries=False, timeout=urllib3.Timeout(connect=3, read=5))
_cache_lock = threading.Lock()
# url -> (expires at (monotonic), key or the failure text); failures expire quickly so AWS hiccups heal.
_cache: "OrderedDict[str, tuple[float, rsa.RSAPublicKey | str]]" = OrderedDict()


def fetch_certificate_pem(url: str) -> bytes:
    """GET the PEM over verified TLS. The one function tests and benchmarks replace."""
    response = _http.request("GET", url, preload_content=False, redirect=False)
    try:
        if response.status != 200:
            raise CertificateUnavailable(f"{url} answered HTTP {response.status}.")
        data = response.read(_MAX_CERT_BYTES + 1)
    finally:
        response.release_conn()
    if len(data) > _MAX_CERT_BYTES:
        raise CertificateUnavailable(f"{url} is larger than a certificate.")
    return bytes(data)


def _load_key(pem: bytes, *, now: datetime) -> rsa.RSAPublicKey:
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateUnavailable("The SigningCertURL did not hold a PEM certificate.") from exc
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CertificateUnavailable("The SNS signing certificate is outside its validity period.")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CertificateUnavailable("The SNS signing certificate does not hold an RSA key.")
    return key


def signing_key(url: str, *, now: datetime) -> rsa.RSAPublicKey:
    clock = time.monotonic()
    with _cache_lock:
        cached = _cache.get(url)
        if cached is not None and cached[0] > clock:
            _cache.move_to_end(url)
            if isinstance(cached[1], str):
                raise CertificateUnavailable(cached[1])
            return cached[1]
    try:
        key = _load_key(fetch_certificate_pem(url), now=now)
    except (CertificateUnavailable, urllib3.exceptions.HTTPError, OSError) as exc:
        _remember(url, str(exc) or exc.__class__.__name__, settings.SESAME_SNS_CERT_FAILURE_SECONDS)
        raise CertificateUnavailable(str(exc)) from exc
    _remember(url, key, settings.SESAME_SNS_CERT_CACHE_SECONDS)
    return key


def _remember(url: str, value: "rsa.RSAPublicKey | str", lifetime: float) -> None:
    with _cache_lock:
        _cache[url] = (time.monotonic() + lifetime, value)
        _cache.move_to_end(url)
        while len(_cache) > settings.SESAME_SNS_CERT_CACHE_SIZE:
            _cache.popitem(last=False)


def certificate_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
