"""No noisy neighbours, with real Celery workers: one account's dead webhook endpoints, its 10,000 waiting deliveries
and its backlog of SES events do not delay another account's SES event or its webhook."""

import hashlib
import hmac
import http.server
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.ratelimit import redis_client
from events import services
from events.models import SnsNotification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from events.services import notifications
from tests.accounts.factories import AccountFactory
from tests.events import signing
from tests.events.conftest import TOPIC_ARN, fixture_payload, provisioned
from tests.waiting import wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

NOISY_ENDPOINTS = 50
NOISY_DELIVERIES = 10_000
NOISY_SES_BACKLOG = 1_000


@pytest.fixture(autouse=True)
def _eager_tasks() -> None:
    """Overrides the events conftest's inline tasks: here every task goes to the broker and real workers."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA (the workers trust it through SSL_CERT_FILE) and a certificate for 127.0.0.1 it signed."""
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Sesame test webhook CA"))
        .issuer_name(_name("Sesame test webhook CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class Receiver(http.server.ThreadingHTTPServer):
    """An HTTPS webhook receiver on 127.0.0.1: records each POST and answers `status` after `delay` seconds."""

    daemon_threads = True

    def __init__(self, tls: dict[str, Path], *, status: int, delay: float = 0.0) -> None:
        self.status, self.delay = status, delay
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls["cert"], tls["key"])
        self.socket = context.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a worker that gave up waiting (timeout) or stopped at the end of the test: expected here

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}/hooks"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append((time.monotonic(), dict(self.headers.items()), body))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver(tls: dict[str, Path]) -> Iterator[Any]:
    started: list[Receiver] = []

    def start(*, status: int, delay: float = 0.0) -> Receiver:
        server = Receiver(tls, status=status, delay=delay)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _noisy_account(slow_url: str) -> tuple[Any, Any]:
    """Account A as the audit found it: 50 endpoints on hosts that fail (half refuse connections, half answer 500
    after 3 s), 10,000 deliveries waiting, and a backlog of SES events not processed yet."""
    account = AccountFactory.create(name="Noisy", plan_slug="enterprise")
    connection = provisioned(account)
    dead = f"https://127.0.0.1:{_closed_port()}/hooks"
    endpoints = WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            account=account,
            url=f"{dead if index % 2 else slow_url}/{index}",
            event_types=["*"],
            secret=f"whsec_noisy{index}",
            secret_prefix="whsec_nois",
        )
        for index in range(NOISY_ENDPOINTS)
    )
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        (
            WebhookDelivery(
                endpoint=endpoints[index % NOISY_ENDPOINTS],
                account=account,
                event_type="delivery",
                payload={"id": str(index), "type": "delivery"},
                next_attempt_at=now,
                give_up_at=now + timedelta(hours=24),
            )
            for index in range(NOISY_DELIVERIES)
        ),
        batch_size=2000,
    )
    message = json.dumps(fixture_payload("ses-events/delivery.json"))
    SnsNotification.objects.bulk_create(
        (
            SnsNotification(
                connection=connection,
                account=account,
                message_id=str(uuid.uuid4()),
                message_type="Notification",
                topic_arn=TOPIC_ARN,
                body=json.dumps({"Type": "Notification", "TopicArn": TOPIC_ARN, "Message": message}),
                received_at=now - timedelta(seconds=1),
            )
            for _ in range(NOISY_SES_BACKLOG)
        ),
        batch_size=1000,
    )
    return account, connection


def _tasks_in_broker() -> int:
    client = redis_client(settings.REDIS_URL)
    return sum(int(client.llen(key)) for key in client.scan_iter(match="default*") if client.type(key) == b"list")


def test_a_noisy_account_does_not_delay_another_accounts_event_or_webhook(start_worker, receiver, tls, settings):
    settings.SESAME_WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    slow = receiver(status=500, delay=3.0)
    received = receiver(status=200)
    noisy, _ = _noisy_account(slow.url)

    quiet = AccountFactory.create(name="Quiet", plan_slug="enterprise")
    quiet_connection = provisioned(quiet, identifier="quiet")
    endpoint, secret = services.webhook_endpoint_create(account=quiet, url=received.url, event_types=["delivery"])

    start_worker(concurrency=2, SESAME_WEBHOOK_ALLOW_PRIVATE_HOSTS="true", SSL_CERT_FILE=str(tls["ca"]))
    services.webhook_drain_nudge()
    notifications._nudge()
    # The noisy account's work is under way: its endpoints are failing and its SES backlog is being processed.
    assert wait_for(lambda: WebhookAttempt.objects.filter(delivery__account=noisy).exists(), timeout=15)
    assert wait_for(lambda: SnsNotification.objects.filter(account=noisy, processed_at__isnull=False).exists())
    time.sleep(1.0)

    envelope = signing.notification(TOPIC_ARN, fixture_payload("ses-events/delivery.json"))
    posted = time.monotonic()
    response = Client().post(
        f"/webhooks/sns/{quiet_connection.pk}",
        data=json.dumps(envelope),
        content_type="text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
    )
    assert response.status_code == 200
    most_queued = 0

    def processed() -> bool:
        nonlocal most_queued
        most_queued = max(most_queued, _tasks_in_broker())
        return SnsNotification.objects.filter(account=quiet, processed_at__isnull=False).exists()

    assert wait_for(processed, timeout=5.0), "the quiet account's SES event was not processed within 5 s"
    processed_after = time.monotonic() - posted

    def delivered() -> bool:
        nonlocal most_queued
        most_queued = max(most_queued, _tasks_in_broker())
        return bool(received.requests)

    assert wait_for(delivered, timeout=10.0 - processed_after), "the quiet account's webhook took over 10 s"
    delivered_after = received.requests[0][0] - posted

    # What the quiet account's receiver got is its own event, signed with its own secret.
    _, headers, body = received.requests[0]
    stamp, signature = (part.split("=", 1)[1] for part in headers["Sesame-Signature"].split(","))
    assert signature == hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert json.loads(body)["type"] == "delivery" and headers["Sesame-Event-Type"] == "delivery"
    assert wait_for(lambda: WebhookDelivery.objects.get(endpoint=endpoint).status == "delivered")

    # The noisy account really was noisy, and the broker never held more than a handful of tasks meanwhile.
    assert SnsNotification.objects.filter(account=noisy, processed_at__isnull=True).count() > 0
    assert WebhookDelivery.objects.filter(account=noisy, status="pending").count() > NOISY_DELIVERIES // 2
    assert WebhookEndpoint.objects.filter(account=noisy, consecutive_failures__gt=0).exists()
    assert most_queued <= 10, most_queued
    print(f"quiet SES event processed after {processed_after:.2f} s, webhook received after {delivered_after:.2f} s")
