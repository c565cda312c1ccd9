"""A segment send in real Celery workers (simulator transport): 10,000 contacts with two devices each go out at the
connection's push rate, each device exactly once, with flat worker memory, while transactional email keeps going."""

import time
import uuid
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from contacts.models import Contact, Segment
from emails.models import Email
from push.models import PushApp, PushConnectionRate, PushDelivery, PushDevice, SimulatedEndpoint, SimulatedPush
from tests.emails.factories import email_body, sending_connection
from tests.waiting import wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

CONTACTS = 10_000
RATE = 800  # pushes per second on the connection's push lane


def _most_in_any_window(moments: list[float], window: float) -> int:
    moments, most, start = sorted(moments), 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def _rss_kb(root_pid: int) -> int:
    """Resident memory of a worker and its pool processes (Linux /proc)."""
    pids, total = {root_pid}, 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == root_pid:
                    pids.add(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total


def _worker_trouble(logs: Path) -> list[str]:
    """The workers' warnings and errors, for a failure message."""
    lines = [line for log in sorted(logs.glob("worker-*.log")) for line in log.read_text().splitlines()]
    return [line for line in lines if "WARNING" in line or "ERROR" in line or "Error" in line][-20:]


def _segment_with_devices(account, connection) -> Segment:
    app = PushApp.objects.create(
        account=account,
        connection=connection,
        name="Acme Android",
        platform="GCM",
        platform_application_arn="arn:aws:sns:us-east-1:000000000000:app/GCM/acme",
        credential_kind="adopted",
    )
    Contact.objects.bulk_create(Contact(account=account, email=f"user{i}@example.net") for i in range(CONTACTS))
    now = timezone.now()
    devices, endpoints = [], []
    for contact_id in Contact.objects.filter(account=account).values_list("pk", flat=True):
        for _ in range(2):
            token = f"fcm-{uuid.uuid4().hex}"
            arn = f"arn:aws:sns:us-east-1:000000000000:endpoint/GCM/acme/{uuid.uuid4()}"
            devices.append(
                PushDevice(
                    account=account,
                    app=app,
                    contact_id=contact_id,
                    token_hash=uuid.uuid4().hex,
                    token_prefix=token[:8],
                    endpoint_arn=arn,
                    registered_at=now,
                )
            )
            endpoints.append(
                SimulatedEndpoint(
                    arn=arn,
                    application_arn=app.platform_application_arn,
                    token_hash=uuid.uuid4().hex,
                    token=token,
                    outcome="delivered",
                )
            )
    PushDevice.objects.bulk_create(devices, batch_size=5000)
    SimulatedEndpoint.objects.bulk_create(endpoints, batch_size=5000)
    PushConnectionRate.objects.create(connection=connection, rate=RATE)
    return Segment.objects.create(account=account, name="Everyone", filters={"status": "subscribed"})


def test_a_10k_contact_segment_goes_out_at_the_rate_once_per_device_while_email_keeps_its_turn(
    api, account, start_worker, celery_beat, settings, tmp_path
):
    assert settings.SESAME_AWS_MODE == "simulator"
    connection = sending_connection(account, max_send_rate=14)
    segment = _segment_with_devices(account, connection)
    worker = start_worker(concurrency=2)
    baseline_kb = _rss_kb(worker.process.pid)

    started = time.monotonic()
    push = (
        api(account)
        .post("/v1/push", {"to": {"segment": segment.pk}, "title": "Sale", "body": "20% off"}, format="json")
        .json()
    )
    assert push["status"] == "fanning_out"
    assert wait_for(lambda: PushDelivery.objects.filter(status="sent").count() >= 3000, timeout=60)

    # Meanwhile a transactional email on the same connection goes out at once: its own lane, its own turn.
    email = api(account).post("/v1/emails", email_body(priority=1), format="json").json()
    assert wait_for(lambda: Email.objects.get(pk=email["id"]).sent_at is not None, timeout=5)
    sent_email = Email.objects.get(pk=email["id"])
    assert sent_email.sent_at is not None
    assert (sent_email.sent_at - sent_email.created_at).total_seconds() < 2.0

    memory = [_rss_kb(worker.process.pid)]
    while not wait_for(
        lambda: (
            not PushDelivery.objects.exclude(status="sent").exists() and PushDelivery.objects.count() == 2 * CONTACTS
        ),
        timeout=2,
    ):
        memory.append(_rss_kb(worker.process.pid))
        assert time.monotonic() - started < 180, (
            PushDelivery.objects.values("status").annotate(n=Count("pk")),
            _worker_trouble(tmp_path),
        )
    memory.append(_rss_kb(worker.process.pid))

    # Every device exactly once.
    assert PushDelivery.objects.filter(message_id=push["id"], status="sent").count() == 2 * CONTACTS
    assert SimulatedPush.objects.count() == 2 * CONTACTS
    assert SimulatedPush.objects.values("endpoint_arn").distinct().count() == 2 * CONTACTS
    detail = api(account).get(f"/v1/push/{push['id']}").json()
    assert detail["device_count"] == 2 * CONTACTS and detail["outcomes"] == {"sent": 2 * CONTACTS}
    # At the configured rate: never more than RATE in any second, and paced, not all at once.
    sent = [at.timestamp() for at in PushDelivery.objects.values_list("sent_at", flat=True) if at]
    assert _most_in_any_window(sent, 0.9) <= RATE
    assert max(sent) - min(sent) >= 2 * CONTACTS / RATE - 2
    # Flat memory: the workers never held the segment; what they grew by is a small fraction of 20,000 rows.
    assert max(memory) - min(memory[0], baseline_kb + 60_000) < 60_000, (baseline_kb, memory)
